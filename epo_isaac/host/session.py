"""What every run sets up around the agent: the global seeds and the wandb run."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch


def rank_seed(seed: int, rank: int = 0) -> int:
    """The seed of the generators that rank ``rank`` of a ``torchrun`` launch owns: ``seed`` itself on rank 0 (a
    single process is rank 0, so its runs do not change), on rank r > 0 the first 32-bit word of numpy's
    ``SeedSequence((seed, r))`` (numpy's recommended way to derive independent parallel streams; rl_games'
    ``Runner.load_config`` uses ``seed + rank`` on its own multi-GPU path, which would give rank 1 the stream of
    our GA generator, seeded ``seed + 1``). Always in [0, 2**32 − 1], what ``np.random.seed`` takes.

    Raises:
        ValueError: ``seed`` or ``rank`` negative (numpy's ``SeedSequence`` takes non-negative entropy only).
    """
    if rank == 0:
        return seed
    return int(np.random.SeedSequence((seed, rank)).generate_state(1)[0])


def seed_everything(seed: int, rank: int = 0) -> None:
    """Seed Python's ``random``, numpy and torch (CPU and every CUDA device) with :func:`rank_seed`
    ``(seed, rank)``, 0 included: under ``torchrun`` every rank draws its own action noise, minibatch order and
    off-policy rows (docs/distributed.md, "What the ranks share"); what the ranks must agree on is broadcast or has
    its own generator seeded with ``seed`` alone.

    rl_games' Runner seeds only when the seed is truthy, so ``seed=0`` runs were never reproducible; this is
    called right before the agent (network, task, generators) is built."""
    seed = rank_seed(seed, rank)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def init_wandb(cfg: Any, run_dir: Path, name: str) -> Any:
    """wandb run mirroring TensorBoard, for ``cfg`` (the validated :class:`~epo_isaac.cli.run_config.RunConfig`);
    offline when no API key is configured (``wandb_mode=auto``); everything wandb writes stays in ``run_dir``."""
    import wandb

    mode = cfg.wandb_mode
    if mode == "auto":
        mode = "online" if os.environ.get("WANDB_API_KEY") else "offline"
    # Everything wandb writes stays in the run folder (its defaults are under ~/.cache and ~/.config).
    for var, sub in (("WANDB_DIR", ""), ("WANDB_CACHE_DIR", "wandb/cache"), ("WANDB_CONFIG_DIR", "wandb/config"),
                     ("WANDB_DATA_DIR", "wandb/data"), ("WANDB_ARTIFACT_DIR", "wandb/artifacts")):
        os.environ[var] = str(run_dir / sub)
    return wandb.init(
        project=cfg.wandb_project, entity=cfg.wandb_entity, group=cfg.wandb_group, name=name,
        mode=mode, dir=str(run_dir), sync_tensorboard=True,
        config=cfg.model_dump(),
    )
