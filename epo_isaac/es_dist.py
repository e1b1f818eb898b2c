"""The ranks of a ``torchrun`` launch, as ES needs them: gather returns, sum normaliser moments, agree on stopping.

Salimans et al. (2017, §2.1, Algorithm 2): workers share the noise seed, so they exchange only scalars (each
member's return) and every worker rebuilds the same update. Backend: ``nccl`` when the run's device is CUDA,
``gloo`` on the CPU. A single process (no ``multi_gpu``) is one rank and every collective is the identity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from epo_isaac.errors import UserError


def launched_ranks() -> tuple[int, int, int]:
    """(rank, local rank, world size) from ``torchrun``'s environment.

    Raises:
        UserError: when the process was not started by ``torchrun`` (no ``RANK``/``WORLD_SIZE``).
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise UserError("multi_gpu=true needs a torchrun launch: torchrun --standalone --nproc_per_node=<K> "
                        "train.py ... multi_gpu=true (README 'Several processes')")
    return int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), int(os.environ["WORLD_SIZE"])


def init_ranks(device: str) -> None:
    """Join the process group (once): ``nccl`` for a CUDA device, else ``gloo``."""
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")


@dataclass
class Ranks:
    """This process's place among the ranks, and the collectives ES uses (all tensors stay on their device)."""

    rank: int = 0
    size: int = 1

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Ranks:
        """One rank unless ``config["multi_gpu"]``; then the initialised process group's rank and size."""
        if not config.get("multi_gpu"):
            return cls()
        init_ranks(str(config.get("device", "cpu")))
        return cls(dist.get_rank(), dist.get_world_size())

    @property
    def is_main(self) -> bool:
        """Rank 0 logs and writes checkpoints."""
        return self.rank == 0

    def all_gather(self, x: torch.Tensor) -> torch.Tensor:
        """``[k]`` on every rank → ``[K·k]``, rank 0's block first."""
        if self.size == 1:
            return x
        parts = [torch.empty_like(x) for _ in range(self.size)]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    def all_reduce(self, x: torch.Tensor) -> torch.Tensor:
        """Element-wise sum over ranks (a new tensor)."""
        if self.size == 1:
            return x
        out = x.clone()
        dist.all_reduce(out)
        return out

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Copy rank 0's parameters into every rank's ``module``."""
        if self.size > 1:
            for p in module.parameters():
                dist.broadcast(p.data, src=0)

    def agree(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every rank (wall-clock budgets must end the run on all ranks at once)."""
        if self.size == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0])
        if dist.get_backend() == "nccl":
            t = t.cuda()
        dist.broadcast(t, src=0)
        return bool(t.item())
