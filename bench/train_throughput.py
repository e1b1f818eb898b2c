"""Training env-steps/s next to env-only env-steps/s of the same task, same N, same machine.

    python -m bench.train_throughput [--tasks AllegroKukaRegrasping AllegroKukaTwoArmsReorientation]
                                     [--epochs 12] [--rounds 2] [--set KEY=VALUE ...] [--json PATH]

For each task at its CPU defaults (``cfg/task/<task>.yaml`` num_envs, ``cfg/task_train/<task>.yaml``), each round
runs, in fresh subprocesses one after the other:

* **env only**: ``tasks.make`` + ``horizon_length x epochs`` steps of actions drawn as an untrained policy draws
  them (N(0, 1) per joint, clipped to [-1, 1]: rl_games starts with sigma 1), so the contact load matches
  the first epochs of training; env-steps/s over the steps after the first ``horizon_length``;
* **train**: a real ``train.py`` run (EPO, seed 1, no checkpoints, ``--set`` overrides added) of ``--epochs``
  epochs; env-steps/s over the epochs after the first (warm-up).

The ratio is the median over rounds of train ÷ env only. The train process times, by wrapping methods in the
benchmark process only (nothing in the library is changed): physics (``sim.step``), task kernels (the rest of
``task.step``), the env wrapper (rest of rl_games' ``env_step``: device moves, NaN check, dict packing),
policy forward in the rollout (the rest of ``collect_rollout``), the update (``build_dataset`` + ``update``),
GA (``genetic_step``), logging (``write_stats`` and the observers) and video; "other" is what is left of the
epoch (rl_games' loop). Memory: resident set size of the env-only process per env (MB), and the training
process's peak.

Prints one table row per task and ends with ``train_env_ratio=<float>`` (the worse task).
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python bench/train_throughput.py``: the package imports below would fail
    print("run it from the repository root as: python -m bench.train_throughput", file=sys.stderr)
    sys.exit(2)

import argparse
import json
import resource
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from bench.launch import launch

TASKS = ("AllegroKukaRegrasping", "AllegroKukaTwoArmsReorientation")
PARTS = ("physics", "task kernels", "env wrapper", "policy forward", "update", "GA", "logging", "video", "other")


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _defaults(task: str, overrides: list[str]) -> tuple[int, int]:
    """(num_envs, horizon_length) of ``task`` as train.py composes them."""
    from bench.common import compose_cfg

    cfg = compose_cfg([f"task={task}", *overrides])
    return int(cfg.task.num_envs), int(cfg.train.ppo.horizon_length)


def env_only(task: str, epochs: int, overrides: list[str]) -> dict:
    """Env-steps/s of ``task.step`` alone under untrained-policy actions; RSS per env."""
    import torch

    import tasks

    num_envs, horizon = _defaults(task, overrides)
    torch.set_num_threads(1)
    before = _rss_mb()
    env = tasks.make(task, num_envs=num_envs, seed=1)
    env.reset()
    per_env = (_rss_mb() - before) / num_envs
    g = torch.Generator().manual_seed(1)
    actions = [torch.randn(num_envs, env.num_actions, generator=g).clamp_(-1, 1) for _ in range(64)]
    for t in range(horizon):
        env.step(actions[t % 64])
    start = time.perf_counter()
    steps = horizon * (epochs - 1)
    for t in range(steps):
        env.step(actions[t % 64])
    seconds = time.perf_counter() - start
    env.close()
    return {"env_fps": num_envs * steps / seconds, "mb_per_env": per_env, "num_envs": num_envs}


class Timers:
    """Inclusive wall time per wrapped method (seconds), summed over calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.active = False

    def wrap(self, owner: type, method: str, name: str) -> None:
        original = getattr(owner, method)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if self.active:
                    self.seconds[name] += time.perf_counter() - start

        setattr(owner, method, timed)


def train(task: str, epochs: int, overrides: list[str]) -> dict:
    """One instrumented train.py run; env-steps/s after the first epoch and the time breakdown."""
    import tempfile

    from rl_games.algos_torch.a2c_continuous import A2CAgent

    from bench.common import run_training
    from epo_isaac.epo import agent
    from epo_isaac.host import observer, video
    from tasks.allegro_kuka.task import AllegroKukaTask
    from tasks.sim.mujoco_cpu import MujocoBatchedSim

    timers = Timers()
    timers.wrap(MujocoBatchedSim, "step", "physics")
    timers.wrap(AllegroKukaTask, "step", "task")
    timers.wrap(A2CAgent, "env_step", "env_step")
    timers.wrap(agent.EPOAgent, "collect_rollout", "rollout")
    timers.wrap(agent.EPOAgent, "build_dataset", "dataset")
    timers.wrap(agent.EPOAgent, "update", "update")
    timers.wrap(agent.EPOAgent, "genetic_step", "GA")
    timers.wrap(agent.EPOAgent, "write_stats", "write_stats")
    timers.wrap(observer.ObserverGroup, "after_print_stats", "observers")
    timers.wrap(video, "film", "video")
    epoch_start: list[float] = []
    timers.wrap(agent.EPOAgent, "train_epoch", "train_epoch")
    original_after = observer.ObserverGroup.after_print_stats

    def mark(self, *args, **kwargs):  # the first epoch ends here: start the clocks
        out = original_after(self, *args, **kwargs)
        if not timers.active:
            timers.active = True
            epoch_start.append(time.perf_counter())
        return out

    observer.ObserverGroup.after_print_stats = mark
    num_envs, _ = _defaults(task, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        out = run_training([f"task={task}", "train=EPO", f"max_epochs={epochs}", "seed=1",
                            "train.ppo.save_frequency=0", *overrides], Path(tmp) / "run")
    wall = time.perf_counter() - epoch_start[0]
    history = out["history"]
    frames = history[-1]["frames"] - history[0]["frames"]
    s = timers.seconds
    parts = {
        "physics": s["physics"], "task kernels": s["task"] - s["physics"], "env wrapper": s["env_step"] - s["task"],
        "policy forward": s["rollout"] - s["env_step"], "update": s["dataset"] + s["update"], "GA": s["GA"],
        "logging": s["write_stats"] + s["observers"] - s["video"], "video": s["video"]}
    parts["other"] = wall - sum(parts.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"train_fps": frames / wall, "parts": {k: v / wall for k, v in parts.items()}, "peak_mb": peak,
            "num_envs": num_envs}


def _child(mode: str, task: str, epochs: int, overrides: list[str]) -> dict:
    res = launch(["-m", "bench.train_throughput", "--worker", mode, "--tasks", task, "--epochs", str(epochs),
                  *[a for o in overrides for a in ("--set", o)]])
    if res.returncode != 0:
        raise RuntimeError(f"{mode} run of {task} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", nargs="+", default=list(TASKS))
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="Hydra override for both runs (e.g. torch_threads=2); repeatable")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument("--worker", choices=("env", "train"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        run = env_only if args.worker == "env" else train
        print(json.dumps(run(args.tasks[0], args.epochs, args.overrides)))
        return
    results = {}
    for task in args.tasks:
        rounds = []
        for r in range(args.rounds):
            env = _child("env", task, args.epochs, args.overrides)
            tr = _child("train", task, args.epochs, args.overrides)
            rounds.append((env, tr))
            print(f"[{task} round {r + 1}/{args.rounds}] env {env['env_fps']:,.0f}/s  train {tr['train_fps']:,.0f}/s",
                  file=sys.stderr, flush=True)
        ratio = float(np.median([tr["train_fps"] / env["env_fps"] for env, tr in rounds]))
        parts = {k: float(np.mean([tr["parts"][k] for _, tr in rounds])) for k in PARTS}
        results[task] = {"num_envs": rounds[0][0]["num_envs"], "ratio": ratio,
                         "env_fps": float(np.median([e["env_fps"] for e, _ in rounds])),
                         "train_fps": float(np.median([t["train_fps"] for _, t in rounds])),
                         "mb_per_env": rounds[0][0]["mb_per_env"], "peak_mb": rounds[0][1]["peak_mb"], "parts": parts}
    print("overrides: " + (" ".join(args.overrides) or "(CPU defaults)"))
    print(f"{'task':34s} {'N':>5s} {'env-only/s':>11s} {'train/s':>9s} {'ratio':>6s} {'MB/env':>7s} {'peak MB':>8s}")
    for task, r in results.items():
        print(f"{task:34s} {r['num_envs']:5d} {r['env_fps']:11,.0f} {r['train_fps']:9,.0f} {r['ratio']:6.3f} "
              f"{r['mb_per_env']:7.2f} {r['peak_mb']:8.0f}")
    print("share of training wall time: " + ", ".join(PARTS))
    for task, r in results.items():
        print(f"{task:34s} " + " ".join(f"{r['parts'][k]:5.1%}" for k in PARTS))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"overrides": args.overrides, "results": results}, indent=1))
    print(f"train_env_ratio={min(r['ratio'] for r in results.values()):.4f}")


if __name__ == "__main__":
    main()
