"""A task source: the original IsaacGymEnvs tasks behind the batched-task contract (``sim=isaacgym``).

Not a physics backend of :mod:`tasks.sim`: ``sim=isaacgym`` builds the upstream AllegroKuka / AllegroKukaTwoArms
task itself (its PhysX scene, reward and resets) for those of our Allegro-Kuka names that have a counterpart
(:func:`tasks.allegro_kuka.upstream.counterpart`). :func:`tasks.make` dispatches here when the validated sim
settings are an :class:`~tasks.sim.config.IsaacGymConfig`. Nothing here imports Isaac Gym until :func:`load`
(:mod:`tasks.isaacgymenvs.guard`); the wrapper is :mod:`tasks.isaacgymenvs.wrapper`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from tasks.base import BatchedTask, TaskConfigError
from tasks.sim import require
from tasks.sim.config import IsaacGymConfig

INSTALL = ("Isaac Gym is not on PyPI: download it from NVIDIA, pip install its python/ folder and IsaacGymEnvs "
           "(Isaac Gym Preview 4 supports Python 3.6-3.8 and this project needs 3.10+: docs/tasks/simulators.md)")


def check(name: str) -> None:
    """Raise :class:`TaskConfigError` unless task ``name`` has an IsaacGymEnvs counterpart and Isaac Gym and
    IsaacGymEnvs can be imported (the counterpart first: installing would not help a task without one)."""
    from tasks.allegro_kuka.config import VARIANTS
    from tasks.allegro_kuka.upstream import counterpart

    if name not in VARIANTS:
        raise TaskConfigError(f"task {name} has no IsaacGymEnvs counterpart (sim=isaacgym runs the original "
                              "Allegro-Kuka tasks only); use sim=mujoco")
    counterpart(name)
    load()


def load() -> ModuleType:
    """Import :mod:`tasks.isaacgymenvs.guard` (Isaac Gym, then the wrapper).

    Raises:
        TaskConfigError: Isaac Gym or IsaacGymEnvs is not installed (one line with :data:`INSTALL`), or torch
            was imported before Isaac Gym.
    """
    return require("tasks.isaacgymenvs.guard", "isaacgym", INSTALL)


def make(name: str, *, num_envs: int, seed: int = 0, device: str = "cpu", sim: IsaacGymConfig,
         **settings: Any) -> BatchedTask:
    """Task ``name`` (an Allegro-Kuka variant with a counterpart) as the original IsaacGymEnvs task, with the
    user's ``settings`` (as for :func:`tasks.make`) mapped to the upstream config and ``sim``'s extra keys
    overriding the upstream ``sim`` section.

    Raises:
        TaskConfigError: what :func:`check` raises, or a config key the installed IsaacGymEnvs lacks.
        pydantic.ValidationError: a bad setting.
    """
    from tasks.allegro_kuka.config import VARIANTS

    check(name)
    cfg = VARIANTS[name].config(settings)
    return load().make_allegro_kuka(name, cfg, num_envs=num_envs, seed=seed, device=device,
                                    sim=dict(sim.model_extra or {}))
