"""Our Allegro-Kuka task names -> the original IsaacGymEnvs tasks and their config (``sim=isaacgym``).

No simulator is imported here: this module only says which IsaacGymEnvs task a variant is and which config
values it gets. Facts from IsaacGymEnvs 1.5.1 (spec §0): ``isaacgym_task_map`` has ``AllegroKuka`` and
``AllegroKukaTwoArms``, each picking its class by ``env.subtask`` (one arm: regrasping, reorientation, throw;
two arms: regrasping, reorientation); their configs are ``cfg/task/AllegroKuka.yaml`` (+
``AllegroKukaTwoArmsLSTM.yaml`` for two arms) with ``cfg/task/env/<subtask>.yaml`` merged into ``env``.

The mapping, said once: every user setting of a variant (:meth:`Variant.settings_model`, ``rewards.*`` flattened)
goes to the upstream ``env`` key that is its camelCase form (``episode_length`` -> ``episodeLength``,
``rewards.lifting_bonus`` -> ``liftingBonus``); the internal fields (curriculum minimum successes 3.0, the
1.5 m fingertip reset) are hard-coded upstream with the same values and are not passed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tasks.allegro_kuka.config import VARIANTS, AllegroKukaConfig
from tasks.base import TaskConfigError

TASK_FILES = {  # isaacgym_task_map key -> its cfg/task files, merged in order
    "AllegroKuka": ("AllegroKuka.yaml",),
    "AllegroKukaTwoArms": ("AllegroKuka.yaml", "AllegroKukaTwoArmsLSTM.yaml"),
}
NO_COUNTERPART = {  # obstacle -> why IsaacGymEnvs has no such task
    "hole": "its wall exists only in EPO's fork of IsaacGymEnvs, YifanSu1301/EPO, spec §13",
    "partition": "the Partition obstacle is this project's design, spec §13",
    "barrier": "the Barrier obstacle is this project's design, spec §13",
}
PLACEHOLDER = "${"  # an OmegaConf interpolation left in an upstream yaml value


def counterpart(name: str) -> tuple[str, str]:
    """``(isaacgym_task_map key, env.subtask)`` of our task ``name``.

    Raises:
        TaskConfigError: the variant has no IsaacGymEnvs counterpart (one line: why, and to use sim=mujoco).
    """
    variant = VARIANTS[name]
    if variant.obstacle is not None:
        raise TaskConfigError(f"task {name} has no IsaacGymEnvs counterpart ({NO_COUNTERPART[variant.obstacle]}); "
                              "use sim=mujoco or sim=mujoco_warp")
    return ("AllegroKuka" if variant.num_arms == 1 else "AllegroKukaTwoArms"), variant.subtask


def camel(snake: str) -> str:
    """``"episode_length"`` -> ``"episodeLength"``."""
    head, *rest = snake.split("_")
    return head + "".join(word.capitalize() for word in rest)


def env_settings(name: str, cfg: AllegroKukaConfig) -> dict[str, Any]:
    """The upstream ``env`` values of task ``name`` built with ``cfg``: ``subtask`` and the camelCase key of every
    user setting (tuples as lists)."""
    values = cfg.model_dump(mode="json")
    out: dict[str, Any] = {"subtask": cfg.subtask}
    for key, info in VARIANTS[name].settings_model().model_fields.items():
        group = info.annotation if isinstance(values[key], dict) else None  # a nested model: rewards
        items = [(k, values[key][k]) for k in group.model_fields] if group is not None else [(key, values[key])]
        out.update({camel(k): v for k, v in items})
    return out


def task_config(name: str, cfg: AllegroKukaConfig, base: Mapping[str, Any], *, num_envs: int, device: str,
                sim: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The config dict IsaacGymEnvs' task constructor takes (``name``, ``physics_engine``, ``env``, ``sim``,
    ``task`` sections), from ``base`` (the merged upstream yaml files of :data:`TASK_FILES`).

    Args:
        name: our task name. cfg: its settings. base: the upstream yaml, interpolations unresolved.
        num_envs: ``env.numEnvs``. device: ``"cuda[:i]"`` turns on the GPU pipeline, else the CPU one.
        sim: ``sim.*`` overrides (``cfg/sim/isaacgym.yaml`` minus ``backend``), nested keys merged.

    Raises:
        TaskConfigError: an ``env``/``sim`` key the upstream config lacks (another IsaacGymEnvs version), or an
            interpolation left unresolved.
    """
    out = copy.deepcopy(dict(base))
    out.pop("defaults", None)
    out["physics_engine"] = "physx"
    env = out["env"]
    for key, value in {**env_settings(name, cfg), "numEnvs": int(num_envs)}.items():
        if key not in env:
            raise TaskConfigError(f"IsaacGymEnvs' {out.get('name')} config has no env.{key}: "
                                  "an IsaacGymEnvs version this project does not know (spec §0: 1.5.1)")
        env[key] = value
    out["sim"]["use_gpu_pipeline"] = device.startswith("cuda")
    out["sim"]["physx"]["num_subscenes"] = 4  # IsaacGymEnvs' cfg/config.yaml default
    merge(out["sim"], dict(sim or {}), "sim")
    left = [path for path, value in _leaves(out) if isinstance(value, str) and PLACEHOLDER in value]
    if left:
        raise TaskConfigError(f"IsaacGymEnvs config values left unresolved: {', '.join(left)}")
    return out


def merge(base: dict[str, Any], top: Mapping[str, Any], where: str | None = None) -> None:
    """Update ``base`` with ``top`` in place, nested mappings key by key. With ``where`` (the dotted name of
    ``base``, for the message) a key ``base`` lacks is a :class:`TaskConfigError`; without, it is added."""
    for key, value in top.items():
        if where is not None and key not in base:
            raise TaskConfigError(f"{where}.{key} is not an Isaac Gym sim setting; valid: {', '.join(sorted(base))}")
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge(base[key], value, None if where is None else f"{where}.{key}")
        else:
            base[key] = value


def _leaves(tree: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted path, value)`` of every non-mapping value of ``tree``."""
    out = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        out.extend(_leaves(value, path + ".") if isinstance(value, Mapping) else [(path, value)])
    return out
