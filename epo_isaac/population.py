"""Env ↔ agent layout, per-agent fitness, and in-place latent updates (spec §1, §4.1, §4.5).

The N parallel envs are split into M contiguous blocks of B = N / M envs; block b is agent b, block 0 is the
master. Everything here is vectorised over envs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from epo_isaac.genetic import Generation

_ADAM_MOMENTS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")


def block_size(num_envs: int, num_agents: int) -> int:
    """Envs per agent, B = N / M (spec §1).

    Raises:
        ValueError: if num_agents < 1, num_envs < 1, or num_agents does not divide num_envs (the message says
            which values would work).
    """
    if num_agents < 1:
        raise ValueError(f"population size (num_agents) must be >= 1, got {num_agents}")
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    if num_envs % num_agents != 0:
        lower = (num_envs // num_agents) * num_agents
        hint = f"use num_envs={lower} or {lower + num_agents}" if lower else f"use num_envs={num_agents}"
        raise ValueError(
            f"num_agents={num_agents} does not divide num_envs={num_envs}: every agent needs an equal "
            f"block of envs; {hint}, or pick a num_agents that divides {num_envs}"
        )
    return num_envs // num_agents


def agent_ids(num_envs: int, num_agents: int, device: torch.device | str | None = None) -> Tensor:
    """Agent index of every env: ``[N]`` long, contiguous blocks, env i → i // B; block 0 is the master.

    Raises:
        ValueError: as :func:`block_size`.
    """
    size = block_size(num_envs, num_agents)
    return torch.arange(num_envs, device=device) // size


class FitnessTracker:
    """Mean value of the episodes that finished in each agent's own block (spec §1 "fitness", §4.1).

    Call :meth:`update` every env step with the done flags and the per-env episode value
    (``true_objective`` or episodic return of the episode that just finished; ignored where not done).
    Call :meth:`reset` after a generation. Sums are kept in float64 on ``device``; nothing synchronises
    with the host until :meth:`fitness` / :meth:`counts` are read.
    """

    def __init__(self, num_envs: int, num_agents: int, device: torch.device | str | None = None) -> None:
        self.num_envs = num_envs
        self.num_agents = num_agents
        self._ids = agent_ids(num_envs, num_agents, device=device)
        self._sums = torch.zeros(num_agents, dtype=torch.float64, device=self._ids.device)
        self._counts = torch.zeros(num_agents, dtype=torch.long, device=self._ids.device)

    def update(self, dones: Tensor, values: Tensor) -> None:
        """Add the episodes that finished this step.

        Args:
            dones: ``[N]`` bool (or 0/1) — env i finished an episode at this step.
            values: ``[N]`` episode value for the finished envs (anything, even NaN, where not done).

        Raises:
            ValueError: if either is not ``[N]``.
        """
        if dones.shape != (self.num_envs,) or values.shape != (self.num_envs,):
            raise ValueError(
                f"dones and values must be [{self.num_envs}], "
                f"got {tuple(dones.shape)} and {tuple(values.shape)}"
            )
        done = dones.to(device=self._ids.device).bool()
        vals = values.detach().to(device=self._ids.device, dtype=torch.float64)
        self._sums.index_add_(0, self._ids, torch.where(done, vals, torch.zeros_like(vals)))
        self._counts.index_add_(0, self._ids, done.long())

    def fitness(self) -> Tensor:
        """``[M]`` float64 mean episode value per agent; NaN where the agent has no finished episode."""
        means = self._sums / self._counts.clamp_min(1)
        return torch.where(self._counts > 0, means, torch.full_like(means, float("nan")))

    def counts(self) -> Tensor:
        """``[M]`` long number of finished episodes per agent since the last reset."""
        return self._counts.clone()

    def reset(self) -> None:
        """Forget all episodes (call after each generation)."""
        self._sums.zero_()
        self._counts.zero_()

    def state_dict(self) -> dict[str, Any]:
        """Checkpointable state (tensors are copies)."""
        return {
            "num_envs": self.num_envs,
            "num_agents": self.num_agents,
            "sums": self._sums.clone(),
            "counts": self._counts.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`.

        Raises:
            ValueError: if the checkpoint was made with a different num_envs / num_agents.
        """
        if state["num_envs"] != self.num_envs or state["num_agents"] != self.num_agents:
            raise ValueError(
                f"fitness state is for num_envs={state['num_envs']}, num_agents={state['num_agents']}; "
                f"this run has num_envs={self.num_envs}, num_agents={self.num_agents}"
            )
        self._sums.copy_(state["sums"])
        self._counts.copy_(state["counts"])


def apply_generation(
    latents: torch.nn.Parameter,
    log_std: torch.nn.Parameter,
    optimizer: torch.optim.Optimizer,
    generation: Generation,
) -> None:
    """Write a planned generation into the live parameters, in place (spec §4.5).

    For each replaced row r with parents (a, b): ``latents[r] = child``, ``log_std[r] = log_std[a]``, and the
    optimizer's Adam moments (``exp_avg``, ``exp_avg_sq``, and ``max_exp_avg_sq`` under AMSGrad) of row r are
    zeroed for both parameters; ``step`` is left alone. The Parameters are never rebound, so the optimizer
    keeps training the same tensors. No-op when ``generation.ran`` is False.

    Args:
        latents: ``[M, D]`` latent table φ.
        log_std: ``[M, A]`` per-agent log-std table σ.
        optimizer: the optimizer that owns them (rows without state are simply skipped).
        generation: a plan from :func:`epo_isaac.genetic.plan_generation`.

    Raises:
        ValueError: if the plan does not fit the tables' shapes.
    """
    if not generation.ran or generation.replaced.numel() == 0:
        return
    rows = generation.replaced.to(latents.device)
    num_rows = rows.numel()
    if generation.children.shape != (num_rows, latents.shape[1]) or generation.parents.shape != (num_rows, 2):
        raise ValueError(
            f"generation does not fit latents {tuple(latents.shape)}: "
            f"children {tuple(generation.children.shape)}, parents {tuple(generation.parents.shape)}, "
            f"replaced {num_rows} rows"
        )
    if log_std.shape[0] != latents.shape[0]:
        raise ValueError(f"log_std {tuple(log_std.shape)} and latents {tuple(latents.shape)} disagree on M")
    with torch.no_grad():
        parent_a = generation.parents[:, 0].to(log_std.device)
        new_log_std = log_std[parent_a].clone()  # gather before writing, in case a parent is also replaced
        latents[rows] = generation.children.to(device=latents.device, dtype=latents.dtype)
        log_std[rows.to(log_std.device)] = new_log_std
        for param in (latents, log_std):
            state = optimizer.state.get(param, {})
            for key in _ADAM_MOMENTS:
                moment = state.get(key)
                if isinstance(moment, Tensor) and moment.shape == param.shape:
                    moment[rows.to(moment.device)] = 0
