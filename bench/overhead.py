"""Throughput cost of EPO over PPO: env-steps/s of ``train=EPO`` ÷ ``train=PPO`` on the same task
and settings, measured in one process one after the other (first epoch dropped as warm-up).

    python -m bench.overhead [--task HalfCheetah] [--epochs 12] [--num-envs 48]

Saves ``bench/results/overhead.png``; the last line is ``overhead_ratio=<float>`` (target ≥ 0.9).
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python -m bench.overhead``: the package imports below would fail
    print("run it from the repository root as: python -m bench.overhead", file=sys.stderr)
    sys.exit(2)

import argparse
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.common import RESULTS, run_training


def steps_per_second(history: list[dict]) -> float:
    """Env steps per wall-clock second over all epochs after the first."""
    rows = history[1:]
    return (rows[-1]["frames"] - history[0]["frames"]) / sum(r["epoch_seconds"] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="HalfCheetah")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--num-envs", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    common = [f"task={args.task}", f"task.num_envs={args.num_envs}", f"max_epochs={args.epochs}",
              f"torch_threads={args.threads}", "train.ppo.save_frequency=0", "seed=0"]
    fps: dict[str, float] = {}
    for algo in ("PPO", "EPO"):
        start = time.perf_counter()
        out = run_training([*common, f"train={algo}"], RESULTS / "overhead_runs" / algo)
        fps[algo] = steps_per_second(out["history"])
        print(f"{algo}: {fps[algo]:,.0f} env-steps/s ({time.perf_counter() - start:.0f} s)", flush=True)
    ratio = fps["EPO"] / fps["PPO"]
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(list(fps), list(fps.values()), color=["tab:gray", "tab:blue"])
    ax.set_ylabel("env-steps / s (end to end)")
    ax.set_title(f"{args.task}, {args.num_envs} envs: EPO/PPO = {ratio:.2f}")
    fig.tight_layout()
    fig.savefig(RESULTS / "overhead.png", dpi=120)
    print(f"overhead_ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
