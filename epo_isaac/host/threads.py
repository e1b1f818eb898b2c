"""Torch intra-op threads by phase of an rl_games epoch (CPU training).

While the envs step, the simulator's own threads (MuJoCo's pool) need the cores, and the policy's forward
passes on a few hundred rows gain nothing from more threads; during the update the simulator is idle and the
minibatch forward/backward passes can use every core. ``torch_threads`` (top-level config) sets the rollout's
threads, ``update_threads`` the update's (0: one per core, divided among ``torchrun`` ranks). Measured in
``python -m bench.train_throughput`` (docs/benchmarks.md "Training vs env only").
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch


@contextmanager
def intra_op_threads(n: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)`` and restore the previous count after it (``n <= 0``:
    unchanged)."""
    before = torch.get_num_threads()
    if n <= 0 or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def update_threads_of(config: dict[str, Any], world_size: int = 1) -> int:
    """Threads for the update from ``config["update_threads"]`` (0 or missing: cores // world_size, >= 1)."""
    n = int(config.get("update_threads", 0))
    return n if n > 0 else max(1, (os.cpu_count() or 1) // max(1, world_size))


class PhaseThreadsMixin:
    """``rollout_threads`` (the construction-time count, ``torch_threads``) and ``update_threads`` of an agent;
    mix in before the agent. The agent runs its epoch under :meth:`update_phase` and its env steps under
    :meth:`rollout_phase` (EPO: ``collect_rollout``; PPO: rl_games' ``play_steps``)."""

    def __init__(self, base_name: str, params: dict[str, Any]) -> None:
        super().__init__(base_name, params)  # type: ignore[call-arg]
        self.rollout_threads = torch.get_num_threads()
        self.update_threads = update_threads_of(params["config"], getattr(self, "world_size", 1))

    def update_phase(self) -> contextlib.AbstractContextManager[None]:
        return intra_op_threads(self.update_threads)

    def rollout_phase(self) -> contextlib.AbstractContextManager[None]:
        return intra_op_threads(self.rollout_threads)
