"""Genetic algorithm on the latent table (spec: /work/shared/specs/epo_algorithm.md §4 and §6).

Pure functions: :func:`plan_generation` reads the latents and per-agent fitness and returns a
:class:`Generation` (which rows to overwrite, with what). It never writes anything; the agent applies the
plan with :func:`epo_isaac.population.apply_generation`. All randomness comes from the ``torch.Generator``
passed in, so a plan is reproducible from the generator's state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

GA_MODES: tuple[str, ...] = ("paper", "official")
_EPS = 1e-8


@dataclass(frozen=True)
class GeneticConfig:
    """Settings of one genetic step (spec §4; ``ga.*`` config keys).

    Attributes:
        mode: ``"paper"`` (spec §4: gate, protected master, elites, fitness-proportional crossover,
            mutation) or ``"official"`` (spec §6 ablation: top-2 average into the single worst agent,
            master included).
        gate_ratio: paper Eq. 3 threshold; run only if (max F − min F) > gate_ratio·|median F|; 0 disables.
        num_elites: followers kept unchanged and used as parent a (paper mode).
        frac_replaced: fraction of the M − 1 followers replaced per generation, in [0, 1] (paper mode).
        mutation_std: standard deviation of the Gaussian added to each child (latent units; paper mode).

    Raises:
        ValueError: on an unknown mode or an out-of-range number.
    """

    mode: str = "paper"
    gate_ratio: float = 1.5
    num_elites: int = 1
    frac_replaced: float = 0.25
    mutation_std: float = 0.1

    def __post_init__(self) -> None:
        if self.mode not in GA_MODES:
            raise ValueError(f"unknown ga.mode {self.mode!r}; valid: {', '.join(GA_MODES)}")
        if not (math.isfinite(self.gate_ratio) and self.gate_ratio >= 0):
            raise ValueError(
                f"ga.gate_ratio must be a finite number >= 0 (0 disables the gate), got {self.gate_ratio}"
            )
        if int(self.num_elites) != self.num_elites or self.num_elites < 1:
            raise ValueError(f"ga.num_elites must be an integer >= 1, got {self.num_elites}")
        if not 0.0 <= self.frac_replaced <= 1.0:
            raise ValueError(f"ga.frac_replaced must lie in [0, 1], got {self.frac_replaced}")
        if not (math.isfinite(self.mutation_std) and self.mutation_std >= 0):
            raise ValueError(f"ga.mutation_std must be a finite number >= 0, got {self.mutation_std}")


@dataclass
class Generation:
    """The plan of one genetic step (what :func:`epo_isaac.population.apply_generation` writes).

    Attributes:
        ran: whether anything is to be replaced.
        reason: why the step was skipped, or a one-line summary when it ran (for logs).
        replaced: ``[R]`` long, agent indices whose latent is overwritten (R = 0 when skipped).
        parents: ``[R, 2]`` long, (parent a, parent b) agent indices of each child; σ is copied from parent a.
        children: ``[R, D]`` new latent rows, same dtype/device as the latents.
        gate_statistic: (max F − min F) / max(|median F|, eps) of the fitness the gate saw; NaN if the
            gate was not reached.
    """

    ran: bool
    reason: str
    replaced: Tensor
    parents: Tensor
    children: Tensor
    gate_statistic: float


def _skip(reason: str, latents: Tensor, gate_statistic: float = float("nan")) -> Generation:
    device = latents.device
    return Generation(
        ran=False,
        reason=reason,
        replaced=torch.zeros(0, dtype=torch.long, device=device),
        parents=torch.zeros(0, 2, dtype=torch.long, device=device),
        children=latents.new_zeros(0, latents.shape[1]),
        gate_statistic=gate_statistic,
    )


def gate(fitness: Tensor, ratio: float) -> tuple[bool, float]:
    """Fitness-spread gate (EPO paper Eq. 3, spec §4.2).

    Passes iff (max F − min F) > ratio·|median F|; ``ratio = 0`` disables the gate (always passes). The median
    is the interpolated one (mean of the two middle values for an even count).

    Args:
        fitness: ``[K]`` finite fitness values, K ≥ 1 (the followers' in paper mode).
        ratio: threshold ≥ 0.

    Returns:
        (passed, statistic) with statistic = (max − min) / max(|median|, 1e-8), for logging.

    Raises:
        ValueError: if fitness is not a non-empty 1-D finite tensor or ratio < 0.
    """
    if fitness.dim() != 1 or fitness.numel() == 0:
        raise ValueError(f"gate needs a non-empty [K] fitness tensor, got shape {tuple(fitness.shape)}")
    if ratio < 0:
        raise ValueError(f"gate ratio must be >= 0, got {ratio}")
    f = fitness.detach().double()
    if not bool(torch.isfinite(f).all()):
        raise ValueError("gate needs finite fitness values; skip agents without finished episodes first")
    spread = float(f.max() - f.min())
    median = float(torch.quantile(f, 0.5))
    statistic = spread / max(abs(median), _EPS)
    if ratio == 0:
        return True, statistic
    return spread > ratio * abs(median), statistic


def _check_inputs(latents: Tensor, fitness: Tensor) -> None:
    if latents.dim() != 2:
        raise ValueError(f"latents must be [M, D], got shape {tuple(latents.shape)}")
    if fitness.shape != latents.shape[:1]:
        raise ValueError(f"fitness must be [M] = [{latents.shape[0]}], got shape {tuple(fitness.shape)}")


def _missing(fit: Tensor, offset: int) -> list[int]:
    return (torch.nonzero(~torch.isfinite(fit)).flatten() + offset).tolist()


def plan_generation(
    latents: Tensor, fitness: Tensor, cfg: GeneticConfig, generator: torch.Generator
) -> Generation:
    """Plan one generation of the latent GA without modifying any input (spec §4, or §6 in official mode).

    Paper mode (``cfg.mode == "paper"``), followers = agents 1..M−1, the master (0) never takes part:

    1. skip unless every follower has a finite fitness (NaN = no finished episode yet);
    2. gate on the followers' fitness (:func:`gate`, ``cfg.gate_ratio``); skip if closed;
    3. rank followers by fitness (ties: lower index ranks higher); the top ``num_elites`` are elites;
    4. replace the worst R = min(max(1, ceil(frac_replaced·(M−1))), M−1−num_elites) followers (never an
       elite);
    5. for each child: parent a uniform over the elites; parent b from the survivors (followers not replaced,
       elites included) with probability ∝ F − min F_survivors + 1e-8;
       child = ½(φ_a + φ_b) + N(0, mutation_std²) per coordinate.

    Official mode (``cfg.mode == "official"``, ablation of the public EPO code): over **all** M agents (the
    master is not protected), the single worst agent's latent becomes the plain average of the two best
    agents' latents; no gate (the statistic is still computed over all M for logging), no mutation, R = 1,
    parents = (best, second best). Every agent needs a finite fitness. σ handling is done by
    ``apply_generation`` identically in both modes (copied from parent a = the best agent).

    Args:
        latents: ``[M, D]`` latent table φ (read only; detached internally).
        fitness: ``[M]`` per-agent fitness, NaN where an agent has none (index 0 = master, ignored in
            paper mode).
        cfg: the GA settings.
        generator: source of all randomness; draws happen on ``generator.device``.

    Returns:
        A :class:`Generation`; ``ran=False`` with a reason when skipped (too few agents, missing fitness,
        gate closed, nothing to replace). Tensors are on ``latents.device``.

    Raises:
        ValueError: on malformed shapes.
    """
    _check_inputs(latents, fitness)
    latents = latents.detach()
    if cfg.mode == "official":
        return _plan_official(latents, fitness)
    num_agents, dim = latents.shape
    num_followers = num_agents - 1
    if num_followers < 2:
        return _skip(f"paper GA needs >= 2 followers (M >= 3), got M={num_agents}", latents)
    if cfg.frac_replaced == 0:
        return _skip("ga.frac_replaced is 0: nothing to replace", latents)
    if cfg.num_elites >= num_followers:
        return _skip(
            f"ga.num_elites={cfg.num_elites} leaves no follower to replace (M-1={num_followers})", latents
        )
    fit = fitness.detach().double().cpu()[1:]
    missing = _missing(fit, offset=1)
    if missing:
        return _skip(f"followers without a finished episode yet: {missing}", latents)
    passed, statistic = gate(fit, cfg.gate_ratio)
    if not passed:
        reason = f"gate closed: spread/|median| = {statistic:.4g} <= gate_ratio {cfg.gate_ratio:g}"
        return _skip(reason, latents, statistic)

    order = torch.sort(fit, descending=True, stable=True).indices + 1  # agent indices, best first
    num_replaced = max(1, math.ceil(cfg.frac_replaced * num_followers - 1e-9))
    num_replaced = min(num_replaced, num_followers - cfg.num_elites)
    elites = order[: cfg.num_elites]
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
        ran=True,
        reason=f"replaced {replaced.tolist()} (elites {elites.tolist()})",
        replaced=replaced.to(latents.device),
        parents=parents_dev,
        children=children,
        gate_statistic=statistic,
    )


def _plan_official(latents: Tensor, fitness: Tensor) -> Generation:
    num_agents = latents.shape[0]
    if num_agents < 3:
        return _skip(f"official GA needs M >= 3 (top-2 distinct from the worst), got M={num_agents}", latents)
    fit = fitness.detach().double().cpu()
    missing = _missing(fit, offset=0)
    if missing:
        return _skip(f"agents without a finished episode yet: {missing}", latents)
    _, statistic = gate(fit, 0.0)
    order = torch.sort(fit, descending=True, stable=True).indices
    best, second, worst = int(order[0]), int(order[1]), int(order[-1])
    parents = torch.tensor([[best, second]], dtype=torch.long, device=latents.device)
    children = 0.5 * (latents[best] + latents[second]).unsqueeze(0)
    return Generation(
        ran=True,
        reason=f"official: replaced [{worst}] by mean of [{best}, {second}]",
        replaced=torch.tensor([worst], dtype=torch.long, device=latents.device),
        parents=parents,
        children=children,
        gate_statistic=statistic,
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
