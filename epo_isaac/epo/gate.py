"""The genetic algorithm's gate: "are the agents' differences meaningful yet?" (EPO paper Eq. 3;
spec docs/spec/epo_algorithm.md §4.2).

Four gates, chosen by ``ga.gate``:

- ``kruskal``: Kruskal–Wallis H-test (``scipy.stats.kruskal``) across the followers' blocks on the
  values of their individual finished episodes; open when the p-value is below ``ga.gate_pvalue``. Rank-based:
  the decision and the p-value are unchanged by any increasing transform applied to every episode value (a
  constant added to every episode's value, a positive factor). A constant added to the reward of every *step* is
  not such a transform when episodes have different lengths: it adds c·length to each return and can reorder
  episodes. The agent tests per-period centred values (``FitnessTracker.aligned_episodes``), which keeps only
  the positive factor and the per-episode constant among these invariances. A significance test answers "is
  there any difference?", not "is it large?": with hundreds of episodes per block (paper scale) a negligible
  difference is significant, and with the latch (``ga.gate_latch``) a chance opening under no difference at all
  is paid at every later check (docs/algorithms.md "How often the gate opens by chance", simulated by
  :mod:`epo_isaac.epo.gate_simulation`).
- ``effect_size``: the same H turned into an effect size, ε²_H = H/(n − 1) (Tomczak & Tomczak 2014, "The need
  to report effect size estimates revisited", eq. 14: H/((n² − 1)/(n + 1))), open when ε²_H ≥
  ``ga.gate_effect_size``. Same invariances as ``kruskal``; meant to be asked afresh at every check (no latch).
- ``ratio``: the paper's Eq. 3 on the per-agent means, open when (max F − min F) > ``ga.gate_ratio``·|median F|.
  Depends on the reward's offset (a constant added to the rewards moves the median, not the spread).
- ``off`` (default): always open.

Pure functions; nothing here touches the agent.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from scipy import stats
from torch import Tensor

GATES: tuple[str, ...] = ("kruskal", "effect_size", "ratio", "off")
_EPS = 1e-8
T = TypeVar("T", float, Tensor)


@dataclass(frozen=True)
class GateResult:
    """Outcome of one gate check.

    Attributes:
        open: whether the generation may run.
        statistic: what the gate compared with its threshold, for logs: the p-value (``kruskal``, in [0, 1],
            small = clearly different blocks), ε²_H (``effect_size``, in [0, 1], large = blocks explain much of
            the ranks' variance), (max − min)/|median| (``ratio``), NaN (``off``).
    """

    open: bool
    statistic: float


def ratio_gate(fitness: Tensor, ratio: float) -> GateResult:
    """Fitness-spread gate (EPO paper Eq. 3, spec §4.2).

    Open iff (max F − min F) > ratio·|median F| (interpolated median); ``ratio = 0`` is always open.

    Args:
        fitness: ``[K]`` finite per-agent fitness, K ≥ 1.
        ratio: threshold ≥ 0.

    Returns:
        :class:`GateResult` with statistic (max − min) / max(|median|, 1e-8).

    Raises:
        ValueError: fitness not a non-empty finite ``[K]`` tensor, or ratio < 0.
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
    return GateResult(ratio == 0 or spread > ratio * abs(median), statistic)


def _block_samples(episodes: list[Tensor]) -> list[np.ndarray] | None:
    """Validated float64 numpy copies of the blocks' episode values; None when every value is equal (no ranks)."""
    if len(episodes) < 2:
        raise ValueError(f"the Kruskal-Wallis gate needs >= 2 blocks, got {len(episodes)}")
    samples = [e.detach().double().cpu().reshape(-1).numpy() for e in episodes]
    if any(s.size == 0 for s in samples):
        raise ValueError("every block needs >= 1 finished episode; skip agents without finished episodes first")
    if not all(math.isfinite(float(s.sum())) for s in samples):
        raise ValueError("the gate needs finite episode values")
    first = samples[0][0]
    return None if all((s == first).all() for s in samples) else samples


def _kruskal(samples: list[np.ndarray]) -> tuple[float, float]:
    """(H, p) of ``scipy.stats.kruskal``; (0, 1) where scipy gives no finite answer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.kruskal(*samples)
    h, p = float(result.statistic), float(result.pvalue)
    return (h, p) if math.isfinite(h) and math.isfinite(p) else (0.0, 1.0)


def kruskal_gate(episodes: list[Tensor], pvalue: float) -> GateResult:
    """Kruskal–Wallis H-test across blocks on per-episode values (spec §4.2's shift- and scale-free gate).

    H0: every block's episode values come from the same distribution. The gate opens when H0 is rejected at
    level ``pvalue``. Identical values everywhere (e.g. ``true_objective`` = 0 before the first success) give
    p = 1: closed.

    Args:
        episodes: K ≥ 2 one-dimensional tensors, block k's finished-episode values (each non-empty, finite).
        pvalue: significance level in (0, 1).

    Returns:
        :class:`GateResult` with statistic = the test's p-value.

    Raises:
        ValueError: fewer than 2 blocks, an empty block, a non-finite value, or pvalue outside (0, 1).
    """
    if not 0 < pvalue < 1:
        raise ValueError(f"gate p-value threshold must lie in (0, 1), got {pvalue}")
    samples = _block_samples(episodes)
    if samples is None:
        return GateResult(False, 1.0)
    p = _kruskal(samples)[1]
    return GateResult(p < pvalue, p)


def epsilon_squared(h: T, n: T) -> T:
    """Rank effect size ε²_H = H / ((n² − 1)/(n + 1)) = H/(n − 1) (Tomczak & Tomczak 2014, eq. 14).

    Args:
        h: Kruskal–Wallis H (float or tensor), ≥ 0.
        n: total number of values over all blocks (same shape as ``h``), ≥ 2.

    Returns:
        ε²_H in [0, 1] for tie-corrected H: 0 = no block effect on the ranks, 1 = blocks fully separated and
        tied inside. Under H0 its mean is about (K − 1)/(n − 1) ≈ 1/(episodes per block): few episodes make it
        large by chance.
    """
    return h / (n - 1)


def effect_size_gate(episodes: list[Tensor], threshold: float) -> GateResult:
    """Effect-size gate: open when ε²_H of the Kruskal–Wallis H across blocks is ≥ ``threshold``.

    ε²_H (:func:`epsilon_squared`) estimates the share of the rank variance explained by the blocks; for small
    shifts it is about the variance of the blocks' true means in units of the within-block variance. Identical
    values everywhere give ε²_H = 0: closed.

    Args:
        episodes: K ≥ 2 one-dimensional tensors, block k's finished-episode values (each non-empty, finite).
        threshold: τ in (0, 1) (``ga.gate_effect_size``).

    Returns:
        :class:`GateResult` with statistic = ε²_H.

    Raises:
        ValueError: fewer than 2 blocks, an empty block, a non-finite value, or threshold outside (0, 1).
    """
    if not 0 < threshold < 1:
        raise ValueError(f"gate effect-size threshold must lie in (0, 1), got {threshold}")
    samples = _block_samples(episodes)
    if samples is None:
        return GateResult(False, 0.0)
    effect = epsilon_squared(_kruskal(samples)[0], float(sum(s.size for s in samples)))
    return GateResult(effect >= threshold, effect)


def check_gate(kind: str, fitness: Tensor, episodes: list[Tensor], ratio: float, pvalue: float,
               effect_size: float) -> GateResult:
    """Dispatch to the gate ``kind`` (one of :data:`GATES`).

    Args:
        kind: ``kruskal`` | ``effect_size`` | ``ratio`` | ``off``.
        fitness: ``[K]`` per-agent means (used by ``ratio``).
        episodes: K per-agent episode-value tensors (used by ``kruskal`` and ``effect_size``).
        ratio, pvalue, effect_size: the thresholds of ``ratio``, ``kruskal`` and ``effect_size``.

    Raises:
        ValueError: unknown kind, or the chosen gate's own errors.
    """
    if kind == "kruskal":
        return kruskal_gate(episodes, pvalue)
    if kind == "effect_size":
        return effect_size_gate(episodes, effect_size)
    if kind == "ratio":
        return ratio_gate(fitness, ratio)
    if kind == "off":
        return GateResult(True, float("nan"))
    raise ValueError(f"unknown ga.gate {kind!r}; valid: {', '.join(GATES)}")
