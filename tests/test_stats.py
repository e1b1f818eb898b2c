"""``EpochStats``: what ``master/*`` and ``agents/*_<b>`` report, worked by hand (agent b owns the contiguous
block of envs b·N/M … (b + 1)·N/M − 1; the master is agent 0)."""

from __future__ import annotations

import pytest
import torch

from epo_isaac.host.stats import EpochStats

N, M = 8, 4  # blocks: agent 0 = envs 0-1, agent 1 = envs 2-3, agent 2 = envs 4-5, agent 3 = envs 6-7


def _done(*envs: int) -> torch.Tensor:
    done = torch.zeros(N, dtype=torch.bool)
    done[list(envs)] = True
    return done


def test_master_and_agent_means_are_over_their_own_blocks_episodes() -> None:
    stats = EpochStats(N, M, "cpu")
    returns = torch.arange(N, dtype=torch.float32) * 10.0 + 1.0  # env i's episode return 10·i + 1
    lifted = torch.tensor([True, False, False, True, True, True, False, False])
    successes = torch.tensor([1.0, 0.0, 0.0, 2.0, 1.0, 3.0, 0.0, 0.0])
    stats.update(_done(0, 3, 5), returns, {"lifted": lifted, "successes": successes})
    stats.update(_done(1, 4), returns + 100.0, {"lifted": lifted, "successes": successes})
    out = stats.summary()
    assert out["master/return"] == pytest.approx((1.0 + 111.0) / 2)  # envs 0 and 1 (block 0), not env 0 alone
    assert out["agents/return_0"] == out["master/return"]
    assert out["agents/return_1"] == pytest.approx(31.0)  # env 3
    assert out["agents/return_2"] == pytest.approx((51.0 + 141.0) / 2)  # envs 5 and 4
    assert "agents/return_3" not in out  # no episode of envs 6-7 finished
    assert out["master/lift_rate"] == pytest.approx(0.5)  # env 0 lifted, env 1 not
    assert out["agents/lift_rate_1"] == 1.0 and out["agents/lift_rate_2"] == 1.0
    assert out["master/successes"] == pytest.approx(0.5) and out["agents/successes_2"] == pytest.approx(2.0)


def test_reward_terms_are_means_per_step_and_a_reset_forgets_the_epoch() -> None:
    stats = EpochStats(N, M, "cpu")
    none = _done()
    stats.update(none, torch.zeros(N), {"rewards": {"lift": torch.full((N,), 2.0)}, "scalars": {"sim/x": 3}})
    stats.update(none, torch.zeros(N), {"rewards": {"lift": torch.full((N,), 4.0)}})
    out = stats.summary()
    assert out == {"reward_terms/lift": pytest.approx(3.0), "sim/x": 3.0}
    stats.reset()
    assert stats.summary() == {}
