"""rl_games vecenv adapter over any batched task (the contract of ``tasks/base.py``).

``epo_isaac`` does not import ``tasks``: ``train.py`` hands a factory to :func:`register_task`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from rl_games.common import env_configurations, vecenv
from rl_games.common.ivecenv import IVecEnv


class NonFiniteError(FloatingPointError):
    """A task returned NaN/inf; the message names the envs and the quantity."""


def check_finite(name: str, value: torch.Tensor) -> None:
    """Raise :class:`NonFiniteError` naming the first bad env indices of ``value [N, ...]``."""
    bad = ~torch.isfinite(value)
    if bad.any():
        rows = bad.reshape(bad.shape[0], -1).any(dim=1).nonzero().flatten()
        raise NonFiniteError(
            f"non-finite {name} in env(s) {rows[:10].tolist()} ({int(rows.numel())} in total); "
            "the task produced NaN/inf — check its physics state or reward terms"
        )


class BatchedTaskVecEnv(IVecEnv):
    """Presents a batched task to rl_games: tensors in, tensors out, ``infos`` with extras.

    ``infos`` carries the task extras (``time_outs``, ``successes``, ``true_objective``,
    ``rewards``, ``scalars``) unchanged. Observations and rewards are checked for NaN/inf.
    """

    def __init__(self, task: Any, check_nan: bool = True) -> None:
        self.task = task
        self.check_nan = check_nan
        high = np.full(task.num_obs, np.inf, dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        ones = np.ones(task.num_actions, dtype=np.float32)
        self.action_space = spaces.Box(-ones, ones, dtype=np.float32)

    def step(self, actions: torch.Tensor):
        obs, reward, done, extras = self.task.step(actions)
        if self.check_nan:
            check_finite("observations", obs)
            check_finite("rewards", reward)
        return obs, reward, done.to(torch.uint8), extras

    def reset(self) -> torch.Tensor:
        obs = self.task.reset()
        if self.check_nan:
            check_finite("observations", obs)
        return obs

    def get_number_of_agents(self) -> int:
        return 1

    def get_env_info(self) -> dict[str, Any]:
        return {
            "action_space": self.action_space,
            "observation_space": self.observation_space,
            "agents": 1,
            "value_size": 1,
        }

    def set_train_info(self, env_frames: int, *args: Any, **kwargs: Any) -> None:
        pass

    def get_env_state(self) -> dict[str, Any]:
        return self.task.get_state()

    def set_env_state(self, env_state: dict[str, Any] | None) -> None:
        if env_state:
            self.task.set_state(env_state)


def register_task(env_name: str, create_task: Callable[[], Any]) -> Callable[[], None]:
    """Make ``env_name`` usable as rl_games ``config.env_name`` (trainer and player).

    The task is built on first use and shared, so trainer and player never build two simulators.
    Returns ``close()``, which closes the task if it was built (call it when the run ends, so a
    ``--multirun`` sweep does not keep every job's simulator alive).
    """
    cache: dict[str, BatchedTaskVecEnv] = {}

    def shared_env() -> BatchedTaskVecEnv:
        if "env" not in cache:
            cache["env"] = BatchedTaskVecEnv(create_task())
        return cache["env"]

    def create_vecenv(config_name: str, num_actors: int, **kwargs: Any) -> BatchedTaskVecEnv:
        env = shared_env()
        if env.task.num_envs != num_actors:
            raise ValueError(f"task has {env.task.num_envs} envs but rl_games asked for {num_actors}")
        return env

    def close() -> None:
        env = cache.pop("env", None)
        if env is not None:
            env.task.close()

    vecenv.register(env_name, create_vecenv)
    env_configurations.register(
        env_name, {"vecenv_type": env_name, "env_creator": lambda **kwargs: shared_env()}
    )
    return close
