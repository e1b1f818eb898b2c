"""The MuJoCo Warp device check: one script, about 8 minutes on one H200 with kernel compilation included.

    pip install -e ".[warp]"          # mujoco-warp, warp-lang from PyPI (setup.py extras), next to a CUDA torch
    # or, on a machine without a registry: bench/device_setup.sh (docs/benchmarks.md, "Running the device check")
    python -m bench.gpu_check [--seconds 3] [--train-seconds 120] [--device cuda:0]
    python -m bench.gpu_check --dry-run   # the same code path at tiny sizes on Warp's CPU device

Prints one ``name=value`` line per figure (lines with spaces are progress):

* ``correct_<scene>_max_dof_err`` (rad), ``..._max_obj_err`` (m), ``..._max_reward_err`` (|Δr| / (1 + |r|)),
  ``..._done_match`` (0/1): MuJoCo Warp on the device against CPU MuJoCo, 64 worlds, the same seeded actions
  for 50 control steps (:func:`rollout`; the slow tests hold Warp's CPU device to the tolerances in
  ``tests/allegro_kuka/test_warp.py``).
* ``<scene>_physics_wps_<N>``: world-steps/s (physics steps of 1/120 s × worlds per second) of ``sim.step()``
  alone at N = 4096, 16384, 24576 for the one-arm (AllegroKukaReorientation) and two-arm
  (AllegroKukaTwoArmsReorientation) scenes, targets held.
* ``<scene>_memory_per_world_kb``: MuJoCo Warp's model + data arrays per world at the largest N;
  ``<scene>_gpu_memory_per_world_kb``: device memory taken by building and stepping that task
  (``torch.cuda.mem_get_info``, CUDA only). ``<scene>_peak_contacts_per_world``,
  ``..._peak_candidates_per_world``, ``..._peak_rows`` against ``..._nconmax`` / ``..._njmax``.
* ``env_steps_per_s``: the full AllegroKukaTwoArmsReorientation task at the largest N, random actions.
* ``gpu_train_fps``: end-to-end training env-steps/s, ``train.py task=AllegroKukaTwoArmsReorientation
  +preset=paper max_seconds=120`` (frames / s between the first and the last epoch, so compilation and
  the first epoch are excluded); dry run: a tiny EPO run for 2 epochs.
* ``contact_overflows``: overflowed world-steps over every task this script ran; ``first_step_seconds``:
  construction to the end of the first step of the first task (kernel compilation or cache load).

Each stage (correctness, physics per scene, training) runs on its own: a stage that raises prints
``<stage>_error=<exception>`` (traceback on stderr), the next stage runs, and the script exits non-zero at the end.

Time budget (``--budget``, default 450 s, so that a cold kernel cache still fits an 8-minute device call): each
stage gets a deadline from what is left (the physics stages split their share; training gets the rest). A physics
stage skips the sizes it cannot reach in time (``<scene>_skipped_sizes=``), the training run is shortened to what
is left (``train_seconds=``), and a stage with less than ``MIN_STAGE_SECONDS`` left is skipped
(``<stage>_skipped=budget``, not a failure). Warp's own log is at WARNING (``tasks.sim.mujoco_warp``: no
per-module load lines). Everything
printed also goes to ``--log`` (default ``bench/results/gpu_check.log``; on the device machine put it under
``$OUT``).
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python bench/gpu_check.py``: the package imports below would fail
    print("run it from the repository root as: python -m bench.gpu_check", file=sys.stderr)
    sys.exit(2)

import argparse
import contextlib
import io
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

import tasks
from bench.launch import ROOT

SCENES = {"one_arm": "AllegroKukaReorientation", "two_arms": "AllegroKukaTwoArmsReorientation"}
WARP = {"backend": "mujoco_warp"}
OVERFLOWS: list[int] = []  # overflowed world-steps of each task built here


def say(name: str, value: Any) -> None:
    """One ``name=value`` line."""
    print(f"{name}={value:.6g}" if isinstance(value, float) else f"{name}={value}", flush=True)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def _close(task: Any) -> None:
    OVERFLOWS.append(int(getattr(task.sim, "overflow_worlds", 0)))
    task.close()


def rollout(name: str, num_envs: int, sim: dict, device: str = "cpu", steps: int = 50,
            seed: int = 3, object_sizes: Any = None) -> dict[str, torch.Tensor]:
    """Joint positions ``[T, N, D]`` rad, object positions ``[T, N, 3]`` m, rewards and dones ``[T, N]`` (on the
    CPU) over ``steps`` control steps of seeded actions (uniform in [-0.5, 0.5]), random forces off.
    ``object_sizes``: ``[N, 3]`` m, each env's object instead of the task's assignment (None: the assignment).

    After the reset each object is put flat on the table (1 mm above it, where the reset dropped it): a dropped
    cuboid lands on an edge and tumbles chaotically, so float32 and float64 would part within a few steps."""
    from tasks.allegro_kuka.scene import OBJECT_BASE_SIZE, TABLE_TOP

    if object_sizes is None:
        task = tasks.make(name, num_envs=num_envs, seed=seed, device=device, sim=sim, force_scale=0.0)
    else:
        from tasks.allegro_kuka.registry import FACTORIES
        from tasks.allegro_kuka.task import AllegroKukaTask
        from tasks.sim.config import sim_config

        task = AllegroKukaTask(FACTORIES[name].variant.config({"force_scale": 0.0}), num_envs=num_envs, seed=seed,
                               device=device, sim=sim_config(sim), object_sizes=object_sizes)
    gen = torch.Generator().manual_seed(7)
    task.reset()
    pos = task.sim.body_pos[:, task.object_body].clone()
    pos[:, 2] = TABLE_TOP + 0.5 * OBJECT_BASE_SIZE * task.object_scales[:, 2] + 1e-3
    flat = torch.tensor([[0.0, 0.0, 0.0, 1.0]], device=device).expand(num_envs, 4)
    task.sim.reset_free_body(torch.arange(num_envs, device=device), task.object_body, pos, flat)
    out: dict[str, list[torch.Tensor]] = {"dof": [], "obj": [], "reward": [], "done": []}
    for _ in range(steps):
        _, reward, done, _ = task.step((torch.rand(num_envs, task.num_actions, generator=gen) - 0.5).to(device))
        out["dof"].append(task.sim.dof_pos.cpu().clone())
        out["obj"].append(task.sim.body_pos[:, task.object_body].cpu().clone())
        out["reward"].append(reward.cpu().clone())
        out["done"].append(done.cpu().clone())
    _close(task)
    return {k: torch.stack(v) for k, v in out.items()}


def compare(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> dict[str, float]:
    """Largest differences of two :func:`rollout` results: ``dof`` rad, ``obj`` m, ``reward`` (|Δr| / (1 + |r|)
    of ``b``), ``done`` (1.0: identical dones)."""
    return {"dof": (a["dof"] - b["dof"]).abs().max().item(), "obj": (a["obj"] - b["obj"]).abs().max().item(),
            "reward": ((a["reward"] - b["reward"]).abs() / (1 + b["reward"].abs())).max().item(),
            "done": float(torch.equal(a["done"], b["done"]))}


def warp_bytes(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes of every Warp array reachable through the attributes of ``obj`` (a MuJoCo Warp Model / Data)."""
    import warp as wp

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, wp.array):
        return int(obj.capacity or 0)
    if not hasattr(obj, "__dict__"):
        return 0
    return sum(warp_bytes(v, seen) for v in vars(obj).values())


MIN_STAGE_SECONDS = 20.0  # a stage with less time left than this is skipped


def physics(scene: str, sizes: list[int], device: str, seconds: float, deadline: float = float("inf")) -> None:
    """World-steps/s of ``sim.step()`` per N, then memory and buffer use of the largest N measured. After each N
    the next is skipped (with every later one) when, scaled by its size, it would overrun ``deadline``
    (``time.perf_counter()``)."""
    for i, n in enumerate(sizes):
        started = time.perf_counter()
        free0 = torch.cuda.mem_get_info(device)[0] if device.startswith("cuda") else 0
        task = tasks.make(SCENES[scene], num_envs=n, seed=0, device=device, sim=WARP, force_scale=0.0)
        task.reset()
        sim = task.sim
        for _ in range(3):  # eager, capture, replay
            sim.step()
        _sync(device)
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            sim.step()
            steps += 1
        _sync(device)
        say(f"{scene}_physics_wps_{n}", n * sim.substeps * steps / (time.perf_counter() - start))
        later = sizes[i + 1:]
        if later and time.perf_counter() + 1.5 * (time.perf_counter() - started) * later[0] / n > deadline:
            say(f"{scene}_skipped_sizes", ",".join(str(x) for x in later))
            later = []
        if not later:
            say(f"{scene}_memory_per_world_kb", (warp_bytes(sim._m) + warp_bytes(sim._d)) / n / 1024)
            if device.startswith("cuda"):
                say(f"{scene}_gpu_memory_per_world_kb", (free0 - torch.cuda.mem_get_info(device)[0]) / n / 1024)
            env_run(task, scene, device, seconds)
        _close(task)
        if not later:
            return


def env_run(task: Any, scene: str, device: str, seconds: float) -> None:
    """Env-steps/s of ``task.step`` with random actions (two-arm scene only), then the peak buffer use."""
    n, peak = task.num_envs, {"contacts": 0, "candidates": 0, "max_rows": 0}
    task.reset()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or steps < 3:
        task.step(torch.rand(n, task.num_actions, device=device) * 2 - 1)
        steps += 1
        if steps % 10 == 1:
            peak = {k: max(v, task.sim.usage()[k]) for k, v in peak.items()}
    _sync(device)
    if scene == "two_arms":
        say("env_steps_per_s", n * steps / (time.perf_counter() - start))
    say(f"{scene}_peak_contacts_per_world", peak["contacts"] / n)
    say(f"{scene}_peak_candidates_per_world", peak["candidates"] / n)
    say(f"{scene}_peak_rows", peak["max_rows"])
    say(f"{scene}_nconmax", task.sim.nconmax)
    say(f"{scene}_njmax", task.sim.njmax)


def train_fps(dry_run: bool, device: str, seconds: float = 120.0) -> float:
    """End-to-end training env-steps/s (see the module docstring)."""
    from bench.common import run_training

    if dry_run:
        overrides = ["task=AllegroKukaRegrasping", "sim=mujoco_warp", "device=cpu", "max_epochs=2",
                     "task.num_envs=8", "train.population.size=4", "train.ppo.horizon_length=4",
                     "train.ppo.num_minibatches=2", "train.ppo.mini_epochs=1", "torch_threads=1"]
    else:
        overrides = ["task=AllegroKukaTwoArmsReorientation", "+preset=paper", f"device={device}",
                     f"max_seconds={seconds:g}", "train.video_interval=0", "train.ppo.save_frequency=0"]
    with tempfile.TemporaryDirectory() as tmp:
        history = run_training(overrides, Path(tmp) / "run")["history"]
    first, last = history[0], history[-1]
    if len(history) < 2:
        return float(last["frames"]) / max(float(last["epoch_seconds"]), 1e-9)
    return (last["frames"] - first["frames"]) / max(last["seconds"] - first["seconds"], 1e-9)


def main(argv: list[str] | None = None) -> None:
    """Run every figure in order (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="tiny sizes on Warp's CPU device")
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--seconds", type=float, default=3.0, help="timing window per figure")
    p.add_argument("--train-seconds", type=float, default=120.0, help="training time budget (max_seconds)")
    p.add_argument("--budget", type=float, default=450.0, help="seconds for the whole check (stage deadlines)")
    p.add_argument("--log", type=Path, default=ROOT / "bench" / "results" / "gpu_check.log",
                   help="a copy of everything printed")
    args = p.parse_args(argv)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    with open(args.log, "w", buffering=1) as log, tee(sys.stdout, log) as out, tee(sys.stderr, log) as err, \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        check(args)


def check(args: argparse.Namespace) -> None:
    """The stages of :func:`main`, each within its share of ``args.budget``."""
    device = "cpu" if args.dry_run else args.device
    worlds, steps = (4, 10) if args.dry_run else (64, 50)
    sizes = [8] if args.dry_run else [4096, 16384, 24576]
    seconds = 0.5 if args.dry_run else args.seconds
    t0 = time.perf_counter()
    end = t0 + args.budget
    # shares of what is left when a stage starts: correctness is cheap once compiled, training takes its own budget
    stages: list[tuple[str, float, Callable[[float], None]]] = [
        *((f"correct_{scene}", 0.2, lambda _d, scene=scene: correctness(scene, worlds, device, steps))
          for scene in SCENES),
        ("physics_one_arm", 0.35, lambda d: physics("one_arm", sizes, device, seconds, d)),
        ("physics_two_arms", 0.5, lambda d: physics("two_arms", sizes, device, seconds, d)),
        ("train", 1.0, lambda d: train_stage(args, device, d))]
    failed = []
    for stage, share, fn in stages:
        left = end - time.perf_counter()
        if left < MIN_STAGE_SECONDS:
            say(f"{stage}_skipped", "budget")
            continue
        deadline = time.perf_counter() + share * left
        if not run_stage(stage, lambda fn=fn, deadline=deadline: fn(deadline), t0):
            failed.append(stage)
    say("contact_overflows", sum(OVERFLOWS))
    say("total_seconds", time.perf_counter() - t0)
    if failed:
        raise SystemExit(f"gpu_check: {len(failed)} stage(s) failed: {', '.join(failed)} (see <stage>_error=)")


def train_stage(args: argparse.Namespace, device: str, deadline: float) -> None:
    """``gpu_train_fps``, training for ``--train-seconds`` or less: what is left before ``deadline`` minus 60 s for
    start-up and the first epoch (``train_seconds=``)."""
    budget = max(30.0, min(args.train_seconds, deadline - time.perf_counter() - 60.0))
    if not args.dry_run:
        say("train_seconds", budget)
    say("gpu_train_fps", train_fps(args.dry_run, device, budget))


@contextlib.contextmanager
def tee(stream: Any, log: Any) -> Iterator[Any]:
    """A text stream writing to ``stream`` and ``log``."""
    class Tee(io.TextIOBase):
        def write(self, text: str) -> int:
            stream.write(text)
            log.write(text)
            return len(text)

        def flush(self) -> None:
            stream.flush()
            log.flush()

    yield Tee()


def correctness(scene: str, worlds: int, device: str, steps: int) -> None:
    """``correct_<scene>_*`` lines (and ``first_step_seconds`` after the first Warp task of the process)."""
    from tasks.sim import mujoco_warp

    name = SCENES[scene]
    err = compare(rollout(name, worlds, WARP, device, steps), rollout(name, worlds, {"backend": "mujoco"}, "cpu",
                                                                      steps))
    if scene == next(iter(SCENES)):  # the first Warp task of this process
        say("first_step_seconds", mujoco_warp.first_step_seconds)
    for key, unit in (("dof", "max_dof_err"), ("obj", "max_obj_err"), ("reward", "max_reward_err"),
                      ("done", "done_match")):
        say(f"correct_{scene}_{unit}", err[key])


def run_stage(stage: str, fn: Callable[[], None], t0: float) -> bool:
    """Run one stage; a failure prints ``<stage>_error=<exception>`` (and its traceback on stderr) and the
    check goes on with the next stage, so one device session yields every figure that can be had."""
    try:
        fn()
    except Exception as err:  # reported; the exit status says that a stage failed
        traceback.print_exc()
        print(f"{stage}_error={type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}", flush=True)
        return False
    finally:
        print(f"# {stage} done at {time.perf_counter() - t0:.0f} s", flush=True)
    return True


if __name__ == "__main__":
    main()
