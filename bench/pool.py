"""Run many training runs of a benchmark in worker processes, one fresh spawned process per run, and report them
as they finish; used by ``bench.evolution`` and ``bench.exploration``. Imports nothing heavy (no torch, no train)."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TypeVar

Item = TypeVar("Item")


def in_workers(items: list[Item], jobs: int, work: Callable[[Item], dict]
               ) -> Iterator[tuple[Item, dict | BaseException]]:
    """``work(item)`` for every item in ``jobs`` spawned processes (a fresh one per item, so no state leaks from
    one run into the next); yields ``(item, result)`` in the order they finish, or ``(item, exception)`` for a run
    that raised (the other runs go on). ``work`` must be a module-level function (it is pickled)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, max_tasks_per_child=1,
                             initializer=_die_with_parent) as pool:
        futures: dict[Future, Item] = {pool.submit(work, item): item for item in items}
        for future in as_completed(futures):
            try:
                yield futures[future], future.result()
            except (Exception, SystemExit) as exc:  # reported by the caller; the other runs keep going
                yield futures[future], exc


def _die_with_parent() -> None:
    """Linux: this worker gets SIGTERM when the benchmark's process dies (killed, not only on a clean exit), so a
    stopped benchmark leaves no training runs behind (prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def redirect_output(log: Path) -> None:
    """Send everything this worker process prints from now on (per-epoch lines, library warnings, threads
    complaining at exit) to ``log`` instead of the benchmark's console; the process serves one run only."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)


def one_core_per_run() -> None:
    """Let each run use one core (BLAS/OpenMP thread pools of the workers; the runs also get ``torch_threads=1``)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def mmss(seconds: float) -> str:
    """``seconds`` as ``MM:SS`` (minutes may exceed 59)."""
    seconds = max(0, round(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"
