"""MuJoCo integration state of one ``MjModel``/``MjData`` pair as a flat array (for snapshots of single
Gymnasium MuJoCo envs, :mod:`tasks.gym_state`): time, qpos, qvel, act, warm start, controls."""

from __future__ import annotations

import mujoco
import numpy as np

_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION


def get_state(model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
    """``data``'s integration state -> ``[mj_stateSize]`` float64."""
    state = np.empty(mujoco.mj_stateSize(model, _SPEC), dtype=np.float64)
    mujoco.mj_getState(model, data, state, _SPEC)
    return state


def set_state(model: mujoco.MjModel, data: mujoco.MjData, state: np.ndarray) -> None:
    """Put :func:`get_state`'s ``state`` back into ``data`` and recompute the derived quantities (``mj_forward``).

    Raises:
        ValueError: ``state`` is for another model (its size differs).
    """
    if state.size != mujoco.mj_stateSize(model, _SPEC):
        raise ValueError("the MuJoCo snapshot is for another model")
    mujoco.mj_setState(model, data, state, _SPEC)
    mujoco.mj_forward(model, data)
