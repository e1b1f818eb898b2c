"""The GA gate on synthetic fitness (spec §4.2): Kruskal-Wallis, its effect size, Eq. 3's ratio, off (the default)."""

from __future__ import annotations

import pytest
import torch
from scipy import stats

from epo_isaac.epo.gate import check_gate, effect_size_gate, epsilon_squared, kruskal_gate, ratio_gate


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
    assert check_gate("off", torch.ones(2), same, 1.5, 0.05, 0.3).open
    assert not check_gate("kruskal", torch.ones(2), same, 1.5, 0.05, 0.3).open
    assert not check_gate("effect_size", torch.ones(2), same, 1.5, 0.05, 0.3).open
    with pytest.raises(ValueError, match="kruskal, effect_size, ratio, off"):
        check_gate("tukey", torch.ones(2), same, 1.5, 0.05, 0.3)


def test_ratio_gate_by_hand() -> None:
    """Eq. 3: open iff (max − min) > ratio·|median| (strict), statistic (max − min)/|median|."""
    fit = torch.tensor([1.0, 2.0, 4.0])  # spread 3, median 2
    at = ratio_gate(fit, 1.5)  # 3 > 3 is false: the boundary stays shut
    assert at.open is False and at.statistic == pytest.approx(1.5)
    assert ratio_gate(fit, 1.49).open is True and ratio_gate(fit, 0.5).open is True
    assert ratio_gate(torch.tensor([5.0, 5.0]), 0.0).open is True  # ratio 0: always open, even without spread
    assert ratio_gate(torch.tensor([5.0, 5.0]), 0.1).open is False
    one = ratio_gate(torch.tensor([3.0]), 1.0)  # K = 1: no spread
    assert one.open is False and one.statistic == 0.0
    centred = ratio_gate(torch.tensor([-1.0, 0.0, 1.0]), 1.0)  # median 0: |median| floored at 1e-8
    assert centred.open is True and centred.statistic == pytest.approx(2e8)
    even = ratio_gate(torch.tensor([1.0, 2.0, 3.0, 10.0]), 3.6)  # interpolated median 2.5: 9 > 9 is false
    assert even.open is False and even.statistic == pytest.approx(3.6)
    assert check_gate("ratio", fit, [], 1.49, 0.05, 0.3) == ratio_gate(fit, 1.49)
    assert check_gate("ratio", fit, [], 1.5, 0.05, 0.3).open is False


def test_ratio_gate_bad_input() -> None:
    for bad in (torch.ones(2, 2), torch.zeros(0)):
        with pytest.raises(ValueError, match="non-empty \\[K\\] fitness"):
            ratio_gate(bad, 1.0)
    with pytest.raises(ValueError, match="ratio must be >= 0"):
        ratio_gate(torch.ones(2), -0.1)
    with pytest.raises(ValueError, match="finite fitness"):
        ratio_gate(torch.tensor([1.0, float("nan")]), 1.0)


def test_off_gate_reports_no_statistic() -> None:
    result = check_gate("off", torch.ones(2), [], 1.5, 0.05, 0.3)
    assert result.open is True and result.statistic != result.statistic  # NaN


def test_closed_rank_gates_say_false_not_none() -> None:
    same = [torch.ones(3), torch.ones(3)]
    assert kruskal_gate(same, 0.05).open is False and effect_size_gate(same, 0.3).open is False
    far = _blocks([0.0, 50.0])
    assert kruskal_gate(far, 0.05).open is True and effect_size_gate(far, 0.3).open is True
    assert kruskal_gate(_blocks([5.0] * 7, seed=3), 0.05).open is False


def test_kruskal_bad_input() -> None:
    for level in (0.0, 1.0):
        with pytest.raises(ValueError, match=r"\(0, 1\)"):
            kruskal_gate(_blocks([0.0, 1.0]), pvalue=level)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        kruskal_gate(_blocks([0.0, 1.0]), pvalue=1.5)
    with pytest.raises(ValueError, match=">= 2 blocks"):
        kruskal_gate(_blocks([0.0]), pvalue=0.05)
    with pytest.raises(ValueError, match="finished episode"):
        kruskal_gate([torch.ones(3), torch.zeros(0)], pvalue=0.05)


def test_effect_size_by_hand() -> None:
    """Blocks {1, 2}, {3, 4}, {5, 6}: ranks = values, mean ranks 1.5 / 3.5 / 5.5 around 3.5, so
    H = 12/(6·7)·2·(2² + 0 + 2²) = 32/7 and ε²_H = H/(n − 1) = 32/35 ≈ 0.914 (H/n would be 0.762)."""
    blocks = [torch.tensor(v, dtype=torch.float64) for v in ([1.0, 2.0], [3.0, 4.0], [6.0, 5.0])]
    assert stats.kruskal(*[b.numpy() for b in blocks]).statistic == pytest.approx(32 / 7, rel=1e-12)
    result = effect_size_gate(blocks, threshold=0.9)
    assert result.open and result.statistic == pytest.approx(32 / 35, rel=1e-12)
    assert epsilon_squared(32 / 7, 6.0) == pytest.approx(32 / 35)
    assert not effect_size_gate(blocks, threshold=0.95).open
    # rank-based: a positive factor or a constant added to every episode's value changes nothing
    moved = effect_size_gate([7.5 * b - 300.0 for b in blocks], threshold=0.9)
    assert moved.open and moved.statistic == pytest.approx(result.statistic, rel=1e-12)


def test_effect_size_shut_when_every_value_is_equal() -> None:
    result = effect_size_gate([torch.zeros(5) for _ in range(6)], threshold=0.01)
    assert not result.open and result.statistic == 0.0


def test_rank_gates_change_with_a_constant_per_step_when_lengths_differ() -> None:
    """A return is Σ r_t; adding c to every step's reward adds c·length. Block 0's episodes are shorter and
    better, block 1's longer and worse: +1 per step reverses the order, and the p-value changes."""
    returns = [torch.tensor([10.0, 11.0, 12.0, 13.0]), torch.tensor([0.0, 1.0, 2.0, 3.0])]
    lengths = [torch.tensor([5.0, 5.0, 5.0, 5.0]), torch.tensor([50.0, 50.0, 50.0, 50.0])]
    shifted = [r + 1.0 * n for r, n in zip(returns, lengths, strict=True)]  # +1 reward per step
    assert kruskal_gate(returns, 0.05).open and kruskal_gate(shifted, 0.05).open  # both separated ...
    assert float(returns[0].mean()) > float(returns[1].mean())
    assert float(shifted[0].mean()) < float(shifted[1].mean())  # ... but the better block is now the other one
    mixed = [torch.tensor([10.0, 11.0, 12.0, 13.0]), torch.tensor([9.0, 10.5, 11.5, 12.5])]
    mixed_lengths = [torch.tensor([5.0, 50.0, 5.0, 50.0]), torch.tensor([50.0, 5.0, 50.0, 5.0])]
    moved = [r + n for r, n in zip(mixed, mixed_lengths, strict=True)]
    assert kruskal_gate(moved, 0.05).statistic != pytest.approx(kruskal_gate(mixed, 0.05).statistic)


def test_effect_size_bad_input() -> None:
    for tau in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"effect-size threshold must lie in \(0, 1\)"):
            effect_size_gate(_blocks([0.0, 1.0]), threshold=tau)
    with pytest.raises(ValueError, match=">= 2 blocks"):
        effect_size_gate(_blocks([0.0]), threshold=0.3)
