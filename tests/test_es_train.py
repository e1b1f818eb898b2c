"""``train=ES`` end to end: real rl_games Runner, real Gymnasium Pendulum, checkpoints, resume, play, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import ROOT, compose_cfg

import train
from bench.launch import launch
from epo_isaac.errors import UserError
from epo_isaac.es.policy import ESPolicy, ObsNormalizer, moments, population_forward
from epo_isaac.host.checkpoint import IncompatibleCheckpointError

# 8 envs, P = 4 (blocks of 2 envs), 20-step episodes: one iteration is 20 control steps.
FAST = ["task=Pendulum", "task.num_envs=8", "train=ES", "train.es.population_size=4", "+task.max_episode_steps=20",
        "torch_threads=1", "seed=3"]


def _run(tmp_path: Path, name: str, extra: list[str]) -> dict:
    return train.run(compose_cfg(FAST + extra + [f"+run_dir={tmp_path / name}"]))


def _final(run_dir: str | Path) -> dict:
    files = sorted(Path(run_dir, "nn").glob("last_*.pth"), key=lambda p: int(p.name.split("_ep_")[1].split("_")[0]))
    return torch.load(files[-1], weights_only=False)


@pytest.fixture(scope="module")
def es_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _run(tmp_path_factory.mktemp("es"), "a", ["max_epochs=4", "train.es.test_interval=2",
                                                    "train.es.save_frequency=2"])


def test_es_trains_writes_checkpoints_events_and_tests(es_run: dict) -> None:
    history, run_dir = es_run["history"], Path(es_run["run_dir"])
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    # 4 iterations + 2 tests, each 20 steps of 8 envs
    assert history[-1]["frames"] == 6 * 20 * 8
    assert ["test/return" in h for h in history] == [False, True, False, True]
    assert all(h["es/sigma"] == 0.02 and h["population/episode_length"] == 20.0 for h in history)
    assert list((run_dir / "summaries").glob("events.out.tfevents.*"))
    names = sorted(p.name for p in (run_dir / "nn").glob("*.pth"))
    assert "Pendulum.pth" in names and any(n.startswith("last_Pendulum_ep_4_") for n in names)
    state = _final(run_dir)
    assert state["meta"]["algo"] == "es" and state["es"]["generation"] == 4
    assert state["counters"]["epoch"] == 4 and state["normalizer"]["count"] == 4 * 20 * 8


def test_same_seed_is_bit_identical_and_resume_continues_exactly(es_run: dict, tmp_path: Path) -> None:
    again = _run(tmp_path, "b", ["max_epochs=4", "train.es.test_interval=2", "train.es.save_frequency=2"])
    first, second = _final(es_run["run_dir"]), _final(again["run_dir"])
    for key in first["model"]:
        assert torch.equal(first["model"][key], second["model"][key])
    middle = next(Path(es_run["run_dir"], "nn").glob("last_Pendulum_ep_2_*.pth"))
    resumed = _run(tmp_path, "c", ["max_epochs=4", "train.es.test_interval=2", "train.es.save_frequency=2",
                                   f"checkpoint={middle}"])
    assert [h["epoch"] for h in resumed["history"]] == [3, 4]
    end = _final(resumed["run_dir"])
    for key in first["model"]:
        assert torch.equal(first["model"][key], end["model"][key]), key
    assert torch.equal(first["normalizer"]["mean"], end["normalizer"]["mean"])
    assert first["es"]["optimizer"]["state"][0]["exp_avg"].equal(end["es"]["optimizer"]["state"][0]["exp_avg"])
    assert [h["test/return"] for h in resumed["history"] if "test/return" in h] == \
        [h["test/return"] for h in es_run["history"][2:] if "test/return" in h]


def test_goal_stopping_after_exactly_consecutive_tests(tmp_path: Path) -> None:
    result = _run(tmp_path, "goal", ["max_epochs=50", "train.es.test_interval=1", "train.es.reward_goal=-1e9",
                                     "train.es.consecutive_goal_stopping=3"])
    assert [h["test/goal_streak"] for h in result["history"]] == [1.0, 2.0, 3.0]


def test_max_seconds_ends_with_a_tested_iteration(tmp_path: Path) -> None:
    result = _run(tmp_path, "time", ["max_epochs=50", "max_seconds=0.001", "train.es.test_interval=10"])
    assert [h["epoch"] for h in result["history"]] == [1] and "test/return" in result["history"][0]


def test_videos_of_theta_during_training(tmp_path: Path) -> None:
    result = _run(tmp_path, "video", ["max_epochs=2", "train.video_interval=2", "video_steps=5"])
    assert [p.name for p in (Path(result["run_dir"]) / "videos").iterdir()] == ["epoch_000002.mp4"]


def test_play_films_the_es_policy(es_run: dict, tmp_path: Path) -> None:
    best = Path(es_run["run_dir"], "nn", "Pendulum.pth")
    result = _run(tmp_path, "play", ["test=true", f"checkpoint={best}", "video_steps=10"])
    assert result["video_frames"] == 10 and Path(result["video"]).stat().st_size > 0


def test_es_checkpoint_is_refused_by_an_epo_run(es_run: dict, tmp_path: Path) -> None:
    best = Path(es_run["run_dir"], "nn", "Pendulum.pth")
    with pytest.raises(IncompatibleCheckpointError, match="written by train=ES, this run is train=EPO"):
        train.run(compose_cfg(["task=Pendulum", "task.num_envs=8", "max_epochs=1", f"checkpoint={best}",
                               f"+run_dir={tmp_path / 'epo'}"]))


def test_nan_member_is_named_and_left_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture) -> None:
    """A fault injected into env 2's reward (member 1's block): members 0 and 1 (its mirror) leave the update."""
    import tasks

    make = tasks.make

    def faulty(*args, **kwargs):
        task = make(*args, **kwargs)
        step = task.step

        def nan_step(actions):
            obs, reward, done, extras = step(actions)
            reward = reward.clone()
            reward[2] = float("nan")
            return obs, reward, done, extras

        task.step = nan_step
        return task

    monkeypatch.setattr(tasks, "make", faulty)
    result = _run(tmp_path, "nan", ["max_epochs=2", "train.es.test_interval=0"])
    assert "member(s) [1] returned NaN/inf; excluded from the update with their mirrored partners" \
        in capsys.readouterr().out
    assert [h["es/excluded"] for h in result["history"]] == [2.0, 2.0]
    assert all(torch.isfinite(v).all() for v in _final(result["run_dir"])["model"].values())


@pytest.mark.parametrize(("override", "message"), [
    ("train.es.population_size=5", r"^train\.es\.population_size=5: expected an even number with antithetic=true "
                                   r"\(e\.g\. 6\)$"),
    ("train.es.population_size=6", r"population_size=6 does not divide task.num_envs=8"),
    ("train.es.sigma=0", r"^train\.es\.sigma=0: expected a number > 0$"),
    ("train.es.episodes_per_member=3", r"episodes_per_member=3 is not a multiple of the block size 2"),
    ("train.es.max_iterations=0", "no stopping rule"),
])
def test_bad_es_settings_fail_with_one_line(tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        _run(tmp_path, "bad", [override])
    assert not (tmp_path / "bad").exists()


def test_population_forward_equals_each_loaded_policy() -> None:
    torch.manual_seed(0)
    policy = ESPolicy(5, 3, [7, 6], "tanh")
    theta = torch.nn.utils.parameters_to_vector(policy.parameters())
    candidates = theta + 0.5 * torch.randn(4, theta.numel())
    obs = torch.randn(4, 2, 5)
    batched = population_forward(candidates, obs, policy.shapes, policy.activation)
    for i in range(4):
        torch.nn.utils.vector_to_parameters(candidates[i], policy.parameters())
        torch.testing.assert_close(batched[i], policy(obs[i]))
    assert batched.abs().max() <= 1.0


def test_normalizer_merges_to_the_moments_of_all_data() -> None:
    torch.manual_seed(1)
    data = torch.randn(300, 4) * torch.tensor([1.0, 3.0, 0.01, 10.0]) + 2.0
    norm = ObsNormalizer(4)
    for chunk in data.split([10, 90, 200]):
        norm.merge(moments(chunk))
    torch.testing.assert_close(norm.mean, data.double().mean(0))
    torch.testing.assert_close(norm.var, data.double().var(0, unbiased=False))
    out = norm.normalize(data)
    assert out.abs().max() <= 5.0
    assert abs(float(out[:, 1].mean())) < 1e-4 and abs(float(out[:, 1].std()) - 1.0) < 1e-2


def test_two_gloo_ranks_under_torchrun(tmp_path: Path) -> None:
    """2 ranks (gloo, CPU) under torchrun: train.py with multi_gpu=true writes one run folder; the ES agent ends
    with the same θ and normaliser on both ranks; a sharded population gives the 1-rank update exactly."""
    out = tmp_path / "ranks.json"
    proc = launch([str(ROOT / "tests" / "es_ranks_worker.py"), str(tmp_path), str(out)], ranks=2,
                  env={"OMP_NUM_THREADS": "1"}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["library_equal"], "2-rank OpenAI-ES update differs from the 1-rank update"
    assert result["theta_equal"] and result["normalizer_equal"], result
    assert result["rank0_checkpoints"] and result["run_dirs"] == 1
