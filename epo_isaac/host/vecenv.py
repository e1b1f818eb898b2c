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
    """A task returned NaN/inf. The message names the quantity, the envs and the epoch; the same as data:
    ``quantity`` (``observations`` | ``rewards``), ``envs`` (the first 10 bad env indices), ``count`` (bad envs in
    total) and ``epoch`` (1-based; None before the first epoch)."""

    def __init__(self, quantity: str, envs: list[int], count: int, epoch: int | None = None) -> None:
        self.quantity, self.envs, self.count, self.epoch = quantity, envs, count, epoch
        when = f"in epoch {epoch}" if epoch is not None else "before the first epoch"
        super().__init__(f"non-finite {quantity} in env(s) {envs} ({count} in total) {when}; "
                         "the task produced NaN/inf — check its physics state or reward terms")

    def __reduce__(self) -> tuple[type, tuple[str, list[int], int, int | None]]:  # pickle by the fields
        return type(self), (self.quantity, self.envs, self.count, self.epoch)


def check_finite(name: str, value: torch.Tensor, epoch: int | None = None) -> None:
    """Raise :class:`NonFiniteError` naming the first bad env indices of ``value [N, ...]`` and ``epoch``."""
    bad = ~torch.isfinite(value)
    if bad.any():
        rows = bad.reshape(bad.shape[0], -1).any(dim=1).nonzero().flatten()
        raise NonFiniteError(name, rows[:10].tolist(), int(rows.numel()), epoch)


class BatchedTaskVecEnv(IVecEnv):
    """Presents a batched task to rl_games: tensors in, tensors out, ``infos`` with extras.

    ``infos`` carries the task extras (``time_outs``, ``successes``, ``true_objective``,
    ``rewards``, ``scalars``) unchanged. Observations and rewards are checked for NaN/inf (a
    :class:`NonFiniteError` names the epoch that rl_games' :meth:`set_train_info` announced last).
    """

    def __init__(self, task: Any, check_nan: bool = True) -> None:
        self.task = task
        self.check_nan = check_nan
        self.epoch: int | None = None  # the epoch being collected (set_train_info); None before the first
        high = np.full(task.num_obs, np.inf, dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        ones = np.ones(task.num_actions, dtype=np.float32)
        self.action_space = spaces.Box(-ones, ones, dtype=np.float32)

    def step(self, actions: torch.Tensor):
        obs, reward, done, extras = self.task.step(actions)
        if self.check_nan:
            check_finite("observations", obs, self.epoch)
            check_finite("rewards", reward, self.epoch)
        return obs, reward, done.to(torch.uint8), extras

    def reset(self) -> torch.Tensor:
        obs = self.task.reset()
        if self.check_nan:
            check_finite("observations", obs, self.epoch)
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
        """rl_games calls this at the start of every epoch with the agent (``args[0]``), whose ``epoch_num``
        is then the epoch being collected."""
        epoch = getattr(args[0], "epoch_num", None) if args else None
        self.epoch = int(epoch) if epoch is not None else None

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
