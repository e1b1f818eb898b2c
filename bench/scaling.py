"""EPO on 1 rank and on 2 ``torchrun`` ranks (gloo, CPU): env-steps/s and the share of an epoch in collectives.

    python -m bench.scaling [--tasks HalfCheetah AllegroKukaRegrasping] [--epochs 12] [--png PATH]

Each configuration is a real ``train.py`` run (EPO, the task's CPU defaults; every rank runs the task's default
``num_envs``, so 2 ranks step twice the envs) in its own process group. Env-steps/s counts every rank's steps
over the epochs after the first. The collective share is measured on rank 0 by timing every
``torch.distributed`` collective the run makes (gradient all-reduce, learning-rate and stop broadcasts,
normaliser and fitness gathers: the bench wraps those ``torch.distributed`` functions before training starts),
divided by the training wall time. On a 2-core machine 2 ranks share the cores the single rank had (the
simulator runs one thread per rank), so this measures the overhead of the multi-process path rather than a
speed-up. Prints a table, saves a PNG, ends with ``allreduce_share=<float>`` (the larger task's share).
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python bench/scaling.py``: the package imports below would fail
    print("run it from the repository root as: python -m bench.scaling", file=sys.stderr)
    sys.exit(2)

import argparse
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from bench.launch import ROOT, launch

COLLECTIVES = ("all_reduce", "broadcast", "all_gather", "all_gather_object", "broadcast_object_list")


def _instrument() -> dict[str, float]:
    """Wrap the torch.distributed collectives so their wall time adds up in the returned dict."""
    import torch.distributed as dist

    spent = {"seconds": 0.0, "calls": 0}
    for name in COLLECTIVES:
        original = getattr(dist, name)

        def timed(*args, _original=original, **kwargs):
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent["seconds"] += time.perf_counter() - start
                spent["calls"] += 1

        setattr(dist, name, timed)
    return spent


def worker(task: str, epochs: int, out: Path) -> None:
    """One run (1 rank, or one rank of a torchrun launch); rank 0 writes ``out``."""
    import tempfile

    from bench.common import run_training

    ranks = int(os.environ.get("WORLD_SIZE", "1"))
    spent = _instrument()
    overrides = [f"task={task}", "train=EPO", f"max_epochs={epochs}", "seed=1", "torch_threads=1",
                 "train.ppo.save_frequency=0"]
    if task.startswith("AllegroKuka"):
        overrides.append("sim.num_threads=1" if ranks > 1 else "sim.num_threads=0")
    if ranks > 1:
        overrides.append("multi_gpu=true")
    start = time.perf_counter()
    summary = run_training(overrides, Path(tempfile.mkdtemp()) / "run")
    wall = time.perf_counter() - start
    if int(os.environ.get("RANK", "0")) == 0:
        history = summary["history"][1:]  # the first epoch pays for warm-up
        seconds = sum(h["epoch_seconds"] for h in history)
        frames = history[-1]["frames"] - summary["history"][0]["frames"]
        out.write_text(json.dumps({"task": task, "ranks": ranks, "fps": frames / seconds, "wall_s": wall,
                                   "collective_s": spent["seconds"], "collective_calls": spent["calls"],
                                   "share": spent["seconds"] / summary["seconds"]}))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["HalfCheetah", "AllegroKukaRegrasping"])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--png", type=Path, default=ROOT / "bench" / "results" / "scaling.png")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], args.epochs, Path(args.worker[1]))
        return
    out_dir = ROOT / "bench" / "results" / "scaling"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for task in args.tasks:
        for ranks in (1, 2):
            out = out_dir / f"{task}_{ranks}.json"
            proc = launch(["-m", "bench.scaling", "--epochs", str(args.epochs), "--worker", task, str(out)], ranks,
                          env={"OMP_NUM_THREADS": "1"})
            if proc.returncode:
                sys.exit(f"{task} on {ranks} rank(s) failed:\n{proc.stderr[-3000:]}")
            rows.append(json.loads(out.read_text()))
            r = rows[-1]
            print(f"{task:<24} ranks {ranks}: {r['fps']:>9,.0f} env-steps/s  collectives {r['collective_s']:.1f} s "
                  f"in {r['collective_calls']} calls = {r['share']:.3f} of {r['wall_s']:.0f} s", flush=True)
    plot(rows, args.tasks, args.png)
    print(f"plot: {args.png}")
    for task in args.tasks:
        one, two = (next(r for r in rows if r["task"] == task and r["ranks"] == k) for k in (1, 2))
        print(f"{task.lower()}_two_rank_speedup={two['fps'] / one['fps']:.3f}")
    print(f"allreduce_share={max(r['share'] for r in rows if r['ranks'] > 1):.4f}")


def plot(rows: list[dict], tasks: Sequence[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = np.arange(len(tasks))
    for k, ranks in enumerate((1, 2)):
        fps = [next(r["fps"] for r in rows if r["task"] == t and r["ranks"] == ranks) for t in tasks]
        ax.bar(x + (k - 0.5) * 0.4, fps, 0.4, label=f"{ranks} rank{'s' if ranks > 1 else ''}")
    ax.set_xticks(x, list(tasks))
    ax.set_ylabel("env-steps/s (all ranks)")
    ax.set_title("EPO on torchrun ranks, gloo, 2-core CPU")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
