"""Rollout storage, the rows of the follower samples and the LSTM replay under the master's latent for the EPO
agent's on-/off-policy dataset (spec §2–§3).

Row order everywhere is env-major: row ``r = env·T + t`` for a horizon of T steps, so the rows of
one env form contiguous sequences (what the LSTM needs) and agent b owns rows
``[b·B·T, (b+1)·B·T)`` with B = N/M envs per block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from epo_isaac.epo.population import agent_envs, block_size


@dataclass
class Rollout:
    """One epoch of experience, time-major ``[T, N, ...]`` as collected.

    ``starts[t]`` is 1 where obs t is the first of an episode (rl_games' "dones"), ``terminals[t]``
    is 1 where transition t ended its episode, ``rewards`` are shaped and **without** the time-out
    bootstrap (added per target, because on- and off-policy targets bootstrap with different values).
    """

    obs: Tensor
    actions: Tensor
    neglogp: Tensor
    values: Tensor
    mus: Tensor
    sigmas: Tensor
    starts: Tensor
    terminals: Tensor
    rewards: Tensor
    time_outs: Tensor
    last_obs: Tensor
    last_values: Tensor
    rnn_states: list[Tensor] = field(default_factory=list)
    """Per sequence of ``seq_length`` steps: ``[layers, T/seq_length·N, H]`` (env-major), LSTM only."""

    @staticmethod
    def allocate(horizon: int, num_envs: int, obs_dim: int, num_actions: int, device: torch.device) -> Rollout:
        z = lambda *s: torch.zeros(*s, device=device)  # noqa: E731
        t, n, a = horizon, num_envs, num_actions
        return Rollout(
            obs=z(t, n, obs_dim), actions=z(t, n, a), neglogp=z(t, n), values=z(t, n), mus=z(t, n, a),
            sigmas=z(t, n, a), starts=z(t, n), terminals=z(t, n), rewards=z(t, n), time_outs=z(t, n),
            last_obs=z(n, obs_dim), last_values=z(n),
        )

    def finish(self, last_obs: Tensor, last_values: Tensor, last_dones: Tensor) -> None:
        """Record the obs after the horizon and derive ``terminals`` from the episode starts."""
        self.last_obs.copy_(last_obs)
        self.last_values.copy_(last_values)
        self.terminals[:-1] = self.starts[1:]
        self.terminals[-1] = last_dones.float()

    def next_obs(self) -> Tensor:
        """``[T, N, O]``: the observation after each transition (pre-reset obs are not kept; the
        value there is masked by ``terminals``)."""
        return torch.cat([self.obs[1:], self.last_obs.unsqueeze(0)], dim=0)


def flat(x: Tensor) -> Tensor:
    """``[T, N, ...] -> [N·T, ...]`` env-major."""
    return x.transpose(0, 1).reshape(x.shape[0] * x.shape[1], *x.shape[2:])


def env_rows(envs: Tensor, horizon: int) -> Tensor:
    """The env-major rows (:func:`flat`) of ``envs`` (``[K]`` long): ``[K·T]`` long, env after env, T =
    ``horizon`` steps each."""
    return (envs[:, None] * horizon + torch.arange(horizon, device=envs.device)[None]).flatten()


def sample_follower_envs(
    num_envs: int, num_agents: int, mode: str, ratio: float, generator: torch.Generator
) -> Tensor:
    """Follower envs whose whole trajectories feed the master (spec §3.1), sorted.

    ``block``: ``max(1, round(ratio))`` distinct random follower blocks (official code);
    ``union``: ``round(ratio·B)`` envs uniformly from all follower envs (used for the LSTM, whose
    relabelling needs whole trajectories). Returns ``[K]`` long env indices, empty if M = 1.
    """
    block = block_size(num_envs, num_agents)
    if num_agents < 2:
        return torch.zeros(0, dtype=torch.long)
    if mode == "block":
        count = min(max(1, round(ratio)), num_agents - 1)
        envs = agent_envs(1 + torch.randperm(num_agents - 1, generator=generator)[:count], num_envs, num_agents)
    else:
        count = min(max(1, round(ratio * block)), num_envs - block)
        envs = block + torch.randperm(num_envs - block, generator=generator)[:count]
    return envs.sort().values


def sample_follower_rows(
    num_envs: int, num_agents: int, horizon: int, mode: str, ratio: float, generator: torch.Generator
) -> Tensor:
    """Env-major row indices of follower transitions for the master (spec §3.1).

    ``union``: ``round(ratio·B·T)`` rows uniformly from all follower rows (paper);
    ``block``: all rows of ``max(1, round(ratio))`` random follower blocks. ``[K]`` long, sorted.
    """
    if mode == "block" or num_agents < 2:
        return env_rows(sample_follower_envs(num_envs, num_agents, mode, ratio, generator), horizon)
    first = block_size(num_envs, num_agents) * horizon
    available = num_envs * horizon - first
    count = min(max(1, round(ratio * first)), available)
    return (first + torch.randperm(available, generator=generator)[:count]).sort().values


def replay_rnn(act: Callable[[Tensor, Tensor, Any], dict[str, Any]], ro: Rollout, envs: Tensor, seq_length: int
               ) -> tuple[Tensor, Tensor, Tensor, Tensor, list[Tensor]]:
    """Replay the trajectories of ``envs`` (``[K]`` long) through the recurrent policy under the master's latent
    φ_0 (the LSTM's off-policy relabelling, spec §3.1–§3.3), step by step from each env's stored state at t = 0,
    the state zeroed where an episode starts.

    ``act(obs [K, O], agent_ids [K], states)`` → ``values [K, 1]``, ``mus``/``sigmas [K, A]``, ``rnn_states``.
    Returns env-major rows (``[K·T]``): V_old(s_t; φ_0), V_old(s_{t+1}; φ_0), μ and σ ``[K·T, A]``, and the
    states at each sequence start, ``[layers, K·T/L, H]`` per state tensor (L = ``seq_length``).
    """
    T, K = ro.obs.shape[0], envs.numel()
    per_env = T // seq_length
    seq0 = envs * per_env  # stored sequence index of (env, t=0)
    states = [s[:, seq0].clone() for s in ro.rnn_states]
    ids = torch.zeros(K, dtype=torch.long, device=envs.device)
    values, mus, sigmas, seq_states = [], [], [], []
    for t in range(T + 1):
        obs = ro.obs[t, envs] if t < T else ro.last_obs[envs]
        if t > 0:
            started = (ro.starts[t, envs] if t < T else ro.terminals[T - 1, envs]).bool()
            for s in states:
                s[:, started] = 0
        if t < T and t % seq_length == 0:
            seq_states.append([s.clone() for s in states])
        res = act(obs, ids, states)
        states = list(res["rnn_states"])
        values.append(res["values"][:, 0])
        mus.append(res["mus"])
        sigmas.append(res["sigmas"])
    v = torch.stack(values, 1)  # [K, T+1]
    rnn = [torch.stack([s[i] for s in seq_states], 2).flatten(1, 2) for i in range(len(states))]
    return (v[:, :-1].reshape(-1), v[:, 1:].reshape(-1), torch.stack(mus[:-1], 1).flatten(0, 1),
            torch.stack(sigmas[:-1], 1).flatten(0, 1), rnn)
