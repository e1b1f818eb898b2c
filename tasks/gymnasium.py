"""Gymnasium vector environments behind the batched-task contract (:mod:`tasks.base`).

Uses ``gymnasium.make_vec`` with the ``SAME_STEP`` autoreset mode, so an env that ends at step t
returns the first observation of its next episode at step t, as Isaac Gym tasks do.

Named tasks (``make_hopper``, ...) fix the Gymnasium id; ``make_gym`` (task ``Gym``) takes any id with a bounded
``Box`` action space as the setting ``env_id``. Gymnasium envs run their own physics: no ``sim`` choice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import gymnasium as gym
import numpy as np
import torch
from pydantic import Field

from tasks import gym_state
from tasks.base import BatchedTask, TaskConfigError, fixed_physics

PHYSICS = "Gymnasium runs its own physics"
VectorizationMode = Literal["sync", "async"]
Steps = Annotated[int, Field(ge=1)]  # a time limit in control steps


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _make_vec(env_id: str, num_envs: int, vectorization_mode: str, env_kwargs: dict[str, Any],
              **kwargs: Any) -> gym.vector.VectorEnv:
    """``gym.make_vec`` with SAME_STEP autoreset; ``env_kwargs`` and ``kwargs`` go to the env's constructor.

    Raises:
        TaskConfigError: ``env_id`` is not registered (Gymnasium's message, with its closest-name hint), a
            dependency of the env is missing, or the env rejects ``env_kwargs``.
    """
    try:
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=vectorization_mode,
                            vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
                            **env_kwargs, **kwargs)
    except (gym.error.Error, ImportError) as e:
        raise TaskConfigError(f"cannot make Gymnasium env {env_id}: {_one_line(e)}") from e
    except TypeError as e:  # a keyword the env's constructor does not take
        if not env_kwargs:
            raise
        raise TaskConfigError(f"task.env_kwargs={env_kwargs}: {env_id} rejects them ({_one_line(e)})") from e


def _check_spaces(env_id: str, envs: gym.vector.VectorEnv) -> None:
    """Raise :class:`TaskConfigError` unless the env has a bounded ``Box`` action and a ``Box`` observation."""
    action, obs = envs.single_action_space, envs.single_observation_space
    if not isinstance(action, gym.spaces.Box):
        raise TaskConfigError(f"Gymnasium env {env_id} has a {type(action).__name__} action space; "
                              "epo_isaac trains continuous (Box) actions only")
    if not (np.all(np.isfinite(action.low)) and np.all(np.isfinite(action.high))):
        raise TaskConfigError(f"Gymnasium env {env_id} has an unbounded Box action space "
                              f"(low={action.low}, high={action.high}); actions in [-1, 1] need finite bounds")
    if not isinstance(obs, gym.spaces.Box):
        raise TaskConfigError(f"Gymnasium env {env_id} has a {type(obs).__name__} observation space; "
                              "only flat Box observations are supported")


class GymnasiumTask(BatchedTask):
    """``num_envs`` copies of a Gymnasium environment with a continuous (Box) action space.

    Actions in [-1, 1] are rescaled linearly to the env's action bounds. Extras hold ``time_outs``
    (truncated and not terminated); Gymnasium tasks define no ``successes`` or ``true_objective``.

    Args:
        env_id: Gymnasium id (``Hopper-v5``).
        num_envs: copies stepped together.
        seed: seed of the first reset (env i gets ``seed + i``).
        device: torch device of the returned tensors.
        max_episode_steps: time limit in control steps; None: the id's registered limit.
        vectorization_mode: ``sync`` (one process) or ``async`` (one subprocess per env).
        render_mode: ``rgb_array`` for :meth:`render`, else None.
        env_kwargs: keyword arguments of the env's constructor (e.g. ``{"ctrl_cost_weight": 0.1}``).

    Raises:
        TaskConfigError: an unknown id, a missing dependency (e.g. box2d), keyword arguments the env does not
            take, an action space that is not a bounded ``Box``, or an observation space that is not a ``Box``.
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
        env_kwargs: dict[str, Any] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {}
        if max_episode_steps is not None:
            kwargs["max_episode_steps"] = max_episode_steps
        if render_mode is not None:
            kwargs["render_mode"] = render_mode
        self.envs = _make_vec(env_id, num_envs, vectorization_mode, dict(env_kwargs or {}), **kwargs)
        try:
            _check_spaces(env_id, self.envs)
        except TaskConfigError:
            self.envs.close()
            raise
        space = self.envs.single_action_space
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
        self._seeded = False
        self.render_mode = render_mode
        render_fps = (self.envs.metadata or {}).get("render_fps")
        self.control_dt = 1.0 / float(render_fps) if render_fps else 1.0 / 30.0

    def _obs(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(obs, dtype=torch.float32, device=self.device).reshape(self.num_envs, -1)

    def reset(self) -> torch.Tensor:
        """Reset every env. The first reset seeds env i with ``seed + i``; later ones continue each env's random
        stream (so repeated resets, e.g. one per ES iteration, see new start states)."""
        obs, _ = self.envs.reset(seed=None if self._seeded else self._seed)
        if not self._seeded:  # spaces draw their own generator from OS entropy when Gymnasium's env checker
            for i, env in enumerate(getattr(self.envs, "envs", ())):  # samples them: it goes into snapshots
                env.action_space.seed(self._seed + i)
                env.observation_space.seed(self._seed + i)
        self._seeded = True
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

    @property
    def restores_episodes(self) -> bool:
        """Whether the last :meth:`set_state` put the saved in-progress episodes back (a resumed run then
        continues them instead of resetting every env)."""
        return getattr(self, "_restored", False)

    def get_state(self) -> dict[str, Any]:
        """The in-progress episodes: one :func:`tasks.gym_state.snapshot` per env, or ``episodes: None`` when
        the envs run in subprocesses (``async``) or one of them has no snapshot (e.g. Box2D)."""
        envs = getattr(self.envs, "envs", None)  # SyncVectorEnv's sub-envs
        snaps = [gym_state.snapshot(env) for env in envs] if envs is not None else None
        return {"env_id": self.env_id, "episodes": snaps if snaps and all(s is not None for s in snaps) else None}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`get_state`'s episodes when they fit (same id and env count, ``sync`` envs)."""
        snaps = state.get("episodes")
        envs = getattr(self.envs, "envs", None)
        self._restored = False
        if not snaps or envs is None or len(snaps) != len(envs) or state.get("env_id") != self.env_id:
            return
        self.envs.envs = [gym_state.restore(env, snap) for env, snap in zip(envs, snaps, strict=True)]
        self._restored = True
        self._seeded = True  # the envs' random streams were restored: a later reset continues them

    def close(self) -> None:
        self.envs.close()


def _factory(env_id: str) -> Callable[..., GymnasiumTask]:
    """A task factory for the fixed Gymnasium id ``env_id`` (settings: see :class:`GymnasiumTask`)."""

    @fixed_physics(PHYSICS)
    def make(
        *,
        num_envs: int,
        seed: int = 0,
        device: str = "cpu",
        max_episode_steps: Steps | None = None,
        vectorization_mode: VectorizationMode = "sync",
        render_mode: str | None = None,
    ) -> GymnasiumTask:
        return GymnasiumTask(env_id, num_envs, seed, device, max_episode_steps, vectorization_mode, render_mode)

    make.__doc__ = f"Batched ``{env_id}`` (Gymnasium, SAME_STEP autoreset)."
    make.__name__ = make.__qualname__ = f"make_{env_id.split('-')[0]}"  # names its settings model
    return make


@fixed_physics(PHYSICS)
def make_gym(
    *,
    num_envs: int,
    seed: int = 0,
    device: str = "cpu",
    env_id: str = "",
    max_episode_steps: Steps | None = None,
    vectorization_mode: VectorizationMode = "sync",
    render_mode: str | None = None,
    env_kwargs: dict | None = None,
) -> GymnasiumTask:
    """Task ``Gym``: batched Gymnasium env ``env_id`` (any registered id with a bounded Box action space).

    Raises:
        TaskConfigError: ``env_id`` is empty, plus everything :class:`GymnasiumTask` raises.
    """
    _check_env_id(env_id)
    return GymnasiumTask(env_id, num_envs, seed, device, max_episode_steps, vectorization_mode, render_mode,
                         env_kwargs)


def _check_env_id(env_id: str) -> None:
    if not env_id:
        raise TaskConfigError("task=Gym needs task.env_id=<Gymnasium id with Box actions>, e.g. task.env_id=Hopper-v5")


def _precheck_gym(settings: dict[str, Any]) -> None:
    """Task ``Gym``'s check before building: ``env_id`` is set, registered and has Box actions (builds one env).

    Raises:
        TaskConfigError: as :func:`make_gym`.
    """
    env_id = settings.get("env_id", "")
    _check_env_id(env_id)
    envs = _make_vec(env_id, 1, "sync", dict(settings.get("env_kwargs") or {}))
    try:
        _check_spaces(env_id, envs)
    finally:
        envs.close()


make_gym.precheck = _precheck_gym  # type: ignore[attr-defined]


make_pendulum = _factory("Pendulum-v1")
make_lunar_lander = _factory("LunarLanderContinuous-v3")
make_half_cheetah = _factory("HalfCheetah-v5")
make_hopper = _factory("Hopper-v5")
make_walker2d = _factory("Walker2d-v5")
make_bipedal_walker = _factory("BipedalWalker-v3")
