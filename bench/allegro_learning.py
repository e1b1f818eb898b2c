"""AllegroKukaRegrasping on MuJoCo (CPU): EPO vs SAPG vs PPO at the same frame budget.

    python bench/allegro_learning.py [--frames 7000000] [--seeds 0] [--algos EPO SAPG PPO] [--num-envs 240]
                                     [--name allegro_learning]

Every run is a real ``train.py`` run with the task's CPU defaults (``cfg/task_train/AllegroKukaRegrasping.yaml``).
For each algorithm it records, against env steps, the master's lift rate (fraction of finished episodes in
which the object was lifted above the 0.15 m bonus threshold) and the mean reward per env step over all
envs, i.e. every agent of the population (the sum of the named reward terms).
Saves ``bench/results/<name>.png`` and ``.json`` (runs under ``bench/results/<name>_runs/``).
The last line is ``regrasp_lift_rate=<float>``: EPO's master lift rate over the last 10 % of its frames
(mean over seeds). At about 11k env-steps/s on 2 cores, the default budget takes about 11 minutes per run.
"""

from __future__ import annotations

import argparse
import json
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from common import RESULTS, run_training, series  # noqa: E402

TASK = "AllegroKukaRegrasping"


def reward_per_step(history: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(frames, Σ reward_terms/*) per epoch: the mean reward per env step over all envs."""
    pts = [(h["frames"], sum(v for k, v in h.items() if k.startswith("reward_terms/"))) for h in history
           if any(k.startswith("reward_terms/") for k in h)]
    if not pts:
        return np.zeros(0), np.zeros(0)
    frames, values = zip(*pts, strict=True)
    return np.asarray(frames, float), np.asarray(values, float)


def window_mean(frames: np.ndarray, values: np.ndarray, lo: float, hi: float) -> float:
    """Mean of ``values`` whose frame lies in [lo, hi]; NaN when none."""
    sel = (frames >= lo) & (frames <= hi)
    return float(values[sel].mean()) if sel.any() else float("nan")


def smooth(grid: np.ndarray, frames: np.ndarray, values: np.ndarray, width: float) -> np.ndarray:
    """Mean of the points within ``width / 2`` of each grid frame (NaN where there are none)."""
    out = np.full_like(grid, np.nan)
    for i, g in enumerate(grid):
        sel = np.abs(frames - g) <= width / 2
        if sel.any():
            out[i] = values[sel].mean()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=7_000_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--algos", nargs="+", default=["EPO", "SAPG", "PPO"])
    parser.add_argument("--num-envs", type=int, default=240)
    parser.add_argument("--name", default="allegro_learning", help="file stem of the PNG/JSON and the run folders")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    grid = np.linspace(0, args.frames, 80)
    width = args.frames / 20
    head, tail = (0.0, 0.1 * args.frames), (0.9 * args.frames, float(args.frames))
    fig, (ax_lift, ax_rew) = plt.subplots(1, 2, figsize=(11, 4))
    results: dict[str, dict] = {}
    for algo in args.algos:
        runs = []
        lift_curves, rew_curves = [], []
        for seed in args.seeds:
            out = run_training([
                f"task={TASK}", f"train={algo}", f"seed={seed}", f"task.num_envs={args.num_envs}",
                "train.ppo.max_epochs=-1", f"train.ppo.max_frames={args.frames}", "train.ppo.save_frequency=0",
            ], RESULTS / f"{args.name}_runs" / f"{algo}_seed{seed}")
            lf, lv = series(out["history"], "master/lift_rate")
            rf, rv = reward_per_step(out["history"])
            run = {
                "seed": seed, "seconds": out["seconds"], "frames": int(out["history"][-1]["frames"]),
                "lift_rate_first10": window_mean(lf, lv, *head), "lift_rate_last10": window_mean(lf, lv, *tail),
                "reward_first10": window_mean(rf, rv, *head), "reward_last10": window_mean(rf, rv, *tail),
                "master_successes_last10": window_mean(*series(out["history"], "master/successes"), *tail),
            }
            runs.append(run)
            lift_curves.append(smooth(grid, lf, lv, width))
            rew_curves.append(smooth(grid, rf, rv, width))
            print(f"{algo} seed {seed}: {run['frames']:,} frames in {run['seconds'] / 60:.1f} min; lift rate "
                  f"{run['lift_rate_first10']:.3f} → {run['lift_rate_last10']:.3f}; reward/step "
                  f"{run['reward_first10']:.4f} → {run['reward_last10']:.4f}", flush=True)
        for ax, curves in ((ax_lift, lift_curves), (ax_rew, rew_curves)):
            stack = np.vstack(curves)
            mean = np.nanmean(stack, 0)
            ax.plot(grid, mean, label=algo)
            if stack.shape[0] > 1:
                se = np.nanstd(stack, 0) / math.sqrt(stack.shape[0])
                ax.fill_between(grid, mean - se, mean + se, alpha=0.25)
        results[algo] = {
            "runs": runs,
            "lift_rate_last10": float(np.nanmean([r["lift_rate_last10"] for r in runs])),
            "reward_last10": float(np.nanmean([r["reward_last10"] for r in runs])),
        }
    ax_lift.set_ylabel("master lift rate (fraction of episodes)")
    ax_rew.set_ylabel("mean reward per env step (all envs)")
    for ax in (ax_lift, ax_rew):
        ax.set_xlabel("env steps")
        ax.legend()
    fig.suptitle(f"{TASK} on MuJoCo CPU, {args.num_envs} envs, {len(args.seeds)} seed(s)")
    fig.tight_layout()
    fig.savefig(RESULTS / f"{args.name}.png", dpi=120)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(results, indent=2))
    for algo, res in results.items():
        print(f"{algo}: lift rate {res['lift_rate_last10']:.3f}, reward/step {res['reward_last10']:.4f} "
              f"(last 10 % of {args.frames:,} frames)", flush=True)
    print(f"regrasp_lift_rate={results.get('EPO', {}).get('lift_rate_last10', float('nan')):.4f}")


if __name__ == "__main__":
    main()
