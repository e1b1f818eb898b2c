"""Env-steps/s of every Allegro-Kuka task next to the raw physics limit of the same model.

    python -m bench.env_throughput [--tasks AllegroKukaRegrasping ...] [--sizes 64 256 1024]
                                   [--seconds 6] [--rounds 3] [--actions hold|random] [--nthread 0]
                                   [--png PATH]

For each task and N, a fresh subprocess builds the task, resets it, and alternates ``--rounds`` times
between the physics limit and an env run (``--seconds`` in total). Env-steps/s = N · steps / s of the
whole ``task.step``: actions -> physics -> rewards -> resets -> obs. The limit is
:func:`bench.physics_limit.physics_steps_per_second` on the task's own per-world models (same scene, same
object sizes), started from the env's current world states (poses, velocities, PD targets, applied
random forces, goal/bucket positions), held constant, and divided by the 2 physics steps of a control
step. The ratio is the median of the per-round ratios (each pair sees the same machine load; this
2-core machine's speed drifts by about ±5 % between seconds). ``--actions hold`` (default) holds the
arm where it was reset and the hand at its default pose, so env and limit see the same contact load and
the ratio measures the task's own Python/torch overhead; ``random`` draws uniform actions in [-1, 1]
(more motion and contacts than in the held limit: a lower ratio that is not overhead).
Also printed: ``sim share``, the fraction of the env's wall time spent inside ``sim.step`` (what is
left is the task's Python/torch work), and the RSS growth per env (MB). The limit steps each world many
times per call; stepping 2 physics steps per call, as an env must, costs about 3 % more at N = 256.

Prints a table, saves a bar chart (PNG) and ends with exactly one line ``env_physics_ratio=<float>``:
the worst task's ratio at N = 256 (or at the largest size measured when 256 is not among ``--sizes``).
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python bench/env_throughput.py``: the package imports below would fail
    print("run it from the repository root as: python -m bench.env_throughput", file=sys.stderr)
    sys.exit(2)

import argparse
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.launch import ROOT, launch

ALL_TASKS = (
    "AllegroKukaRegrasping", "AllegroKukaReorientation", "AllegroKukaThrow", "AllegroKukaTwoArmsRegrasping",
    "AllegroKukaTwoArmsReorientation", "AllegroKukaTwoArmsReorientationPartition",
    "AllegroKukaTwoArmsReorientationHole", "AllegroKukaTwoArmsReorientationBarrier",
)


def rss_bytes() -> int:
    """Resident set size of this process (bytes; Linux /proc, else the peak from getrusage)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - non-Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(task: str, n: int, seconds: float, actions: str, nthread: int, rounds: int = 3) -> dict[str, float]:
    """One (task, N) measurement in this process. Returns env/physics steps/s, their ratio, sim share, bytes/env.

    ``rounds`` alternations of (physics limit, env run), each about ``seconds`` long in total; every value
    is the median over rounds, and ``ratio`` the median of the per-round ratios (both sides of a ratio see
    the same machine load).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the per-step tensors are tiny; MuJoCo has its own thread pool
    try:
        return _measure(task, n, seconds, actions, nthread, rounds)
    finally:
        torch.set_num_threads(threads)


def _measure(task: str, n: int, seconds: float, actions: str, nthread: int, rounds: int) -> dict[str, float]:
    import statistics

    import torch

    import tasks
    from bench.physics_limit import STATE_FIELDS, physics_steps_per_second
    from tasks.allegro_kuka import kernels as K

    rss0 = rss_bytes()
    env = tasks.make(task, num_envs=n, seed=0, sim={"backend": "mujoco", "num_threads": nthread})
    env.reset()
    if actions == "hold":
        act = K.unscale(env.default_dof_pos, env.dof_lower, env.dof_upper).clamp(-1, 1).expand(n, -1).clone()
        act[:, env.incremental] = 0.0
        draw = lambda: act  # noqa: E731
    else:
        g = torch.Generator().manual_seed(0)
        draw = lambda: torch.rand(n, env.num_actions, generator=g) * 2 - 1  # noqa: E731
    sim_step, sim_time = env.sim.step, [0.0]

    def timed_step() -> None:
        t = time.perf_counter()
        sim_step()
        sim_time[0] += time.perf_counter() - t

    env.sim.step = timed_step

    def limit(secs: float) -> float:
        """Physics limit (world-steps/s) from the env's current world states (poses, velocities, object
        sizes, PD targets, applied forces, mocap bodies), held constant."""
        models = [env.sim.mj_model(i) for i in range(n)]
        datas = [env.sim.mj_data(i) for i in range(n)]
        state = {f: np.stack([getattr(d, f) for d in datas]) for f in STATE_FIELDS}
        return physics_steps_per_second(models, n, nthread, secs, state)

    for _ in range(10):  # warm-up (objects land)
        env.step(draw())
    rss1 = rss_bytes()
    env_sps, limit_sps, share = [], [], []
    for _ in range(rounds):
        limit_sps.append(limit(seconds / 2 / rounds) / 2.0)  # 2 physics steps per env step
        steps, sim_time[0] = 0, 0.0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds / 2 / rounds or steps < 5:
            env.step(draw())
            steps += 1
        wall = time.perf_counter() - t0
        env_sps.append(n * steps / wall)
        share.append(sim_time[0] / wall)
    env.close()
    med = statistics.median
    return {"env_sps": med(env_sps), "limit_sps": med(limit_sps),
            "ratio": med(e / lim for e, lim in zip(env_sps, limit_sps, strict=True)),
            "sim_share": med(share), "bytes_per_env": (rss1 - rss0) / n}


def run_worker(task: str, n: int, args: argparse.Namespace) -> dict[str, float]:
    """``measure`` in a fresh interpreter (clean RSS, no thread pools left over)."""
    out = launch(["-m", "bench.env_throughput", "--worker", task, str(n), "--seconds", str(args.seconds),
                  "--actions", args.actions, "--nthread", str(args.nthread), "--rounds", str(args.rounds)])
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"worker {task} N={n} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def plot(rows: list[dict], sizes: Sequence[int], path: Path) -> None:
    """Grouped bars: env-steps/s vs the physics limit per task, one panel per N."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(sizes), figsize=(6 * len(sizes), 5), squeeze=False)
    for ax, n in zip(axes[0], sizes, strict=True):
        sub = [r for r in rows if r["n"] == n]
        x = range(len(sub))
        ax.bar([i - 0.2 for i in x], [r["limit_sps"] for r in sub], 0.4, label="physics limit / 2")
        ax.bar([i + 0.2 for i in x], [r["env_sps"] for r in sub], 0.4, label="task env-steps/s")
        ax.set_xticks(list(x), [r["task"].replace("AllegroKuka", "") for r in sub], rotation=45, ha="right")
        ax.set_title(f"N = {n}")
        ax.set_ylabel("env-steps/s")
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=list(ALL_TASKS))
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024])
    p.add_argument("--seconds", type=float, default=6.0, help="measuring time per (task, N), split into rounds")
    p.add_argument("--rounds", type=int, default=3, help="alternations of (physics limit, env run); medians")
    p.add_argument("--actions", choices=("hold", "random"), default="hold")
    p.add_argument("--nthread", type=int, default=0, help="MuJoCo threads (0 = all cores)")
    p.add_argument("--png", type=Path, default=ROOT / "bench" / "results" / "env_throughput.png")
    p.add_argument("--worker", nargs=2, metavar=("TASK", "N"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.worker[0], int(args.worker[1]), args.seconds, args.actions, args.nthread,
                                 args.rounds)))
        return
    unknown = sorted(set(args.tasks) - set(ALL_TASKS))
    if unknown:
        raise SystemExit(f"unknown task(s) {unknown}; valid: {', '.join(ALL_TASKS)}")

    rows = []
    print(f"{'task':42s} {'N':>5s} {'env steps/s':>12s} {'limit':>10s} {'ratio':>6s} {'sim share':>9s} {'MB/env':>7s}")
    for task in args.tasks:
        for n in args.sizes:
            r = {"task": task, "n": n, **run_worker(task, n, args)}
            rows.append(r)
            print(f"{task:42s} {n:5d} {r['env_sps']:12.0f} {r['limit_sps']:10.0f} {r['ratio']:6.2f} "
                  f"{r['sim_share']:9.2f} {r['bytes_per_env'] / 2**20:7.3f}", flush=True)
    plot(rows, args.sizes, args.png)
    print(f"chart: {args.png}")
    ref = 256 if 256 in args.sizes else max(args.sizes)
    worst = min(r["ratio"] for r in rows if r["n"] == ref)
    print(f"env_physics_ratio={worst:.4f}")


if __name__ == "__main__":
    main()
