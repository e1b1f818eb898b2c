"""Shared fixtures: Hydra composition of the real configs, isolated run folders, offline wandb."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from epo_isaac.cli.run_config import register_defaults

ROOT = Path(__file__).resolve().parents[1]
CFG_DIR = str(ROOT / "cfg")


def compose_cfg(overrides: list[str]) -> DictConfig:
    """``cfg/config.yaml`` composed exactly as ``train.py`` would, with ``overrides``."""
    from train import register_task_schemas

    register_defaults()
    register_task_schemas()
    with initialize_config_dir(config_dir=CFG_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


@pytest.fixture(autouse=True)
def _offline_wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    os.environ.setdefault("MUJOCO_GL", "egl")
