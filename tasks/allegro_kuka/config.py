"""Typed settings of the Allegro-Kuka tasks and the table of the eight variants (spec defaults; §1, §2.5, §4,
§5, §7, §8, §9, §10, §13).

:class:`AllegroKukaConfig` declares every setting once, with its type and spec default; :data:`VARIANTS` says
what makes each registered task (``tasks.TASKS``) what it is: its subtask, arms, obstacle and only the settings
that differ from the defaults. ``cfg/task/<Name>.yaml`` lists the same user settings for Hydra; a test checks
each file equals :meth:`Variant.user_defaults`. No simulator is imported here. Spec: docs/spec/allegro_kuka.md.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tasks import settings as S

SUBTASKS = ("regrasping", "reorientation", "throw")
STRUCTURE = {"structure": True}  # field metadata: chosen by the variant table, not a setting
INTERNAL = {"internal": True}  # field metadata: set by the variant table only, not by users
ONE_ARM = {"num_arms": 1}  # field metadata: a setting of the one-arm tasks only


@dataclass(frozen=True)
class RewardScales:
    """Reward coefficients (§7; ``task.rewards.<name>``).

    Attributes:
        lifting_rew_scale: × clip(lift height, 0, 0.5) while not lifted.
        lifting_bonus: one-off bonus when the object is first lifted.
        lifting_bonus_threshold: lift height (m) above which the object counts as lifted.
        distance_delta_rew_scale: × fingertip-approach progress (m).
        keypoint_rew_scale: × keypoint-distance progress (m), only while lifted.
        reach_goal_bonus: paid as reach_goal_bonus / success_steps on each near-goal step.
        kuka_actions_penalty_scale: × Σ|arm joint velocity| (one arm only).
        allegro_actions_penalty_scale: × Σ|hand joint velocity| (one arm only).
    """

    lifting_rew_scale: float = 20.0
    lifting_bonus: float = 300.0
    lifting_bonus_threshold: float = 0.15
    distance_delta_rew_scale: float = 50.0
    keypoint_rew_scale: float = 200.0
    reach_goal_bonus: float = 1000.0
    kuka_actions_penalty_scale: float = field(default=0.003, metadata=ONE_ARM)
    allegro_actions_penalty_scale: float = field(default=0.0003, metadata=ONE_ARM)


@dataclass(frozen=True)
class AllegroKukaConfig:
    """Everything that defines one Allegro-Kuka task variant.

    Structure (chosen by :data:`VARIANTS`, not a setting):
        subtask: "regrasping" | "reorientation" | "throw".
        num_arms: 1 or 2.
        obstacle: two-arm obstacle: None, "hole", "partition" or "barrier" (§13, see README).

    Settings (``task.<name>``; snake_case forms of the IsaacGymEnvs keys):
        episode_length: per-goal time budget in control steps (counter zeroed on success), §1.
        success_steps: near-goal steps (cumulative) for a success, §5.2.
        success_tolerance: initial tolerance; the keypoint threshold is ``tolerance * keypoint_scale`` (m).
        target_success_tolerance: the curriculum's final tolerance (= initial: no curriculum), §5.3.
        tolerance_curriculum_increment: multiplicative tightening step.
        tolerance_curriculum_interval: control steps between tightenings.
        max_consecutive_successes: episode ends after this many successes (0 = no cap), §5.4.
        rewards: reward coefficients, §7 (:class:`RewardScales`; ``task.rewards.<name>``).
        keypoint_scale: keypoint offsets as a multiple of the half object size, §4.2.
        force_scale: random object force std per kg of object mass (N/kg), §4.5; 0 disables.
        force_prob_range: (low, high) of the log-uniform per-env force probability.
        force_decay, force_decay_interval: the force decays by ``force_decay`` every interval (s).
        dof_speed_scale: one-arm arm joints' incremental target rate (rad/s at |a| = 1), §2.5 (one arm only).
        actions_moving_average: alpha of the target moving average (1 = none), §2.5.
        reset_dof_pos_random_interval_arm / _fingers: joint reset noise fraction c, §8.
        reset_dof_vel_random_interval: joint velocity reset noise (rad/s), §8.
        with_small_cuboids, with_big_cuboids, with_sticks: object families, §4.1 (False for all three:
            every env gets the base 5 cm cube).
        clamp_abs_observations: observation clamp, §6.

    Internal (set by :data:`VARIANTS` only):
        tolerance_curriculum_min_successes: mean last-episode successes needed to tighten, §5.3.
        fingertip_reset_distance: the env resets when a fingertip point is farther than this from the
            object (m), §5.4; 0 disables (one-arm reorientation: 1.5).

    Raises:
        ValueError: an impossible combination or an out-of-range setting (at construction).
    """

    subtask: str = field(metadata=STRUCTURE)
    num_arms: int = field(metadata=STRUCTURE)
    obstacle: str | None = field(default=None, metadata=STRUCTURE)
    episode_length: int = 600
    success_steps: int = 1
    success_tolerance: float = 0.075
    target_success_tolerance: float = 0.01
    tolerance_curriculum_increment: float = 0.9
    tolerance_curriculum_interval: int = 3000
    tolerance_curriculum_min_successes: float = field(default=3.0, metadata=INTERNAL)
    max_consecutive_successes: int = 50
    rewards: RewardScales = field(default_factory=RewardScales)
    keypoint_scale: float = 1.5
    force_scale: float = 2.0
    force_prob_range: tuple[float, float] = (0.001, 0.1)
    force_decay: float = 0.99
    force_decay_interval: float = 0.08
    dof_speed_scale: float = field(default=10.0, metadata=ONE_ARM)
    actions_moving_average: float = 1.0
    reset_dof_pos_random_interval_arm: float = 0.1
    reset_dof_pos_random_interval_fingers: float = 0.1
    reset_dof_vel_random_interval: float = 0.5
    with_small_cuboids: bool = True
    with_big_cuboids: bool = True
    with_sticks: bool = True
    clamp_abs_observations: float = 10.0
    fingertip_reset_distance: float = field(default=0.0, metadata=INTERNAL)

    def __post_init__(self) -> None:
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


# ------------------------------------------------------------------------------------------ variants
@dataclass(frozen=True)
class Variant:
    """One registered Allegro-Kuka task: its structure and the settings that differ from the defaults.

    Attributes:
        doc: one-line description (observation / action sizes).
        subtask, num_arms, obstacle: as in :class:`AllegroKukaConfig`.
        overrides: settings (and internal fields) that differ from :class:`AllegroKukaConfig`'s defaults;
            a group is a nested mapping (``{"rewards": {"lifting_bonus": 100.0}}``).
    """

    doc: str
    subtask: str
    num_arms: int
    obstacle: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def settings(self, *, internal: bool = False) -> dict[str, S.Setting]:
        """What a user may set (``internal``: also what the table may set) for this variant: every field of
        :class:`AllegroKukaConfig` but the structure, internal ones and another arm count's."""
        def keep(f: dataclasses.Field) -> bool:
            return (not f.metadata.get("structure") and (internal or not f.metadata.get("internal"))
                    and f.metadata.get("num_arms", self.num_arms) == self.num_arms)

        return S.from_dataclass(AllegroKukaConfig, keep)

    def config(self, settings: Mapping[str, Any] | None = None, owner: str = "this task") -> AllegroKukaConfig:
        """The task's config: defaults, then :attr:`overrides`, then the user's ``settings`` (groups merged key
        by key). ``owner`` names the task in messages.

        Raises:
            TaskConfigError: an unknown or mistyped setting (one line naming it).
            ValueError: an out-of-range value (:class:`AllegroKukaConfig`).
        """
        settings = settings or {}
        S.check(settings, self.settings(), owner=owner)
        values = _merge(dict(self.overrides), settings)
        return _build(AllegroKukaConfig, {**values, "subtask": self.subtask, "num_arms": self.num_arms,
                                          "obstacle": self.obstacle})

    def user_defaults(self) -> dict[str, Any]:
        """This variant's value of every user setting, nested as in ``cfg/task/<Name>.yaml`` (tuples as
        lists)."""
        return _values(self.config(), self.settings())


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated with ``top``, nested mappings merged key by key."""
    for key, value in top.items():
        nested = isinstance(value, Mapping) and isinstance(base.get(key), Mapping)
        base[key] = _merge(dict(base[key]), value) if nested else value
    return base


def _build(cls: type, values: Mapping[str, Any]) -> Any:
    """Dataclass ``cls`` from ``values`` (nested dataclasses from nested mappings, lists as tuples of the
    annotated item type)."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            value = _build(hint, value)
        elif typing.get_origin(hint) is tuple:
            value = tuple(float(v) if a is float else v for v, a in zip(value, typing.get_args(hint), strict=True))
        kwargs[key] = value
    return cls(**kwargs)


def _values(obj: Any, settings: Mapping[str, S.Setting]) -> dict[str, Any]:
    """The values of ``settings`` in dataclass ``obj`` (groups as nested dicts, tuples as lists)."""
    out = {}
    for key, s in settings.items():
        value = getattr(obj, key)
        out[key] = (_values(value, s.group) if s.group is not None
                    else list(value) if isinstance(value, tuple) else value)
    return out


def check_variants(variants: Mapping[str, Variant]) -> None:
    """Raise :class:`~tasks.base.TaskConfigError` (one line naming the variant and the field) for an override
    that :class:`AllegroKukaConfig` lacks, that is another arm count's, or of the wrong type; ValueError for an
    impossible variant. Run on :data:`VARIANTS` at import."""
    for name, variant in variants.items():
        S.check(variant.overrides, variant.settings(internal=True), owner=f"variant {name} (VARIANTS)",
                prefix=f"VARIANTS[{name!r}] override ")
        variant.config()


VARIANTS: dict[str, Variant] = {
    "AllegroKukaRegrasping": Variant(
        "One arm, regrasping (§5.1): lift the object to a goal point and hold it 30 steps; the object is put "
        "back on the table for every goal. Observation 99, action 23.",
        "regrasping", 1, overrides={"episode_length": 300, "success_steps": 30}),
    "AllegroKukaReorientation": Variant(
        "One arm, reorientation (§5.1): bring the object to a goal position *and* orientation (4 keypoints), "
        "goals re-targeted without resetting the object. Observation 117, action 23.",
        "reorientation", 1, overrides={"fingertip_reset_distance": 1.5}),  # §5.4
    "AllegroKukaThrow": Variant(
        "One arm, throw (§9): get the object within 0.1125 m of a point 5 cm above a floating bucket (5 near-goal "
        "steps); no curriculum, no random forces, small cuboids only. Observation 99, action 23.",
        "throw", 1, overrides={"episode_length": 300, "success_steps": 5, "target_success_tolerance": 0.075,
                               "force_scale": 0.0, "with_big_cuboids": False, "with_sticks": False}),
    "AllegroKukaTwoArmsRegrasping": Variant(
        "Two arms, regrasping (§10): object starts at one table end, goal points beyond either end (about half "
        "need a hand-over); episode length 400 as in the DexPBT launchers. Observation 169, action 46 "
        "(absolute targets).",
        "regrasping", 2, overrides={"episode_length": 400, "success_steps": 30}),
    "AllegroKukaTwoArmsReorientation": Variant(
        "Two arms, reorientation (§10), no obstacle. Observation 196, action 46.", "reorientation", 2),
    "AllegroKukaTwoArmsReorientationPartition": Variant(
        "Two-arm reorientation with a movable partition board across the table middle (EPO 'Partition'; "
        "geometry not public: our design, see README). Observation 196, action 46.",
        "reorientation", 2, obstacle="partition"),
    "AllegroKukaTwoArmsReorientationHole": Variant(
        "Two-arm reorientation with EPO's wall and its 0.2 m x 0.4 m slot (§13, the public EPO code). "
        "Observation 196, action 46.", "reorientation", 2, obstacle="hole"),
    "AllegroKukaTwoArmsReorientationBarrier": Variant(
        "Two-arm reorientation with an impassable wall on the table middle; the object must be handed over "
        "around its side (EPO 'Barrier'; geometry not public: our design, see README). "
        "Observation 196, action 46.", "reorientation", 2, obstacle="barrier"),
}
check_variants(VARIANTS)
