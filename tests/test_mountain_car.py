"""task=ContinuousMountainCar: track, dynamics and reward against values worked by hand, the episode bookkeeping,
bad settings, and 5-epoch EPO/SAPG/PPO runs through ``train.run``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import compose_cfg
from pydantic import ValidationError

import tasks
import train
from tasks.mountain_car import Track, build_track, dynamics, height_and_slope, reached_goal, reward

# flat [0, 1) at height 5, then an up-cosine of amplitude 1 on [1, 1 + π]
HILL = Track(torch.tensor([0.0, 1.0]), torch.tensor([0.0, 1.0]), torch.tensor([0.0, 1.0]), torch.tensor([5.0, 5.0]),
             1 + math.pi, 1 + math.pi)


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def test_official_track_seed_15() -> None:
    # the official env_curve.generate_curve(4, seed=15): 8 segments, L = 16.9422, goal at the first hill's crest
    track = build_track(4, 15)
    assert track.length == pytest.approx(16.94221, abs=1e-4) and track.goal == pytest.approx(4.03358, abs=1e-4)
    assert track.kind.tolist() == [0.0, 1.0, 0.0, -1.0, 0.0, 1.0, 0.0, -1.0]
    height, _ = height_and_slope(track, t(0.5, track.goal))
    assert height.tolist() == pytest.approx([5.0, 5.0 + 2 * track.scale[1].item()], abs=1e-5)


def test_height_and_slope_by_hand() -> None:
    height, slope = height_and_slope(HILL, t(0.5, 1 + math.pi / 2, 1 + math.pi, -1.0))
    assert height.tolist() == pytest.approx([5.0, 6.0, 7.0, 0.0], abs=1e-6)
    assert slope.tolist() == pytest.approx([0.0, 1.0, 0.0, 0.0], abs=1e-6)


def test_step_on_flat_segment() -> None:
    # v' = 1 + (0.015·1 − 0.005·sign(1))·0.5 = 1.005; x' = 0.5 + 1.005·0.5 = 1.0025
    x, v = dynamics(HILL, t(0.5), t(1.0), t(1.0))
    assert v.item() == pytest.approx(1.005, abs=1e-6) and x.item() == pytest.approx(1.0025, abs=1e-6)


def test_step_on_cosine_hill() -> None:
    # slope 1, k = 1/√2: v' = (0.015·F − 0.1/√2)·0.5; with F = 0: x' = x − 0.1/√2·0.5·0.5/√2 = x − 0.0125
    x0 = 1 + math.pi / 2
    x, v = dynamics(HILL, t(x0, x0), t(0.0, 0.0), t(0.0, 1.0))
    assert v.tolist() == pytest.approx([-0.05 / math.sqrt(2), (0.015 - 0.1 / math.sqrt(2)) * 0.5], abs=1e-6)
    assert x[0].item() == pytest.approx(x0 - 0.0125, abs=1e-6)
    # moving uphill at v = 0.2: friction acts along the track too, v' = 0.2 − (0.1 + 0.005)/√2·0.5
    _, v = dynamics(HILL, t(x0), t(0.2), t(0.0))
    assert v.item() == pytest.approx(0.2 - 0.105 / math.sqrt(2) * 0.5, abs=1e-6)


def test_edge_clamps_and_bounces() -> None:
    x, v = dynamics(HILL, t(0.02), t(-1.0), t(0.0))
    assert x.item() == pytest.approx(0.01) and v.item() > 0


def test_goal_pays_100_only_below_speed_2() -> None:
    # strictly across: starting or ending exactly on the goal does not count
    crossed = reached_goal(t(3.9, 3.9, 4.1, 3.9, 4.0, 3.9), t(4.1, 4.1, 3.9, 3.99, 4.1, 4.0),
                           t(1.9, 2.0, -1.5, 0.5, 1.0, 1.0), 4.0, 2.0)
    assert crossed.tolist() == [True, False, True, False, False, False]
    rew = reward(crossed, t(0.0, 0.0, -0.5, 1.0, 0.0, 0.0))
    assert rew.tolist() == pytest.approx([100.0, 0.0, 99.995, -0.01, 0.0, 0.0])


def _task(**settings: object) -> tasks.BatchedTask:
    task = tasks.make("ContinuousMountainCar", num_envs=3, seed=0, **settings)
    task.reset()
    return task


def test_task_pays_goal_crossing_and_autoresets() -> None:
    task = _task()
    goal = task.goal
    task.x, task.v = t(goal - 0.05, goal - 0.05, 0.5), t(0.5, 3.0, 0.0)  # slow crossing, fast crossing, flat
    obs, rew, done, extras = task.step(torch.ones(3, 1))
    assert done.tolist() == [True, False, False]
    assert rew.tolist() == pytest.approx([99.99, -0.01, -0.01], abs=1e-4)
    assert extras["successes"].tolist() == [1.0, 0.0, 0.0] and not extras["time_outs"].any()
    assert extras["true_objective"][0].item() == pytest.approx(99.99, abs=1e-4)
    assert obs[0, 1].item() == 0.0 and task.steps.tolist() == [0, 1, 1]  # env 0 restarted at rest


def test_episode_length_and_discounted_true_objective() -> None:
    task = _task(episode_length=3)
    task.x, task.v = t(0.2, 0.3, 0.4), t(0.0, 0.0, 0.0)  # flat start: no goal within 3 steps
    for step in range(3):
        _, rew, done, extras = task.step(-torch.ones(3, 1))
        assert done.all() == (step == 2) and rew.tolist() == pytest.approx([-0.01] * 3)
    assert extras["true_objective"].tolist() == pytest.approx([-0.01 * (1 + 0.997 + 0.997**2)] * 3, abs=1e-6)
    assert extras["successes"].tolist() == [0.0] * 3 and task.steps.tolist() == [0, 0, 0]


@pytest.mark.parametrize(("key", "value"), [("episode_length", 0), ("hills", 0), ("goal_position", 100.0),
                                            ("goal_speed", 0.0), ("wind", 1)])
def test_bad_settings_name_the_key(key: str, value: object) -> None:
    with pytest.raises(ValidationError, match=key):
        tasks.check_settings("ContinuousMountainCar", num_envs=8, **{key: value})


@pytest.mark.parametrize("algo", ["EPO", "SAPG", "PPO"])
def test_trains_five_epochs(algo: str, tmp_path: Path) -> None:
    cfg = compose_cfg(["task=ContinuousMountainCar", f"train={algo}", "task.num_envs=48", "max_epochs=5",
                       "train.ppo.minibatch_size=384", "train.ppo.mini_epochs=2", "torch_threads=1",
                       f"+run_dir={tmp_path / algo}"])
    assert cfg.train.network.units == [32, 32] and cfg.train.ppo.gamma == 0.997
    out = train.run(cfg)
    assert len(out["history"]) == 5 and out["history"][-1]["frames"] == 5 * 48 * 16
