"""Genetic algorithm on the latent table (spec: docs/spec/epo_algorithm.md §4 and §6).

Pure functions: :func:`plan_generation` reads the latents and per-agent fitness and returns a
:class:`Generation` (which rows to overwrite, with what). It never writes anything; the agent applies the
plan with :func:`epo_isaac.epo.population.apply_generation`. All randomness comes from the ``torch.Generator``
passed in, so a plan is reproducible from the generator's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from epo_isaac.epo.config import GeneticConfig  # the one GA config: train.ga
from epo_isaac.epo.gate import GateResult, check_gate

_EPS = 1e-8

RAN, GATE_CLOSED, MISSING_FITNESS, NOT_APPLICABLE = "ran", "gate_closed", "missing_fitness", "not_applicable"
"""The values of :attr:`Generation.status`."""


@dataclass
class Generation:
    """The plan of one genetic step (what :func:`epo_isaac.epo.population.apply_generation` writes).

    Attributes:
        status: :data:`RAN`, :data:`GATE_CLOSED`, :data:`MISSING_FITNESS` (a block has no finished episode) or
            :data:`NOT_APPLICABLE` (the population or settings leave nothing to do).
        reason: a one-line summary for logs.
        replaced: ``[R]`` long, agent indices whose latent is overwritten (R = 0 when skipped).
        parents: ``[R, 2]`` long, (parent a, parent b) of each child; σ and optimizer moments come from a.
        children: ``[R, D]`` new latent rows, same dtype/device as the latents.
        gate_statistic: what the gate compared (:class:`epo_isaac.epo.gate.GateResult`); NaN if not reached.
        gate_open: the gate's decision; None if not reached.
        elites: ``[E]`` long, agent indices kept unchanged as parents a, best first (paper mode: the top
            ``elite_frac`` of the followers; official mode: the two best agents); ``[0]`` when skipped.
    """

    status: str
    reason: str
    replaced: Tensor
    parents: Tensor
    children: Tensor
    gate_statistic: float = float("nan")
    gate_open: bool | None = None
    elites: Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.long))

    @property
    def ran(self) -> bool:
        """Whether rows are to be replaced."""
        return self.status == RAN


def _skip(status: str, reason: str, latents: Tensor, gate: GateResult | None = None) -> Generation:
    device = latents.device
    return Generation(
        status=status,
        reason=reason,
        replaced=torch.zeros(0, dtype=torch.long, device=device),
        parents=torch.zeros(0, 2, dtype=torch.long, device=device),
        children=latents.new_zeros(0, latents.shape[1]),
        gate_statistic=gate.statistic if gate else float("nan"),
        gate_open=gate.open if gate else None,
        elites=torch.zeros(0, dtype=torch.long, device=device),
    )


def _check_inputs(latents: Tensor, fitness: Tensor) -> None:
    if latents.dim() != 2:
        raise ValueError(f"latents must be [M, D], got shape {tuple(latents.shape)}")
    if fitness.shape != latents.shape[:1]:
        raise ValueError(f"fitness must be [M] = [{latents.shape[0]}], got shape {tuple(fitness.shape)}")


def _missing(fit: Tensor, offset: int) -> list[int]:
    return (torch.nonzero(~torch.isfinite(fit)).flatten() + offset).tolist()


def plan_generation(
    latents: Tensor,
    fitness: Tensor,
    cfg: GeneticConfig,
    generator: torch.Generator,
    episodes: list[Tensor] | None = None,
    gate_latched: bool = False,
) -> Generation:
    """Plan one generation of the latent GA without modifying any input (spec §4, or §6 in official mode).

    Paper mode (``cfg.mode == "paper"``), followers = agents 1..M−1, the master (0) never takes part:

    1. skip unless every follower has a finite fitness (NaN = no finished episode yet);
    2. gate on the followers (:func:`epo_isaac.epo.gate.check_gate`, ``cfg.gate``); skip if closed, unless
       ``cfg.gate_latch`` and the gate has opened before (``gate_latched``); ``effect_size`` never latches;
    3. rank followers by fitness (ties: lower index ranks higher); the top ``cfg.num_elites(M−1)`` are elites;
    4. replace the worst R = ``cfg.num_replaced(M−1)`` followers (never an elite);
    5. for each child: parent a uniform over the elites; parent b from the survivors (followers not replaced,
       elites included) with probability ∝ F − min F_survivors + 1e-8;
       child = ½(φ_a + φ_b) + N(0, mutation_std²) per coordinate.

    Official mode (``cfg.mode == "official"``, ablation of the public EPO code): over the M agents that have a
    fitness (the master takes part when it has one; a master without a finished episode just sits this one
    out), the single worst agent's latent becomes the plain average of the two best agents' latents; no gate,
    no mutation, R = 1, parents = (best, second best). Every follower needs a fitness.

    Args:
        latents: ``[M, D]`` latent table φ (read only; detached internally).
        fitness: ``[M]`` per-agent fitness, NaN where an agent has none (index 0 = master).
        cfg: the GA settings.
        generator: source of all randomness; draws happen on ``generator.device``.
        episodes: M tensors of the values the ``kruskal`` and ``effect_size`` gates test per agent (needed by
            them; the agent passes
            each finished episode's value aligned by epoch, :meth:`FitnessTracker.aligned_episodes`).
        gate_latched: whether the gate has opened at an earlier check of this run (the caller keeps that
            state); only used when ``cfg.gate_latch`` and the gate is not ``effect_size``.

    Returns:
        A :class:`Generation`; tensors are on ``latents.device``.

    Raises:
        ValueError: on malformed shapes, or ``gate: kruskal``/``effect_size`` without ``episodes``.
    """
    _check_inputs(latents, fitness)
    latents = latents.detach()
    if cfg.mode == "official":
        return _plan_official(latents, fitness)
    num_agents, dim = latents.shape
    num_followers = num_agents - 1
    if num_followers < 2:
        return _skip(NOT_APPLICABLE, f"paper GA needs >= 2 followers (M >= 3), got M={num_agents}", latents)
    if cfg.num_replaced(num_followers) < 1:
        return _skip(NOT_APPLICABLE, f"ga.elite_frac={cfg.elite_frac:g} makes every one of the {num_followers} "
                     "followers an elite: nothing to replace", latents)
    fit = fitness.detach().double().cpu()[1:]
    missing = _missing(fit, offset=1)
    if missing:
        return _skip(MISSING_FITNESS, f"followers without a finished episode yet: {missing}", latents)
    if cfg.gate in ("kruskal", "effect_size") and (episodes is None or len(episodes) != num_agents):
        raise ValueError(f"gate {cfg.gate!r} needs the [M] = {num_agents} per-agent episode values")
    follower_episodes = list(episodes[1:]) if episodes is not None else []
    gate = check_gate(cfg.gate, fit, follower_episodes, cfg.gate_ratio, cfg.gate_pvalue, cfg.gate_effect_size)
    latched = cfg.gate_latch and cfg.gate != "effect_size" and gate_latched
    if not gate.open and not latched:
        what, limit = {"kruskal": ("p", f"< {cfg.gate_pvalue:g}"),
                       "effect_size": ("ε²", f">= {cfg.gate_effect_size:g}"),
                       "ratio": ("spread/|median|", f"> {cfg.gate_ratio:g}")}[cfg.gate]
        return _skip(GATE_CLOSED, f"gate closed: {what} = {gate.statistic:.3g}, needs {limit}", latents, gate)

    order = torch.sort(fit, descending=True, stable=True).indices + 1  # agent indices, best first
    num_elites, num_replaced = cfg.num_elites(num_followers), cfg.num_replaced(num_followers)
    elites = order[:num_elites]
    survivors = order[: num_followers - num_replaced]
    replaced = order[num_followers - num_replaced :]

    gen_device = generator.device
    pick_a = torch.randint(len(elites), (num_replaced,), generator=generator, device=gen_device).cpu()
    weights = fit[survivors - 1]
    weights = (weights - weights.min() + _EPS).to(gen_device)
    pick_b = torch.multinomial(weights, num_replaced, replacement=True, generator=generator).cpu()
    parents = torch.stack([elites[pick_a], survivors[pick_b]], dim=1)  # [R, 2]

    parents_dev = parents.to(latents.device)
    children = 0.5 * (latents[parents_dev[:, 0]] + latents[parents_dev[:, 1]])
    if cfg.mutation_std > 0:
        noise = torch.randn(num_replaced, dim, generator=generator, device=gen_device, dtype=latents.dtype)
        children = children + cfg.mutation_std * noise.to(latents.device)
    return Generation(
        status=RAN,
        reason=f"replaced {replaced.tolist()} (elites {elites.tolist()})" + ("" if gate.open else ", gate latched"),
        replaced=replaced.to(latents.device),
        parents=parents_dev,
        children=children,
        gate_statistic=gate.statistic,
        gate_open=gate.open,
        elites=elites.to(latents.device),
    )


def _plan_official(latents: Tensor, fitness: Tensor) -> Generation:
    num_agents = latents.shape[0]
    fit = fitness.detach().double().cpu()
    missing = _missing(fit[1:], offset=1)
    if missing:
        return _skip(MISSING_FITNESS, f"followers without a finished episode yet: {missing}", latents)
    ranked = torch.nonzero(torch.isfinite(fit)).flatten()  # followers, and the master if it has a fitness
    if ranked.numel() < 3:
        return _skip(NOT_APPLICABLE, f"official GA needs >= 3 agents with a fitness, got {ranked.numel()} "
                     f"(M={num_agents})", latents)
    order = ranked[torch.sort(fit[ranked], descending=True, stable=True).indices]
    best, second, worst = int(order[0]), int(order[1]), int(order[-1])
    parents = torch.tensor([[best, second]], dtype=torch.long, device=latents.device)
    children = 0.5 * (latents[best] + latents[second]).unsqueeze(0)
    return Generation(
        status=RAN,
        reason=f"official: replaced [{worst}] by mean of [{best}, {second}]",
        replaced=torch.tensor([worst], dtype=torch.long, device=latents.device),
        parents=parents,
        children=children,
        elites=parents[0].clone(),
    )


def latent_diversity(latents: Tensor) -> float:
    """Mean pairwise Euclidean distance between latent rows (spec §4.6 log); 0.0 when M < 2.

    Args:
        latents: ``[M, D]`` latent table.

    Returns:
        mean over i < j of ‖φ_i − φ_j‖₂ (latent units).
    """
    if latents.dim() != 2:
        raise ValueError(f"latents must be [M, D], got shape {tuple(latents.shape)}")
    if latents.shape[0] < 2:
        return 0.0
    return float(torch.pdist(latents.detach().double()).mean())
