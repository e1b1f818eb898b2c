"""AllegroKukaRegrasping on MuJoCo (CPU): EPO vs PPO at the same wall-clock budget per run.

    python -m bench.allegro_learning [--minutes 90] [--seeds 1] [--algos EPO PPO] [--only EPO] [--fresh]
                                     [--name allegro_learning] [--compare NAME]

Every run is a real ``train.py`` run with the task's CPU defaults (``cfg/task/AllegroKukaRegrasping.yaml``,
``cfg/task_train/AllegroKukaRegrasping.yaml``) that ends at ``max_seconds`` (``--minutes``), one run at a time.
A finished run's record is kept in git as ``bench/data/<name>/<algo>_seed<s>.json.gz`` (the run folder, with
checkpoints and videos, under ``bench/results/<name>_runs/``), so the runs of one comparison can be made in
several sessions (``--only``, ``--seeds``) and the figure redrawn from the records; ``--fresh`` reruns them.

Per run it records against env steps: the master's lift rate (fraction of the master's finished episodes in which
the object was lifted above the 0.15 m bonus threshold), the master's successes per finished episode, and the
mean reward per env step over all envs (every agent of the population; the sum of the named reward terms).
With several algorithms it also prints each one's curves over the last 10 % before the smallest frame count of
all runs (a wall-clock budget gives runs different frame counts; dotted line in the plot).
Saves ``bench/results/<name>.png`` and ``.json``. The last line is ``regrasp_successes=<float>``: EPO's master
successes per episode over the last 10 % of its frames (mean over seeds; nan until an EPO run exists).
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python bench/allegro_learning.py``: the package imports below would fail
    print("run it from the repository root as: python -m bench.allegro_learning", file=sys.stderr)
    sys.exit(2)

import argparse
import gzip
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from bench.common import RESULTS, run_training, series

TASK = "AllegroKukaRegrasping"
DATA = Path(__file__).resolve().parent / "data"
CURVES = (("master/lift_rate", "master lift rate (fraction of episodes)"),
          ("master/successes", "master successes per episode"),
          ("reward", "mean reward per env step (all envs)"))


def reward_per_step(history: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(frames, Σ reward_terms/*) per epoch: the mean reward per env step over all envs."""
    pts = [(h["frames"], sum(v for k, v in h.items() if k.startswith("reward_terms/"))) for h in history
           if any(k.startswith("reward_terms/") for k in h)]
    if not pts:
        return np.zeros(0), np.zeros(0)
    frames, values = zip(*pts, strict=True)
    return np.asarray(frames, float), np.asarray(values, float)


def curve(history: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    return reward_per_step(history) if key == "reward" else series(history, key)


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


def record_path(name: str, algo: str, seed: int) -> Path:
    """The run's record (tracked in git, so seeds can be added in later sessions): ``bench/data/<name>/``."""
    return DATA / name / f"{algo}_seed{seed}.json.gz"


def run(algo: str, seed: int, minutes: float, name: str, fresh: bool) -> dict:
    """One cached run: ``{algo, seed, budget_s, seconds, frames, history}``."""
    path = record_path(name, algo, seed)
    if path.exists() and not fresh:
        cached = json.loads(gzip.decompress(path.read_bytes()))
        if cached["budget_s"] == minutes * 60:
            return cached
    # EPO spreads its GA checks over a frame budget: give one the wall clock cannot reach (8k env-steps/s) so that
    # max_seconds ends the run
    budget = int(minutes * 60 * 8000)
    out = run_training([f"task={TASK}", f"train={algo}", f"seed={seed}", f"max_seconds={minutes * 60}",
                        "train.ppo.max_epochs=-1", f"train.ppo.max_frames={budget}", "train.ppo.save_frequency=0"],
                       RESULTS / f"{name}_runs" / f"{algo}_seed{seed}")
    keep = ("frames", "seconds", "master/lift_rate", "master/successes")
    history = [{k: round(v, 6) if isinstance(v, float) else v for k, v in h.items()
                if k in keep or k.startswith("reward_terms/")} for h in out["history"]]
    result = {"algo": algo, "seed": seed, "budget_s": minutes * 60, "seconds": out["seconds"],
              "frames": int(out["history"][-1]["frames"]), "history": history}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(gzip.compress(json.dumps(result, separators=(",", ":")).encode(), 9))
    tmp.replace(path)
    return result


def summary(r: dict) -> dict:
    """First and last 10 % (of the run's frames) means of every curve."""
    total = r["frames"]
    head, tail = (0.0, 0.1 * total), (0.9 * total, float(total))
    out = {"seed": r["seed"], "frames": total, "minutes": r["seconds"] / 60}
    for key, _ in CURVES:
        f, v = curve(r["history"], key)
        name = key.split("/")[-1]
        out[f"{name}_first10"], out[f"{name}_last10"] = window_mean(f, v, *head), window_mean(f, v, *tail)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=90.0, help="wall-clock budget of every run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--algos", nargs="+", default=["EPO", "PPO"])
    parser.add_argument("--only", nargs="+", default=None, help="run only these algorithms now (others: cache)")
    parser.add_argument("--fresh", action="store_true", help="rerun cached runs")
    parser.add_argument("--name", default="allegro_learning", help="file stem of the PNG/JSON, the records' folder")
    parser.add_argument("--compare", default=None, metavar="NAME",
                        help="also draw the records of another --name (e.g. an earlier physics), as '<algo> (NAME)'")
    args = parser.parse_args()
    results: dict[str, list[dict]] = {}
    for algo in args.algos:
        for seed in args.seeds:
            if args.only is not None and algo not in args.only and not record_path(args.name, algo, seed).exists():
                print(f"{algo} seed {seed}: not run yet (run it with --only {algo})", flush=True)
                continue
            r = run(algo, seed, args.minutes, args.name, args.fresh and (args.only is None or algo in args.only))
            results.setdefault(algo, []).append(r)
            s = summary(r)
            print(f"{algo} seed {seed}: {s['frames']:,} frames in {s['minutes']:.1f} min; lift rate "
                  f"{s['lift_rate_first10']:.3f} → {s['lift_rate_last10']:.3f}; successes/episode "
                  f"{s['successes_first10']:.3f} → {s['successes_last10']:.3f}; reward/step "
                  f"{s['reward_first10']:.4f} → {s['reward_last10']:.4f}", flush=True)
    for algo in args.algos if args.compare else ():
        for seed in args.seeds:
            path = record_path(args.compare, algo, seed)
            if path.exists():
                record = json.loads(gzip.decompress(path.read_bytes()))
                results.setdefault(f"{algo} ({args.compare})", []).append(record)
    fig, axes = plt.subplots(1, len(CURVES), figsize=(15, 4))
    table = {}
    for algo, runs in results.items():
        top = max(r["frames"] for r in runs)
        grid = np.linspace(0, top, 80)
        for ax, (key, label) in zip(axes, CURVES, strict=True):
            stack = np.vstack([smooth(grid, *curve(r["history"], key), top / 20) for r in runs])
            mean = np.nanmean(stack, 0)
            label = algo if "(" in algo or not args.compare else f"{algo} ({args.name})"
            ax.plot(grid, mean, label=f"{label}, {len(runs)} seed{'s' if len(runs) > 1 else ''}")
            if stack.shape[0] > 1:
                se = np.nanstd(stack, 0) / math.sqrt(stack.shape[0])
                ax.fill_between(grid, mean - se, mean + se, alpha=0.25)
            ax.set_xlabel("env steps")
            ax.set_ylabel(label)
        table[algo] = [summary(r) for r in runs]
    if len(results) > 1:  # wall-clock budgets give runs different frame counts: compare at the common one too
        common = min(r["frames"] for runs in results.values() for r in runs)
        for algo, runs in results.items():
            parts = []
            for key, _ in CURVES:
                values = [window_mean(*curve(r["history"], key), 0.9 * common, common) for r in runs]
                parts.append(f"{key.split('/')[-1]} {float(np.nanmean(values)):.4f}")
            print(f"{algo} at {common:,} frames (last 10 % before them, mean over seeds): {'; '.join(parts)}")
        for ax in axes:
            ax.axvline(common, color="grey", lw=0.8, ls=":")
    for ax in axes:
        ax.legend()
    fig.suptitle(f"{TASK} on MuJoCo CPU (2 cores), {args.minutes:g} min of wall clock per run")
    fig.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(RESULTS / f"{args.name}.png", dpi=120)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(table, indent=2))
    epo = [s["successes_last10"] for s in table.get("EPO", [])]
    print(f"regrasp_successes={float(np.nanmean(epo)) if epo else float('nan'):.4f}")


if __name__ == "__main__":
    main()
