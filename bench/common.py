"""Helpers shared by the benchmark scripts: compose the real Hydra config and run ``train.run``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import train
from bench.launch import ROOT

RESULTS = ROOT / "bench" / "results"


def compose_cfg(overrides: list[str]) -> DictConfig:
    """``cfg/config.yaml`` with ``overrides``, exactly as ``python train.py ...`` composes it."""
    with initialize_config_dir(config_dir=str(ROOT / "cfg"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def run_training(overrides: list[str], run_dir: Path) -> dict:
    """One real training run; returns ``train.run``'s summary (per-epoch history)."""
    cfg = compose_cfg([*overrides, f"+run_dir={run_dir}"])
    return train.run(cfg)


def series(history: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(frames, value) of the epochs of a ``train.run`` history where ``key`` was logged and finite."""
    pts = [(h["frames"], h[key]) for h in history if key in h and math.isfinite(h[key])]
    if not pts:
        return np.zeros(0), np.zeros(0)
    frames, values = zip(*pts, strict=True)
    return np.asarray(frames, float), np.asarray(values, float)
