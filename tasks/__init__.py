"""Task registry: every batched task by name.

``tasks.make(name, ...)`` builds a :class:`tasks.base.BatchedTask`; ``tasks.check_settings(name, ...)`` validates
the same arguments without building. A task's settings (``task.*``) are a pydantic model,
:func:`settings_model`, with defaults :func:`defaults`; the simulator settings (``sim.*``) are
:mod:`tasks.sim.config`'s (:func:`sim_model`). A bad value raises ``pydantic.ValidationError`` naming the field;
other user mistakes (an unknown task or backend, a simulator that is not installed, a task that cannot run on the
chosen simulator) raise :class:`tasks.base.TaskConfigError` (one line). Entries are imported lazily so a missing
optional simulator only fails for the tasks that need it.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

# Headless offscreen rendering (videos) with EGL unless the user chose a backend; MuJoCo reads this
# when it is first imported, so it is set before any simulator module loads.
os.environ.setdefault("MUJOCO_GL", "egl")
# With EGL, importing mujoco imports PyOpenGL, which logs at INFO that its optional accelerator is missing: noise
# on the console of every run whose logging shows INFO (train.py's).
logging.getLogger("OpenGL.acceleratesupport").setLevel(logging.WARNING)

from pydantic import BaseModel  # noqa: E402

from tasks import settings as S  # noqa: E402
from tasks.allegro_kuka.config import VARIANTS  # noqa: E402
from tasks.base import BatchedTask, TaskConfigError, closest, fixed_physics_reason  # noqa: E402
from tasks.sim.config import (  # noqa: E402
    BACKEND_NAMES,
    DEFAULT_BACKEND,
    IsaacGymConfig,
    SimConfig,
    canonical,
    sim_config,
    sim_defaults,
    sim_model,
)

__all__ = ["BACKEND_NAMES", "TASKS", "BatchedTask", "SimConfig", "TaskConfigError", "check_settings", "defaults",
           "make", "make_viewer", "register", "settings_model", "sim_defaults", "sim_model"]

# name -> "module:attr": a factory, or a mapping name -> factory. A factory takes keyword arguments only
# (see tasks.base): num_envs: int, seed: int, device: str, sim: a validated SimConfig (unless marked
# fixed_physics), plus the task's own settings (tasks.settings: its ``settings_model`` attribute, or its annotated
# keyword arguments).
TASKS: dict[str, str] = {
    "Pendulum": "tasks.gymnasium:make_pendulum",
    "LunarLanderContinuous": "tasks.gymnasium:make_lunar_lander",
    "HalfCheetah": "tasks.gymnasium:make_half_cheetah",
    "Hopper": "tasks.gymnasium:make_hopper",
    "Walker2d": "tasks.gymnasium:make_walker2d",
    "BipedalWalker": "tasks.gymnasium:make_bipedal_walker",
    "Gym": "tasks.gymnasium:make_gym",  # any Gymnasium id with Box actions: task.env_id=<id>
    "ContinuousMountainCar": "tasks.mountain_car:make_mountain_car",  # pure torch, no simulator
    **dict.fromkeys(VARIANTS, "tasks.allegro_kuka.registry:FACTORIES"),  # the eight Allegro-Kuka variants
}


def register(name: str, target: str) -> None:
    """Add ``name`` -> ``"module:attr"`` to the registry (raises ``ValueError`` on a clash)."""
    if name in TASKS and TASKS[name] != target:
        raise ValueError(f"task {name!r} is already registered as {TASKS[name]}")
    TASKS[name] = target


def _resolve(name: str) -> Callable[..., BatchedTask]:
    """The factory of task ``name``.

    Raises:
        TaskConfigError: unknown name (the message suggests the closest one, ``task=Gym`` for a Gymnasium id,
            and lists the valid ones).
    """
    if name not in TASKS:
        raise TaskConfigError(f"unknown task {name!r}{closest(str(name), TASKS)}{_gym_hint(str(name))}; "
                              f"valid tasks: {', '.join(sorted(TASKS))}")
    module, attr = TASKS[name].split(":")
    target = getattr(importlib.import_module(module), attr)
    return target[name] if isinstance(target, Mapping) else target


def _gym_hint(name: str) -> str:
    """``"; Hopper-v5 is a Gymnasium id: use task=Gym task.env_id=Hopper-v5"`` when ``name`` is one, else ``""``."""
    try:
        import gymnasium
    except ImportError:
        return ""
    return f"; {name} is a Gymnasium id: use task=Gym task.env_id={name}" if name in gymnasium.registry else ""


# --------------------------------------------------------------------------------------------- settings
def settings_model(name: str) -> type[BaseModel]:
    """The pydantic model of task ``name``'s own settings (``task.*`` without ``name`` and ``num_envs``): unknown
    keys forbidden, strict types, ranges; its fields' descriptions document the settings.

    Raises:
        TaskConfigError: unknown task (see :func:`make`).
    """
    return S.model_of(_resolve(name))


def defaults(name: str) -> dict[str, Any]:
    """Task ``name``'s default settings as plain nested data (what ``cfg/task/<name>.yaml`` gets from Hydra's
    ConfigStore; required settings are left out).

    Raises:
        TaskConfigError: unknown task.
    """
    return S.defaults(settings_model(name))


# --------------------------------------------------------------------------------------------- checks
def _check_sim(name: str, factory: Callable[..., Any], sim: SimConfig | Mapping[str, Any] | None) -> SimConfig:
    """``sim`` validated, after checking task ``name`` can run on it: a :func:`~tasks.base.fixed_physics` task
    only on the default backend; ``sim=isaacgym`` only for a task with an IsaacGymEnvs counterpart
    (:mod:`tasks.isaacgymenvs`); otherwise the factory's ``check_sim(sim)``, when it has one, and the backend's
    package must be installed.

    Raises:
        TaskConfigError: as listed. pydantic.ValidationError: a bad ``sim.*`` value.
    """
    from tasks.sim import backend_class

    settings = sim_config(sim)
    reason = fixed_physics_reason(factory)
    if reason is not None:
        if canonical(settings.backend) != canonical(DEFAULT_BACKEND):
            raise TaskConfigError(f"task {name} has no simulator choice ({reason}); drop sim={settings.backend}")
    elif isinstance(settings, IsaacGymConfig):
        from tasks import isaacgymenvs

        isaacgymenvs.check(name)
    else:
        check_sim = getattr(factory, "check_sim", None)  # e.g. a scene built for one physics step
        if check_sim is not None:
            check_sim(settings)
        backend_class(settings.backend)
    return settings


def check_settings(name: str, *, num_envs: int = 1, sim: SimConfig | Mapping[str, Any] | None = None,
                   **settings: Any) -> None:
    """Check what :func:`make` would get without building the task (cheap; run it before writing anything).

    Args:
        name: a key of :data:`TASKS`.
        num_envs: environments (>= 1).
        sim: simulator settings with a ``backend`` key (``cfg/sim/*.yaml``; :mod:`tasks.sim.config`); None: the
            default backend's defaults.
        settings: the task's own settings (``cfg/task/<name>.yaml`` minus ``name``/``num_envs``).

    Raises:
        pydantic.ValidationError: a task setting (:func:`settings_model`) or a ``sim.*`` setting
            (:func:`sim_model`) that is unknown, missing, of the wrong type or out of range; the error's ``title``
            is the model's name.
        TaskConfigError: unknown task (closest name suggested), ``num_envs`` not a positive int, an unknown
            simulator backend, one the task cannot use, a simulator package that is not installed, or what the
            factory's own ``precheck`` finds (task ``Gym``: an empty or unknown Gymnasium id, or one with
            discrete actions).
    """
    factory, values, _ = _check_static(name, num_envs, sim, settings)
    precheck = getattr(factory, "precheck", None)
    if precheck is not None:
        precheck(values)


def _check_static(name: str, num_envs: int, sim: SimConfig | Mapping[str, Any] | None, settings: dict[str, Any]
                  ) -> tuple[Callable[..., Any], dict[str, Any], SimConfig]:
    """:func:`check_settings` without the factory's ``precheck`` (which builds an env): the factory, the
    validated settings (plain keyword arguments) and simulator settings."""
    factory = _resolve(name)
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise TaskConfigError(f"task.num_envs={num_envs}: expected an int >= 1")
    values = S.model_of(factory).model_validate(settings).model_dump()
    return factory, values, _check_sim(name, factory, sim)


def make(
    name: str,
    *,
    num_envs: int,
    seed: int = 0,
    device: str = "cpu",
    sim: SimConfig | Mapping[str, Any] | None = None,
    **settings: Any,
) -> BatchedTask:
    """Build task ``name`` with ``num_envs`` envs after :func:`check_settings`' static checks (a factory's
    ``precheck`` is skipped: building the task finds the same problems). ``sim=isaacgym`` builds the original
    IsaacGymEnvs task (:mod:`tasks.isaacgymenvs`).

    Raises:
        pydantic.ValidationError, TaskConfigError: everything :func:`check_settings` raises, and what the task
            finds wrong while it is built.
    """
    factory, values, sim_settings = _check_static(name, num_envs, sim, settings)
    if fixed_physics_reason(factory) is not None:
        return factory(num_envs=num_envs, seed=seed, device=device, **values)
    if isinstance(sim_settings, IsaacGymConfig):
        from tasks import isaacgymenvs

        return isaacgymenvs.make(name, num_envs=num_envs, seed=seed, device=device, sim=sim_settings, **values)
    return factory(num_envs=num_envs, seed=seed, device=device, sim=sim_settings, **values)


def make_viewer(name: str, *, seed: int = 0, **settings: Any) -> BatchedTask:
    """One env of task ``name`` that can :meth:`~tasks.base.BatchedTask.render`: the MuJoCo CPU backend
    with one thread for simulated tasks, ``render_mode="rgb_array"`` for Gymnasium ones. ``settings`` as
    for :func:`make` (``num_envs`` is 1, the device is the CPU)."""
    if "render_mode" in settings_model(name).model_fields:
        settings = {**settings, "render_mode": "rgb_array"}
    return make(name, num_envs=1, seed=seed, device="cpu", sim={"backend": "mujoco", "num_threads": 1}, **settings)
