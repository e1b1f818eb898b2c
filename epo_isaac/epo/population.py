"""Env ↔ agent layout, per-agent fitness, and in-place latent updates (spec §1, §4.1, §4.5).

The N parallel envs are split into M contiguous blocks of B = N / M envs; block b is agent b, block 0 is the
master. Everything here is vectorised over envs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from epo_isaac.epo.genetic import Generation

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


def agent_envs(agents: Tensor, num_envs: int, num_agents: int) -> Tensor:
    """The envs of ``agents`` (``[K]`` long agent indices): ``[K·B]`` long, agent after agent, each block in env
    order (agent b owns envs b·B … (b+1)·B − 1).

    Raises:
        ValueError: as :func:`block_size`.
    """
    size = block_size(num_envs, num_agents)
    return (agents[:, None] * size + torch.arange(size, device=agents.device)[None]).flatten()


class FitnessTracker:
    """Each agent's finished episodes in its own block since the window opened (spec §1 "fitness", §4.1).

    Call :meth:`update` every env step with the done flags and the per-env episode value (the episodic return,
    or ``true_objective``, of the episode that just finished; ignored where not done), :meth:`next_period` once
    per epoch, and :meth:`reset` when a fitness window starts. Every finished episode's value is kept (float64,
    on ``device``) with the period (epoch) it finished in: the gate tests individual episodes, aligned by period.
    """

    def __init__(self, num_envs: int, num_agents: int, device: torch.device | str | None = None) -> None:
        self.num_envs = num_envs
        self.num_agents = num_agents
        self._ids = agent_ids(num_envs, num_agents, device=device)
        self._period = 0
        self.reset()

    def next_period(self) -> None:
        """Episodes finishing from now on belong to the next period (call once per epoch)."""
        self._period += 1

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
        ids = self._ids[done]
        vals = values.detach().to(device=self._ids.device, dtype=torch.float64)[done]
        self._chunks.append((ids, vals, torch.full_like(ids, self._period)))

    def _compact(self) -> tuple[Tensor, Tensor, Tensor]:
        if len(self._chunks) != 1:
            empty = self._ids.new_zeros(0)
            parts = list(zip(*self._chunks, strict=True)) or [[empty], [empty.double()], [empty]]
            self._chunks = [tuple(torch.cat(list(p)) for p in parts)]  # type: ignore[list-item]
        return self._chunks[0]

    def episodes(self) -> list[Tensor]:
        """M float64 tensors: agent b's finished-episode values in the order they finished."""
        ids, vals, _ = self._compact()
        return [vals[ids == b] for b in range(self.num_agents)]

    def aligned_episodes(self, first_agent: int = 1) -> list[Tensor]:
        """Like :meth:`episodes`, each value minus the mean of agents ``first_agent..M−1``'s episodes that
        finished in the same period (aligned ranks: the policy's common improvement over the window is not
        counted as a difference between agents). An added constant cancels; a positive factor scales every value
        alike. Agents before ``first_agent`` (the master, by default) get an empty tensor."""
        ids, vals, periods = self._compact()
        keep = ids >= first_agent
        ids, vals, periods = ids[keep], vals[keep], periods[keep]
        if vals.numel():
            _, slot = torch.unique(periods, return_inverse=True)
            sums = torch.zeros(int(slot.max()) + 1, dtype=vals.dtype, device=vals.device).index_add_(0, slot, vals)
            counts = torch.bincount(slot).to(vals.dtype)
            vals = vals - (sums / counts)[slot]
        return [vals[ids == b] for b in range(self.num_agents)]

    def fitness(self) -> Tensor:
        """``[M]`` float64 mean episode value per agent; NaN where the agent has no finished episode."""
        ids, vals, _ = self._compact()
        sums = torch.zeros(self.num_agents, dtype=torch.float64, device=ids.device).index_add_(0, ids, vals)
        counts = self.counts()
        means = sums / counts.clamp_min(1)
        return torch.where(counts > 0, means, torch.full_like(means, float("nan")))

    def counts(self) -> Tensor:
        """``[M]`` long number of finished episodes per agent since the last reset."""
        return torch.bincount(self._compact()[0], minlength=self.num_agents)

    def reset(self) -> None:
        """Forget all episodes (a new fitness window starts)."""
        self._chunks: list[tuple[Tensor, Tensor, Tensor]] = []

    def state_dict(self) -> dict[str, Any]:
        """Checkpointable state (tensors are copies)."""
        ids, vals, periods = self._compact()
        return {"num_envs": self.num_envs, "num_agents": self.num_agents, "ids": ids.clone(),
                "values": vals.clone(), "periods": periods.clone(), "period": self._period}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`.

        A state without per-episode values (written before they were kept) opens an empty window.

        Raises:
            ValueError: if the checkpoint was made with a different num_envs / num_agents.
        """
        if state["num_envs"] != self.num_envs or state["num_agents"] != self.num_agents:
            raise ValueError(
                f"fitness state is for num_envs={state['num_envs']}, num_agents={state['num_agents']}; "
                f"this run has num_envs={self.num_envs}, num_agents={self.num_agents}"
            )
        device = self._ids.device
        if "ids" not in state:  # a checkpoint from before episodes were kept: start a fresh window
            self.reset()
            return
        self._chunks = [(state["ids"].to(device), state["values"].to(device=device, dtype=torch.float64),
                         state["periods"].to(device))]
        self._period = int(state["period"])


def merge_fitness_states(template: dict[str, Any], parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One :meth:`FitnessTracker.state_dict` holding the episodes of every state in ``parts``, in that order
    (several ranks' windows: agent b's episodes from every rank's block b); layout and period from ``template``;
    an empty window when ``parts`` is empty."""
    if not parts:
        empty = template["ids"].new_zeros(0)
        return {**template, "ids": empty, "values": empty.to(torch.float64), "periods": empty}
    return {**template, **{k: torch.cat([p[k] for p in parts]) for k in ("ids", "values", "periods")}}


def apply_generation(
    latents: torch.nn.Parameter,
    log_std: torch.nn.Parameter | None,
    optimizer: torch.optim.Optimizer | None,
    generation: Generation,
) -> None:
    """Write a planned generation into the live parameters, in place (spec §4.5).

    For each replaced row r with parents (a, b): ``latents[r] = child`` and ``log_std[r] = log_std[a]`` (the
    per-agent log-std table, or the per-agent offsets of ``network.log_std: shared_plus_offset``; ``None`` for a
    shared log-std, which no generation touches). The optimizer's Adam moments (``exp_avg``, ``exp_avg_sq``,
    ``max_exp_avg_sq``) of row r are copied from parent a's row for both parameters, so a child continues with
    its parent's step sizes under the shared ``step`` count instead of restarting from zero moments (which,
    with bias correction at a large step count, inflates its first updates 5–10×). The Parameters are never
    rebound, so the optimizer keeps training the same tensors. No-op unless ``generation.ran``.

    Args:
        latents: ``[M, D]`` latent table φ.
        log_std: ``[M, A]`` per-agent log-std rows (table or offsets), or None.
        optimizer: the optimizer that owns them (parameters without state yet are skipped); None for tables no
            optimizer trains (:class:`epo_isaac.epo.gene_pool.LatentGenePool` on its own).
        generation: a plan from :func:`epo_isaac.epo.genetic.plan_generation`.

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
    if log_std is not None and log_std.shape[0] != latents.shape[0]:
        raise ValueError(f"log_std {tuple(log_std.shape)} and latents {tuple(latents.shape)} disagree on M")
    parent_a = generation.parents[:, 0].to(latents.device)
    with torch.no_grad():
        latents[rows] = generation.children.to(device=latents.device, dtype=latents.dtype)
        for param in (latents, log_std):
            if param is None:
                continue
            if param is log_std:  # gather before writing, in case a parent is also replaced
                param[rows] = param[parent_a].clone()
            state = optimizer.state.get(param, {}) if optimizer is not None else {}
            for key in _ADAM_MOMENTS:
                moment = state.get(key)
                if isinstance(moment, Tensor) and moment.shape == param.shape:
                    moment[rows] = moment[parent_a].clone()
