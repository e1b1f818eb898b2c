"""HalfCheetah-v5: EPO vs SAPG vs PPO at the same env-step budget, several seeds.

    python -m bench.learning [--frames 600000] [--seeds 0 1 2] [--algos EPO SAPG PPO]

Saves ``bench/results/learning_halfcheetah.png`` (mean ± standard error over seeds of the episodic return
against env steps; EPO/SAPG: the master's return, PPO: its only policy) and
``bench/results/learning_halfcheetah.json``. The last line is ``halfcheetah_epo_return=<float>``: EPO's
master return at the end (mean over seeds of the last three logged epochs). Reference: es_torch reports
returns up to 4000 on HalfCheetah-v5 with far larger budgets.
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python -m bench.learning``: the package imports below would fail
    print("run it from the repository root as: python -m bench.learning", file=sys.stderr)
    sys.exit(2)

import argparse
import json
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from bench.common import RESULTS, run_training, series


def curve(history: list[dict], algo: str) -> tuple[np.ndarray, np.ndarray]:
    """(frames, return) of the epochs that have a finished episode."""
    return series(history, "return" if algo == "PPO" else "master/return")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=600_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--algos", nargs="+", default=["EPO", "SAPG", "PPO"])
    parser.add_argument("--num-envs", type=int, default=48)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    grid = np.linspace(0, args.frames, 60)
    results: dict[str, dict] = {}
    fig, ax = plt.subplots(figsize=(6, 4))
    for algo in args.algos:
        finals, curves = [], []
        for seed in args.seeds:
            out = run_training([
                "task=HalfCheetah", f"train={algo}", f"seed={seed}", f"task.num_envs={args.num_envs}",
                "train.ppo.max_epochs=-1", f"train.ppo.max_frames={args.frames}", "train.ppo.save_frequency=0",
            ], RESULTS / "learning_runs" / f"{algo}_seed{seed}")
            frames, values = curve(out["history"], algo)
            finals.append(float(values[-3:].mean()) if values.size else float("nan"))
            curves.append(np.interp(grid, frames, values, left=np.nan) if values.size else np.full_like(grid, np.nan))
            print(f"{algo} seed {seed}: final return {finals[-1]:.1f} ({out['seconds']:.0f} s)", flush=True)
        stack = np.vstack(curves)
        mean = np.nanmean(stack, 0)
        se = np.nanstd(stack, 0) / np.sqrt(max(1, stack.shape[0]))
        ax.plot(grid, mean, label=algo)
        ax.fill_between(grid, mean - se, mean + se, alpha=0.25)
        results[algo] = {"final_returns": finals, "mean": float(np.nanmean(finals)),
                         "se": float(np.nanstd(finals) / math.sqrt(len(finals)))}
        print(f"{algo}: {results[algo]['mean']:.1f} ± {results[algo]['se']:.1f} (s.e., {len(finals)} seeds)",
              flush=True)
    ax.set_xlabel("env steps")
    ax.set_ylabel("episodic return (master for EPO/SAPG)")
    ax.set_title(f"HalfCheetah-v5, {args.num_envs} envs, {len(args.seeds)} seeds (mean ± s.e.)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "learning_halfcheetah.png", dpi=120)
    (RESULTS / "learning_halfcheetah.json").write_text(json.dumps(results, indent=2))
    print(f"halfcheetah_epo_return={results.get('EPO', {}).get('mean', float('nan')):.1f}")


if __name__ == "__main__":
    main()
