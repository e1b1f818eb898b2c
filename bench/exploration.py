"""Where the population should matter: ContinuousMountainCar (sparse, deceptive reward), PPO vs SAPG vs EPO with
M = 8, 16 and 64 agents on the same envs and the same env-step budget, several seeds.

    python -m bench.exploration [--variants PPO SAPG EPO-8 EPO-16 EPO-64] [--seeds 1 2 3 4 5]
                                [--num-envs 4096] [--frames 10000000] [--jobs 2] [--fresh] [--report]

Each run is ``python train.py task=ContinuousMountainCar train=<algo> task.num_envs=<N>
train.population.size=<M> seed=<s> train.ppo.max_frames=<frames>`` with the task's official training settings
(``cfg/task_train/ContinuousMountainCar.yaml``), ``torch_threads=1 update_threads=1`` (one core per run: with the
default 2 update threads, two runs on 2 cores ran ~10x slower, their OpenMP threads spinning at barriers), in a
fresh process (``--jobs`` at a time).
SAPG runs with M = 8 (EPO's default M; SAPG's own default 6 does not divide 4,096). Variants beyond the default
five (``--variants``): ``SAPG-64``, and ``EPO-8-kruskal`` / ``EPO-16-kruskal`` / ``EPO-64-kruskal``
(``train.ga.gate=kruskal``, latched at p < 0.2: EPO's default gate until 2026-12-03; EPO's default has no gate, as
the official EPO code). Measured on the 2-core AMD
EPYC machine, 4,096 envs, one run at a time: PPO ~150k env-steps/s, EPO M = 64 ~80k.

What it reports, per run (``master``: agent 0 for EPO/SAPG, the only policy for PPO):

* **success rate** at an epoch: the fraction of the master's episodes that finished in that epoch and reached the
  goal (``master/successes``), with exploration noise; curves are the mean over a window of 32 epochs. The
  window spans one 500-step episode (32 epochs of 16 steps) because the envs start together: failed episodes end
  in waves every 500 steps, so a single epoch reads 0 or 1 depending on the phase of the wave;
* **final success rate**: the mean of the per-epoch success rates over the last quarter of the budget (38
  epochs at the defaults, more than one wave); a mean over epochs, not weighted by their episode counts;
* **frames to solve**: the first env step at which the 32-epoch success rate reaches ``--solved`` (0.9), counted
  only after every env has run one full 500-step episode (before that only successes can have finished), and
  whether the run ever does. (Frames to the *first* success say nothing here: starts are uniform on the track,
  so cars that start just below the goal reach it in the first epoch of every run.)

Per-seed records (per-epoch frames, seconds, success rate, returns, GA generations, and the settings they were
made with) are kept in git under ``bench/data/exploration/<variant>_seed<s>.json.gz``; a record is reused when
its settings match, so seeds and variants can be added in later sessions. Outputs: ``bench/results/
exploration.png`` (success rate and master return against env steps, mean ± s.e. over seeds), ``bench/results/
exploration.json``. The last lines are ``mc_success_epo=`` (EPO at M = 8), ``mc_success_epo_m16=``,
``mc_success_epo_m64=``, ``mc_success_sapg=``, ``mc_success_ppo=`` (final success rate, mean over seeds) and
``epo_minus_ppo=<diff> [<low>, <high>]`` (EPO M = 8 minus PPO, 95 % percentile bootstrap interval over seeds,
``scipy.stats.bootstrap``).

Bad input (one line on stderr, exit 2, nothing run or written): a population that does not divide ``--num-envs``,
any other setting ``train.py`` would refuse, a cached record made with other settings (``--fresh`` replaces it).
``--report`` runs nothing and summarises the records there are (and lists the runs that have none yet).
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python bench/exploration.py``: the package imports below would fail
    print("run it from the repository root as: python -m bench.exploration", file=sys.stderr)
    sys.exit(2)

import argparse
import gzip
import json
import math
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.launch import ROOT
from bench.pool import in_workers, mmss, one_core_per_run, redirect_output

DATA = ROOT / "bench" / "data" / "exploration"
RESULTS = ROOT / "bench" / "results"
RUNS = RESULTS / "exploration_runs"
VARIANTS: dict[str, tuple[str, int, tuple[str, ...]]] = {  # name -> (train config, population size M, overrides)
    "PPO": ("PPO", 1, ()), "SAPG": ("SAPG", 8, ()), "EPO-8": ("EPO", 8, ()), "EPO-16": ("EPO", 16, ()),
    "EPO-64": ("EPO", 64, ()), "SAPG-64": ("SAPG", 64, ()),
    **{f"EPO-{m}-kruskal": ("EPO", m, ("train.ga.gate=kruskal",)) for m in (8, 16, 64)},
}
DEFAULT_VARIANTS = ("PPO", "SAPG", "EPO-8", "EPO-16", "EPO-64")
HEADLINE = {"mc_success_epo": "EPO-8", "mc_success_epo_m16": "EPO-16", "mc_success_epo_m64": "EPO-64",
            "mc_success_sapg": "SAPG", "mc_success_ppo": "PPO"}
WINDOW = 32  # epochs in a success-rate window: one 500-step episode at horizon 16 (see the module docstring)
EPISODE_LENGTH = 500  # the task's default task.episode_length
FINAL = 0.25  # the final success rate is the mean over this last fraction of the budget
LOGGED = ("frames", "seconds", "master/successes", "master/return", "return", "ga/generation")


@dataclass(frozen=True)
class Spec:
    """One training run of the benchmark."""

    variant: str
    seed: int
    num_envs: int
    frames: int

    @property
    def name(self) -> str:
        return f"{self.variant}_seed{self.seed}"

    @property
    def record(self) -> Path:
        return DATA / f"{self.name}.json.gz"

    def overrides(self) -> list[str]:
        algo, m, extra = VARIANTS[self.variant]
        return ["task=ContinuousMountainCar", f"train={algo}", f"seed={self.seed}", f"task.num_envs={self.num_envs}",
                f"train.population.size={m}", "train.ppo.max_epochs=-1", f"train.ppo.max_frames={self.frames}",
                "train.ppo.save_frequency=0", "torch_threads=1", "update_threads=1", *extra]

    def settings(self) -> dict[str, Any]:
        """What a cached record must have been made with to be reused: the resolved settings of the run (task,
        train, seed, threads), so a changed default invalidates a record as a changed override does."""
        from omegaconf import OmegaConf

        from bench.common import compose_cfg

        cfg = compose_cfg(self.overrides())
        resolved = OmegaConf.to_container(cfg, resolve=True)
        return {key: resolved[key] for key in ("task", "train", "seed", "torch_threads", "update_threads")}


def read_record(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rt") as f:
        return json.load(f)


def run_one(spec: Spec) -> dict[str, Any]:
    """Worker (a fresh process): train ``spec`` and write its record atomically; returns the record."""
    from bench.common import run_training

    run_dir = RUNS / spec.name
    if run_dir.exists():  # left over by a killed run
        shutil.rmtree(run_dir)
    redirect_output(run_dir.with_suffix(".log"))
    out = run_training(spec.overrides(), run_dir)
    sys.stdout.flush()
    history = [{k: h[k] for k in LOGGED if k in h} for h in out["history"]]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()
    record = {"settings": spec.settings(), "variant": spec.variant, "seed": spec.seed, "commit": commit,
              "date": time.strftime("%Y-%m-%d"), "train_seconds": out["seconds"], "history": history}
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = spec.record.with_name(spec.record.name + ".tmp")
    with gzip.open(tmp, "wt") as f:
        json.dump(record, f)
    os.replace(tmp, spec.record)  # atomic: a killed run leaves no half-written record
    return record


def success_curve(history: list[dict[str, Any]], key: str = "master/successes") -> tuple[np.ndarray, np.ndarray]:
    """(frames, mean of ``key`` (the success rate) over the last ``WINDOW`` epochs that had a finished master
    episode)."""
    pts = [(h["frames"], h[key]) for h in history if math.isfinite(h.get(key, math.nan))]
    if not pts:
        return np.zeros(0), np.zeros(0)
    frames, rate = (np.asarray(v, float) for v in zip(*pts, strict=True))
    kernel = np.ones(WINDOW)
    sums, counts = np.convolve(rate, kernel)[: rate.size], np.convolve(np.ones_like(rate), kernel)[: rate.size]
    return frames, sums / counts


def final_success(history: list[dict[str, Any]], budget: int) -> float:
    """Mean per-epoch success rate over the epochs in the last quarter of ``budget`` env steps (NaN if none)."""
    late = [h["master/successes"] for h in history
            if h["frames"] > (1 - FINAL) * budget and math.isfinite(h.get("master/successes", math.nan))]
    return float(np.mean(late)) if late else float("nan")


def frames_to_solve(history: list[dict[str, Any]], solved: float, settle: float) -> float:
    """First env step at which the windowed success rate reaches ``solved`` (inf if never), among the epochs
    after ``settle`` env steps whose window lies wholly after it. Before every env has run one full episode
    (500 steps x num_envs), only successes can have finished, so the rate reads 1 by construction."""
    frames, rate = success_curve([h for h in history if h["frames"] > settle])
    hit = np.nonzero(rate[WINDOW - 1:] >= solved)[0] if rate.size >= WINDOW else np.zeros(0, int)
    return float(frames[WINDOW - 1 + hit[0]]) if hit.size else math.inf


def bootstrap_diff(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """mean(a) − mean(b) and its 95 % percentile bootstrap interval over seeds (scipy.stats.bootstrap,
    independent samples, 10,000 resamples, fixed generator)."""
    from scipy import stats

    if not a or not b:
        return math.nan, math.nan, math.nan
    diff = float(np.mean(a) - np.mean(b))
    if len(a) < 2 or len(b) < 2:
        return diff, math.nan, math.nan
    res = stats.bootstrap((np.asarray(a), np.asarray(b)), lambda x, y, axis: np.mean(x, axis) - np.mean(y, axis),
                          n_resamples=10_000, confidence_level=0.95, method="percentile",
                          rng=np.random.default_rng(0))
    return diff, float(res.confidence_interval.low), float(res.confidence_interval.high)


def check(specs: list[Spec], fresh: bool) -> str | None:
    """The first problem with the requested runs, as one line (None when they can run): a setting train.py
    refuses, or a cached record made with other settings."""
    import train
    from bench.common import compose_cfg
    from epo_isaac.errors import UserError

    for spec in {s.variant: s for s in specs}.values():
        try:
            train.check_config(compose_cfg(spec.overrides()))
        except (UserError, ValueError) as err:
            return f"{spec.variant} at --num-envs {spec.num_envs}: {err}"
    for spec in specs:
        if fresh or not spec.record.is_file():
            continue
        made, now = flat(read_record(spec.record)["settings"]), flat(spec.settings())
        keys = (made.keys() | now.keys()) - inert(made) - inert(now)
        if differs := sorted(k for k in keys if made.get(k) != now.get(k)):
            shown = ", ".join(f"{k}={made.get(k)} (now {now.get(k)})" for k in differs[:3])
            return (f"{spec.record} was made with other settings ({shown}): run with the same settings, or add "
                    "--fresh to replace the cached records")
    return None


def inert(settings: dict[str, Any]) -> set[str]:
    """Flat keys of ``settings`` that cannot change the run: the GA's (``train.ga.*`` but ``enabled``) when no GA
    runs (PPO, or ``train.ga.enabled=false`` as SAPG), so a changed GA default leaves PPO and SAPG records valid."""
    if settings.get("train.algo") == "epo" and settings.get("train.ga.enabled"):
        return set()
    return {k for k in settings if k.startswith("train.ga.") and k != "train.ga.enabled"}


def flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}`` (lists are leaves)."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def plot(records: dict[str, list[dict[str, Any]]], args: argparse.Namespace, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.common import band

    grid = np.linspace(0, args.frames, 80)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for variant, runs in records.items():
        if not runs:
            continue
        curves = []
        for r in runs:
            frames, rate = success_curve(r["history"])
            ret_frames, ret = success_curve(r["history"], "master/return")
            curves.append({"f": frames, "s": rate, "rf": ret_frames, "r": ret})
        for ax, fkey, vkey in ((axes[0], "f", "s"), (axes[1], "rf", "r")):
            mean, se = band(curves, grid, fkey, vkey)
            line, = ax.plot(grid, mean, label=f"{variant} ({len(runs)} seeds)")
            ax.fill_between(grid, mean - se, mean + se, alpha=0.2, color=line.get_color())
    axes[0].set_ylabel(f"master success rate ({WINDOW}-epoch window)")
    axes[1].set_ylabel(f"master episodic return ({WINDOW}-epoch window)")
    for ax in axes:
        ax.axvline(EPISODE_LENGTH * args.num_envs, color="k", ls=":", lw=1,
                   label="every env has run one episode\n(before it: only successes have ended)")
        ax.set_xlabel("env steps")
        ax.legend(fontsize=8)
    fig.suptitle(f"ContinuousMountainCar, {args.num_envs} envs, mean ± s.e. over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--num-envs", type=int, default=4096)
    parser.add_argument("--frames", type=int, default=10_000_000, help="env steps per run")
    parser.add_argument("--solved", type=float, default=0.9, help="success rate that counts as solved")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (one core each)")
    parser.add_argument("--fresh", action="store_true", help="rerun and replace cached records")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: summarise the cached records of the requested variants and seeds")
    args = parser.parse_args()
    specs = [Spec(v, s, args.num_envs, args.frames) for s in args.seeds for v in args.variants]  # seed-major
    if problem := check(specs, args.fresh):
        print(problem, file=sys.stderr)
        sys.exit(2)
    one_core_per_run()
    todo = [s for s in specs if args.fresh or not s.record.is_file()]
    print(f"{len(specs)} runs ({len(specs) - len(todo)} cached in {DATA.relative_to(ROOT)}), {args.jobs} at a time, "
          f"{args.num_envs} envs, {args.frames:,} env steps each", flush=True)
    if args.report:
        if todo:
            print(f"--report runs nothing; no record yet for: {', '.join(s.name for s in todo)}", flush=True)
        todo = []
    start, seconds = time.perf_counter(), []
    for done, (spec, result) in enumerate(in_workers(todo, args.jobs, run_one), start=1):
        if isinstance(result, BaseException):
            print(f"[{done}/{len(todo)}] {spec.name}: FAILED ({type(result).__name__}: {result}); log in "
                  f"{RUNS / spec.name}.log", flush=True)
            continue
        seconds.append(result["train_seconds"])
        eta = float(np.mean(seconds)) * (len(todo) - done) / args.jobs
        print(f"[{done}/{len(todo)}] {spec.name}: final success rate "
              f"{final_success(result['history'], args.frames):.3f} | elapsed {mmss(time.perf_counter() - start)} "
              f"| ETA {mmss(eta)}", flush=True)

    records = {v: [read_record(s.record) for s in specs if s.variant == v and s.record.is_file()]
               for v in args.variants}
    table: dict[str, dict[str, Any]] = {}
    print(f"\nfinal success rate (last {FINAL:.0%} of {args.frames:,} env steps), solved = {WINDOW}-epoch success rate "
          f">= {args.solved}:")
    from bench.common import mean_se

    for variant, runs in records.items():
        finals = [final_success(r["history"], args.frames) for r in runs]
        solve = [frames_to_solve(r["history"], args.solved, EPISODE_LENGTH * args.num_envs) for r in runs]
        mean, se, n = mean_se(finals)
        solved = [f for f in solve if math.isfinite(f)]
        table[variant] = {"finals": finals, "mean": mean, "se": se, "n": n, "frames_to_solve": solve,
                          "solved_fraction": len(solved) / max(1, len(runs)),
                          "generations": [r["history"][-1].get("ga/generation", 0) for r in runs]}
        print(f"  {variant:<8} {mean:.3f} ± {se:.3f} (n={n}) | solved {len(solved)}/{len(runs)}"
              + (f", median frames to solve {np.median(solved):,.0f}" if solved else ""), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(records, args, RESULTS / "exploration.png")
    diff = (bootstrap_diff(table["EPO-8"]["finals"], table["PPO"]["finals"])
            if "EPO-8" in table and "PPO" in table else (math.nan, math.nan, math.nan))
    (RESULTS / "exploration.json").write_text(json.dumps({"args": vars(args), "table": table,
                                                          "epo_minus_ppo": diff}, indent=1))
    print(f"plot: {RESULTS / 'exploration.png'}; numbers: {RESULTS / 'exploration.json'}")
    for key, variant in HEADLINE.items():
        if variant in table:
            print(f"{key}={table[variant]['mean']:.4f}")
    print(f"epo_minus_ppo={diff[0]:.4f} [{diff[1]:.4f}, {diff[2]:.4f}]", flush=True)


if __name__ == "__main__":
    main()
