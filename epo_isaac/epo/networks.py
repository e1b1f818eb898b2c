"""Latent-conditioned shared actor-critic, registered with rl_games as ``epo_actor_critic``.

Every agent b of the population acts through the same trunk with its own latent φ_b (row b of a
learned table φ ∈ R^{M×D}) and a log-std σ_b ∈ R^{A} (spec §2): its own row (``per_agent``), one vector for all
(``shared``), or a shared vector plus a per-agent offset initialised to 0 (``shared_plus_offset``).
The agent index is an explicit input (``input_dict["agent_ids"]``), never a column of the observation.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from rl_games.algos_torch.network_builder import NetworkBuilder
from rl_games.common.layers.recurrent import LSTMWithDones
from torch import nn

from epo_isaac.epo.layers import LOG_STD_MODES, mlp


def rows_of(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Rows ``ids`` (``[B]`` long) of ``table`` (``[M, D]``) as ``[B, D]``, with a deterministic backward.

    ``table[ids]`` backpropagates through ``index_put_(accumulate=True)``, which on CPU with more than one torch
    thread and >= 32,768 gradient elements adds with atomic float adds in parallel: the sum's order, and so its
    last bits, change from run to run (issue 24). ``F.embedding``'s backward sums each row in index order, serially
    on CPU and sorted on CUDA: the gradient equals one-thread ``table[ids]``'s bit for bit.
    """
    return F.embedding(ids, table)


class EPOActorCritic(NetworkBuilder.BaseNetwork):
    """Shared trunk over ``[normalised obs, φ_agent]`` with a Gaussian actor and a value head.

    Args:
        obs_dim: O. num_actions: A. num_agents: M (master = agent 0). latent_dim: D.
        units: MLP widths. activation: one of :data:`epo_isaac.epo.layers.ACTIVATIONS`.
        log_std: ``per_agent`` (σ_b a learned row of an [M, A] table, each row trained only by its own block's
            data), ``shared`` (one learned [A] vector; every agent's data trains it) or ``shared_plus_offset``
            (σ_b = σ_shared + δ_b, δ ∈ R^{M×A} initialised to 0). ``self.log_std`` is the [M, A] table or the
            offsets δ (what a generation copies from parent to child), None for ``shared``.
        lstm_units: 0 for an MLP; else an LSTM of this width (with optional LayerNorm) before the MLP
            (paper preset: LSTM 768 → MLP [768, 512, 256]). num_seqs: envs, for the default RNN state.

    Forward input: ``obs [B, O]``, optional ``agent_ids [B]`` long (default: ``self.default_agent``),
    and for the LSTM ``rnn_states``, ``seq_length``, ``dones``. Output: ``mu [B, A]``,
    ``logstd [B, A]``, ``value [B, 1]``, ``rnn_states``.
    """

    def __init__(
        self,
        obs_dim: int,
        num_actions: int,
        num_agents: int,
        latent_dim: int = 32,
        units: tuple[int, ...] = (256, 128, 64),
        activation: str = "elu",
        lstm_units: int = 0,
        lstm_layers: int = 1,
        lstm_layer_norm: bool = True,
        sigma_init: float = 0.0,
        log_std: str = "per_agent",
        num_seqs: int = 1,
    ) -> None:
        super().__init__()
        if num_agents < 1:
            raise ValueError(f"num_agents must be >= 1, got {num_agents}")
        if log_std not in LOG_STD_MODES:
            raise ValueError(f"unknown network.log_std {log_std!r}; valid: {', '.join(LOG_STD_MODES)}")
        self.num_agents = num_agents
        self.num_seqs = num_seqs
        self.default_agent = 0
        self.latents = nn.Parameter(torch.randn(num_agents, latent_dim))
        self.log_std_mode = log_std
        shared = log_std != "per_agent"
        table_init = 0.0 if shared else float(sigma_init)
        self.log_std: nn.Parameter | None = (
            nn.Parameter(torch.full((num_agents, num_actions), table_init)) if log_std != "shared" else None)
        self.log_std_shared: nn.Parameter | None = (
            nn.Parameter(torch.full((num_actions,), float(sigma_init))) if shared else None)
        in_size = obs_dim + latent_dim
        self.lstm_units = lstm_units
        self.lstm_layers = lstm_layers
        if lstm_units > 0:
            self.rnn = LSTMWithDones(input_size=in_size, hidden_size=lstm_units, num_layers=lstm_layers)
            self.rnn_norm: nn.Module = nn.LayerNorm(lstm_units) if lstm_layer_norm else nn.Identity()
            in_size = lstm_units
        self.trunk = mlp(in_size, list(units), activation)
        out = units[-1] if units else in_size
        self.mu = nn.Linear(out, num_actions)
        self.value = nn.Linear(out, 1)
        nn.init.zeros_(self.mu.bias)
        nn.init.zeros_(self.value.bias)

    def is_rnn(self) -> bool:
        return self.lstm_units > 0

    def get_default_rnn_state(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        if not self.is_rnn():
            return None
        shape = (self.lstm_layers, self.num_seqs, self.lstm_units)
        return (torch.zeros(shape), torch.zeros(shape))

    def agent_log_std(self, ids: torch.Tensor | None = None, detach_shared: bool = False) -> torch.Tensor:
        """Log-std of agents ``ids`` (``[B]`` long) as ``[B, A]``; of every agent as ``[M, A]`` when ids is None.

        ``detach_shared``: the same values, but only each agent's own part (its row of ``log_std``) carries a
        gradient; σ_shared, which the master acts with too, is a constant. For per-agent loss terms that must not
        move the master's σ: the followers' entropy bonus (spec §2: the master has none). Under ``shared`` nothing
        is an agent's own, so the result has no gradient at all.
        """
        if ids is None:
            ids = torch.arange(self.num_agents, device=self.latents.device)
        if self.log_std_shared is None:
            return rows_of(self.log_std, ids)
        shared = self.log_std_shared.detach() if detach_shared else self.log_std_shared
        if self.log_std is None:
            return shared.expand(ids.shape[0], -1)
        return shared + rows_of(self.log_std, ids)

    def get_value_layer(self) -> nn.Module:
        return self.value

    def agent_ids_for(self, input_dict: dict[str, Any], batch: int, device: torch.device) -> torch.Tensor:
        ids = input_dict.get("agent_ids")
        if ids is None:
            return torch.full((batch,), self.default_agent, dtype=torch.long, device=device)
        return ids

    def forward(self, input_dict: dict[str, Any]):
        obs = input_dict["obs"]
        ids = self.agent_ids_for(input_dict, obs.shape[0], obs.device)
        x = torch.cat([obs, rows_of(self.latents, ids)], dim=-1)
        states = input_dict.get("rnn_states")
        if self.is_rnn():
            seq_length = input_dict.get("seq_length", 1)
            num_seqs = x.shape[0] // seq_length
            x = x.reshape(num_seqs, seq_length, -1).transpose(0, 1)
            dones = input_dict.get("dones")
            if dones is not None:
                dones = dones.float().reshape(num_seqs, seq_length, -1).transpose(0, 1)
            x, states = self.rnn(x, tuple(states) if states is not None else None, dones)
            x = self.rnn_norm(x.transpose(0, 1).reshape(num_seqs * seq_length, -1))
            states = tuple(states) if isinstance(states, (tuple, list)) else (states,)
        x = self.trunk(x)
        return self.mu(x), self.agent_log_std(ids), self.value(x), states


class EPONetworkBuilder(NetworkBuilder):
    """rl_games network builder: ``network: {name: epo_actor_critic, ...}`` (see ``load``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.params: dict[str, Any] = {}

    def load(self, params: dict[str, Any]) -> None:
        """``params``: ``num_agents``, ``latent_dim``, ``units``, ``activation``, ``lstm_units``,
        ``lstm_layers``, ``lstm_layer_norm``, ``sigma_init``, ``log_std`` (plus rl_games' ``name``)."""
        self.params = {k: v for k, v in params.items() if k != "name"}

    def build(self, name: str, **kwargs: Any) -> EPOActorCritic:
        return EPOActorCritic(
            obs_dim=int(kwargs["input_shape"][0]),
            num_actions=int(kwargs["actions_num"]),
            num_seqs=int(kwargs.get("num_seqs", 1)),
            **self.params,
        )
