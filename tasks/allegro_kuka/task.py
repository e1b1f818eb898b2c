"""``AllegroKukaTask``: the eight Allegro-Kuka tasks as one :class:`tasks.base.BatchedTask`.

Orchestration only — actions -> PD targets -> ``sim.step()`` -> pure kernels -> resets -> observations.
The maths lives in ``kernels.py``, ``rewards.py``, ``observations.py`` and ``sampling.py``; the scene
in ``scene.py``; the physics in ``tasks/sim``. Spec: docs/spec/allegro_kuka.md.

Step order (one control step at 60 Hz):
  1. targets from actions (§2.5); random object force (§4.5); physics; curriculum check (§5.3).
  2. geometry: keypoints, max keypoint distance d, fingertip distances (§4.2, §5.2).
  3. reward terms with the pre-update best distances, then the state updates (lifted, bests, near-goal
     counter, successes, step counter zeroed on success) (§5.2, §7).
  4. terminations (§5.4); new goals for successful envs (object back on the table for regrasping /
     throw); episode resets; observations of the post-reset state (autoreset, §6).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from tasks.allegro_kuka import kernels as K
from tasks.allegro_kuka import sampling as S
from tasks.allegro_kuka.config import AllegroKukaConfig
from tasks.allegro_kuka.objects import cuboid_mass_inertia, object_world_fields
from tasks.allegro_kuka.observations import ObservationBuffer, observation_size
from tasks.allegro_kuka.rewards import lift_height, reward_terms, total_reward, update_lifted
from tasks.allegro_kuka.scene import OBJECT_BASE_SIZE, SceneSpec, assign_objects, build_scene, cuboid_scales
from tasks.base import BatchedTask
from tasks.sim import make_sim
from tasks.sim.config import MujocoConfig

ARM_DOFS, HAND_DOFS = 7, 16
DOFS_PER_ARM = ARM_DOFS + HAND_DOFS
OBJECT_START_Z = 0.63  # nominal object start height z0 (m), §4.4 / §7


class AllegroKukaTask(BatchedTask):
    """One or two Kuka + Allegro arms manipulating cuboids (regrasping / reorientation / throw).

    Args:
        cfg: the variant and its settings (``AllegroKukaConfig``; built from ``config.VARIANTS``).
        num_envs: N. seed: seeds every random draw of the task (goals, resets, forces).
        device: torch device of the returned tensors. sim: the validated simulator settings
            (:func:`tasks.sim.sim_config`; None: ``sim=mujoco``'s defaults), handed whole to
            :func:`tasks.sim.make_sim`.
        object_sizes: ``[N, 3]`` full side lengths (m) of each env's object instead of the cuboid families'
            assignment (scripted benchmarks, e.g. ``bench.grasp``; not a user setting). None: the families (§4.1).

    Observation ``[N, 117 | 99 | 196 | 169]`` float32 (§6), actions ``[N, 23 | 46]`` in [-1, 1] (§2.5).
    """

    def __init__(self, cfg: AllegroKukaConfig, *, num_envs: int, seed: int = 0, device: str = "cpu",
                 sim: MujocoConfig | None = None, object_sizes: np.ndarray | None = None) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.cfg = cfg
        self.num_envs = n = int(num_envs)
        self.device = dev = torch.device(device)
        self.num_arms = a = cfg.num_arms
        self.two_arms = a == 2
        self._frames: Any = None  # tasks.sim.render.MujocoFrames, made on the first render()
        self.num_actions = DOFS_PER_ARM * a
        self.num_obs = observation_size(a, cfg.num_keypoints)
        self.max_episode_length = cfg.episode_length
        self.generator = torch.Generator(device=dev)
        self.generator.manual_seed(int(seed))

        goal = "box" if cfg.subtask == "reorientation" else "sphere"
        self.scene = build_scene(SceneSpec(num_arms=a, goal=goal, bucket=cfg.subtask == "throw",
                                           obstacle=cfg.obstacle))
        families = (cfg.with_small_cuboids, cfg.with_big_cuboids, cfg.with_sticks)
        sizes = (assign_objects(n, cuboid_scales(*families)) if any(families)
                 else np.full((n, 3), OBJECT_BASE_SIZE))  # [N, 3] full side lengths (m) of each env's object
        if object_sizes is not None:
            sizes = np.asarray(object_sizes, dtype=np.float64).reshape(n, 3)
        self.sim = make_sim(sim or MujocoConfig(), self.scene, n, world_fields=object_world_fields(self.scene, sizes),
                            seed=int(seed), device=str(dev))
        self.control_dt = float(self.sim.control_dt)

        # constants
        f32 = dict(dtype=torch.float32, device=dev)
        self.object_scales = torch.tensor(sizes / OBJECT_BASE_SIZE, **f32)  # [N, 3]
        self.dof_lower = torch.tensor(self.scene.dof_lower, **f32)
        self.dof_upper = torch.tensor(self.scene.dof_upper, **f32)
        self.default_dof_pos = torch.tensor(self.scene.default_dof_pos, **f32)
        arm_mask = (torch.arange(self.num_actions, device=dev) % DOFS_PER_ARM) < ARM_DOFS
        self.incremental = arm_mask if not self.two_arms else torch.zeros_like(arm_mask)
        self.reset_pos_interval = torch.where(arm_mask, cfg.reset_dof_pos_random_interval_arm,
                                              cfg.reset_dof_pos_random_interval_fingers).to(**f32)
        signs = K.KEYPOINT_SIGNS_REORIENTATION if cfg.num_keypoints == 4 else K.KEYPOINT_SIGNS_CENTRE
        self.keypoint_offsets = K.keypoint_offsets(torch.tensor(signs, **f32), self.object_scales,
                                                   OBJECT_BASE_SIZE, cfg.keypoint_scale)  # [N, K, 3]
        self.object_body = self.scene.object_body
        # random forces (§4.5): mass of env 0's object (density 400 kg/m³, §4.1) for every env, as in the original
        self.force_magnitude = float(cuboid_mass_inertia(sizes[:1])[0][0]) * cfg.force_scale
        self.force_decay_factor = cfg.force_decay ** (self.control_dt / cfg.force_decay_interval)
        self.goal_mocap = self.scene.mocap_names.index("goal")
        self.bucket_mocap = self.scene.mocap_names.index("bucket") if cfg.subtask == "throw" else None

        # per-env state
        num_fingers = 4 * a
        self.prev_targets = self.default_dof_pos.repeat(n, 1)
        self.goal_pos = torch.zeros(n, 3, **f32)
        self.goal_quat = S.identity_quaternions(n, dev)
        self.goal_keypoints = torch.zeros(n, cfg.num_keypoints, 3, **f32)
        self.bucket_pos = torch.zeros(n, 3, **f32)
        self.lifted = torch.zeros(n, dtype=torch.bool, device=dev)
        self.best_keypoint_dist = -torch.ones(n, **f32)
        self.best_fingertip_dist = -torch.ones(n, num_fingers, **f32)
        self.near_goal_steps = torch.zeros(n, dtype=torch.long, device=dev)
        self.progress = torch.zeros(n, dtype=torch.long, device=dev)
        self.successes = torch.zeros(n, **f32)
        self.prev_episode_successes = torch.zeros(n, **f32)
        self.forces = torch.zeros(n, 3, **f32)
        self.force_prob = torch.zeros(n, **f32)
        self.reward = torch.zeros(n, **f32)
        self._obs = ObservationBuffer(n, a, cfg.num_keypoints, self.dof_lower, self.dof_upper,
                                      cfg.clamp_abs_observations)
        # views of the sim's state tensors (updated in place by the backend): taken once, not every step
        sim, ob = self.sim, self.object_body
        self._object_pos, self._object_rot = sim.body_pos[:, ob], sim.body_rotmat[:, ob]
        self._object_z = self._object_pos[:, 2]
        self._fingertips = sim.site_pos[:, a:5 * a]  # [N, 4A, 3] fingertip points
        self._obs_state = dict(
            dof_pos=sim.dof_pos, dof_vel=sim.dof_vel, palm_centre=sim.site_pos[:, :a],
            palm_quat=sim.body_quat[:, :a], palm_linvel=sim.body_linvel[:, :a],
            palm_angvel=sim.body_angvel[:, :a], object_quat=sim.body_quat[:, ob],
            object_linvel=sim.body_linvel[:, ob], object_angvel=sim.body_angvel[:, ob],
            fingertips=self._fingertips, object_scales=self.object_scales)
        self._needs_reset = True  # no goals yet: step() refuses to run before reset()
        self.unstable_resets = 0  # envs reset because MuJoCo reset their diverged world (sim.unstable)
        self.contact_overflows = 0  # of those, worlds whose contact/constraint buffers overflowed (sim.overflow)
        # curriculum (§5.3), part of get_state
        self.success_tolerance = cfg.success_tolerance
        self.last_curriculum_update = 0
        self.frame = 0

    # ------------------------------------------------------------------------------------------ contract
    def reset(self) -> torch.Tensor:
        """Reset every env. Returns obs ``[N, O]`` float32."""
        ids = torch.arange(self.num_envs, device=self.device)
        self.successes = torch.zeros_like(self.successes)
        self._reset_envs(ids)
        self.reward.zero_()
        self._needs_reset = False
        return self._observe(self._geometry())

    def reset_envs(self, env_ids: torch.Tensor) -> torch.Tensor:
        """Episode reset of a subset ``env_ids`` (``[n]`` int64 indices, or an ``[N]`` bool mask).

        Returns:
            obs ``[N, O]`` float32 of every env (the reset ones start a new episode).
        """
        ids = env_ids.nonzero().squeeze(-1) if env_ids.dtype == torch.bool else env_ids.long().reshape(-1)
        ids = ids.to(self.device)
        if ids.numel():
            self._reset_envs(ids)
            self.reward[ids] = 0.0
        return self._observe(self._geometry())

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """One 60 Hz control step for every env (see module docstring for the order).

        Args:
            actions: ``[N, 23]`` (one arm) / ``[N, 46]`` (two arms) in [-1, 1].
        Returns:
            obs ``[N, O]``, reward ``[N]``, done ``[N]`` bool, extras (``time_outs``, ``successes``,
            ``true_objective``, ``lifted`` (the episode's latched lift flag, before any reset),
            ``rewards`` named terms, ``scalars``).
        Raises:
            ValueError: actions of the wrong shape. RuntimeError: called before ``reset()``.
        """
        cfg = self.cfg
        if self._needs_reset:
            raise RuntimeError(f"{type(self).__name__}.step() called before reset(): call reset() first")
        if actions.shape != (self.num_envs, self.num_actions):
            raise ValueError(
                f"actions must be [{self.num_envs}, {self.num_actions}], got {list(actions.shape)}")
        self.prev_targets = K.action_targets(
            actions.to(self.device, torch.float32), self.prev_targets, self.dof_lower, self.dof_upper,
            self.incremental, cfg.dof_speed_scale * self.control_dt, cfg.actions_moving_average)
        self.sim.set_dof_targets(self.prev_targets)
        if cfg.force_scale > 0.0:
            self._apply_random_forces()
        self.sim.step()
        self.frame += 1
        self.progress += 1
        self._curriculum()

        unstable = self.sim.unstable  # MuJoCo reset these worlds to the model defaults during the step
        geo = self._geometry()
        kp_dist, ft_dist = geo["keypoint_dist"], geo["fingertip_dist"]
        # uninitialised bests (after a reset / new goal) take this step's distances: the first step pays no
        # progress, as in IsaacGymEnvs (its bests are filled at the observation after the physics step)
        best_kp = K.fill_uninitialised(self.best_keypoint_dist, kp_dist)
        best_ft = K.fill_uninitialised(self.best_fingertip_dist, ft_dist)
        height = lift_height(self._object_z, OBJECT_START_Z)
        lifted = update_lifted(self.lifted, height, cfg.rewards.lifting_bonus_threshold)
        near = K.near_goal(kp_dist, self.success_tolerance, cfg.keypoint_scale)
        terms = reward_terms(
            height=height, lifted_before=self.lifted, lifted=lifted, fingertip_dist=ft_dist,
            best_fingertip_dist=best_ft, keypoint_dist=kp_dist, best_keypoint_dist=best_kp,
            near=near, dof_vel=None if self.two_arms else self.sim.dof_vel, scales=cfg.rewards,
            success_steps=cfg.success_steps,
            gate_fingertips_by_lift=not self.two_arms)
        # a diverged world's state is the model default, not a consequence of the action: no reward, no success
        terms = {name: value.masked_fill(unstable, 0.0) for name, value in terms.items()}
        near = near & ~unstable
        reward = total_reward(terms)

        self.lifted = lifted
        self.best_keypoint_dist = K.update_best(best_kp, kp_dist)
        self.best_fingertip_dist = K.update_best(best_ft, ft_dist)
        self.near_goal_steps = K.update_near_goal_steps(self.near_goal_steps, near)
        success = K.is_success(self.near_goal_steps, cfg.success_steps)
        self.successes = self.successes + success  # a new tensor: the extras keep this step's values
        self.progress = K.progress_after_success(self.progress, success)
        done, time_outs = K.compute_resets(
            object_z=self._object_z, successes=self.successes, progress=self.progress,
            episode_length=cfg.episode_length, max_consecutive_successes=cfg.max_consecutive_successes,
            fingertip_dist=ft_dist if cfg.fingertip_reset_distance > 0 else None,
            max_fingertip_dist=cfg.fingertip_reset_distance)
        done = done | unstable  # reset like any other finished episode (new goal, counters)
        time_outs = time_outs & ~unstable
        episode_successes, episode_lifted = self.successes, self.lifted  # resets below assign new tensors
        objective = K.true_objective(episode_successes, self.success_tolerance, cfg.success_tolerance,
                                     cfg.target_success_tolerance)

        self.reward = reward.masked_fill(done, 0.0)
        events = bool((success | done).any())
        if events:
            new_goal = success & ~done
            with self.sim.deferred_refresh():  # one forward pass for every reset below
                if bool(new_goal.any()):
                    self._new_goals(new_goal.nonzero().squeeze(-1))
                if bool(done.any()):
                    self._reset_envs(done.nonzero().squeeze(-1))
                    self.unstable_resets += int(unstable.sum())
                    if self.sim.overflow is not None:
                        self.contact_overflows += int(self.sim.overflow.sum())
            geo = self._geometry()
        obs = self._observe(geo)
        extras = {
            "time_outs": time_outs,  # a subset of done
            "successes": episode_successes,
            "true_objective": objective,
            "lifted": episode_lifted,
            "rewards": terms,
            "scalars": {
                "success_tolerance": self.success_tolerance,
                "curriculum_progress": K.curriculum_progress(
                    self.success_tolerance, cfg.success_tolerance, cfg.target_success_tolerance),
                "sim/unstable_resets": float(self.unstable_resets),  # diverged worlds reset so far
                "sim/contact_overflows": float(self.contact_overflows),  # of which buffer overflows
            },
        }
        return obs, reward, done, extras

    def get_state(self) -> dict[str, Any]:
        """Curriculum state (§5.3): tolerance, control steps so far, frame of the last tightening."""
        return {"success_tolerance": self.success_tolerance, "frame": self.frame,
                "last_curriculum_update": self.last_curriculum_update}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore ``get_state``'s dict (missing keys keep their current value)."""
        self.success_tolerance = float(state.get("success_tolerance", self.success_tolerance))
        self.frame = int(state.get("frame", self.frame))
        self.last_curriculum_update = int(state.get("last_curriculum_update", self.last_curriculum_update))

    def render(self, env: int = 0, width: int = 640, height: int = 480) -> np.ndarray:
        """RGB image ``[height, width, 3]`` uint8 of env ``env`` (MuJoCo offscreen renderer, cameras in
        :mod:`tasks.allegro_kuka.render`). Raises ``NotImplementedError`` on a backend without host-side MuJoCo
        data (MuJoCo Warp, Isaac Gym): render with a :func:`tasks.make_viewer` copy instead."""
        from tasks.allegro_kuka.render import frames

        key = (env, width, height)
        if self._frames is None or self._frames.key != key:
            if self._frames is not None:
                self._frames.close()
            try:
                self._frames = frames(self.sim, self.two_arms, env, width, height)
            except TypeError as err:
                raise NotImplementedError(str(err)) from err
        return self._frames()

    def close(self) -> None:
        """Release the simulator (and the renderer, if one was made)."""
        if self._frames is not None:
            self._frames.close()
            self._frames = None
        self.sim.close()

    # ------------------------------------------------------------------------------------------ internals
    def _curriculum(self) -> None:
        cfg = self.cfg
        if cfg.target_success_tolerance >= cfg.success_tolerance:
            return
        self.success_tolerance, self.last_curriculum_update = K.tolerance_curriculum(
            self.success_tolerance, self.last_curriculum_update, self.frame, self.prev_episode_successes,
            interval=cfg.tolerance_curriculum_interval, initial=cfg.success_tolerance,
            target=cfg.target_success_tolerance, increment=cfg.tolerance_curriculum_increment,
            min_mean_successes=cfg.tolerance_curriculum_min_successes)

    def _apply_random_forces(self) -> None:
        self.forces = S.update_random_forces(self.forces, self.force_prob, magnitude=self.force_magnitude,
                                             decay_factor=self.force_decay_factor, generator=self.generator)
        # object frame -> world with the object's orientation in the current (observed) state
        world = torch.matmul(self._object_rot, self.forces.unsqueeze(-1)).squeeze(-1)
        self.sim.set_body_force(self.object_body, world)

    def _geometry(self) -> dict[str, torch.Tensor]:
        """Keypoints and distances from the current sim state (§3.5, §4.2, §5.2)."""
        pos = self._object_pos
        if self.cfg.num_keypoints == 1:
            keypoints = pos.unsqueeze(1)
        else:
            keypoints = K.rotate_points(pos, self._object_rot, self.keypoint_offsets)
        return {
            "keypoints": keypoints,
            "keypoint_dist": K.max_keypoint_distance(keypoints, self.goal_keypoints),
            "fingertip_dist": K.point_distances(self._fingertips, pos),
        }

    def _observe(self, geo: dict[str, torch.Tensor]) -> torch.Tensor:
        """Observation ``[N, O]`` (§6). Envs with a new goal or reset show their current distances as the best
        ones; the stored bests stay uninitialised (-1) until the next step's reward (no progress is paid for
        the first step)."""
        best_ft = None if self.two_arms else K.fill_uninitialised(self.best_fingertip_dist, geo["fingertip_dist"])
        return self._obs.write(
            **self._obs_state, keypoints=geo["keypoints"], goal_keypoints=self.goal_keypoints,
            best_keypoint_dist=K.fill_uninitialised(self.best_keypoint_dist, geo["keypoint_dist"]),
            best_fingertip_dist=best_ft, lifted=self.lifted,
            progress=self.progress, successes=self.successes, reward=self.reward)

    def _new_goals(self, ids: torch.Tensor) -> None:
        """New goal for ``ids`` (§5.1, §9, §10); regrasping/throw also put the object back (§4.4)."""
        cfg, n, dev, g = self.cfg, ids.numel(), self.device, self.generator
        if cfg.subtask == "throw":
            bucket = S.sample_bucket_positions(n, g, dev)
            self.bucket_pos[ids] = bucket
            pos = bucket + torch.tensor(S.BUCKET_GOAL_OFFSET, device=dev)
            self.sim.set_mocap(ids, self.bucket_mocap, bucket, S.identity_quaternions(n, dev))
        else:
            pos = S.sample_goal_positions(n, self.two_arms, g, dev)
        quat = (S.random_quaternions(n, g, dev) if cfg.subtask == "reorientation"
                else S.identity_quaternions(n, dev))
        self.goal_pos[ids], self.goal_quat[ids] = pos, quat
        if cfg.num_keypoints == 1:
            self.goal_keypoints[ids] = pos.unsqueeze(1)
        else:
            self.goal_keypoints[ids] = K.transform_points(pos, quat, self.keypoint_offsets[ids])
        self.sim.set_mocap(ids, self.goal_mocap, pos, quat)
        self.near_goal_steps[ids] = 0
        self.best_keypoint_dist[ids] = -1.0
        if cfg.resets_object_on_goal:
            self._reset_objects(ids)

    def _reset_objects(self, ids: torch.Tensor) -> None:
        """Object back on the table (§4.4); clears the lifted flag and fingertip bests (§7)."""
        pos, quat = S.sample_object_poses(ids.numel(), self.two_arms, self.generator, self.device)
        self.sim.reset_free_body(ids, self.object_body, pos, quat)
        self.lifted = self.lifted.index_fill(0, ids, False)  # out of place: a step's extras hold the old
        self.best_fingertip_dist[ids] = -1.0

    def _reset_envs(self, ids: torch.Tensor) -> None:
        """Episode reset of ``ids`` (§5.4, §8): robot, object, goal, counters, random-force state; one simulator
        refresh for all of it (:meth:`~tasks.sim.base.BatchedSim.deferred_refresh`)."""
        cfg, n = self.cfg, ids.numel()
        self.prev_episode_successes[ids] = self.successes[ids]
        self.successes = self.successes.index_fill(0, ids, 0.0)  # out of place, as lifted
        self.progress[ids] = 0
        pos, vel = S.sample_dof_states(
            n, self.default_dof_pos, self.dof_lower, self.dof_upper, self.generator,
            pos_interval=self.reset_pos_interval, vel_interval=cfg.reset_dof_vel_random_interval)
        self.prev_targets[ids] = pos
        self.forces[ids] = 0.0
        if cfg.force_scale > 0.0:
            low, high = cfg.force_prob_range
            self.force_prob[ids] = S.sample_force_probabilities(n, low, high, self.generator, self.device)
        with self.sim.deferred_refresh():
            self.sim.reset_dofs(ids, pos, vel)
            if not cfg.resets_object_on_goal:
                self._reset_objects(ids)
            self._new_goals(ids)
