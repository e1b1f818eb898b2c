"""ES training env-steps/s next to env-only env-steps/s on the same task, N and machine (issue 12's ≥ 0.8 target).

    python -m bench.es_throughput [--tasks HalfCheetah AllegroKukaRegrasping] [--rounds 3] [--png PATH]

For each task a fresh subprocess builds the task at its CPU defaults (``cfg/task/<Task>.yaml``: N = 48 for
HalfCheetah, 240 for AllegroKukaRegrasping) and a real ``train=ES`` agent (rl_games Runner, P = 48) on it, then
alternates ``--rounds`` times between

* **env only**: ``task.reset()`` and as many ``task.step`` calls with uniform random actions in [−1, 1] as the ES
  iteration before it took (the same steps, the same resets), and
* **ES**: one full iteration (:meth:`ESAgent.iteration`: ask, batched population forward, whole episodes, tell,
  normaliser update).

The ratio is the median of the per-round ratios (each pair sees the same machine load). Breakdown of the ES
iteration: physics + task kernels (time inside ``task.step``), policy forward (normalise + batched forward),
the rest (ask/tell, noise, normaliser, bookkeeping). Memory: RSS growth per env after building the task and
agent. Prints a table, saves a PNG, and ends with ``es_env_ratio=<float>`` (the worse task).
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python bench/es_throughput.py``: the package imports below would fail
    print("run it from the repository root as: python -m bench.es_throughput", file=sys.stderr)
    sys.exit(2)

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.launch import ROOT, launch, rl_games_agent

TASKS = ("HalfCheetah", "AllegroKukaRegrasping")


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def worker(task_name: str, rounds: int) -> dict[str, float]:
    """Measure one task in this process (see the module docstring)."""
    import tempfile

    import torch

    from bench.common import compose_cfg

    torch.set_num_threads(1)
    cfg = compose_cfg([f"task={task_name}", "train=ES", "seed=1"])
    n = int(cfg.task.num_envs)
    rss0 = _rss()
    agent, close = rl_games_agent(cfg, train_dir=tempfile.mkdtemp(), experiment="bench")
    task = agent.task
    rss = (_rss() - rss0) / n

    sim_time = [0.0]
    step = task.step

    def timed_step(actions):
        t = time.perf_counter()
        out = step(actions)
        sim_time[0] += time.perf_counter() - t
        return out

    rows = []
    agent.iteration()  # warm-up (first-call allocations)
    for _ in range(rounds):
        task.step, sim_time[0] = timed_step, 0.0
        t = time.perf_counter()
        agent.iteration()
        es_seconds = time.perf_counter() - t
        es_sim = sim_time[0]
        task.step = step
        es_steps = agent.curr_frames // n
        gen = torch.Generator().manual_seed(0)
        t = time.perf_counter()
        task.reset()
        for _ in range(es_steps):
            task.step(torch.rand(n, task.num_actions, generator=gen) * 2.0 - 1.0)
        env_seconds = time.perf_counter() - t
        rows.append({"es_fps": es_steps * n / es_seconds, "env_fps": es_steps * n / env_seconds,
                     "sim_share": es_sim / es_seconds, "steps": es_steps})
    forward = _forward_share(agent, task, n)
    close()
    ratios = [r["es_fps"] / r["env_fps"] for r in rows]
    return {"task": task_name, "num_envs": n, "population": agent.es_cfg.population_size,
            "ratio": float(np.median(ratios)), "es_fps": float(np.median([r["es_fps"] for r in rows])),
            "env_fps": float(np.median([r["env_fps"] for r in rows])),
            "sim_share": float(np.median([r["sim_share"] for r in rows])),
            "forward_ms": forward, "steps": rows[-1]["steps"], "rss_mb_per_env": rss / 2**20}


def _forward_share(agent, task, n: int) -> float:
    """Milliseconds of one normalise + batched population forward on N observations."""
    import torch

    act = agent._act(agent.optimizer.ask()[: agent.members])
    obs = torch.randn(n, task.num_obs)
    for _ in range(5):
        act(obs)
    t = time.perf_counter()
    for _ in range(50):
        act(obs)
    return (time.perf_counter() - t) / 50 * 1e3


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = np.arange(len(results))
    ax.bar(x - 0.2, [r["env_fps"] for r in results], 0.4, label="env only (random actions)")
    ax.bar(x + 0.2, [r["es_fps"] for r in results], 0.4, label="train=ES")
    for i, r in enumerate(results):
        ax.text(i + 0.2, r["es_fps"], f"{r['ratio']:.2f}×", ha="center", va="bottom")
    ax.set_xticks(x, [f"{r['task']}\nN={r['num_envs']}, P={r['population']}" for r in results])
    ax.set_ylabel("env-steps/s")
    ax.set_title("OpenAI-ES training vs the env alone (CPU)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--png", type=Path, default=ROOT / "bench" / "results" / "es_throughput.png")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.rounds)))
        return
    results = []
    for name in args.tasks:
        proc = launch(["-m", "bench.es_throughput", "--worker", name, "--rounds", str(args.rounds)])
        if proc.returncode:
            sys.exit(f"{name}: worker failed:\n{proc.stderr[-2000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"{r['task']:<24} N={r['num_envs']:<4} P={r['population']:<3} steps/iter={r['steps']:<5} "
              f"env {r['env_fps']:>9,.0f}/s  ES {r['es_fps']:>9,.0f}/s  ratio {r['ratio']:.3f}  "
              f"task.step share {r['sim_share']:.2f}  forward {r['forward_ms']:.2f} ms/step  "
              f"RSS {r['rss_mb_per_env']:.2f} MB/env", flush=True)
    args.png.parent.mkdir(parents=True, exist_ok=True)
    plot(results, args.png)
    print(f"plot: {args.png}")
    for r in results:
        print(f"{r['task'].lower()}_es_env_ratio={r['ratio']:.4f}")
    print(f"es_env_ratio={min(r['ratio'] for r in results):.4f}")


if __name__ == "__main__":
    main()
