"""The gate simulation (epo_isaac.epo.gate_simulation, issue 24): its H equals scipy's, and what it says about
the gates: the latched Kruskal gate opens by chance, the effect-size gate does not."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from epo_isaac.epo.config import GeneticConfig
from epo_isaac.epo.gate import effect_size_gate, kruskal_gate
from epo_isaac.epo.gate_simulation import kruskal_h_from_counts, kruskal_pvalue, simulate_gate

TAU = GeneticConfig().gate_effect_size


def _expand(counts: torch.Tensor) -> list[torch.Tensor]:
    """One trial's [K, B] counts as K tensors of cell indices (the values the counts stand for)."""
    cells = torch.arange(counts.shape[1], dtype=torch.float64)
    return [torch.repeat_interleave(cells, row.long()) for row in counts]


def test_h_from_counts_is_scipys_h_with_ties_and_the_gates_agree() -> None:
    gen = torch.Generator().manual_seed(0)
    counts = torch.randint(0, 4, (5, 4, 6), generator=gen).double()
    counts[:, :, 0] += 1  # every block has a value (and cell 0 has ties)
    h = kruskal_h_from_counts(counts)
    for trial in range(counts.shape[0]):
        blocks = _expand(counts[trial])
        expected = stats.kruskal(*[b.numpy() for b in blocks])
        assert float(h[trial]) == pytest.approx(expected.statistic, rel=1e-12)
        p = float(kruskal_pvalue(h[trial : trial + 1], counts.shape[1])[0])
        assert p == pytest.approx(kruskal_gate(blocks, 0.5).statistic, rel=1e-10)
        n = float(counts[trial].sum())
        assert float(h[trial]) / (n - 1) == pytest.approx(effect_size_gate(blocks, 0.5).statistic, rel=1e-12)


def test_h_from_counts_is_zero_when_every_value_is_tied() -> None:
    counts = torch.zeros(1, 3, 4, dtype=torch.float64)
    counts[0, :, 2] = 5.0
    assert float(kruskal_h_from_counts(counts)[0]) == 0.0


def test_latched_kruskal_opens_by_chance_in_most_runs() -> None:
    """The review's figure: under H0 the latched p < 0.2 gate has opened by check 10 in ~0.6 of the runs (far
    above 0.2), and from its first opening it runs a generation at every check. 2000 trials: s.e. ≈ 0.011."""
    latched = simulate_gate("kruskal", 0.2, True, num_blocks=7, episodes_per_window=6, num_checks=10, trials=2000,
                            seed=1, bins=64)
    assert 0.16 < float(latched.opened_by[0]) < 0.24  # one check: the test's own level
    assert 0.55 < float(latched.opened_by[9]) < 0.65
    # latched: check k runs a generation iff the gate has opened by k
    assert latched.generations == pytest.approx(float(latched.opened_by.sum()), rel=1e-12)
    fresh = simulate_gate("kruskal", 0.2, False, num_blocks=7, episodes_per_window=6, num_checks=10, trials=2000,
                          seed=1, bins=64)
    assert torch.equal(fresh.opened_by, latched.opened_by)  # same first opening ...
    # ... but a chance opening costs one generation, and a generation starts a new window (measured 1.03; with
    # the window kept after a generation 1.95)
    assert 0.9 < fresh.generations < 1.2


@pytest.mark.parametrize(("num_blocks", "episodes", "trials", "checks", "bound"),
                         [(7, 6, 1000, 10, 0.08), (63, 384, 100, 3, 0.03)])
def test_effect_size_gate_rarely_opens_by_chance(num_blocks: int, episodes: int, trials: int, checks: int,
                                                 bound: float) -> None:
    """Under H0, the default τ: below ``bound`` at CPU scale (M = 8, 6 episodes per block per window, measured
    0.05, s.e. 0.007) and at paper scale (M = 64, 384 episodes, measured 0.00); few checks keep it to seconds
    (the chance openings happen at a window's first check)."""
    sim = simulate_gate("effect_size", TAU, False, num_blocks, episodes, checks, trials=trials, seed=2, bins=64)
    assert float(sim.opened_by[-1]) < bound
    assert sim.generations < bound * checks


def test_effect_size_gate_opens_for_large_differences_only() -> None:
    """CPU scale: blocks whose means differ with s.d. 0.8 (population ε² ≈ 0.40 > τ) open it at the first check
    in most runs (measured 0.94); the same spread shrunk to 0.2 (ε² ≈ 0.04) only at chance level (0.09)."""
    spread = torch.linspace(-1.0, 1.0, 7, dtype=torch.float64)
    spread = (spread / spread.std(unbiased=False)).tolist()
    large = simulate_gate("effect_size", TAU, False, 7, 6, 3, [0.8 * m for m in spread], trials=1000, seed=3,
                          bins=64)
    small = simulate_gate("effect_size", TAU, False, 7, 6, 3, [0.2 * m for m in spread], trials=1000, seed=3,
                          bins=64)
    assert float(large.opened_by[0]) > 0.6
    assert float(small.opened_by[-1]) < 0.2


def test_simulation_bad_input() -> None:
    with pytest.raises(ValueError, match="kruskal, effect_size"):
        simulate_gate("ratio", 0.2, False, 7, 6)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        simulate_gate("effect_size", 1.0, False, 7, 6)
    with pytest.raises(ValueError, match="block_means needs 7"):
        simulate_gate("kruskal", 0.2, False, 7, 6, block_means=[0.0, 1.0])
    with pytest.raises(ValueError, match=">= 1 value"):
        kruskal_h_from_counts(torch.zeros(1, 2, 3))
    assert np.isfinite(float(kruskal_pvalue(torch.tensor([3.0], dtype=torch.float64), 4)[0]))
