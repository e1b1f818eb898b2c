"""The pure maths of OpenAI-ES (Salimans, Ho, Chen, Sidor, Sutskever 2017, arXiv:1703.03864): fitness shaping by
centred ranks (§2.2), the Monte Carlo gradient of the smoothed objective (eq. 3), the shared noise of a generation
as a pure function of ``(seed, generation)`` (§2.1), and which members' fitness may enter an update.
:class:`~epo_isaac.es.optimizer.OpenAIES` is the ask/tell loop around them.
"""

from __future__ import annotations

import torch
from torch import Tensor

_MASK64 = (1 << 64) - 1


def centered_ranks(x: Tensor) -> Tensor:
    """Centred rank transform of a fitness vector (Salimans et al. 2017, §2.2 and appendix).

    The lowest value maps to −0.5, the highest to +0.5, the rest evenly in between: rank/(P − 1) − 0.5.
    Tied values all get the mean of the ranks they span (so the result does not depend on their order, and
    equal fitness gives equal weight). Invariant to adding a constant and to multiplying by a positive factor.

    Args:
        x: ``[P]`` floating-point fitness (finite).

    Returns:
        ``[P]``, same dtype and device as ``x``, values in [−0.5, 0.5], summing to zero; zeros when P ≤ 1.

    Raises:
        ValueError: if ``x`` is not 1-D.
    """
    if x.dim() != 1:
        raise ValueError(f"centered_ranks expects a 1-D [P] tensor, got shape {tuple(x.shape)}")
    size = x.shape[0]
    if size <= 1:
        return torch.zeros_like(x, dtype=x.dtype if x.is_floating_point() else torch.float32)
    sorted_x, order = torch.sort(x, stable=True)
    _, group, counts = torch.unique_consecutive(sorted_x, return_inverse=True, return_counts=True)
    first = torch.cumsum(counts, 0) - counts
    mean_rank = first.double() + (counts.double() - 1.0) / 2.0
    ranks = torch.empty(size, dtype=torch.float64, device=x.device)
    ranks[order] = mean_rank[group]
    dtype = x.dtype if x.is_floating_point() else torch.float32
    return (ranks / (size - 1) - 0.5).to(dtype)


def es_gradient(eps: Tensor, shaped: Tensor, sigma: float) -> Tensor:
    """Monte Carlo gradient of the Gaussian-smoothed objective, ĝ = 1/(P·σ) · Σ_i shaped_i · ε_i (eq. 3).

    Args:
        eps: ``[P, D]`` standard-normal perturbations (the candidates were θ + σ·ε_i).
        shaped: ``[P]`` (shaped) fitness of each candidate, higher is better.
        sigma: the σ the candidates were drawn with (> 0, parameter units).

    Returns:
        ``[D]`` ascent direction, in fitness units per parameter unit.

    Raises:
        ValueError: on mismatched shapes or sigma ≤ 0.
    """
    if eps.dim() != 2 or shaped.shape != eps.shape[:1]:
        raise ValueError(f"es_gradient expects eps [P, D] and shaped [P], got {tuple(eps.shape)} and "
                         f"{tuple(shaped.shape)}")
    if not sigma > 0:
        raise ValueError(f"es_gradient needs sigma > 0, got {sigma}")
    return shaped.to(eps.dtype) @ eps / (eps.shape[0] * sigma)


def _splitmix64(x: int) -> int:
    """SplitMix64 finaliser (Steele, Lea & Flood 2014): a bijective 64-bit mix of ``x``."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def generation_seed(seed: int, generation: int) -> int:
    """The 64-bit seed of generation ``generation`` of a run seeded ``seed`` (distinct streams per pair).

    Raises:
        ValueError: if either is negative or not an int.
    """
    for name, value in (("seed", seed), ("generation", generation)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return _splitmix64(_splitmix64(seed & _MASK64) ^ (generation & _MASK64))


def population_noise(seed: int, generation: int, population_size: int, dim: int, antithetic: bool,
                     dtype: torch.dtype = torch.float32) -> Tensor:
    """The perturbations ε of one generation, a pure function of its arguments (drawn on the CPU).

    Args:
        seed: run seed ≥ 0.
        generation: generation number ≥ 0.
        population_size: P (even when ``antithetic``).
        dim: D, the number of parameters.
        antithetic: rows 2k and 2k+1 are ε_k and −ε_k (P/2 draws) instead of P independent draws.
        dtype: floating dtype of the draw (the same seed gives different numbers in another dtype).

    Returns:
        ``[P, D]`` standard-normal noise on the CPU.

    Raises:
        ValueError: on a negative seed/generation or an odd antithetic population.
    """
    if antithetic and population_size % 2:
        raise ValueError(f"population_size must be even when antithetic=True, got {population_size}")
    gen = torch.Generator(device="cpu").manual_seed(generation_seed(seed, generation))
    if not antithetic:
        return torch.randn(population_size, dim, generator=gen, dtype=dtype)
    half = torch.randn(population_size // 2, dim, generator=gen, dtype=dtype)
    return torch.stack((half, -half), dim=1).reshape(population_size, dim)


def usable_members(fitness: Tensor, antithetic: bool) -> Tensor:
    """``[P]`` bool: the candidates whose fitness enters the update — finite ones, and with ``antithetic`` only
    pairs (2k, 2k+1) whose both members are finite (a lone mirror would bias the estimate of eq. 3)."""
    ok = torch.isfinite(fitness)
    if antithetic:
        ok = ok.view(-1, 2).all(dim=1).repeat_interleave(2)
    return ok
