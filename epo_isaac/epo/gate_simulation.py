"""How often does a GA gate open when the agents do not differ? A seeded Monte-Carlo simulation of the gate as the
agent uses it (issue 24; spec docs/spec/epo_algorithm.md §4.2; table in docs/algorithms.md "How often the gate
opens by chance").

The model of a run: K = M − 1 follower blocks; each fitness window (one GA check interval) adds
``episodes_per_window`` finished episodes to every block; an episode's value is N(μ_k, 1) with μ_k the block's
true mean in units of the within-block standard deviation (all μ_k = 0 is H0). At each check the gate sees every
episode since the last generation: a closed gate keeps the window open, a generation starts a new one
(``EPOAgent.genetic_step``). A latched gate runs a generation at every check after its first opening.

Values are put into ``bins`` cells of equal probability under N(0, 1) before ranking, so the statistic is the
tie-corrected Kruskal–Wallis H of the binned values (``scipy.stats.kruskal`` gives the same H on them): that keeps
the memory at [trials, K, bins] whatever the number of episodes. Ranks do not see the value distribution, so under
H0 the result holds for any continuous episode-value distribution. The simulation skips the agent's per-period
centring (``FitnessTracker.aligned_episodes``), which only matters when the population's return drifts within a
window.

Pure functions: all randomness comes from ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from epo_isaac.epo.gate import epsilon_squared

SIM_GATES: tuple[str, ...] = ("kruskal", "effect_size")


@dataclass(frozen=True)
class GateSimulation:
    """What :func:`simulate_gate` estimates (Monte-Carlo, ``trials`` independent runs).

    Attributes:
        opened_by: ``[num_checks]`` float64, entry k−1 = P(the gate has opened at least once by check k).
        generations: mean number of generations run in the ``num_checks`` checks (latched checks included).
        trials: number of simulated runs (the standard error of a probability p is √(p(1 − p)/trials)).
    """

    opened_by: Tensor
    generations: float
    trials: int


def kruskal_h_from_counts(counts: Tensor) -> Tensor:
    """Tie-corrected Kruskal–Wallis H from binned values (Kruskal & Wallis 1952, eq. with midranks and the tie
    correction 1 − Σ(t³ − t)/(n³ − n); what ``scipy.stats.kruskal`` computes).

    Args:
        counts: ``[T, K, B]`` non-negative counts: in trial t, how many of block k's values fall in ordered cell b
            (all values of a cell are tied). Every block of every trial needs ≥ 1 value.

    Returns:
        ``[T]`` float64 H; 0 where every value of a trial lies in one cell (no ranking information).

    Raises:
        ValueError: counts not 3-D, or a block without values.
    """
    if counts.dim() != 3:
        raise ValueError(f"counts must be [trials, blocks, bins], got shape {tuple(counts.shape)}")
    c = counts.double()
    per_block = c.sum(2)  # [T, K]
    if bool((per_block <= 0).any()):
        raise ValueError("every block needs >= 1 value")
    per_cell = c.sum(1)  # [T, B]
    n = per_cell.sum(1)  # [T]
    midrank = torch.cumsum(per_cell, 1) - per_cell + (per_cell + 1) / 2  # [T, B]
    centred = midrank - ((n + 1) / 2).unsqueeze(1)
    mean_rank = (c * centred.unsqueeze(1)).sum(2) / per_block  # [T, K], minus (n + 1)/2
    h = 12.0 / (n * (n + 1)) * (per_block * mean_rank**2).sum(1)
    ties = 1.0 - (per_cell**3 - per_cell).sum(1) / (n**3 - n)
    return torch.where(ties > 0, h / ties.clamp_min(1e-300), torch.zeros_like(h))


def kruskal_pvalue(h: Tensor, num_blocks: int) -> Tensor:
    """The Kruskal–Wallis p-value: χ² survival function of H with K − 1 degrees of freedom (what
    ``scipy.stats.kruskal`` returns), as the regularised upper incomplete gamma Q((K − 1)/2, H/2).

    Args:
        h: ``[T]`` float64 H values, ≥ 0.
        num_blocks: K ≥ 2.

    Returns:
        ``[T]`` float64 p-values in [0, 1].
    """
    return torch.special.gammaincc(torch.full_like(h, (num_blocks - 1) / 2.0), h / 2)


def _window_counts(means: Tensor, episodes: int, trials: int, bins: int, gen: torch.Generator) -> Tensor:
    """``[trials, K, bins]`` counts of one window: ``episodes`` N(μ_k, 1) values per block, binned."""
    num_blocks = means.numel()
    values = torch.randn(trials, num_blocks, episodes, generator=gen, dtype=torch.float64) + means[:, None]
    cell = (torch.special.ndtr(values) * bins).long().clamp_(0, bins - 1)
    flat = (torch.arange(trials * num_blocks).view(trials, num_blocks, 1) * bins + cell).reshape(-1)
    return torch.bincount(flat, minlength=trials * num_blocks * bins).view(trials, num_blocks, bins).double()


def simulate_gate(
    gate: str,
    threshold: float,
    latch: bool,
    num_blocks: int,
    episodes_per_window: int,
    num_checks: int = 30,
    block_means: Sequence[float] | None = None,
    trials: int = 2000,
    seed: int = 0,
    bins: int = 256,
) -> GateSimulation:
    """Estimate how often a gate opens over a run's checks (model: the module docstring).

    Args:
        gate: ``kruskal`` (open when the χ² p-value of H, df K − 1, is < ``threshold``, as
            :func:`epo_isaac.epo.gate.kruskal_gate`) or ``effect_size`` (open when ε²_H ≥ ``threshold``, as
            :func:`epo_isaac.epo.gate.effect_size_gate`).
        threshold: ``ga.gate_pvalue`` or ``ga.gate_effect_size``, in (0, 1).
        latch: after the first opening, run a generation at every check (``ga.gate_latch``).
        num_blocks: K = M − 1 followers, ≥ 2.
        episodes_per_window: finished episodes per block per check interval, ≥ 1.
        num_checks: checks per run, ≥ 1.
        block_means: K true block means in within-block s.d.; None: all 0 (H0).
        trials: simulated runs, ≥ 1.
        seed: seed of the one ``torch.Generator`` used.
        bins: cells of equal N(0, 1) probability the values are binned into, ≥ 2.

    Returns:
        :class:`GateSimulation`.

    Raises:
        ValueError: unknown gate, a threshold outside (0, 1), a count below its minimum, or block_means of the
            wrong length.
    """
    if gate not in SIM_GATES:
        raise ValueError(f"unknown gate {gate!r}; valid: {', '.join(SIM_GATES)}")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
    if num_blocks < 2 or episodes_per_window < 1 or num_checks < 1 or trials < 1 or bins < 2:
        raise ValueError("need num_blocks >= 2, episodes_per_window, num_checks, trials >= 1 and bins >= 2")
    means = torch.zeros(num_blocks, dtype=torch.float64) if block_means is None else torch.tensor(
        list(block_means), dtype=torch.float64)
    if means.shape != (num_blocks,):
        raise ValueError(f"block_means needs {num_blocks} values, got {means.numel()}")
    gen = torch.Generator().manual_seed(seed)
    counts = torch.zeros(trials, num_blocks, bins, dtype=torch.float64)
    first_open = torch.full((trials,), math.inf, dtype=torch.float64)
    latched = torch.zeros(trials, dtype=torch.bool)
    generations = torch.zeros(trials, dtype=torch.float64)
    for check in range(num_checks):
        counts += _window_counts(means, episodes_per_window, trials, bins, gen)
        h = kruskal_h_from_counts(counts)
        if gate == "kruskal":
            opened = kruskal_pvalue(h, num_blocks) < threshold
        else:
            opened = epsilon_squared(h, counts.sum((1, 2))) >= threshold
        run = opened | (latched if latch else torch.zeros_like(opened))
        latched |= opened
        first_open = torch.where(opened & torch.isinf(first_open), float(check), first_open)
        generations += run.double()
        counts[run] = 0.0  # a generation starts a new fitness window
    checks = torch.arange(num_checks, dtype=torch.float64)
    opened_by = (first_open[None, :] <= checks[:, None]).double().mean(1)
    return GateSimulation(opened_by=opened_by, generations=float(generations.mean()), trials=trials)
