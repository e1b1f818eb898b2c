"""EPO vs SAPG vs PPO at equal env-step budgets on three Gymnasium tasks, plus a population-size ablation.

    python -m bench.evolution [--tasks HalfCheetah Hopper LunarLanderContinuous]
                              [--algos EPO EPO-gated SAPG PPO EPO-latched EPO-gentle] [--seeds 1 2 3 4 5]
                              [--frames-scale 1.0] [--jobs 2] [--no-resume]
                              [--ablation-task LunarLanderContinuous] [--ablation-sizes 4 8 16]

What it measures:

* the master's episodic return (EPO/SAPG: ``master/return``; PPO: its only policy) against env steps, every
  task x algorithm x seed at 48 envs and the task's env-step budget below; EPO and SAPG both with M = 8 agents
  (SAPG's own default is 6), PPO without a population. Variants of EPO's GA (``VARIANTS``, all with the
  Kruskal-Wallis gate at p < 0.2; EPO's default has no gate since 2026-12-03): ``EPO-kruskal`` (latched, one row
  replaced: the defaults from 2026-11-29 to 2026-12-03) in the default run; ``EPO-gated`` (the gate decides at
  every check, 25 % of the followers replaced: the defaults before 2026-11-29), ``EPO-latched`` (latch, 25 %
  replaced) and ``EPO-gentle`` (latch, one row, mutation σ 0.35) only with ``--algos``;
* EPO with M = 4, 8, 16 agents on ``--ablation-task`` at the same 48 envs and seeds (the M = 8 runs are the
  main EPO runs, not run twice);
* for every EPO run, the number of GA generations and the latent-diversity ratio (last / first epoch's
  ``population/latent_diversity``).

Budgets (env steps per run) and speeds, measured on the 2-core AMD EPYC machine with two runs at a time, one per
core (``torch_threads=1``, 48 envs, 150k-step EPO and PPO runs; EPO, SAPG and PPO within 5 % of each other; each
run also spends ~10 s importing, composing the config and building the envs):

    task                    env-steps/s per run (2 at a time)   budget      time per run
    HalfCheetah             ~3,600                            1,000,000     ~4.9 min
    Hopper                  ~2,100                              300,000     ~2.6 min
    LunarLanderContinuous   ~3,900                              350,000     ~1.8 min

HalfCheetah gets the largest budget because its episodes all last 1000 steps and end together: a fitness
window only gains episodes once per 48,000 env steps, so 1M steps allow about 20 such waves (>= 10
generations need >= 10 of them after the warm-up).

70 runs (3 tasks x 4 algorithms x 5 seeds + 10 ablation runs with M = 4, 16) take ~180 min of run time in all:
about 90 min of wall-clock time with ``--jobs 2`` on an otherwise idle machine (another busy process on the same
cores slows it down in proportion; measured 2026-11-29: HalfCheetah 250-350 s, Hopper 110-175 s, LunarLander
63-110 s per run, 2 at a time). The two extra variants add 30 runs (~30 min). ``--frames-scale`` multiplies
every budget (``--frames-scale 0.02 --seeds 1``
is a smoke run of about three minutes).

Runs go to ``bench/results/evolution_runs/<task>_<algo>_M<m>_seed<s>/`` (console output in ``<...>.log``); each
finished run writes ``<...>.json`` next to its folder and is skipped on the next start with the same budget
(``--no-resume`` reruns everything), so a killed benchmark continues where it stopped. Outputs in ``bench/results/``:

* ``evolution_<task>.png``: mean +- s.e. over seeds of the return against env steps, one curve per algorithm;
* ``evolution_population_size.png``: the ablation, EPO with M = 4 / 8 / 16;
* ``evolution_diversity.png``: EPO's latent-diversity ratio against env steps per task (mean +- s.e.), with the
  0.5 bound and the GA generation counts;
* ``evolution.json``: every run's numbers and the summary table.

The last four lines are ``ga_generations_min=<int>`` (fewest GA generations of any EPO run),
``diversity_ratio_min=<float>`` (smallest diversity ratio of any EPO run), ``epo_beats_sapg=<k>/<tasks>`` and
``epo_beats_ppo=<k>/<tasks>`` (tasks on which EPO's mean final master return is higher, out of the tasks where both
ran; ``n/a`` when the other algorithm did not run).
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python bench/evolution.py``: the package imports below would fail
    print("run it from the repository root as: python -m bench.evolution", file=sys.stderr)
    sys.exit(2)

import argparse
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.launch import ROOT
from bench.pool import in_workers, mmss, one_core_per_run, redirect_output

RUNS = ROOT / "bench" / "results" / "evolution_runs"
TASK_FRAMES: dict[str, int] = {"HalfCheetah": 1_000_000, "Hopper": 300_000, "LunarLanderContinuous": 350_000}
ALGOS = ("EPO", "EPO-kruskal", "SAPG", "PPO")
KRUSKAL = "train.ga.gate=kruskal"  # the default gate until 2026-12-03 (latched, p < 0.2)
VARIANTS: dict[str, list[str]] = {  # algo -> overrides (every GA key that differs from the defaults)
    "EPO-kruskal": ["train=EPO", KRUSKAL, "train.ga.gate_latch=true"],
    "EPO-gated": ["train=EPO", KRUSKAL, "train.ga.gate_latch=false", "train.ga.frac_replaced=0.25"],
    "EPO-latched": ["train=EPO", KRUSKAL, "train.ga.gate_latch=true", "train.ga.frac_replaced=0.25"],
    "EPO-gentle": ["train=EPO", KRUSKAL, "train.ga.gate_latch=true", "train.ga.frac_replaced=0.1",
                   "train.ga.mutation_std=0.35"],
}
POPULATION = 8  # EPO's default M; SAPG is run with the same M
NUM_ENVS = 48
DIVERSITY_BOUND = 0.5


@dataclass(frozen=True)
class Spec:
    """One training run."""

    task: str
    algo: str
    m: int  # agents (1 for PPO)
    seed: int
    frames: int

    @property
    def name(self) -> str:
        return f"{self.task}_{self.algo}_M{self.m}_seed{self.seed}"

    def overrides(self) -> list[str]:
        algo = VARIANTS.get(self.algo, [f"train={self.algo}"])
        # one core per run (torch_threads, update_threads): 2 update threads each on 2 cores ran ~10x slower
        out = [f"task={self.task}", *algo, f"seed={self.seed}", f"task.num_envs={NUM_ENVS}",
               "train.ppo.max_epochs=-1", f"train.ppo.max_frames={self.frames}", "train.ppo.save_frequency=0",
               "torch_threads=1", "update_threads=1"]
        if self.algo != "PPO":
            out.append(f"train.population.size={self.m}")
        return out


def _final(values: np.ndarray) -> float:
    """Mean of the last three logged values (NaN when nothing was logged)."""
    return float(values[-3:].mean()) if values.size else float("nan")


def run_one(spec: Spec) -> dict[str, Any]:
    """Worker (a fresh process per run): train ``spec``, write and return its small result dict."""
    start = time.perf_counter()
    from bench.common import run_training, series

    run_dir = RUNS / spec.name
    if run_dir.exists():  # left over by a killed run
        shutil.rmtree(run_dir)
    redirect_output(run_dir.with_suffix(".log"))
    cpu = time.process_time()
    out = run_training(spec.overrides(), run_dir)
    cpu = time.process_time() - cpu
    sys.stdout.flush()
    history = out["history"]
    frames, values = series(history, "return" if spec.algo == "PPO" else "master/return")
    result: dict[str, Any] = {
        **asdict(spec), "name": spec.name, "env_steps": int(history[-1]["frames"]) if history else 0,
        "curve_frames": frames.tolist(), "curve_values": values.tolist(), "final": _final(values),
    }
    if spec.algo.startswith("EPO"):
        first = history[0].get("population/latent_diversity", float("nan")) if history else float("nan")
        last = history[-1].get("population/latent_diversity", float("nan")) if history else float("nan")
        div_frames, div_values = series(history, "population/latent_diversity")
        gen_frames, gen_values = series(history, "ga/generation")
        result.update(
            generations=int(history[-1].get("ga/generation", 0)) if history else 0,
            diversity_first=float(first), diversity_last=float(last),
            diversity_ratio=float(last / first) if first > 0 else float("nan"),
            diversity_frames=div_frames.tolist(), diversity_values=div_values.tolist(),
            generation_frames=gen_frames.tolist(), generation_values=gen_values.tolist(),
        )
    result["seconds"] = time.perf_counter() - start  # includes the imports and the task's creation
    result["train_seconds"] = out["seconds"]  # the training alone
    result["cpu_seconds"] = cpu  # CPU time of compose + training; well under train_seconds means a busy machine
    path = RUNS / f"{spec.name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, path)  # atomic: a killed run leaves no half-written result
    return result


def build_specs(args: argparse.Namespace) -> list[Spec]:
    """Main runs (seed-major, so a partial benchmark covers every algorithm) then the ablation's extra runs."""
    def frames(task: str) -> int:
        return max(1, round(TASK_FRAMES[task] * args.frames_scale))

    specs = [Spec(task, algo, 1 if algo == "PPO" else POPULATION, seed, frames(task))
             for seed in args.seeds for task in args.tasks for algo in args.algos]
    specs += [Spec(args.ablation_task, "EPO", m, seed, frames(args.ablation_task))
              for seed in args.seeds for m in args.ablation_sizes]
    return list(dict.fromkeys(specs))  # the ablation's M = 8 runs are the main EPO runs


def execute(specs: list[Spec], jobs: int, resume: bool) -> list[dict[str, Any]]:
    """Run ``specs`` in ``jobs`` spawned worker processes (one fresh process per run), skipping cached ones."""
    results: list[dict[str, Any]] = []
    todo: list[Spec] = []
    for spec in specs:
        path = RUNS / f"{spec.name}.json"
        cached = json.loads(path.read_text()) if resume and path.is_file() else None
        if cached is not None and cached.get("frames") == spec.frames:  # not a result of another --frames-scale
            results.append(cached)
        else:
            todo.append(spec)
    total = len(specs)
    if results:
        print(f"resume: {len(results)} of {total} runs cached in {RUNS}", flush=True)
    if not todo:
        return results
    start = time.perf_counter()
    run_seconds: list[float] = []
    failed: list[str] = []
    for done, (spec, result) in enumerate(in_workers(todo, jobs, run_one), start=1):
        if isinstance(result, BaseException):
            failed.append(spec.name)
            print(f"[{len(results) + len(failed)}/{total}] {spec.task} {spec.algo} M={spec.m} seed "
                  f"{spec.seed}: FAILED ({type(result).__name__}: {result}); log in "
                  f"{(RUNS / spec.name).with_suffix('.log')}", flush=True)
            continue
        results.append(result)
        run_seconds.append(result["seconds"])
        remaining = len(todo) - done
        eta = float(np.mean(run_seconds)) * remaining / jobs
        print(f"[{len(results) + len(failed)}/{total}] {spec.task} {spec.algo} M={spec.m} seed {spec.seed}: "
              f"final {result['final']:.1f} | elapsed {mmss(time.perf_counter() - start)} | ETA {mmss(eta)}",
              flush=True)
        if spec.algo.startswith("EPO"):
            print(f"    generations={result['generations']} diversity_ratio={result['diversity_ratio']:.3f}",
                  flush=True)
    if failed:
        print(f"WARNING: {len(failed)} run(s) failed: {', '.join(failed)}", flush=True)
    return results


def plot(results: list[dict[str, Any]], args: argparse.Namespace, results_dir: Path) -> None:
    """The three kinds of PNG described in the module docstring."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from bench.common import band

    seeds = f"{len(args.seeds)} seed{'s' if len(args.seeds) != 1 else ''}"
    steps = FuncFormatter(lambda x, _: f"{x / 1e6:g}M" if abs(x) >= 1e6 else f"{x / 1e3:g}k" if abs(x) >= 1e3
                          else f"{x:.0f}")

    def grid_of(task: str) -> np.ndarray:
        return np.linspace(0, max((r["env_steps"] for r in results if r["task"] == task), default=0), 60)

    def select(task: str, algo: str, m: int | None = None) -> list[dict[str, Any]]:
        return [r for r in results if r["task"] == task and r["algo"] == algo and (m is None or r["m"] == m)
                and r["seed"] in args.seeds]

    def draw(ax: Any, runs: list[dict[str, Any]], grid: np.ndarray, label: str, fkey: str = "curve_frames",
             vkey: str = "curve_values", normalise: bool = False) -> None:
        mean, se = band(runs, grid, fkey, vkey, normalise)
        line, = ax.plot(grid, mean, label=label)
        ax.fill_between(grid, mean - se, mean + se, alpha=0.25, color=line.get_color())

    for task in args.tasks:
        grid = grid_of(task)
        fig, ax = plt.subplots(figsize=(6, 4))
        for algo in args.algos:
            m = 1 if algo == "PPO" else POPULATION
            if runs := select(task, algo, m):
                draw(ax, runs, grid, f"{algo}" + ("" if algo == "PPO" else f" (M={m})"))
        ax.set_xlabel("env steps")
        ax.xaxis.set_major_formatter(steps)
        ax.set_ylabel("episodic return (master for EPO/SAPG)")
        ax.set_title(f"{task}, {NUM_ENVS} envs, {seeds} (mean ± s.e.)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(results_dir / f"evolution_{task}.png", dpi=120)
        plt.close(fig)

    task = args.ablation_task
    grid = grid_of(task)
    fig, ax = plt.subplots(figsize=(6, 4))
    for m in args.ablation_sizes:
        if runs := select(task, "EPO", m):
            draw(ax, runs, grid, f"EPO M={m} ({NUM_ENVS // m} envs per agent)")
    ax.set_xlabel("env steps")
    ax.xaxis.set_major_formatter(steps)
    ax.set_ylabel("master episodic return")
    ax.set_title(f"{task}: EPO population size M\n{NUM_ENVS} envs, {seeds} (mean ± s.e.)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(results_dir / "evolution_population_size.png", dpi=120)
    plt.close(fig)

    tasks = [t for t in args.tasks if select(t, "EPO", POPULATION)] or [args.ablation_task]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        grid = grid_of(task)
        sizes = args.ablation_sizes if task == args.ablation_task else [POPULATION]
        for m in sizes:
            runs = select(task, "EPO", m)
            if not runs:
                continue
            gens = [r["generations"] for r in runs]
            draw(ax, runs, grid, f"M={m}: {min(gens)}–{max(gens)} generations", "diversity_frames",
                 "diversity_values", normalise=True)
        ax.axhline(DIVERSITY_BOUND, color="k", ls="--", lw=1, label=f"bound {DIVERSITY_BOUND}")
        ax.set_xlabel("env steps")
        ax.xaxis.set_major_formatter(steps)
        ax.set_ylabel("latent diversity / first epoch's")
        ax.set_title(task)
        ax.legend(fontsize=8)
    fig.suptitle(f"EPO latent diversity relative to the first epoch, {seeds} (mean ± s.e.)")
    fig.tight_layout()
    fig.savefig(results_dir / "evolution_diversity.png", dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASK_FRAMES), choices=list(TASK_FRAMES))
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=list(dict.fromkeys([*ALGOS, *VARIANTS])))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--frames-scale", type=float, default=1.0, help="multiplies every task's budget")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (one core each)")
    parser.add_argument("--no-resume", dest="resume", action="store_false", help="rerun cached runs too")
    parser.add_argument("--ablation-task", default="LunarLanderContinuous", choices=list(TASK_FRAMES))
    parser.add_argument("--ablation-sizes", type=int, nargs="*", default=[4, 8, 16])
    args = parser.parse_args()
    for m in args.ablation_sizes:
        if NUM_ENVS % m:
            parser.error(f"--ablation-sizes: {m} does not divide {NUM_ENVS} envs")
    one_core_per_run()
    from bench.common import RESULTS, mean_se

    RESULTS.mkdir(parents=True, exist_ok=True)
    specs = build_specs(args)
    print(f"{len(specs)} runs, {args.jobs} at a time; budgets (env steps): "
          + ", ".join(f"{t} {max(1, round(TASK_FRAMES[t] * args.frames_scale)):,}"
                      for t in dict.fromkeys([*args.tasks, args.ablation_task])), flush=True)
    wanted = {spec.name for spec in specs}
    results = [r for r in execute(specs, args.jobs, args.resume) if r["name"] in wanted]

    table: dict[str, dict[str, Any]] = {}
    print("\nfinal return (mean of the last 3 epochs; master for EPO/SAPG), mean ± s.e. over seeds:")
    for task in args.tasks:
        for algo in args.algos:
            m = 1 if algo == "PPO" else POPULATION
            runs = [r for r in results if r["task"] == task and r["algo"] == algo and r["m"] == m]
            mean, se, n = mean_se([r["final"] for r in runs])
            table[f"{task}/{algo}"] = {"mean": mean, "se": se, "n": n, "finals": [r["final"] for r in runs],
                                      "seconds": float(np.mean([r["seconds"] for r in runs])) if runs else 0.0}
            gens = [r["generations"] for r in runs if "generations" in r]
            if gens:
                table[f"{task}/{algo}"]["generations"] = gens
            print(f"  {task:<22} {algo:<10} {mean:9.1f} ± {se:6.1f}  (n={n}, "
                  f"{table[f'{task}/{algo}']['seconds']:.0f} s per run"
                  + (f", generations {min(gens)}–{max(gens)})" if gens else ")"))
    print(f"population size (EPO on {args.ablation_task}):")
    for m in args.ablation_sizes:
        runs = [r for r in results if r["task"] == args.ablation_task and r["algo"] == "EPO" and r["m"] == m]
        mean, se, n = mean_se([r["final"] for r in runs])
        gens = [r["generations"] for r in runs]
        table[f"{args.ablation_task}/EPO/M{m}"] = {"mean": mean, "se": se, "n": n, "finals": [r["final"] for r in runs],
                                                   "generations": gens}
        print(f"  M={m:<3} {mean:9.1f} ± {se:6.1f}  (n={n}, generations {min(gens, default=0)}–{max(gens, default=0)})")

    epo = [r for r in results if r["algo"] == "EPO"]
    gen_min = min((r["generations"] for r in epo), default=-1)
    div_min = min((r["diversity_ratio"] for r in epo if math.isfinite(r["diversity_ratio"])), default=float("nan"))
    beats: dict[str, str] = {}  # "<tasks where EPO's mean is higher>/<tasks where both ran>", "n/a" if none
    mean = lambda key: table.get(key, {}).get("mean", math.nan)  # noqa: E731
    for other in ("SAPG", "PPO"):
        pairs = [(mean(f"{task}/EPO"), mean(f"{task}/{other}")) for task in args.tasks]
        pairs = [(a, b) for a, b in pairs if math.isfinite(a) and math.isfinite(b)]
        beats[other] = f"{sum(a > b for a, b in pairs)}/{len(pairs)}" if pairs else "n/a"

    plot(results, args, RESULTS)
    summary = {"budgets": {t: max(1, round(TASK_FRAMES[t] * args.frames_scale)) for t in TASK_FRAMES},
               "num_envs": NUM_ENVS, "population": POPULATION, "seeds": args.seeds, "table": table,
               "ga_generations_min": gen_min, "diversity_ratio_min": div_min,
               "epo_beats_sapg": beats["SAPG"], "epo_beats_ppo": beats["PPO"], "tasks": args.tasks,
               "runs": sorted(results, key=lambda r: r["name"])}
    (RESULTS / "evolution.json").write_text(json.dumps(summary, indent=1))
    print(f"plots: {RESULTS}/evolution_<task>.png, evolution_population_size.png, evolution_diversity.png; "
          f"numbers: {RESULTS / 'evolution.json'}")
    print(f"ga_generations_min={gen_min}")
    print(f"diversity_ratio_min={div_min:.4f}")
    print(f"epo_beats_sapg={beats['SAPG']}")
    print(f"epo_beats_ppo={beats['PPO']}", flush=True)


if __name__ == "__main__":
    main()
