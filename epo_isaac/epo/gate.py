"""The genetic algorithm's gate: "are the agents' differences meaningful yet?" (EPO paper Eq. 3;
spec docs/spec/epo_algorithm.md §4.2).

Three gates, chosen by ``ga.gate``:

- ``kruskal`` (default): Kruskal–Wallis H-test (``scipy.stats.kruskal``) across the followers' blocks on the
  values of their individual finished episodes; open when the p-value is below ``ga.gate_pvalue``. Rank-based, so
  adding a constant to every value or multiplying every value by a positive factor leaves the decision and the
  p-value unchanged, and so does any other increasing transform of the reward.
- ``ratio``: the paper's Eq. 3 on the per-agent means, open when (max F − min F) > ``ga.gate_ratio``·|median F|.
  Depends on the reward's offset (a constant added to the rewards moves the median, not the spread).
- ``off``: always open.

Pure functions; nothing here touches the agent.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from scipy import stats
from torch import Tensor

GATES: tuple[str, ...] = ("kruskal", "ratio", "off")
_EPS = 1e-8


@dataclass(frozen=True)
class GateResult:
    """Outcome of one gate check.

    Attributes:
        open: whether the generation may run.
        statistic: what the gate compared with its threshold, for logs: the p-value (``kruskal``, in [0, 1],
            small = clearly different blocks), (max − min)/|median| (``ratio``), NaN (``off``).
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
    if len(episodes) < 2:
        raise ValueError(f"the Kruskal-Wallis gate needs >= 2 blocks, got {len(episodes)}")
    samples = [e.detach().double().cpu().reshape(-1).numpy() for e in episodes]
    if any(s.size == 0 for s in samples):
        raise ValueError("every block needs >= 1 finished episode; skip agents without finished episodes first")
    if not all(math.isfinite(float(s.sum())) for s in samples):
        raise ValueError("the gate needs finite episode values")
    first = samples[0][0]
    if all((s == first).all() for s in samples):
        return GateResult(False, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(stats.kruskal(*samples).pvalue)
    if not math.isfinite(p):
        p = 1.0
    return GateResult(p < pvalue, p)


def check_gate(kind: str, fitness: Tensor, episodes: list[Tensor], ratio: float, pvalue: float) -> GateResult:
    """Dispatch to the gate ``kind`` (one of :data:`GATES`).

    Args:
        kind: ``kruskal`` | ``ratio`` | ``off``.
        fitness: ``[K]`` per-agent means (used by ``ratio``).
        episodes: K per-agent episode-value tensors (used by ``kruskal``).
        ratio, pvalue: the thresholds of ``ratio`` and ``kruskal``.

    Raises:
        ValueError: unknown kind, or the chosen gate's own errors.
    """
    if kind == "kruskal":
        return kruskal_gate(episodes, pvalue)
    if kind == "ratio":
        return ratio_gate(fitness, ratio)
    if kind == "off":
        return GateResult(True, float("nan"))
    raise ValueError(f"unknown ga.gate {kind!r}; valid: {', '.join(GATES)}")
