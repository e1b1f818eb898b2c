"""Learning check (slow, outside the default run): EPO solves Pendulum-v1 with the default config.

Measured: master return ≈ -180 after 150 epochs (460k env steps, ~1 min on 2 cores); random ≈ -1200.
Run with ``python -m pytest -m slow``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import compose_cfg

import train


@pytest.mark.slow
def test_epo_reaches_return_threshold_on_pendulum(tmp_path: Path) -> None:
    out = train.run(compose_cfg(["task=Pendulum", "train=EPO", "seed=0", f"+run_dir={tmp_path}"]))
    returns = [h["master/return"] for h in out["history"][-10:] if math.isfinite(h.get("master/return", math.nan))]
    assert returns, "the master finished no episode in the last 10 epochs"
    assert sum(returns) / len(returns) > -400.0, f"master return {returns} did not pass -400"
