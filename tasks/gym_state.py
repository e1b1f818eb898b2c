"""Snapshots of single Gymnasium envs in mid-episode, so a resumed run continues the episodes it saved.

Supported:
- MuJoCo envs (``gymnasium.envs.mujoco.MujocoEnv``): the simulator's integration state
  (:mod:`tasks.sim.mujoco_state`: time, qpos, qvel, act, warm start, controls), the env's ``np_random`` and the
  time-limit counter. Gymnasium pickles these envs by their constructor arguments (``EzPickle``), so pickling
  alone would restart them.
- envs that pickle with their state (no ``EzPickle``, e.g. ``Pendulum-v1``): the whole wrapped env.

Anything else (e.g. Box2D worlds, which cannot be pickled) has no snapshot; a resumed run resets it.
"""

from __future__ import annotations

import pickle
from typing import Any

import gymnasium as gym
from gymnasium.utils import EzPickle


def _time_limit(env: gym.Env) -> gym.wrappers.TimeLimit | None:
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            return env
        env = env.env
    return None


def _mujoco_env(env: gym.Env) -> Any:
    from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

    return env.unwrapped if isinstance(env.unwrapped, MujocoEnv) else None


def snapshot(env: gym.Env) -> dict[str, Any] | None:
    """The state of ``env`` (a wrapped single env) in mid-episode, or None when it cannot be captured."""
    sim = _mujoco_env(env)
    if sim is not None:
        from tasks.sim.mujoco_state import get_state

        physics = get_state(sim.model, sim.data)
        limit = _time_limit(env)
        return {"kind": "mujoco", "physics": physics, "rng": sim.np_random.bit_generator.state,
                "elapsed_steps": limit._elapsed_steps if limit is not None else None}
    if isinstance(env.unwrapped, EzPickle):
        return None
    try:
        return {"kind": "pickle", "env": pickle.dumps(env)}
    except (pickle.PicklingError, TypeError, AttributeError):
        return None


def restore(env: gym.Env, state: dict[str, Any]) -> gym.Env:
    """Put :func:`snapshot`'s ``state`` back; returns the env to use from now on (a new object for pickled
    envs, ``env`` itself for MuJoCo envs), ready to step whether or not ``env`` was ever reset.

    Raises:
        ValueError: ``state`` does not fit ``env`` (another env id or model).
    """
    if state["kind"] == "pickle":
        return pickle.loads(state["env"])
    sim = _mujoco_env(env)
    if sim is None:
        raise ValueError("a MuJoCo env snapshot cannot be restored into a non-MuJoCo env")
    from tasks.sim.mujoco_state import set_state

    # Reset first: the wrappers of an env never reset in this process (a resumed run's fresh envs) refuse to
    # step (OrderEnforcing: ResetNeeded); what the reset drew (start state, RNG, time limit) is overwritten below.
    env.reset()
    set_state(sim.model, sim.data, state["physics"])
    sim.np_random.bit_generator.state = state["rng"]
    limit = _time_limit(env)
    if limit is not None and state["elapsed_steps"] is not None:
        limit._elapsed_steps = state["elapsed_steps"]
    return env
