"""Unit tests of epo_isaac.epo.population: env layout, fitness tracking, applying a generation."""

from __future__ import annotations

import pytest
import torch

from epo_isaac.epo.genetic import Generation
from epo_isaac.epo.population import FitnessTracker, agent_envs, agent_ids, apply_generation, block_size

NAN = float("nan")


def test_agent_ids_contiguous_blocks() -> None:
    ids = agent_ids(12, 3)
    assert ids.dtype == torch.long
    assert ids.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    assert block_size(12, 3) == 4


@pytest.mark.parametrize(("num_envs", "num_agents"), [(24, 1), (24, 6), (24, 24), (4096, 64)])
def test_every_env_in_exactly_one_block(num_envs: int, num_agents: int) -> None:
    ids = agent_ids(num_envs, num_agents)
    assert ids.shape == (num_envs,)
    assert torch.bincount(ids, minlength=num_agents).tolist() == [num_envs // num_agents] * num_agents
    assert torch.all(ids[1:] - ids[:-1] >= 0)  # contiguous: non-decreasing, each id appears once as a run
    assert ids[0] == 0 and ids[-1] == num_agents - 1


def test_agent_envs_are_the_blocks_of_the_agents_in_their_order() -> None:
    assert agent_envs(torch.tensor([2, 0]), 12, 4).tolist() == [6, 7, 8, 0, 1, 2]
    envs = agent_envs(torch.tensor([1, 3]), 12, 4)
    assert torch.equal(agent_ids(12, 4)[envs], torch.tensor([1, 1, 1, 3, 3, 3]))
    with pytest.raises(ValueError, match="does not divide"):
        agent_envs(torch.tensor([0]), 10, 4)


def test_bad_population_raises_helpful_error() -> None:
    with pytest.raises(ValueError, match="num_agents=5 does not divide num_envs=12.*num_envs=10 or 15"):
        block_size(12, 5)
    with pytest.raises(ValueError, match=">= 1"):
        agent_ids(12, 0)
    with pytest.raises(ValueError, match="does not divide"):
        agent_ids(3, 4)


def test_fitness_only_counts_own_block() -> None:
    tracker = FitnessTracker(num_envs=6, num_agents=3)
    assert torch.isnan(tracker.fitness()).all()
    # envs 0 and 3 finish (blocks 0 and 1); not-done envs carry junk, NaN included
    tracker.update(
        torch.tensor([1, 0, 0, 1, 0, 0], dtype=torch.bool), torch.tensor([1.0, 99, NAN, 3, NAN, NAN])
    )
    fit = tracker.fitness()
    assert fit[:2].tolist() == [1.0, 3.0] and torch.isnan(fit[2])
    tracker.update(torch.tensor([0, 1, 0, 0, 0, 1]), torch.tensor([NAN, 5.0, 0, 0, 0, 7.0]))
    assert tracker.fitness().tolist() == [3.0, 3.0, 7.0]
    assert tracker.counts().tolist() == [2, 1, 1]
    tracker.reset()
    assert torch.isnan(tracker.fitness()).all() and tracker.counts().tolist() == [0, 0, 0]


def test_fitness_tracker_rejects_bad_shapes() -> None:
    tracker = FitnessTracker(6, 3)
    with pytest.raises(ValueError, match=r"\[6\]"):
        tracker.update(torch.zeros(5, dtype=torch.bool), torch.zeros(5))


def test_fitness_state_dict_round_trip() -> None:
    tracker = FitnessTracker(8, 4)
    tracker.update(torch.tensor([1, 1, 0, 0, 0, 0, 1, 0]), torch.arange(8.0))
    state = tracker.state_dict()
    tracker.update(torch.ones(8), torch.ones(8))  # the saved state must not alias the live one
    restored = FitnessTracker(8, 4)
    restored.load_state_dict(state)
    fit = restored.fitness()
    assert fit[0] == 0.5 and torch.isnan(fit[1]) and torch.isnan(fit[2]) and fit[3] == 6.0
    assert restored.counts().tolist() == [2, 0, 0, 1]
    with pytest.raises(ValueError, match="num_agents=4"):
        FitnessTracker(8, 2).load_state_dict(state)


def test_apply_generation_noop_when_skipped_and_without_optimizer_state() -> None:
    latents = torch.nn.Parameter(torch.zeros(3, 2))
    log_std = torch.nn.Parameter(torch.arange(3.0).unsqueeze(1))
    optimizer = torch.optim.Adam([latents, log_std])  # no step yet: no state
    skipped = Generation(
        "gate_closed",
        "skip",
        torch.zeros(0, dtype=torch.long),
        torch.zeros(0, 2, dtype=torch.long),
        torch.zeros(0, 2),
        float("nan"),
    )
    apply_generation(latents, log_std, optimizer, skipped)
    assert torch.all(latents == 0)
    plan = Generation("ran", "ok", torch.tensor([2]), torch.tensor([[1, 0]]), torch.ones(1, 2), 1.0)
    apply_generation(latents, log_std, optimizer, plan)
    assert latents[2].tolist() == [1.0, 1.0] and log_std[:, 0].tolist() == [0.0, 1.0, 1.0]
    bad = Generation("ran", "bad", torch.tensor([2]), torch.tensor([[1, 0]]), torch.ones(1, 5), 1.0)
    with pytest.raises(ValueError, match="does not fit"):
        apply_generation(latents, log_std, optimizer, bad)


def test_episodes_and_period_alignment_by_hand() -> None:
    tracker = FitnessTracker(6, 3)  # blocks of 2 envs: agent 0 = envs 0-1 (master), 1 = 2-3, 2 = 4-5
    tracker.update(torch.tensor([1, 0, 1, 1, 1, 0]), torch.tensor([9.0, 0, 1.0, 3.0, 5.0, 0]))
    tracker.next_period()
    tracker.update(torch.tensor([0, 0, 1, 0, 0, 1]), torch.tensor([0, 0, 12.0, 0, 0, 14.0]))
    episodes = tracker.episodes()
    assert [e.tolist() for e in episodes] == [[9.0], [1.0, 3.0, 12.0], [5.0, 14.0]]
    assert tracker.fitness().tolist() == [9.0, pytest.approx(16 / 3), 9.5]
    # period 0 followers' mean (1 + 3 + 5) / 3 = 3; period 1: (12 + 14) / 2 = 13; the master is left out
    aligned = tracker.aligned_episodes()
    assert [a.tolist() for a in aligned] == [[], [-2.0, 0.0, -1.0], [2.0, 1.0]]
    state = tracker.state_dict()
    restored = FitnessTracker(6, 3)
    restored.load_state_dict(state)
    assert [a.tolist() for a in restored.aligned_episodes()] == [[], [-2.0, 0.0, -1.0], [2.0, 1.0]]
    tracker.reset()
    assert tracker.counts().tolist() == [0, 0, 0] and all(a.numel() == 0 for a in tracker.aligned_episodes())
