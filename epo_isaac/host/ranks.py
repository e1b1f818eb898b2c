"""The ranks of a ``torchrun`` launch (``multi_gpu=true``) and the collectives our agents use.

Backend: ``nccl`` when the run's device is CUDA, ``gloo`` on the CPU. A single process is one rank and every
collective is the identity. ES (Salimans et al. 2017, §2.1) exchanges only the members' returns (the noise comes
from the shared seed); EPO/SAPG/PPO run rl_games' multi-GPU path (gradients all-reduced every minibatch, rank 0's
model broadcast at the start, the stop decision broadcast) on a process group we create, plus what rl_games
leaves out: the normalisers' statistics pooled every epoch and, for EPO, the fitness of every rank's episodes
(:mod:`epo_isaac.host.multirank`).
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
                        "train.py ... multi_gpu=true (docs/distributed.md)")
    return int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), int(os.environ["WORLD_SIZE"])


def init_ranks(device: str) -> None:
    """Join the process group (once): ``nccl`` for a CUDA device, else ``gloo``."""
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")


@dataclass
class Ranks:
    """This process's place among the ranks, and the collectives (tensors stay on their device)."""

    rank: int = 0
    size: int = 1

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Ranks:
        """One rank unless ``config["ranks"]`` > 1 (``train.py`` sets it under ``torchrun``); then the process
        group's rank and size (the group is created here if needed)."""
        if int(config.get("ranks", 1)) <= 1:
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

    def all_gather_object(self, obj: Any) -> list[Any]:
        """Every rank's picklable ``obj``, in rank order."""
        if self.size == 1:
            return [obj]
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def all_reduce(self, x: torch.Tensor) -> torch.Tensor:
        """Element-wise sum over ranks (a new tensor)."""
        if self.size == 1:
            return x
        out = x.clone()
        dist.all_reduce(out)
        return out

    def mean(self, x: torch.Tensor) -> torch.Tensor:
        """Element-wise mean over ranks (``x`` itself on one rank)."""
        if self.size == 1:
            return x
        return self.all_reduce(x) / self.size

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


def pool_running_moments(prior_mean: torch.Tensor, prior_var: torch.Tensor, prior_count: torch.Tensor,
                         means: torch.Tensor, variances: torch.Tensor,
                         counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pool K ranks' running mean/variance/count that all started from the same pooled state (the prior) and
    then each added their own rows: the result holds the prior once and every rank's rows once.

    Args:
        prior_mean, prior_var: ``[...]`` the shared state's mean and (biased) variance; ``prior_count`` ``[]``.
        means, variances: ``[K, ...]`` every rank's running mean and variance now; ``counts`` ``[K]``.

    Returns:
        (mean ``[...]``, variance ``[...]``, count ``[]``): the moments of the prior's rows and every rank's new
        rows; count = prior count + Σ_k (count_k − prior count).

    Sums of squared deviations about the prior's mean m₀ add up over disjoint sets; rank k's set is the prior's
    plus its own rows, so with d_k = μ_k − m₀ the union has Σ(x − m₀) = Σ_k c_k·d_k and
    Σ(x − m₀)² = Σ_k c_k·(σ²_k + d_k²) − (K − 1)·c₀·σ²₀. With an empty prior (c₀ = 0) this is the parallel
    combination of Chan, Golub and LeVeque (1979, "Updating formulae and a pairwise algorithm for computing
    sample variances") that rl_games' ``RunningMeanStd`` applies to one batch at a time.
    """
    size = means.shape[0]
    shape = (size,) + (1,) * (means.dim() - 1)
    c = counts.to(means.dtype).reshape(shape)
    d = means - prior_mean
    total = counts.sum() - (size - 1) * prior_count
    shift = (c * d).sum(0) / total
    squares = (c * (variances + d.square())).sum(0) - (size - 1) * prior_count * prior_var
    return prior_mean + shift, (squares / total - shift.square()).clamp_min(0.0), total


def launch_ranks(multi_gpu: bool) -> tuple[int, int, int]:
    """(rank, local rank, world size): (0, 0, 1) without ``multi_gpu``; from ``torchrun`` with it.

    Raises:
        UserError: ``multi_gpu=true`` without ``torchrun``.
    """
    if not multi_gpu:
        return 0, 0, 1
    return launched_ranks()


def resolve_device(device: str, local_rank: int | None = None) -> str:
    """``auto`` → ``cuda:0`` when a GPU is visible, else ``cpu``; on a ``torchrun`` launch (``local_rank`` given)
    a CUDA device is ``cuda:<local_rank>``, one GPU per rank.

    Raises:
        UserError: a CUDA device on a machine without one, or more ranks than GPUs (``device`` itself was
            validated by :class:`~epo_isaac.cli.run_config.RunConfig`).
    """
    if device == "auto":
        device = "cuda:0" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device={device} but no CUDA GPU is visible; use device=cpu (or auto), or drop "
                        "+preset=paper (it is sized for one GPU)")
    if device.startswith("cuda") and local_rank is not None:
        if local_rank >= torch.cuda.device_count():
            raise UserError(f"rank {local_rank} has no GPU: {torch.cuda.device_count()} visible; start at most that "
                            "many processes per node (--nproc_per_node), or use device=cpu")
        device = f"cuda:{local_rank}"
    return device
