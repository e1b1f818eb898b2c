"""``IsaacGymEnvsTask``: an original IsaacGymEnvs task (a ``VecTask``) behind our :class:`~tasks.base.BatchedTask`.

``sim=isaacgym`` builds the IsaacGymEnvs AllegroKuka / AllegroKukaTwoArms task itself (their PhysX scene, reward
and resets), not our kernels on another physics engine. This module imports neither ``isaacgym`` nor
``isaacgymenvs`` at import time (:mod:`tasks.isaacgymenvs.guard` is the import guard); :func:`load_task_yaml` and
:func:`make_vec_task` do, when a task is built. Facts used about IsaacGymEnvs 1.5.1 ([VT] ``vec_task.py``, [B]
``allegro_kuka_base.py``, [T2] ``allegro_kuka_two_arms.py``): ``step(actions)`` returns ``(obs_dict, rew_buf,
reset_buf, extras)`` with ``extras["time_outs"]`` = ``progress_buf >= max_episode_length - 1`` among the resets;
the AllegroKuka tasks put the per-env ``true_objective`` in the extras and keep per-env ``successes`` and
``lifted_object`` attributes; a done env is reset by ``reset_idx`` (upstream: at the start of the next step).

Not run on a real Isaac Gym here (Isaac Gym is an NVIDIA download for Python <= 3.8): tested against a double.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from tasks.allegro_kuka import upstream
from tasks.allegro_kuka.config import AllegroKukaConfig
from tasks.base import BatchedTask

# upstream per-step reward terms (extras["episode_cumulative"]) -> our names (tasks/allegro_kuka/rewards.py)
REWARD_NAMES = {"fingertip_delta_rew": "distance_delta", "lifting_rew": "lifting", "lift_bonus_rew": "lifting_bonus",
                "keypoint_rew": "keypoint", "bonus_rew": "reach_goal_bonus", "hand_delta_penalty": None}


def load_task_yaml(task: str, subtask: str) -> dict[str, Any]:
    """The installed IsaacGymEnvs config of ``task`` (:data:`upstream.TASK_FILES` merged, then
    ``env/<subtask>.yaml`` into ``env``), interpolations unresolved."""
    root = Path(importlib.util.find_spec("isaacgymenvs").origin).parent / "cfg" / "task"
    out: dict[str, Any] = {}
    for file in upstream.TASK_FILES[task]:
        upstream.merge(out, yaml.safe_load((root / file).read_text()) or {})
    upstream.merge(out["env"], yaml.safe_load((root / "env" / f"{subtask}.yaml").read_text()) or {})
    return out


def make_vec_task(config: dict[str, Any], *, sim_device: str, rl_device: str) -> Any:
    """Build IsaacGymEnvs' task ``config["name"]`` headless (as its ``get_rlgames_env_creator`` does)."""
    from isaacgymenvs.tasks import isaacgym_task_map

    return isaacgym_task_map[config["name"]](cfg=config, rl_device=rl_device, sim_device=sim_device,
                                             graphics_device_id=-1, headless=True, virtual_screen_capture=False,
                                             force_render=False)


def make_allegro_kuka(name: str, cfg: AllegroKukaConfig, *, num_envs: int, seed: int, device: str,
                      sim: dict[str, Any]) -> IsaacGymEnvsTask:
    """Our task ``name`` as the original IsaacGymEnvs task, ``num_envs`` envs on ``device``.

    ``seed`` seeds Python's, NumPy's and torch's global generators (the upstream tasks draw from them). ``sim``:
    overrides of the upstream ``sim`` section (the extra keys of :class:`tasks.sim.config.IsaacGymConfig`).

    Raises:
        TaskConfigError: no IsaacGymEnvs counterpart (Partition, Barrier, Hole), or a config key the installed
            IsaacGymEnvs lacks.
    """
    task, subtask = upstream.counterpart(name)
    dev = torch.device(device)
    config = upstream.task_config(name, cfg, load_task_yaml(task, subtask), num_envs=num_envs, device=dev.type,
                                  sim=sim)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    vec = make_vec_task(config, sim_device=f"{dev.type}:{dev.index or 0}", rl_device=str(dev))
    return IsaacGymEnvsTask(vec, device=dev)


class IsaacGymEnvsTask(BatchedTask):
    """An IsaacGymEnvs ``VecTask`` as a :class:`BatchedTask`.

    Args:
        vec: the upstream task (``obs_buf``, ``rew_buf``, ``reset_buf``, ``progress_buf``, ``extras``, ``step``,
            ``reset``, ``reset_idx``, ``num_envs``, ``num_obs``, ``num_actions``, ``max_episode_length``).
        device: torch device of the returned tensors (the upstream ``rl_device``).

    Differences from the MuJoCo tasks: for a done env, ``step`` calls ``reset_idx`` (robot, object, goal,
    counters) but the observation it returns is still the last one of the ended episode, because Isaac Gym
    computes observations only after a physics step (as IsaacGymEnvs gives rl_games); ``reset()`` returns the
    upstream observation buffer as it is (zeros before the first step). No offscreen renderer.
    """

    def __init__(self, vec: Any, *, device: torch.device | str = "cpu") -> None:
        self.vec = vec
        self.device = torch.device(device)
        self.num_envs = int(vec.num_envs)
        self.num_obs = int(vec.num_obs)
        self.num_actions = int(vec.num_actions)
        self.max_episode_length = int(vec.max_episode_length)
        self.control_dt = float(getattr(vec, "dt", 1.0 / 60.0)) * int(getattr(vec, "control_freq_inv", 1))

    def reset(self) -> torch.Tensor:
        """Reset every env with ``reset_idx``. Returns obs ``[N, O]`` float32 (the upstream buffer)."""
        self.vec.reset_idx(torch.arange(self.num_envs, device=self.vec.reset_buf.device))
        return self._obs(self.vec.reset()["obs"])

    def reset_envs(self, env_ids: torch.Tensor) -> torch.Tensor:
        """``reset_idx`` of ``env_ids`` (``[n]`` indices or an ``[N]`` bool mask). Returns obs ``[N, O]``."""
        ids = env_ids.nonzero().squeeze(-1) if env_ids.dtype == torch.bool else env_ids.long().reshape(-1)
        if ids.numel():
            self.vec.reset_idx(ids.to(self.vec.reset_buf.device))
        return self._obs(self.vec.obs_buf)

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """One upstream step of ``actions [N, A]`` (clamped to [-1, 1]).

        Returns:
            obs ``[N, O]`` float32, reward ``[N]`` float32, done ``[N]`` bool (the upstream ``reset_buf``), extras:
            ``time_outs [N]`` bool (upstream ``extras["time_outs"]``, else ``progress_buf >= max_episode_length
            - 1``; always within done), ``successes [N]`` float (upstream ``successes``: this episode's count),
            ``true_objective [N]`` (upstream extras; key absent when the task has none), ``lifted [N]`` bool
            (when upstream has ``lifted_object``), ``rewards`` (named per-step terms, when upstream gives
            ``episode_cumulative``), ``scalars`` (``success_tolerance`` when upstream has one). For done envs the
            values are those of the episode that just ended.
        Raises:
            ValueError: actions of the wrong shape.
        """
        if actions.shape != (self.num_envs, self.num_actions):
            raise ValueError(f"actions must be [{self.num_envs}, {self.num_actions}], got {list(actions.shape)}")
        obs_dict, reward, reset, extras = self.vec.step(actions.clamp(-1.0, 1.0).to(self.vec.reset_buf.device))
        done = self._out(reset).bool()
        if "time_outs" in extras:
            time_outs = self._out(extras["time_outs"]).bool()
        else:
            time_outs = self._out(self.vec.progress_buf >= self.max_episode_length - 1)
        out: dict[str, Any] = {"time_outs": time_outs & done, "successes": self._out(self.vec.successes).float(),
                               "scalars": {}}
        if "true_objective" in extras:
            out["true_objective"] = self._out(extras["true_objective"]).float()
        if hasattr(self.vec, "lifted_object"):
            out["lifted"] = self._out(self.vec.lifted_object).bool()
        if "episode_cumulative" in extras:
            out["rewards"] = {REWARD_NAMES.get(k, k): self._out(v).float()
                              for k, v in extras["episode_cumulative"].items() if REWARD_NAMES.get(k, k)}
        if hasattr(self.vec, "success_tolerance"):
            out["scalars"]["success_tolerance"] = float(self.vec.success_tolerance)
        obs, reward = self._obs(obs_dict["obs"]), self._out(reward).float()
        if bool(done.any()):  # after reading the extras: reset_idx zeroes successes / lifted in place
            self.vec.reset_idx(done.nonzero().squeeze(-1).to(self.vec.reset_buf.device))
        return obs, reward, done, out

    def get_state(self) -> dict[str, Any]:
        """The upstream ``get_env_state()`` (AllegroKuka: the curriculum's ``success_tolerance``)."""
        return dict(self.vec.get_env_state() or {})

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore ``get_state``'s dict with the upstream ``set_env_state``."""
        self.vec.set_env_state(dict(state))

    def render(self, env: int = 0, width: int = 640, height: int = 480) -> np.ndarray:
        """Raises NotImplementedError: record videos with sim=mujoco (tasks.make_viewer)."""
        raise NotImplementedError("sim=isaacgym has no offscreen renderer here; videos need sim=mujoco")

    def close(self) -> None:
        """Destroy the upstream viewer and sim when it has them."""
        gym, sim = getattr(self.vec, "gym", None), getattr(self.vec, "sim", None)
        if gym is not None and sim is not None:
            gym.destroy_sim(sim)

    def _out(self, value: torch.Tensor) -> torch.Tensor:
        """A copy of ``value`` on :attr:`device` (upstream buffers change in place)."""
        return value.detach().to(self.device).clone()

    def _obs(self, value: torch.Tensor) -> torch.Tensor:
        return self._out(value).float()
