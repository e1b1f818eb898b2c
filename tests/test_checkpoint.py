"""Checkpoints: a one-line ``CheckpointError`` for every unusable file (train and play mode), older checkpoints
still load, stale temp files are removed, and a resumed run continues exactly where its checkpoint left off."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import ROOT, compose_cfg
from leaves import leaves

import train
from bench.launch import rl_games_agent
from epo_isaac.errors import CheckpointError, UserError
from epo_isaac.host.checkpoint import (
    atomic_save,
    pid_running,
    read_checkpoint,
    remove_stale_temp_files,
)

FAST = ["task=Pendulum", "task.num_envs=16", "train.ppo.horizon_length=16", "train.ppo.minibatch_size=128",
        "train.ppo.mini_epochs=2", "torch_threads=1"]
EPO = FAST + ["train.population.size=4"]
# Exact resume: 24-step episodes straddle the 16-step epochs; the GA runs at every check (gate off) once the
# followers have finished episodes, so generations happen in the resumed epochs too.
RESUME = EPO + ["+task.max_episode_steps=24", "train.ga.gate=off", "train.ga.warmup_frames=0",
                "train.ga.interval_frames=1"]
TIMING = ("fps", "seconds", "time")  # wall-clock quantities: never equal between two runs


def _run(run_dir: Path, overrides: list[str]) -> dict[str, Any]:
    return train.run(compose_cfg(overrides + [f"+run_dir={run_dir}"]))


def _last(run_dir: str | Path, epoch: int) -> Path:
    files = list(Path(run_dir, "nn").glob(f"last_*_ep_{epoch}_*.pth"))
    assert len(files) == 1, f"no single epoch-{epoch} checkpoint in {run_dir}/nn: {files}"
    return files[0]


# --------------------------------------------------------------------------------------------- bad checkpoints
@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Checkpoints of tiny runs (EPO and PPO on Pendulum, EPO on HalfCheetah) and broken files."""
    tmp = tmp_path_factory.mktemp("checkpoints")
    epo = _last(_run(tmp / "epo", EPO + ["max_epochs=2"])["run_dir"], 2)
    ppo = _last(_run(tmp / "ppo", FAST + ["train=PPO", "max_epochs=1"])["run_dir"], 1)
    cheetah = _last(_run(tmp / "cheetah", EPO + ["task=HalfCheetah", "max_epochs=1"])["run_dir"], 1)
    data = epo.read_bytes()
    out = {"epo": epo, "ppo": ppo, "cheetah": cheetah, "empty": tmp / "empty.pth", "truncated": tmp / "cut.pth",
           "text": tmp / "notes.pth", "tensor": tmp / "tensor.pth"}
    out["empty"].touch()
    out["truncated"].write_bytes(data[: len(data) // 2])
    out["text"].write_text("not a checkpoint\n")
    torch.save(torch.zeros(3), out["tensor"])
    return out


# kind -> (file, extra overrides, what the message must say)
BAD = {
    "empty": ("empty", [], r"is empty \(0 bytes"),
    "truncated": ("truncated", [], r"is truncated or corrupt \(PyTorch cannot read it: "),
    "text": ("text", [], r"is not a PyTorch file \(it starts with b'not a check"),
    "tensor": ("tensor", [], r"is a PyTorch file but not a train.py checkpoint \(it holds Tensor"),
    "other_task": ("cheetah", [], r"is for task HalfCheetah \(obs dim 17, 6 actions\), this run is task Pendulum "
                                  r"\(obs dim 3, 1 action\); pass task=HalfCheetah"),
    "ppo_into_epo": ("ppo", [], r"was written by train=PPO, this run is train=EPO; pass train=PPO"),
    "epo_into_ppo": ("epo", ["train=PPO"], r"was written by train=EPO, this run is train=PPO; pass train=EPO"),
    "population": ("epo", ["train.population.size=8"],
                   r"train.population.size: 4 in the checkpoint vs 8 here\); pass train.population.size=4"),
    "lstm": ("epo", ["train.network.lstm_units=16", "train.ppo.seq_length=4"],
             r"another layout \(train.network.lstm_units: 0 in the checkpoint vs > 0 here\); "
             r"pass train.network.lstm_units=0"),
    "network": ("epo", ["train.network.units=[32,32]"],
                r"holds another network \(a2c_network.trunk.0.weight is \[64, 35\] in the checkpoint vs \[32, 35\]"),
}


@pytest.mark.parametrize("mode", ["train", "play"])
@pytest.mark.parametrize("kind", list(BAD))
def test_unusable_checkpoint_is_a_one_line_error(kind: str, mode: str, files: dict[str, Path],
                                                 tmp_path: Path) -> None:
    name, extra, says = BAD[kind]
    path = files[name]
    overrides = EPO + ["max_epochs=3", f"checkpoint={path}", f"test={mode == 'play'}"] + extra
    with pytest.raises(CheckpointError, match=says) as err:
        _run(tmp_path / "run", overrides)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"checkpoint {path} "), message
    assert "; pass " in message, message


def test_num_envs_must_match_to_resume_but_not_to_play(files: dict[str, Path], tmp_path: Path) -> None:
    says = r"task.num_envs: 16 in the checkpoint vs 32 here\); pass task.num_envs=16"
    with pytest.raises(CheckpointError, match=says):
        _run(tmp_path / "train", EPO + ["task.num_envs=32", "max_epochs=3", f"checkpoint={files['epo']}"])
    for name, extra in (("epo", []), ("ppo", ["train=PPO"])):  # the player runs one env; PPO has its own player
        out = _run(tmp_path / name, EPO + extra + ["test=true", "video_steps=2", f"checkpoint={files[name]}"])
        assert out["video_frames"] == 2


@pytest.mark.parametrize("mode", ["train", "play"])
def test_missing_checkpoint_or_folder_is_a_one_line_error(mode: str, files: dict[str, Path],
                                                          tmp_path: Path) -> None:
    for path in (tmp_path / "nope.pth", files["epo"].parent.parent):
        with pytest.raises(UserError) as err:  # train.py checks the path before anything is written
            _run(tmp_path / "run", EPO + [f"checkpoint={path}", f"test={mode == 'play'}"])
        assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_read_checkpoint_names_missing_file_and_folder(files: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"nope.pth does not exist; pass a .pth written by train.py"):
        read_checkpoint(tmp_path / "nope.pth")
    run_dir = files["epo"].parent.parent
    with pytest.raises(CheckpointError, match=rf"is a folder, not a file; pass a .pth file in it, e.g. .*"
                                              rf"{files['epo'].name}"):
        read_checkpoint(run_dir)


def _older(state: dict[str, Any], keep_epo_meta: bool) -> dict[str, Any]:
    """``state`` as written before ``meta`` (task) and ``resume`` existed."""
    old = {k: v for k, v in state.items() if k not in ("meta", "resume")}
    if keep_epo_meta:
        meta = {k: v for k, v in state["meta"].items() if k != "task"}
        old["epo"] = {**state["epo"], "meta": meta, "torch_rng": state["resume"]["torch_rng"]}
    else:
        old.pop("epo", None)
    return old


def test_older_checkpoints_still_load_and_are_checked(files: dict[str, Path], tmp_path: Path) -> None:
    old_epo = tmp_path / "old_epo.pth"
    torch.save(_older(torch.load(files["epo"], weights_only=False), keep_epo_meta=True), old_epo)
    out = _run(tmp_path / "resumed", EPO + ["max_epochs=3", f"checkpoint={old_epo}"])
    assert [h["epoch"] for h in out["history"]] == [3]
    # an older PPO checkpoint (no meta at all) of another task: the sizes come from its weights
    old_ppo = tmp_path / "old_ppo.pth"
    torch.save(_older(torch.load(files["cheetah"], weights_only=False), keep_epo_meta=False), old_ppo)
    with pytest.raises(CheckpointError, match=r"was trained on another task \(obs dim 17, 6 actions; this run's "
                                              r"task Pendulum has obs dim 3, 1 action\)"):
        _run(tmp_path / "ppo", FAST + ["train=PPO", "max_epochs=2", f"checkpoint={old_ppo}"])


# --------------------------------------------------------------------------------------------- temp files
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not pid_running(proc.pid)
    return proc.pid


def test_stale_temp_files_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = tmp_path / f"last_Pendulum_ep_3.pth.tmp{_dead_pid()}"
    live = tmp_path / f"last_Pendulum_ep_4.pth.tmp{os.getpid()}"
    other = [tmp_path / "Pendulum.pth", tmp_path / "notes.pth.tmpabc", tmp_path / "x.txt.tmp1"]
    for path in [dead, live, *other]:
        path.write_bytes(b"partial")
    assert remove_stale_temp_files(tmp_path) == [dead]
    assert not dead.exists() and live.exists() and all(p.exists() for p in other)
    assert remove_stale_temp_files(tmp_path / "missing") == []
    # atomic_save cleans its folder after each save (and leaves no temp file of its own)
    dead2 = tmp_path / f"Pendulum.pth.tmp{_dead_pid()}"
    dead2.write_bytes(b"partial")
    live.unlink()
    assert atomic_save({"x": 1}, str(tmp_path / "saved")) == str(tmp_path / "saved.pth")
    assert not dead2.exists() and sorted(p.name for p in tmp_path.glob("*.pth.tmp*")) == ["notes.pth.tmpabc"]


def test_a_save_interrupted_mid_write_keeps_the_previous_checkpoint(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A process stopped while ``torch.save`` is writing (here: half a file, then KeyboardInterrupt) leaves the
    last complete checkpoint loadable and no temp file; saving in place would leave the half file instead."""
    path = atomic_save({"epoch": 1}, str(tmp_path / "last"))

    def dies_mid_write(obj: Any, f: str, *args: Any, **kwargs: Any) -> None:
        Path(f).write_bytes(b"PK\x03\x04half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_mid_write)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"epoch": 2}, str(tmp_path / "last"))
    monkeypatch.undo()
    assert torch.load(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pth"]


@pytest.mark.parametrize("algo", ["EPO", "PPO", "ES"])
def test_training_writes_every_checkpoint_through_a_temp_file(algo: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file a training run saves is first written as ``<checkpoint>.pth.tmp<pid>`` (then renamed)."""
    written: list[str] = []
    save = torch.save

    def recording_save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        written.append(str(f))
        save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", recording_save)
    extra = ["train.es.population_size=8"] if algo == "ES" else []
    run_dir = _run(tmp_path / algo, FAST + [f"train={algo}", "max_epochs=2", "train.ppo.save_frequency=1",
                                            *extra])["run_dir"]
    assert written and all(re.search(r"\.pth\.tmp\d+$", f) for f in written), written
    saved = {p.name for p in Path(run_dir, "nn").iterdir()}
    assert saved and saved <= {Path(f).name.rsplit(".tmp", 1)[0] for f in written}, (saved, written)


# --------------------------------------------------------------------------------------------- exact resume
def record_scalars(monkeypatch: pytest.MonkeyPatch | None = None) -> list[tuple[str, int, float]]:
    """Every TensorBoard scalar written from now on, as (tag, step, value)."""
    from tensorboardX import SummaryWriter

    scalars: list[tuple[str, int, float]] = []
    original = SummaryWriter.add_scalar

    def add_scalar(self: Any, tag: str, value: Any, global_step: Any = None, *args: Any, **kwargs: Any) -> Any:
        scalars.append((tag, int(global_step or 0), float(value)))
        return original(self, tag, value, global_step, *args, **kwargs)

    if monkeypatch is None:
        SummaryWriter.add_scalar = add_scalar
    else:
        monkeypatch.setattr(SummaryWriter, "add_scalar", add_scalar)
    return scalars


def resume_main(out: str, *overrides: str) -> None:
    """Entry point of the fresh process: resume with ``overrides``, write history and scalars to ``out``."""
    scalars = record_scalars()
    result = train.run(compose_cfg(list(overrides)))
    Path(out).write_text(json.dumps({"history": result["history"], "scalars": scalars}))


def _fresh_process_run(run_dir: Path, overrides: list[str]) -> dict[str, Any]:
    out = run_dir.parent / f"{run_dir.name}.json"
    code = (f"import sys; sys.path[:0] = [{str(ROOT / 'tests')!r}, {str(ROOT)!r}]; import test_checkpoint; "
            "test_checkpoint.resume_main(*sys.argv[1:])")
    subprocess.run([sys.executable, "-c", code, str(out), *overrides, f"+run_dir={run_dir}"], check=True,
                   cwd=ROOT, capture_output=True, timeout=120)
    return json.loads(out.read_text())


def _untimed(row: dict[str, Any]) -> dict[str, Any]:
    return {k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()
            if not any(t in k for t in TIMING) and not k.startswith("_")}


def _untimed_scalars(scalars: list[tuple[str, int, float]]) -> list[tuple[str, int, float]]:
    return [(tag, step, value) for tag, step, value in scalars
            if not tag.startswith("performance/") and not tag.endswith("/time")]



def _assert_same_state(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Bit-identical checkpoints: every tensor and number (the task's pickled env state excepted)."""
    leaves_a, leaves_b = dict(leaves(a)), dict(leaves(b))
    assert leaves_a.keys() == leaves_b.keys()
    for key, va in leaves_a.items():
        vb = leaves_b[key]
        if key.startswith("env_state"):
            continue
        if isinstance(va, torch.Tensor):
            assert va.dtype == vb.dtype and torch.equal(va, vb), key
        else:
            assert va == vb or (va != va and vb != vb), key


def test_resume_in_a_fresh_process_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """4 epochs straight == 2 epochs, save, resume in a new process for 2 more: weights, latents, normalisers,
    optimizer, learning rate, GA state, RNGs, episode counters, per-epoch history and TensorBoard scalars."""
    scalars = record_scalars(monkeypatch)
    start = time.perf_counter()
    straight = _run(tmp_path / "straight", RESUME + ["max_epochs=4"])
    straight_scalars = _untimed_scalars(scalars)
    first = _run(tmp_path / "first", RESUME + ["max_epochs=2"])
    saved = _last(first["run_dir"], 2)
    resumed = _fresh_process_run(tmp_path / "resumed", RESUME + ["max_epochs=4", f"checkpoint={saved}"])
    final_a = torch.load(_last(straight["run_dir"], 4), weights_only=False)
    final_b = torch.load(_last(tmp_path / "resumed", 4), weights_only=False)
    assert final_a["epo"]["generation"] > torch.load(saved, weights_only=False)["epo"]["generation"] > 0
    _assert_same_state(final_a, final_b)
    assert [_untimed(h) for h in straight["history"][2:]] == [_untimed(h) for h in resumed["history"]]
    logged = _untimed_scalars([tuple(s) for s in resumed["scalars"]])  # epochs 3, 4 (step: frames before)
    assert {("info/last_lr", 512), ("info/last_lr", 768)} <= {(tag, step) for tag, step, _ in logged}
    assert straight_scalars[-len(logged):] == logged
    print(f"exact resume (EPO, fresh process): {time.perf_counter() - start:.1f} s")


def test_resume_keeps_the_gate_latch(tmp_path: Path) -> None:
    """A latched Kruskal–Wallis gate stays latched across a resume in a new process: the first run opens it (p <
    0.99 at once), the resumed run asks at p < 1e-9, which never opens here (the fresh control run shows it), so its
    checks run generations only if the latch came back with the checkpoint."""
    gate = RESUME + ["train.ga.gate=kruskal", "train.ga.gate_latch=true"]
    first = _run(tmp_path / "first", gate + ["max_epochs=3", "train.ga.gate_pvalue=0.99"])
    saved = _last(first["run_dir"], 3)
    assert torch.load(saved, weights_only=False)["epo"]["gate_latched"]
    strict = gate + ["max_epochs=6", "train.ga.gate_pvalue=1e-9"]
    control = _run(tmp_path / "control", strict)["history"]
    resumed = _fresh_process_run(tmp_path / "resumed", strict + [f"checkpoint={saved}"])["history"]
    tested = lambda history: [h for h in history if h.get("ga/gate_open") is not None]  # noqa: E731
    assert tested(control) and not any(h["ga/ran"] for h in tested(control)), "p < 1e-9 opened the gate"
    assert tested(resumed) and all(h["ga/ran"] == 1.0 and h["ga/gate_latched"] == 1.0 for h in tested(resumed))


def test_ppo_resume_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = FAST + ["train=PPO", "+task.max_episode_steps=24"]
    straight = _run(tmp_path / "straight", base + ["max_epochs=3"])
    first = _run(tmp_path / "first", base + ["max_epochs=2"])
    resumed = _run(tmp_path / "resumed", base + ["max_epochs=3", f"checkpoint={_last(first['run_dir'], 2)}"])
    _assert_same_state(torch.load(_last(straight["run_dir"], 3), weights_only=False),
                       torch.load(_last(resumed["run_dir"], 3), weights_only=False))
    assert [_untimed(h) for h in straight["history"][2:]] == [_untimed(h) for h in resumed["history"]]


def test_resume_restores_lr_and_meters_on_a_task_that_keeps_no_episodes(files: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    """A task without episode snapshots (Box2D envs, ``async`` envs; here a Pendulum checkpoint with its
    snapshots removed): the agent resets the envs, but still resumes the adaptive learning rate (not the
    config's), the meters, the normalisers and the RNG."""
    saved = torch.load(files["epo"], weights_only=False)
    assert saved["env_state"]["episodes"] is not None  # Pendulum snapshots its episodes ...
    saved["env_state"]["episodes"] = None  # ... a task that cannot has none
    no_episodes = tmp_path / "no_episodes.pth"
    torch.save(saved, no_episodes)
    cfg = compose_cfg([*EPO, "seed=0"])
    agent, close = rl_games_agent(cfg, train_dir=tmp_path, experiment="r")
    try:
        assert agent.last_lr == cfg.train.ppo.learning_rate != saved["resume"]["last_lr"]
        agent.restore(str(no_episodes))
        assert agent.last_lr == saved["resume"]["last_lr"]
        assert all(g["lr"] == agent.last_lr for g in agent.optimizer.param_groups)
        assert torch.equal(torch.get_rng_state(), saved["resume"]["torch_rng"])
        assert agent.game_rewards.current_size == saved["resume"]["meters"]["game_rewards"]["current_size"]
        model = agent.model.state_dict()
        assert all(torch.equal(model[k], v) for k, v in saved["model"].items())  # incl. both normalisers
        agent.init_tensors()
        obs = agent.env_reset()["obs"]  # the envs are reset: the saved episodes cannot be continued
        assert not torch.equal(obs, saved["resume"]["episodes"]["obs"]["obs"])
    finally:
        close()
