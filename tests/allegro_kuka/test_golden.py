"""The refactor changes no reward: every Allegro-Kuka task reproduces ``data/golden_rewards.npz``.

The golden file holds, per task, 40 control steps of 4 envs under seeded random actions with the default
settings and with short episodes plus a loose success tolerance (resets, successes and new goals happen), and
the task's resolved settings; see ``tests/allegro_kuka/golden.py``. Regenerate it with
``python -m tests.allegro_kuka.golden`` (and commit it) whenever physics or reward behaviour changes on
purpose, e.g. contact or joint settings of the scene; a refactor must pass without regenerating it.

Tolerance: dones, successes and the settings must match exactly; rewards and observations to
``atol=1e-4, rtol=1e-5``. MuJoCo on one thread is bit-deterministic, but a refactor may legitimately reorder
float32 torch operations (e.g. summing the reward terms in another order), which moves results by a few ulp
of values up to ~1e3 (the goal bonus); 1e-4 absolute is far below any reward term a behaviour change would
move (the smallest, an action penalty, is ~1e-3 per step).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.allegro_kuka import golden

pytest.importorskip("mujoco")


@pytest.fixture(scope="module")
def saved() -> dict[str, np.ndarray]:
    with np.load(golden.PATH) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(autouse=True)
def _log_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MuJoCo appends its warnings to MUJOCO_LOG.TXT in the working directory: keep it out of the repo."""
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("name", golden.NAMES)
def test_every_task_resets_within_its_golden_rollouts(name: str, saved: dict[str, np.ndarray]) -> None:
    """The golden data cover episode resets on every task (the reset path is part of what they guard)."""
    assert saved[f"{name}/timeouts/dones"].sum(0).min() >= 2, "an env without two time-outs in 40 steps"


@pytest.mark.parametrize("name", golden.NAMES)
def test_same_rewards_as_golden(name: str, saved: dict[str, np.ndarray]) -> None:
    for label, settings in golden.rollouts(name).items():
        result, config = golden.rollout(name, drop=label == "drop", **settings)
        if label == "default":
            assert json.loads(config) == json.loads(str(saved[f"{name}/config"])), f"{name}: settings changed"
        key = f"{name}/{label}"
        np.testing.assert_array_equal(result["dones"], saved[f"{key}/dones"], err_msg=f"{key} dones")
        np.testing.assert_array_equal(result["successes"], saved[f"{key}/successes"], err_msg=f"{key} successes")
        np.testing.assert_allclose(result["rewards"], saved[f"{key}/rewards"], atol=1e-4, rtol=1e-5,
                                   err_msg=f"{key} rewards")
        np.testing.assert_allclose(result["obs"], saved[f"{key}/obs"], atol=1e-4, rtol=1e-5, err_msg=f"{key} obs")
