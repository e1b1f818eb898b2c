"""Gymnasium vector environments behind the batched-task contract (:mod:`tasks.base`).

Uses ``gymnasium.make_vec`` with the ``SAME_STEP`` autoreset mode, so an env that ends at step t
returns the first observation of its next episode at step t, as Isaac Gym tasks do.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from tasks.base import BatchedTask


class GymnasiumTask(BatchedTask):
    """``num_envs`` copies of a Gymnasium environment with a continuous (Box) action space.

    Actions in [-1, 1] are rescaled linearly to the env's action bounds. Extras hold ``time_outs``
    (truncated and not terminated); Gymnasium tasks define no ``successes`` or ``true_objective``.

    Raises:
        ValueError: the env's action space is not a bounded ``Box``.
    """

    def __init__(
        self,
        env_id: str,
        num_envs: int,
        seed: int = 0,
        device: str = "cpu",
        max_episode_steps: int | None = None,
        vectorization_mode: str = "sync",
        render_mode: str | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {}
        if max_episode_steps is not None:
            kwargs["max_episode_steps"] = max_episode_steps
        if render_mode is not None:
            kwargs["render_mode"] = render_mode
        self.envs = gym.make_vec(
            env_id,
            num_envs=num_envs,
            vectorization_mode=vectorization_mode,
            vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
            **kwargs,
        )
        space = self.envs.single_action_space
        if not isinstance(space, gym.spaces.Box) or not np.all(np.isfinite(space.low)):
            raise ValueError(f"{env_id}: need a bounded Box action space, got {space}")
        self.env_id = env_id
        self.num_envs = num_envs
        self.num_obs = int(np.prod(self.envs.single_observation_space.shape))
        self.num_actions = int(np.prod(space.shape))
        self.device = torch.device(device)
        spec = self.envs.spec
        self.max_episode_length = int(max_episode_steps or (spec.max_episode_steps if spec else 0) or 0)
        self._low = space.low.astype(np.float32)
        self._span = (space.high - space.low).astype(np.float32)
        self._seed = seed
        self.render_mode = render_mode
        render_fps = (self.envs.metadata or {}).get("render_fps")
        self.control_dt = 1.0 / float(render_fps) if render_fps else 1.0 / 30.0

    def _obs(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(obs, dtype=torch.float32, device=self.device).reshape(self.num_envs, -1)

    def reset(self) -> torch.Tensor:
        obs, _ = self.envs.reset(seed=self._seed)
        return self._obs(obs)

    def step(
        self, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        a = actions.detach().cpu().numpy().astype(np.float32)
        a = self._low + (np.clip(a, -1.0, 1.0) + 1.0) * 0.5 * self._span
        obs, reward, terminated, truncated, _ = self.envs.step(a)
        done = np.logical_or(terminated, truncated)
        extras = {
            "time_outs": torch.as_tensor(truncated & ~terminated, device=self.device),
        }
        return (
            self._obs(obs),
            torch.as_tensor(reward, dtype=torch.float32, device=self.device),
            torch.as_tensor(done, device=self.device),
            extras,
        )

    def render(self, env: int = 0, width: int = 640, height: int = 480) -> np.ndarray:
        """Env ``env``'s frame at Gymnasium's own resolution (``width``/``height`` are ignored).

        Raises:
            NotImplementedError: the task was built without ``render_mode="rgb_array"``.
        """
        if self.render_mode != "rgb_array":
            raise NotImplementedError(f"{self.env_id} was built without render_mode='rgb_array'; "
                                      "use tasks.make_viewer")
        return np.asarray(self.envs.render()[env])

    def close(self) -> None:
        self.envs.close()


def _factory(env_id: str):
    def make(
        *,
        num_envs: int,
        seed: int = 0,
        device: str = "cpu",
        sim: dict[str, Any] | None = None,
        max_episode_steps: int | None = None,
        vectorization_mode: str = "sync",
        render_mode: str | None = None,
    ) -> GymnasiumTask:
        del sim  # Gymnasium envs bring their own simulator
        return GymnasiumTask(env_id, num_envs, seed, device, max_episode_steps, vectorization_mode, render_mode)

    make.__doc__ = f"Batched ``{env_id}`` (Gymnasium, SAME_STEP autoreset)."
    return make


make_pendulum = _factory("Pendulum-v1")
make_lunar_lander = _factory("LunarLanderContinuous-v3")
make_half_cheetah = _factory("HalfCheetah-v5")
make_hopper = _factory("Hopper-v5")
