"""Shared fixtures: Hydra composition of the real configs, isolated run folders, offline wandb."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.common import compose_cfg  # noqa: F401 (the tests' import point; composes exactly as train.py does)
from bench.launch import ROOT  # noqa: F401


@pytest.fixture(autouse=True)
def _offline_wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    os.environ.setdefault("MUJOCO_GL", "egl")
