"""OpenAI-ES against EPO and PPO at the same wall-clock budget per run (issue 12's learning benchmark).

    python -m bench.es [--tasks HalfCheetah LunarLanderContinuous] [--algos ES EPO PPO] [--seeds 1 2 3]
                       [--minutes 5] [--fresh] [--png PATH]

Every (task, algorithm, seed) is one real ``train.py`` run (Hydra config, rl_games Runner) in its own subprocess,
one at a time (the machine must be otherwise quiet: the budget is wall-clock), stopped by ``max_seconds`` =
``--minutes``·60. ES runs at its defaults (``cfg/train/ES.yaml``: P = 48, one episode per env, N = 48) with a test of
θ every 5 iterations; EPO and PPO at the task's defaults, with a frame budget sized to the wall-clock budget (so
EPO's GA schedule spans the run) — ``max_seconds`` ends them either way. Curves: ES's test return (θ, one episode
per env), EPO's master return, PPO's mean return, against wall-clock seconds and env steps (mean ± s.e. over
seeds). Runs are cached as JSON in ``bench/results/es_runs/`` (``--fresh`` reruns them).

Ends with ``name=value`` lines; the last two are ``halfcheetah_es_return=<float>`` (mean over seeds of the final
test return) and ``lunarlander_es_solved_s=<seconds or inf>`` (the wall-clock second by which every seed's test
return had reached 200; inf if one never did).
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python bench/es.py``: the package imports below would fail
    print("run it from the repository root as: python -m bench.es", file=sys.stderr)
    sys.exit(2)

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.launch import ROOT, launch

RUNS = ROOT / "bench" / "results" / "es_runs"
CURVE_KEY = {"ES": "test/return", "EPO": "master/return", "PPO": "return"}
FPS_GUESS = 5000  # EPO/PPO env-steps/s on a 2-core machine (HalfCheetah, LunarLander): sizes their frame budget
SOLVED = 200.0


def overrides(task: str, algo: str, seed: int, seconds: float) -> list[str]:
    """The ``train.py`` overrides of one run."""
    common = [f"task={task}", f"train={algo}", f"seed={seed}", f"max_seconds={seconds}", "torch_threads=1"]
    if algo == "ES":
        return [*common, "max_epochs=100000", "train.es.test_interval=5", "train.es.save_frequency=0"]
    return [*common, "max_epochs=100000", f"train.ppo.max_frames={int(FPS_GUESS * seconds)}"]


def worker(task: str, algo: str, seed: int, seconds: float, out: Path) -> None:
    """One run; writes its curve to ``out``."""
    import tempfile

    from bench.common import run_training

    summary = run_training(overrides(task, algo, seed, seconds), Path(tempfile.mkdtemp()) / "run")
    key = CURVE_KEY[algo]
    points = [(h["seconds"], h["frames"], h[key]) for h in summary["history"]
              if key in h and isinstance(h[key], float) and math.isfinite(h[key])]
    out.write_text(json.dumps({"task": task, "algo": algo, "seed": seed, "budget_s": seconds,
                               "seconds": [p[0] for p in points], "frames": [p[1] for p in points],
                               "values": [p[2] for p in points], "wall_s": summary["seconds"],
                               "total_frames": summary["history"][-1]["frames"]}))


def final(run: dict) -> float:
    """The run's final value: ES's last test; EPO/PPO's mean of the last 3 logged epochs."""
    values = run["values"]
    if not values:
        return float("nan")
    return float(values[-1]) if run["algo"] == "ES" else float(np.mean(values[-3:]))


def solved_at(run: dict) -> float:
    """Wall-clock seconds of the first logged value ≥ 200; inf if none."""
    return next((s for s, v in zip(run["seconds"], run["values"], strict=True) if v >= SOLVED), math.inf)


def _mean_curve(runs: list[dict], axis: str, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = []
    for r in runs:
        x, y = np.asarray(r[axis], float), np.asarray(r["values"], float)
        if len(x):
            rows.append(np.interp(grid, x, y, left=np.nan, right=np.nan))
    stack = np.asarray(rows)
    mean = np.nanmean(stack, axis=0)
    se = np.nanstd(stack, axis=0) / np.sqrt(np.maximum(np.sum(~np.isnan(stack), axis=0), 1))
    return mean, se


def plot(runs: list[dict], tasks: Sequence[str], algos: Sequence[str], path: Path) -> None:
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(tasks), 2, figsize=(11, 3.6 * len(tasks)), squeeze=False)
    for row, task in enumerate(tasks):
        for col, axis in enumerate(("seconds", "frames")):
            ax = axes[row, col]
            for algo in algos:
                group = [r for r in runs if r["task"] == task and r["algo"] == algo and r[axis]]
                if not group:
                    continue
                grid = np.linspace(0, max(max(r[axis]) for r in group), 200)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # grid points before a run's first value
                    mean, se = _mean_curve(group, axis, grid)
                ax.plot(grid, mean, label=f"{algo} ({CURVE_KEY[algo]})")
                ax.fill_between(grid, mean - se, mean + se, alpha=0.2)
            ax.set_xlabel("wall-clock seconds" if axis == "seconds" else "env steps")
            ax.set_ylabel("return")
            ax.set_title(task)
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["HalfCheetah", "LunarLanderContinuous"])
    parser.add_argument("--algos", nargs="+", default=["ES", "EPO", "PPO"], choices=list(CURVE_KEY))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--png", type=Path, default=ROOT / "bench" / "results" / "es.png")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    seconds = args.minutes * 60.0
    if args.worker:
        task, algo, seed, out = args.worker
        worker(task, algo, int(seed), seconds, Path(out))
        return
    RUNS.mkdir(parents=True, exist_ok=True)
    plan = [(t, a, s) for t in args.tasks for s in args.seeds for a in args.algos]
    runs = []
    for i, (task, algo, seed) in enumerate(plan, 1):
        out = RUNS / f"{task}_{algo}_seed{seed}_{args.minutes:g}min.json"
        if args.fresh or not out.exists():
            print(f"[{i}/{len(plan)}] {task} {algo} seed {seed}: {args.minutes:g} min "
                  f"(about {(len(plan) - i + 1) * args.minutes:.0f} min left)", flush=True)
            proc = launch(["-m", "bench.es", "--minutes", str(args.minutes), "--worker", task, algo, str(seed),
                           str(out)], log=out.with_suffix(".log"))
            if proc.returncode:
                sys.exit(f"{task} {algo} seed {seed} failed; log: {out.with_suffix('.log')}")
        runs.append(json.loads(out.read_text()))
        r = runs[-1]
        print(f"  {task:<22} {algo:<4} seed {seed}: final {final(r):9.1f}  frames {r['total_frames']:>10,}  "
              f"wall {r['wall_s']:.0f} s", flush=True)
    args.png.parent.mkdir(parents=True, exist_ok=True)
    plot(runs, args.tasks, args.algos, args.png)
    print(f"plot: {args.png}")
    for task in args.tasks:
        for algo in args.algos:
            group = [r for r in runs if r["task"] == task and r["algo"] == algo]
            finals = [final(r) for r in group]
            se = np.std(finals) / math.sqrt(len(finals)) if finals else float("nan")
            print(f"{task.lower()}_{algo.lower()}_final={np.mean(finals):.1f} (s.e. {se:.1f}; seeds "
                  f"{', '.join(f'{v:.0f}' for v in finals)})")
    cheetah = [final(r) for r in runs if r["task"] == "HalfCheetah" and r["algo"] == "ES"]
    lander = [solved_at(r) for r in runs if r["task"] == "LunarLanderContinuous" and r["algo"] == "ES"]
    print(f"halfcheetah_es_return={np.mean(cheetah) if cheetah else float('nan'):.1f}")
    print(f"lunarlander_es_solved_s={max(lander) if lander else math.inf:.0f}")


if __name__ == "__main__":
    main()
