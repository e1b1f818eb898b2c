"""``train.py`` on every Allegro-Kuka task (real MuJoCo physics, real rl_games) with EPO, SAPG and PPO:
two epochs on a handful of envs; resume; play mode's video."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import pytest
import torch
from conftest import compose_cfg

import train
from epo_isaac.errors import UserError
from tasks.render import expected_frames

TASKS = ["AllegroKukaRegrasping", "AllegroKukaReorientation", "AllegroKukaThrow", "AllegroKukaTwoArmsRegrasping",
         "AllegroKukaTwoArmsReorientation", "AllegroKukaTwoArmsReorientationPartition",
         "AllegroKukaTwoArmsReorientationHole", "AllegroKukaTwoArmsReorientationBarrier"]
# 8 envs, M = 4, 4-step horizon, 2 minibatches; GA after every epoch with the gate off.
TINY = ["task.num_envs=8", "train.population.size=4", "train.ppo.horizon_length=4", "train.ppo.num_minibatches=2",
        "train.ppo.mini_epochs=1", "train.ga.warmup_frames=0", "train.ga.interval_frames=1", "train.ga.gate=off",
        "torch_threads=1"]


def _run(run_dir: Path, overrides: list[str]) -> dict:
    return train.run(compose_cfg([*TINY, *overrides, f"+run_dir={run_dir}"]))


def _checkpoint(run_dir: str | Path) -> Path:
    files = sorted(Path(run_dir, "nn").glob("*.pth"), key=lambda p: p.stat().st_mtime)
    assert files, f"no checkpoint in {run_dir}/nn"
    return files[-1]


@pytest.mark.parametrize("algo", ["EPO", "SAPG", "PPO"])
@pytest.mark.parametrize("task", TASKS)
def test_two_epochs_write_checkpoint_events_and_config(task: str, algo: str, tmp_path: Path) -> None:
    out = _run(tmp_path / "run", [f"task={task}", f"train={algo}", "max_epochs=2"])
    assert [h["epoch"] for h in out["history"]] == [1, 2]
    assert out["history"][-1]["frames"] == 2 * 8 * 4
    run_dir = Path(out["run_dir"])
    state = torch.load(_checkpoint(run_dir), weights_only=False)
    assert state["epoch"] == 2 and state["frame"] == 64
    assert list((run_dir / "summaries").glob("events.out.tfevents.*"))
    resolved = (run_dir / "config_resolved.yaml").read_text()
    assert f"name: {task}" in resolved and f"algo: {algo.lower()}" in resolved


@pytest.fixture(scope="module")
def regrasp_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    # 3-step episodes: every agent finishes episodes, so every agent has a fitness and the GA runs
    return _run(tmp_path_factory.mktemp("regrasp") / "run",
                ["task=AllegroKukaRegrasping", "max_epochs=2", "task.episode_length=3"])


def test_resume_continues_frames_and_generation(regrasp_run: dict, tmp_path: Path) -> None:
    path = _checkpoint(regrasp_run["run_dir"])
    saved = torch.load(path, weights_only=False)
    assert saved["epo"]["generation"] >= 1, "the GA never ran although the gate was off"
    out = _run(tmp_path / "resumed", ["task=AllegroKukaRegrasping", "max_epochs=4", "task.episode_length=3",
                                        f"checkpoint={path}"])
    assert [h["epoch"] for h in out["history"]] == [3, 4]
    assert out["history"][0]["frames"] == saved["frame"] + 32
    final = torch.load(_checkpoint(out["run_dir"]), weights_only=False)
    assert final["epo"]["generation"] > saved["epo"]["generation"]
    assert final["frame"] == 4 * 32


@pytest.mark.parametrize("agent", [0, 3])
def test_play_writes_a_video_with_the_expected_frames(regrasp_run: dict, tmp_path: Path, agent: int) -> None:
    path = _checkpoint(regrasp_run["run_dir"])
    out = _run(tmp_path / "play", ["task=AllegroKukaRegrasping", "test=true", f"checkpoint={path}",
                                   f"agent={agent}", "video_steps=25"])
    video = Path(out["video"])
    assert video.name == f"play_agent{agent}.mp4" and video.stat().st_size > 0
    frames = imageio.get_reader(video).count_frames()
    assert frames == out["video_frames"] == expected_frames(25, 1 / 60) == 13


def test_play_rejects_an_agent_out_of_range(regrasp_run: dict, tmp_path: Path) -> None:
    path = _checkpoint(regrasp_run["run_dir"])
    with pytest.raises(UserError, match="out of range"):
        _run(tmp_path / "play", ["task=AllegroKukaRegrasping", "test=true", f"checkpoint={path}", "agent=4"])


def test_training_videos_every_k_epochs(tmp_path: Path) -> None:
    out = _run(tmp_path / "video", ["task=AllegroKukaThrow", "max_epochs=3", "train.video_interval=2",
                                    "video_steps=10", "wandb_activate=true"])
    videos = sorted(Path(out["run_dir"], "videos").glob("*.mp4"))
    assert [v.name for v in videos] == ["epoch_000002.mp4"]
    assert imageio.get_reader(videos[0]).count_frames() == 5
    assert list(Path(out["run_dir"]).rglob("files/media/videos/**/*.mp4")), "video not logged to wandb"
