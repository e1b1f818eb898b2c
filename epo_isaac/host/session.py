"""What every run sets up around the agent: the global seeds and the wandb run."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy and torch (CPU and every CUDA device) with ``seed``, 0 included.

    rl_games' Runner seeds only when the seed is truthy, so ``seed=0`` runs were never reproducible; this is
    called right before the agent (network, task, generators) is built."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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
