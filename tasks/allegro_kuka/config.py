"""Typed settings of the Allegro-Kuka tasks and the table of the eight variants (spec defaults; §1, §2.5, §4,
§5, §7, §8, §9, §10, §13).

:class:`AllegroKukaConfig` declares every setting once, as a pydantic model field with its type, range and spec
default; :data:`VARIANTS` says what makes each registered task (``tasks.TASKS``) what it is: its subtask, arms,
obstacle and only the settings that differ from the defaults. :meth:`Variant.settings_model` is what a user may
set for one variant (``task.<key>``), with that variant's defaults; ``cfg/task/<Name>.yaml`` holds only ``name``
and ``num_envs`` and takes the rest from it (``train.py`` registers :meth:`Variant.defaults` with Hydra).
No simulator is imported here. Spec: docs/spec/allegro_kuka.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, create_model, model_validator
from pydantic_core import PydanticCustomError

from tasks.settings import GENERATED, SETTINGS, Pair

Subtask = Literal["regrasping", "reorientation", "throw"]
Obstacle = Literal["hole", "partition", "barrier"]
STRUCTURE = {"structure": True}  # json_schema_extra of a field chosen by the variant table, not a setting
INTERNAL = {"internal": True}  # json_schema_extra of a field set by the variant table only, not by users
ONE_ARM = {"num_arms": 1}  # json_schema_extra of a setting of the one-arm tasks only


def _at_most_success_tolerance(value: float, info: ValidationInfo) -> float:
    limit = info.data.get("success_tolerance")
    if limit is not None and value > limit:
        raise PydanticCustomError("tolerance_order", "expected <= success_tolerance ({limit})", {"limit": limit})
    return value


def _ordered(value: tuple[float, float]) -> tuple[float, float]:
    if value[0] > value[1]:
        raise PydanticCustomError("range_order", "expected [low, high] with low <= high", {})
    return value


Probability = Annotated[float, Field(gt=0, le=1)]


class RewardScales(BaseModel):
    """Reward coefficients (§7; ``task.rewards.<name>``)."""

    model_config = SETTINGS

    lifting_rew_scale: float = Field(20.0, ge=0)
    """× clip(lift height, 0, 0.5) while not lifted."""
    lifting_bonus: float = Field(300.0, ge=0)
    """One-off bonus when the object is first lifted."""
    lifting_bonus_threshold: float = Field(0.15, gt=0)
    """Lift height (m) above which the object counts as lifted."""
    distance_delta_rew_scale: float = Field(50.0, ge=0)
    """× fingertip-approach progress (m)."""
    keypoint_rew_scale: float = Field(200.0, ge=0)
    """× keypoint-distance progress (m), only while lifted."""
    reach_goal_bonus: float = Field(1000.0, ge=0)
    """Paid as reach_goal_bonus / success_steps on each near-goal step."""
    kuka_actions_penalty_scale: float = Field(0.003, ge=0, json_schema_extra=ONE_ARM)
    """× Σ|arm joint velocity| (one arm only)."""
    allegro_actions_penalty_scale: float = Field(0.0003, ge=0, json_schema_extra=ONE_ARM)
    """× Σ|hand joint velocity| (one arm only)."""


class AllegroKukaConfig(BaseModel):
    """Everything that defines one Allegro-Kuka task variant: the structure (``subtask``, ``num_arms``,
    ``obstacle``: chosen by :data:`VARIANTS`), the user settings (``task.<name>``; snake_case forms of the
    IsaacGymEnvs keys) and two internal fields set by the table only.

    Raises:
        pydantic.ValidationError: a value out of its range or an impossible structure (at construction).
    """

    model_config = SETTINGS

    subtask: Subtask = Field(json_schema_extra=STRUCTURE)
    """regrasping | reorientation | throw."""
    num_arms: Literal[1, 2] = Field(json_schema_extra=STRUCTURE)
    """1 or 2."""
    obstacle: Obstacle | None = Field(None, json_schema_extra=STRUCTURE)
    """Two-arm reorientation obstacle: None, hole, partition or barrier (§13, see docs/tasks/allegro_kuka.md)."""
    episode_length: int = Field(600, ge=2)
    """Control steps (60 Hz) allowed per goal; the counter restarts at each success (§1)."""
    success_steps: int = Field(1, ge=1)
    """Near-goal steps (cumulative) for one success (§5.2)."""
    success_tolerance: float = Field(0.075, gt=0)
    """Initial tolerance; the keypoint threshold is tolerance × keypoint_scale (m)."""
    target_success_tolerance: Annotated[float, Field(gt=0), AfterValidator(_at_most_success_tolerance)] = 0.01
    """The curriculum's final tolerance (= success_tolerance: no curriculum), §5.3."""
    tolerance_curriculum_increment: float = Field(0.9, gt=0, le=1)
    """Multiplicative tightening step of the tolerance."""
    tolerance_curriculum_interval: int = Field(3000, ge=1)
    """Control steps between tightenings (EPO's repo uses 300)."""
    tolerance_curriculum_min_successes: float = Field(3.0, ge=0, json_schema_extra=INTERNAL)
    """Mean last-episode successes needed to tighten, §5.3."""
    max_consecutive_successes: int = Field(50, ge=0)
    """The episode ends after this many successes (0: no cap), §5.4."""
    rewards: RewardScales = Field(default_factory=RewardScales)
    """Reward coefficients, §7 (``task.rewards.<name>``)."""
    keypoint_scale: float = Field(1.5, gt=0)
    """Keypoint offsets as a multiple of the half object size, §4.2."""
    force_scale: float = Field(2.0, ge=0)
    """Random object force std per kg of object mass (N/kg), §4.5; 0 disables."""
    force_prob_range: Annotated[Pair(Probability), AfterValidator(_ordered)] = (0.001, 0.1)
    """[low, high] of the log-uniform per-env force probability."""
    force_decay: float = Field(0.99, ge=0, le=1)
    """The force decays by this factor every force_decay_interval."""
    force_decay_interval: float = Field(0.08, gt=0)
    """Seconds per force_decay."""
    dof_speed_scale: float = Field(10.0, ge=0, json_schema_extra=ONE_ARM)
    """Arm joints' incremental target rate, rad/s at |action| = 1, §2.5 (one arm only)."""
    actions_moving_average: float = Field(1.0, gt=0, le=1)
    """Alpha of the target moving average (1: no smoothing), §2.5."""
    reset_dof_pos_random_interval_arm: float = Field(0.1, ge=0, le=1)
    """Arm joint reset noise fraction c, §8."""
    reset_dof_pos_random_interval_fingers: float = Field(0.1, ge=0, le=1)
    """Finger joint reset noise fraction c, §8."""
    reset_dof_vel_random_interval: float = Field(0.5, ge=0)
    """Joint velocity reset noise (rad/s), §8."""
    with_small_cuboids: bool = True
    """Object family, §4.1 (false for all three: every env gets the base 5 cm cube)."""
    with_big_cuboids: bool = True
    """Object family, §4.1."""
    with_sticks: bool = True
    """Object family, §4.1."""
    clamp_abs_observations: float = Field(10.0, gt=0)
    """Observation clamp, §6."""
    fingertip_reset_distance: float = Field(0.0, ge=0, json_schema_extra=INTERNAL)
    """The env resets when a fingertip point is farther than this from the object (m), §5.4; 0 disables."""

    @model_validator(mode="after")
    def _possible(self) -> AllegroKukaConfig:
        if self.num_arms == 2 and self.subtask == "throw":
            raise ValueError("the two-arm family has no throw subtask (spec §0)")
        if self.obstacle is not None and (self.num_arms != 2 or self.subtask != "reorientation"):
            raise ValueError("obstacles exist only in two-arm reorientation (spec §13)")
        return self

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
        name: the registered name (set by :data:`VARIANTS`); names the settings model (``<name>Settings``).
    """

    doc: str
    subtask: str
    num_arms: int
    obstacle: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    name: str = "AllegroKuka"

    def settings_model(self, *, internal: bool = False) -> type[BaseModel]:
        """What a user may set for this variant (``internal``: also what the table may set), with this variant's
        defaults: the fields of :class:`AllegroKukaConfig` but the structure, internal ones and another arm
        count's. Built once per variant."""
        return _settings_model(self, internal)

    def config(self, settings: Mapping[str, Any] | None = None) -> AllegroKukaConfig:
        """The task's config: defaults, then :attr:`overrides`, then the user's ``settings`` (groups merged key
        by key).

        Raises:
            pydantic.ValidationError: an unknown setting, or a value of the wrong type or out of range (the
                user's, checked against :meth:`settings_model`).
        """
        user = self.settings_model().model_validate(dict(settings or {})).model_dump()
        values = _merge(_merge({}, self.overrides), user)
        return AllegroKukaConfig(subtask=self.subtask, num_arms=self.num_arms, obstacle=self.obstacle, **values)

    def defaults(self) -> dict[str, Any]:
        """This variant's value of every user setting as plain data, nested (tuples as lists)."""
        from tasks.settings import defaults

        return defaults(self.settings_model())


_MODELS: dict[tuple[int, bool], tuple[Variant, type[BaseModel]]] = {}  # built once per variant


def _settings_model(variant: Variant, internal: bool) -> type[BaseModel]:
    key = (id(variant), internal)
    if key not in _MODELS:
        def keep(extra: dict[str, Any]) -> bool:
            return (not extra.get("structure") and (internal or not extra.get("internal"))
                    and extra.get("num_arms", variant.num_arms) == variant.num_arms)

        _MODELS[key] = variant, _model(AllegroKukaConfig, f"{variant.name}Settings", keep,
                                           variant.overrides)
    return _MODELS[key][1]


def _model(cls: type[BaseModel], name: str, keep: Any, overrides: Mapping[str, Any]) -> type[BaseModel]:
    """``cls`` restricted to the fields ``keep(json_schema_extra)`` accepts, ``overrides`` as their defaults
    (nested models likewise, named ``<name><Field>``)."""
    fields: dict[str, Any] = {}
    for key, info in cls.model_fields.items():
        if not keep(info.json_schema_extra or {}):
            continue
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            inner = _model(info.annotation, name.removesuffix("Settings") + key.title(), keep,
                           overrides.get(key, {}))
            fields[key] = (inner, Field(default_factory=inner, description=info.description))
        else:
            default = overrides.get(key, info.default)
            hint = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            fields[key] = (hint, Field(default, description=info.description))
    return create_model(name, __config__=GENERATED, __doc__=cls.__doc__, **fields)


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated with ``top``, nested mappings merged key by key."""
    for key, value in top.items():
        nested = isinstance(value, Mapping) and isinstance(base.get(key), Mapping)
        base[key] = _merge(dict(base[key]), value) if nested else value
    return base


def check_variants(variants: Mapping[str, Variant]) -> None:
    """Raise ``pydantic.ValidationError`` (titled ``<variant>Settings``, naming the field) for an override
    that :class:`AllegroKukaConfig` lacks, that is another arm count's, or of the wrong type or range, or for an
    impossible variant. Run on :data:`VARIANTS` at import."""
    for name, variant in variants.items():
        named = dataclasses.replace(variant, name=name)
        named.settings_model(internal=True).model_validate(dict(variant.overrides))
        named.config()


VARIANTS: dict[str, Variant] = {name: dataclasses.replace(variant, name=name) for name, variant in {
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
        "geometry not public: our design, see docs/tasks/allegro_kuka.md). Observation 196, action 46.",
        "reorientation", 2, obstacle="partition"),
    "AllegroKukaTwoArmsReorientationHole": Variant(
        "Two-arm reorientation with EPO's wall and its 0.2 m x 0.4 m slot (§13, the public EPO code). "
        "Observation 196, action 46.", "reorientation", 2, obstacle="hole"),
    "AllegroKukaTwoArmsReorientationBarrier": Variant(
        "Two-arm reorientation with an impassable wall on the table middle; the object must be handed over "
        "around its side (EPO 'Barrier'; geometry not public: our design, see docs/tasks/allegro_kuka.md). "
        "Observation 196, action 46.", "reorientation", 2, obstacle="barrier"),
}.items()}
check_variants(VARIANTS)
