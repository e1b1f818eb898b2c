"""Typed settings of the Allegro-Kuka tasks (spec defaults; §1, §2.5, §4, §5, §7, §8).

Light module (no torch / mujoco import) shared by ``registry.py`` (the factories' keyword arguments)
and ``task.py``. Spec: docs/spec/allegro_kuka.md.
"""

from __future__ import annotations

from dataclasses import dataclass

SUBTASKS = ("regrasping", "reorientation", "throw")


@dataclass(frozen=True)
class AllegroKukaConfig:
    """Everything that defines one Allegro-Kuka task variant.

    Structure (chosen by the factory, not a user setting):
        subtask: "regrasping" | "reorientation" | "throw".
        num_arms: 1 or 2.
        obstacle: two-arm obstacle: None, "hole", "partition" or "barrier" (§13, see README).

    Settings (snake_case forms of the IsaacGymEnvs keys):
        episode_length: per-goal time budget in control steps (counter zeroed on success), §1.
        success_steps: near-goal steps (cumulative) for a success, §5.2.
        success_tolerance: initial tolerance; the keypoint threshold is ``tolerance * keypoint_scale`` (m).
        target_success_tolerance: the curriculum's final tolerance (= initial: no curriculum), §5.3.
        tolerance_curriculum_increment: multiplicative tightening step.
        tolerance_curriculum_interval: control steps between tightenings.
        tolerance_curriculum_min_successes: mean last-episode successes needed to tighten.
        max_consecutive_successes: episode ends after this many successes (0 = no cap), §5.4.
        lifting_rew_scale, lifting_bonus, lifting_bonus_threshold (m), distance_delta_rew_scale,
        keypoint_rew_scale, reach_goal_bonus, kuka_actions_penalty_scale,
        allegro_actions_penalty_scale: reward coefficients, §7 (the two penalties: single arm only).
        keypoint_scale: keypoint offsets as a multiple of the half object size, §4.2.
        force_scale: random object force std per kg of object mass (N/kg), §4.5; 0 disables.
        force_prob_range: (low, high) of the log-uniform per-env force probability.
        force_decay, force_decay_interval: the force decays by ``force_decay`` every interval (s).
        dof_speed_scale: single-arm arm joints' incremental target rate (rad/s at |a| = 1), §2.5.
        actions_moving_average: alpha of the target moving average (1 = none), §2.5.
        reset_dof_pos_random_interval_arm / _fingers: joint reset noise fraction c, §8.
        reset_dof_vel_random_interval: joint velocity reset noise (rad/s), §8.
        with_small_cuboids, with_big_cuboids, with_sticks: object families, §4.1 (False for all three:
            every env gets the base 5 cm cube).
        clamp_abs_observations: observation clamp, §6.
        fingertip_reset_distance: single-arm reorientation resets when a fingertip point is farther
            than this from the object (m), §5.4; 0 disables.
    """

    subtask: str
    num_arms: int
    obstacle: str | None = None
    episode_length: int = 600
    success_steps: int = 1
    success_tolerance: float = 0.075
    target_success_tolerance: float = 0.01
    tolerance_curriculum_increment: float = 0.9
    tolerance_curriculum_interval: int = 3000
    tolerance_curriculum_min_successes: float = 3.0
    max_consecutive_successes: int = 50
    lifting_rew_scale: float = 20.0
    lifting_bonus: float = 300.0
    lifting_bonus_threshold: float = 0.15
    distance_delta_rew_scale: float = 50.0
    keypoint_rew_scale: float = 200.0
    reach_goal_bonus: float = 1000.0
    kuka_actions_penalty_scale: float = 0.003
    allegro_actions_penalty_scale: float = 0.0003
    keypoint_scale: float = 1.5
    force_scale: float = 2.0
    force_prob_range: tuple[float, float] = (0.001, 0.1)
    force_decay: float = 0.99
    force_decay_interval: float = 0.08
    dof_speed_scale: float = 10.0
    actions_moving_average: float = 1.0
    reset_dof_pos_random_interval_arm: float = 0.1
    reset_dof_pos_random_interval_fingers: float = 0.1
    reset_dof_vel_random_interval: float = 0.5
    with_small_cuboids: bool = True
    with_big_cuboids: bool = True
    with_sticks: bool = True
    clamp_abs_observations: float = 10.0
    fingertip_reset_distance: float = 0.0

    def __post_init__(self) -> None:
        """Raises ValueError for an impossible combination or an out-of-range setting."""
        if self.subtask not in SUBTASKS:
            raise ValueError(f"subtask must be one of {SUBTASKS}, got {self.subtask!r}")
        if self.num_arms not in (1, 2):
            raise ValueError(f"num_arms must be 1 or 2, got {self.num_arms}")
        if self.num_arms == 2 and self.subtask == "throw":
            raise ValueError("the two-arm family has no throw subtask (spec §0)")
        if self.obstacle is not None and (self.num_arms != 2 or self.subtask != "reorientation"):
            raise ValueError("obstacles exist only in two-arm reorientation (spec §13)")
        if self.episode_length < 2:
            raise ValueError(f"episode_length must be >= 2, got {self.episode_length}")
        if self.success_steps < 1:
            raise ValueError(f"success_steps must be >= 1, got {self.success_steps}")
        if not 0 < self.target_success_tolerance <= self.success_tolerance:
            raise ValueError(
                f"need 0 < target_success_tolerance ({self.target_success_tolerance}) <= "
                f"success_tolerance ({self.success_tolerance})"
            )
        if not 0 < self.tolerance_curriculum_increment <= 1:
            raise ValueError("tolerance_curriculum_increment must be in (0, 1]")
        if not 0 < self.actions_moving_average <= 1:
            raise ValueError("actions_moving_average must be in (0, 1]")
        low, high = self.force_prob_range
        if not 0 < low <= high <= 1:
            raise ValueError(f"force_prob_range must satisfy 0 < low <= high <= 1, got {low, high}")

    @property
    def num_keypoints(self) -> int:
        """4 keypoints for reorientation (position + orientation), 1 (the centre) otherwise (§4.2)."""
        return 4 if self.subtask == "reorientation" else 1

    @property
    def resets_object_on_goal(self) -> bool:
        """Regrasping and throw put the object back on the table at every new goal (§5.1)."""
        return self.subtask in ("regrasping", "throw")
