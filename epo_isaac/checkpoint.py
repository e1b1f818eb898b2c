"""Checkpoint helpers: atomic writes and a clear message for incompatible checkpoints."""

from __future__ import annotations

import os
from typing import Any

import torch


class IncompatibleCheckpointError(ValueError):
    """The checkpoint was trained with a config this run cannot load."""


def checkpoint_path(fn: str) -> str:
    """rl_games' naming: ``fn`` with ``.pth`` appended unless present."""
    return fn if fn.endswith(".pth") else fn + ".pth"


def atomic_save(state: dict[str, Any], fn: str) -> str:
    """Write ``state`` to ``fn(.pth)`` via a temp file + ``os.replace``, so a run killed mid-write
    leaves the previous checkpoint intact. Returns the final path."""
    path = checkpoint_path(fn)
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def check_compatible(saved: dict[str, Any] | None, current: dict[str, Any]) -> None:
    """Raise :class:`IncompatibleCheckpointError` listing every setting that differs.

    ``saved is None`` (a checkpoint from another algorithm, e.g. stock PPO) is incompatible too.
    """
    if saved is None:
        raise IncompatibleCheckpointError(
            "checkpoint has no EPO/SAPG state (was it written by train=PPO?); "
            "resume it with the same train= config it was trained with"
        )
    diffs = [f"{k}: checkpoint {saved.get(k)!r} vs this run {v!r}" for k, v in current.items()
             if k != "algo" and saved.get(k) != v]
    if diffs:
        raise IncompatibleCheckpointError(
            "checkpoint does not fit this config (" + "; ".join(diffs) + "). "
            "Use the task/num_envs/population/network settings it was trained with."
        )
