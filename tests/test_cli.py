"""Bad input on the real command line: ``python train.py <overrides>`` in a fresh process each.

Every case must exit non-zero, print a one-line message naming the problem, show no Python traceback, and
leave no folder under ``runs/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["task=Pendulum", "task.num_envs=8", "max_epochs=1", "train.population.size=4"]

# (overrides, a fragment the message must contain); checkpoint paths are relative to the test's folder.
BAD_INPUTS: list[tuple[list[str], str]] = [
    (["task.num_envs=100", "train.population.size=64"], "population"),
    (["train.population.size=0"], "population.size"),
    (["train.population.size=-3"], "population.size"),
    (["device=cuda"], "no CUDA GPU"),
    (["device=tpu"], "device=tpu"),
    (["+preset=paper"], "GPU"),
    (["checkpoint=missing.pth"], "missing.pth"),
    (["checkpoint=empty.pth"], "empty"),
    (["checkpoint=text.pth"], "text.pth"),
    (["test=true"], "checkpoint"),
    (["test=true", "checkpoint=text.pth"], "text.pth"),
    (["seed=abc"], "seed"),
    (["max_epochs=ten"], "max_epochs"),
    (["task.num_envs=lots"], "task.num_envs"),
    (["task.episode_length=abc"], "episode_length"),
    (["task=AllegroKukaRegrasping", "task.rewards.lifting_bonus=abc"], "task.rewards.lifting_bonus"),
    (["task=AllegroKukaRegrasping", "task.episode_length=1"], "task.episode_length=1: expected an integer >= 2"),
    (["task.max_episode_steps=0"], "task.max_episode_steps=0: expected an integer >= 1"),
    (["sim.contact.impratio=0.5"], "sim.contact.impratio=0.5: expected a number >= 1"),
    (["sim=mujoco_warp", "sim.njmax=0"], "sim.njmax=0: expected an integer >= 1"),
    (["+max_epoch=5"], "max_epochs"),
    (["train.ga.gate_pvalu=0.1"], "gate_pvalue"),
    (["train.ga.gate=sometimes"], "kruskal"),
    (["train.ga.gate_pvalue=2"], "gate_pvalue"),
    (["sim=isaacgym"], "sim"),
    (["task=AllegroKukaRegrasping", "sim=isaacgym"], "Isaac Gym"),
    (["task=Hopper-v5"], "Hopper-v5"),
    (["task=Gym", "task.env_id=CartPole-v1"], "Discrete"),
]


def _run(cwd: Path, overrides: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env.update(WANDB_MODE="offline", PYTHONWARNINGS="ignore")
    args = [sys.executable, str(ROOT / "train.py"), *SMALL, *overrides]
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_every_bad_input_gets_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "text.pth").write_text("not a checkpoint\n")
    cases = []
    for k, (overrides, fragment) in enumerate(BAD_INPUTS):
        cwd = tmp_path / f"case{k}"
        cwd.mkdir()
        for name in ("empty.pth", "text.pth"):
            os.symlink(tmp_path / name, cwd / name)
        cases.append((cwd, overrides, fragment))
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda c: _run(c[0], c[1]), cases))
    failures = []
    for (cwd, overrides, fragment), proc in zip(cases, results, strict=True):
        errors = [line for line in proc.stderr.splitlines() if line.startswith(("error:", "Error", "Could not"))]
        problems = []
        if proc.returncode != 2:  # the documented exit code of a user error (README "Bad input")
            problems.append(f"exit code {proc.returncode}, not 2")
        if "Traceback" in proc.stderr or "Traceback" in proc.stdout:
            problems.append("traceback")
        if len(errors) != 1 or fragment.lower() not in errors[0].lower():
            problems.append(f"expected one error line naming {fragment!r}")
        runs = cwd / "runs"
        if runs.exists() and any(runs.iterdir()):
            problems.append(f"left {sorted(p.name for p in runs.rglob('*'))[:5]}")
        if problems:
            failures.append(f"{' '.join(overrides)}: {problems}; stderr tail: {proc.stderr[-600:]!r}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("debug", ["debug=true"])
def test_debug_shows_the_traceback(tmp_path: Path, debug: str) -> None:
    proc = _run(tmp_path, ["device=tpu", debug])
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "device=tpu" in proc.stderr
