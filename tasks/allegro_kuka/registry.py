"""Factories of the eight Allegro-Kuka tasks (names in ``tasks/__init__.py``).

Each factory takes ``num_envs, seed, device, sim`` plus the task's own settings as explicit keyword
arguments with the spec defaults, so an unknown setting raises ``TypeError``. ``sim`` holds backend
settings (e.g. ``{"backend": "mujoco", "num_threads": 0, "substeps": 2, "physics_dt": 1/120}``).
Defaults: spec §1 (episode lengths), §5 (success, curriculum), §7 (rewards), §4.5 (forces), §9 (throw),
§10 and §13 (two arms). The heavy task module is imported only when a task is built.
Spec: docs/spec/allegro_kuka.md.
"""

from __future__ import annotations

from typing import Any

from tasks.allegro_kuka.config import AllegroKukaConfig
from tasks.base import BatchedTask

_RUNTIME = ("num_envs", "seed", "device", "sim")


def _build(args: dict[str, Any], *, subtask: str, num_arms: int, obstacle: str | None = None) -> BatchedTask:
    """Split runtime arguments from settings, validate the settings and build the task."""
    from tasks.allegro_kuka.task import AllegroKukaTask

    settings = {k: v for k, v in args.items() if k not in _RUNTIME}
    settings["force_prob_range"] = tuple(float(x) for x in settings["force_prob_range"])
    if num_arms == 1 and subtask == "reorientation":
        settings["fingertip_reset_distance"] = 1.5  # §5.4, single-arm reorientation only
    cfg = AllegroKukaConfig(subtask=subtask, num_arms=num_arms, obstacle=obstacle, **settings)
    return AllegroKukaTask(cfg, num_envs=args["num_envs"], seed=args["seed"], device=args["device"],
                           sim=dict(args["sim"] or {}))


# ------------------------------------------------------------------------------------------ one arm
def make_regrasping(
    *, num_envs: int, seed: int = 0, device: str = "cpu", sim: dict | None = None,
    episode_length: int = 300, success_steps: int = 30, success_tolerance: float = 0.075,
    target_success_tolerance: float = 0.01, tolerance_curriculum_increment: float = 0.9,
    tolerance_curriculum_interval: int = 3000, max_consecutive_successes: int = 50,
    lifting_rew_scale: float = 20.0, lifting_bonus: float = 300.0, lifting_bonus_threshold: float = 0.15,
    keypoint_rew_scale: float = 200.0, distance_delta_rew_scale: float = 50.0,
    reach_goal_bonus: float = 1000.0,
    kuka_actions_penalty_scale: float = 0.003, allegro_actions_penalty_scale: float = 0.0003,
    keypoint_scale: float = 1.5, force_scale: float = 2.0, force_prob_range: tuple = (0.001, 0.1),
    force_decay: float = 0.99, force_decay_interval: float = 0.08, dof_speed_scale: float = 10.0,
    actions_moving_average: float = 1.0, reset_dof_pos_random_interval_arm: float = 0.1,
    reset_dof_pos_random_interval_fingers: float = 0.1, reset_dof_vel_random_interval: float = 0.5,
    with_small_cuboids: bool = True, with_big_cuboids: bool = True, with_sticks: bool = True,
    clamp_abs_observations: float = 10.0,
) -> BatchedTask:
    """One arm, regrasping (§5.1): lift the object to a goal point and hold it 30 steps; the object is
    put back on the table for every goal. Observation 99, action 23.

    Raises:
        TypeError: an unknown setting. ValueError: an out-of-range setting or simulator option.
    """
    return _build(locals(), subtask="regrasping", num_arms=1)


def make_reorientation(
    *, num_envs: int, seed: int = 0, device: str = "cpu", sim: dict | None = None,
    episode_length: int = 600, success_steps: int = 1, success_tolerance: float = 0.075,
    target_success_tolerance: float = 0.01, tolerance_curriculum_increment: float = 0.9,
    tolerance_curriculum_interval: int = 3000, max_consecutive_successes: int = 50,
    lifting_rew_scale: float = 20.0, lifting_bonus: float = 300.0, lifting_bonus_threshold: float = 0.15,
    keypoint_rew_scale: float = 200.0, distance_delta_rew_scale: float = 50.0,
    reach_goal_bonus: float = 1000.0,
    kuka_actions_penalty_scale: float = 0.003, allegro_actions_penalty_scale: float = 0.0003,
    keypoint_scale: float = 1.5, force_scale: float = 2.0, force_prob_range: tuple = (0.001, 0.1),
    force_decay: float = 0.99, force_decay_interval: float = 0.08, dof_speed_scale: float = 10.0,
    actions_moving_average: float = 1.0, reset_dof_pos_random_interval_arm: float = 0.1,
    reset_dof_pos_random_interval_fingers: float = 0.1, reset_dof_vel_random_interval: float = 0.5,
    with_small_cuboids: bool = True, with_big_cuboids: bool = True, with_sticks: bool = True,
    clamp_abs_observations: float = 10.0,
) -> BatchedTask:
    """One arm, reorientation (§5.1): bring the object to a goal position *and* orientation (4 keypoints),
    goals re-targeted without resetting the object. Observation 117, action 23."""
    return _build(locals(), subtask="reorientation", num_arms=1)


def make_throw(
    *, num_envs: int, seed: int = 0, device: str = "cpu", sim: dict | None = None,
    episode_length: int = 300, success_steps: int = 5, success_tolerance: float = 0.075,
    target_success_tolerance: float = 0.075, tolerance_curriculum_increment: float = 0.9,
    tolerance_curriculum_interval: int = 3000, max_consecutive_successes: int = 50,
    lifting_rew_scale: float = 20.0, lifting_bonus: float = 300.0, lifting_bonus_threshold: float = 0.15,
    keypoint_rew_scale: float = 200.0, distance_delta_rew_scale: float = 50.0,
    reach_goal_bonus: float = 1000.0,
    kuka_actions_penalty_scale: float = 0.003, allegro_actions_penalty_scale: float = 0.0003,
    keypoint_scale: float = 1.5, force_scale: float = 0.0, force_prob_range: tuple = (0.001, 0.1),
    force_decay: float = 0.99, force_decay_interval: float = 0.08, dof_speed_scale: float = 10.0,
    actions_moving_average: float = 1.0, reset_dof_pos_random_interval_arm: float = 0.1,
    reset_dof_pos_random_interval_fingers: float = 0.1, reset_dof_vel_random_interval: float = 0.5,
    with_small_cuboids: bool = True, with_big_cuboids: bool = False, with_sticks: bool = False,
    clamp_abs_observations: float = 10.0,
) -> BatchedTask:
    """One arm, throw (§9): get the object within 0.1125 m of a point 5 cm above a floating bucket
    (5 near-goal steps); no curriculum, no random forces, small cuboids only. Observation 99, action 23."""
    return _build(locals(), subtask="throw", num_arms=1)


# ------------------------------------------------------------------------------------------ two arms
def make_two_arms_regrasping(
    *, num_envs: int, seed: int = 0, device: str = "cpu", sim: dict | None = None,
    episode_length: int = 400, success_steps: int = 30, success_tolerance: float = 0.075,
    target_success_tolerance: float = 0.01, tolerance_curriculum_increment: float = 0.9,
    tolerance_curriculum_interval: int = 3000, max_consecutive_successes: int = 50,
    lifting_rew_scale: float = 20.0, lifting_bonus: float = 300.0, lifting_bonus_threshold: float = 0.15,
    keypoint_rew_scale: float = 200.0, distance_delta_rew_scale: float = 50.0,
    reach_goal_bonus: float = 1000.0,
    keypoint_scale: float = 1.5, force_scale: float = 2.0, force_prob_range: tuple = (0.001, 0.1),
    force_decay: float = 0.99, force_decay_interval: float = 0.08, actions_moving_average: float = 1.0,
    reset_dof_pos_random_interval_arm: float = 0.1, reset_dof_pos_random_interval_fingers: float = 0.1,
    reset_dof_vel_random_interval: float = 0.5, with_small_cuboids: bool = True,
    with_big_cuboids: bool = True, with_sticks: bool = True, clamp_abs_observations: float = 10.0,
) -> BatchedTask:
    """Two arms, regrasping (§10): object starts at one table end, goal points beyond either end
    (about half need a hand-over). Episode length 400 as in the DexPBT launchers. Observation 169,
    action 46 (absolute targets)."""
    return _build(locals(), subtask="regrasping", num_arms=2)


def _two_arms_reorientation(args: dict[str, Any], obstacle: str | None) -> BatchedTask:
    return _build(args, subtask="reorientation", num_arms=2, obstacle=obstacle)


def make_two_arms_reorientation(
    *, num_envs: int, seed: int = 0, device: str = "cpu", sim: dict | None = None,
    episode_length: int = 600, success_steps: int = 1, success_tolerance: float = 0.075,
    target_success_tolerance: float = 0.01, tolerance_curriculum_increment: float = 0.9,
    tolerance_curriculum_interval: int = 3000, max_consecutive_successes: int = 50,
    lifting_rew_scale: float = 20.0, lifting_bonus: float = 300.0, lifting_bonus_threshold: float = 0.15,
    keypoint_rew_scale: float = 200.0, distance_delta_rew_scale: float = 50.0,
    reach_goal_bonus: float = 1000.0,
    keypoint_scale: float = 1.5, force_scale: float = 2.0, force_prob_range: tuple = (0.001, 0.1),
    force_decay: float = 0.99, force_decay_interval: float = 0.08, actions_moving_average: float = 1.0,
    reset_dof_pos_random_interval_arm: float = 0.1, reset_dof_pos_random_interval_fingers: float = 0.1,
    reset_dof_vel_random_interval: float = 0.5, with_small_cuboids: bool = True,
    with_big_cuboids: bool = True, with_sticks: bool = True, clamp_abs_observations: float = 10.0,
) -> BatchedTask:
    """Two arms, reorientation (§10): goal position + orientation beyond either table end, no obstacle
    (vanilla IsaacGymEnvs). Observation 196, action 46."""
    return _two_arms_reorientation(locals(), None)


def make_two_arms_reorientation_partition(
    *, num_envs: int, seed: int = 0, device: str = "cpu", sim: dict | None = None,
    episode_length: int = 600, success_steps: int = 1, success_tolerance: float = 0.075,
    target_success_tolerance: float = 0.01, tolerance_curriculum_increment: float = 0.9,
    tolerance_curriculum_interval: int = 3000, max_consecutive_successes: int = 50,
    lifting_rew_scale: float = 20.0, lifting_bonus: float = 300.0, lifting_bonus_threshold: float = 0.15,
    keypoint_rew_scale: float = 200.0, distance_delta_rew_scale: float = 50.0,
    reach_goal_bonus: float = 1000.0,
    keypoint_scale: float = 1.5, force_scale: float = 2.0, force_prob_range: tuple = (0.001, 0.1),
    force_decay: float = 0.99, force_decay_interval: float = 0.08, actions_moving_average: float = 1.0,
    reset_dof_pos_random_interval_arm: float = 0.1, reset_dof_pos_random_interval_fingers: float = 0.1,
    reset_dof_vel_random_interval: float = 0.5, with_small_cuboids: bool = True,
    with_big_cuboids: bool = True, with_sticks: bool = True, clamp_abs_observations: float = 10.0,
) -> BatchedTask:
    """Two-arm reorientation with a movable partition board across the table middle (EPO "Partition";
    geometry not public — our design, see README). Observation 196, action 46."""
    return _two_arms_reorientation(locals(), "partition")


def make_two_arms_reorientation_hole(
    *, num_envs: int, seed: int = 0, device: str = "cpu", sim: dict | None = None,
    episode_length: int = 600, success_steps: int = 1, success_tolerance: float = 0.075,
    target_success_tolerance: float = 0.01, tolerance_curriculum_increment: float = 0.9,
    tolerance_curriculum_interval: int = 3000, max_consecutive_successes: int = 50,
    lifting_rew_scale: float = 20.0, lifting_bonus: float = 300.0, lifting_bonus_threshold: float = 0.15,
    keypoint_rew_scale: float = 200.0, distance_delta_rew_scale: float = 50.0,
    reach_goal_bonus: float = 1000.0,
    keypoint_scale: float = 1.5, force_scale: float = 2.0, force_prob_range: tuple = (0.001, 0.1),
    force_decay: float = 0.99, force_decay_interval: float = 0.08, actions_moving_average: float = 1.0,
    reset_dof_pos_random_interval_arm: float = 0.1, reset_dof_pos_random_interval_fingers: float = 0.1,
    reset_dof_vel_random_interval: float = 0.5, with_small_cuboids: bool = True,
    with_big_cuboids: bool = True, with_sticks: bool = True, clamp_abs_observations: float = 10.0,
) -> BatchedTask:
    """Two-arm reorientation with EPO's wall and its 0.2 m × 0.4 m slot (§13, the public EPO code).
    Observation 196, action 46."""
    return _two_arms_reorientation(locals(), "hole")


def make_two_arms_reorientation_barrier(
    *, num_envs: int, seed: int = 0, device: str = "cpu", sim: dict | None = None,
    episode_length: int = 600, success_steps: int = 1, success_tolerance: float = 0.075,
    target_success_tolerance: float = 0.01, tolerance_curriculum_increment: float = 0.9,
    tolerance_curriculum_interval: int = 3000, max_consecutive_successes: int = 50,
    lifting_rew_scale: float = 20.0, lifting_bonus: float = 300.0, lifting_bonus_threshold: float = 0.15,
    keypoint_rew_scale: float = 200.0, distance_delta_rew_scale: float = 50.0,
    reach_goal_bonus: float = 1000.0,
    keypoint_scale: float = 1.5, force_scale: float = 2.0, force_prob_range: tuple = (0.001, 0.1),
    force_decay: float = 0.99, force_decay_interval: float = 0.08, actions_moving_average: float = 1.0,
    reset_dof_pos_random_interval_arm: float = 0.1, reset_dof_pos_random_interval_fingers: float = 0.1,
    reset_dof_vel_random_interval: float = 0.5, with_small_cuboids: bool = True,
    with_big_cuboids: bool = True, with_sticks: bool = True, clamp_abs_observations: float = 10.0,
) -> BatchedTask:
    """Two-arm reorientation with an impassable wall on the table middle; the object must be handed
    over around its side (EPO "Barrier"; geometry not public — our design, see README).
    Observation 196, action 46."""
    return _two_arms_reorientation(locals(), "barrier")
