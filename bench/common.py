"""Helpers shared by the benchmark scripts: compose the real Hydra config, run ``train.run``, read its logged series
and average them over seeds (mean ± standard error)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

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


def mean_se(values: list[float]) -> tuple[float, float, int]:
    """Mean, standard error (std / sqrt(n)) and n of the finite ``values``."""
    finite = np.asarray([v for v in values if math.isfinite(v)], float)
    if not finite.size:
        return float("nan"), float("nan"), 0
    return float(finite.mean()), float(finite.std() / math.sqrt(finite.size)), int(finite.size)


def band(runs: list[dict[str, Any]], grid: np.ndarray, fkey: str, vkey: str,
         normalise: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Mean and s.e. over ``runs`` of a logged series interpolated on ``grid`` (NaN before its first point)."""
    rows = []
    for r in runs:
        frames, values = np.asarray(r[fkey], float), np.asarray(r[vkey], float)
        if normalise and values.size:
            values = values / values[0] if values[0] > 0 else np.full_like(values, np.nan)
        rows.append(np.interp(grid, frames, values, left=np.nan) if values.size else np.full_like(grid, np.nan))
    stack = np.vstack(rows)
    count = np.maximum(np.sum(np.isfinite(stack), 0), 1)
    with warnings.catch_warnings():  # 'mean of empty slice' at grid points that no run reached yet
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(stack, 0), np.nanstd(stack, 0) / np.sqrt(count)
