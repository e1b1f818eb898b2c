"""The GA gate on synthetic fitness (spec §4.2): Kruskal-Wallis default, the paper's ratio, off."""

from __future__ import annotations

import pytest
import torch

from epo_isaac.epo.gate import check_gate, kruskal_gate, ratio_gate


def _blocks(means: list[float], per_block: int = 12, spread: float = 1.0, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [m + spread * torch.randn(per_block, generator=g, dtype=torch.float64) for m in means]


def test_kruskal_opens_for_clearly_separated_blocks() -> None:
    result = kruskal_gate(_blocks([0.0, 3.0, 6.0, 9.0]), pvalue=0.05)
    assert result.open and result.statistic < 1e-6


def test_kruskal_shut_for_identical_distributions() -> None:
    same = torch.linspace(-1.0, 1.0, 10, dtype=torch.float64)
    result = kruskal_gate([same, same.flip(0), same.clone(), same[torch.randperm(10)]], pvalue=0.05)
    assert not result.open and result.statistic == pytest.approx(1.0)
    # independent draws from one distribution: H0 true, the gate stays shut (fixed seed)
    assert not kruskal_gate(_blocks([5.0] * 7, seed=3), pvalue=0.05).open


def test_kruskal_shut_when_every_value_is_equal() -> None:
    zeros = [torch.zeros(5) for _ in range(6)]  # true_objective before the first success
    result = kruskal_gate(zeros, pvalue=0.05)
    assert not result.open and result.statistic == 1.0


@pytest.mark.parametrize("means", [[0.0, 0.4, 0.8, 1.2], [0.0, 0.0, 0.0, 0.1], [0.0, 2.0, 2.0, 2.0]])
def test_kruskal_unchanged_by_shift_and_scale(means: list[float]) -> None:
    blocks = _blocks(means, per_block=8, seed=1)
    base = kruskal_gate(blocks, pvalue=0.05)
    for shift, scale in ((1000.0, 1.0), (-37.5, 1.0), (0.0, 250.0), (12.0, 0.01)):
        moved = kruskal_gate([scale * b + shift for b in blocks], pvalue=0.05)
        assert moved.open == base.open
        assert moved.statistic == pytest.approx(base.statistic, rel=1e-9)


def test_ratio_gate_depends_on_the_offset_kruskal_does_not() -> None:
    blocks = _blocks([0.0, 2.0, 4.0], per_block=10, spread=0.5, seed=2)
    means = torch.stack([b.mean() for b in blocks])
    assert ratio_gate(means, 1.5).open and not ratio_gate(means + 100.0, 1.5).open  # why Eq. 3 is not the default
    assert kruskal_gate(blocks, 0.05).open and kruskal_gate([b + 100.0 for b in blocks], 0.05).open


def test_off_and_dispatch() -> None:
    same = [torch.ones(3), torch.ones(3)]
    assert check_gate("off", torch.ones(2), same, 1.5, 0.05).open
    assert not check_gate("kruskal", torch.ones(2), same, 1.5, 0.05).open
    with pytest.raises(ValueError, match="kruskal, ratio, off"):
        check_gate("tukey", torch.ones(2), same, 1.5, 0.05)


def test_kruskal_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        kruskal_gate(_blocks([0.0, 1.0]), pvalue=1.5)
    with pytest.raises(ValueError, match=">= 2 blocks"):
        kruskal_gate(_blocks([0.0]), pvalue=0.05)
    with pytest.raises(ValueError, match="finished episode"):
        kruskal_gate([torch.ones(3), torch.zeros(0)], pvalue=0.05)
