"""Task registry: every batched task by name.

``tasks.make(name, ...)`` builds a :class:`tasks.base.BatchedTask`; ``tasks.check_settings(name, ...)`` validates
the same arguments without building. Entries are imported lazily so a missing optional simulator only fails for the
tasks that need it. User mistakes raise :class:`tasks.base.TaskConfigError` (one line).
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

from tasks import settings as S  # noqa: E402
from tasks.allegro_kuka.config import VARIANTS  # noqa: E402
from tasks.base import BatchedTask, TaskConfigError, closest, fixed_physics_reason  # noqa: E402

__all__ = ["TASKS", "BatchedTask", "TaskConfigError", "check_settings", "make", "make_viewer", "register"]

# name -> "module:attr": a factory, or a mapping name -> factory. A factory takes keyword arguments only
# (see tasks.base): num_envs: int, seed: int, device: str, sim: dict (unless marked fixed_physics), plus the
# task's own settings (tasks.settings: its annotated keyword arguments, or its ``settings`` attribute).
TASKS: dict[str, str] = {
    "Pendulum": "tasks.gymnasium:make_pendulum",
    "LunarLanderContinuous": "tasks.gymnasium:make_lunar_lander",
    "HalfCheetah": "tasks.gymnasium:make_half_cheetah",
    "Hopper": "tasks.gymnasium:make_hopper",
    "Walker2d": "tasks.gymnasium:make_walker2d",
    "BipedalWalker": "tasks.gymnasium:make_bipedal_walker",
    "Gym": "tasks.gymnasium:make_gym",  # any Gymnasium id with Box actions: task.env_id=<id>
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


# --------------------------------------------------------------------------------------------- checks
def settings_of(factory: Callable[..., Any]) -> dict[str, S.Setting] | None:
    """What ``factory`` accepts: its ``settings`` attribute, else its keyword arguments (None: unchecked)."""
    declared = getattr(factory, "settings", None)
    return dict(declared) if declared is not None else S.from_signature(factory)


def _check_keys_and_types(name: str, factory: Callable[..., Any], settings: dict[str, Any]) -> None:
    """Raise :class:`TaskConfigError` for an unknown, missing or mistyped setting of task ``name``."""
    accepted = settings_of(factory)
    if accepted is not None:
        S.check(settings, accepted, owner=f"task {name}")


def _check_sim(name: str, factory: Callable[..., Any], sim: dict[str, Any] | None) -> None:
    """Raise :class:`TaskConfigError` unless task ``name`` can run on ``sim["backend"]`` (the factory's
    ``check_sim(sim)``, when it has one) and its package is installed. A :func:`~tasks.base.fixed_physics` task
    accepts only the default backend (or none)."""
    from tasks.sim import DEFAULT_BACKEND, backend_class, canonical

    backend = (sim or {}).get("backend")
    reason = fixed_physics_reason(factory)
    if reason is None:
        check_sim = getattr(factory, "check_sim", None)  # e.g. a variant without an Isaac Gym counterpart
        if check_sim is not None:
            check_sim(sim)
        backend_class(str(backend or DEFAULT_BACKEND))
    elif backend is not None and canonical(str(backend)) != canonical(DEFAULT_BACKEND):
        raise TaskConfigError(f"task {name} has no simulator choice ({reason}); drop sim={backend}")


def check_settings(name: str, *, num_envs: int = 1, sim: dict[str, Any] | None = None, **settings: Any) -> None:
    """Check what :func:`make` would get without building the task (cheap; run it before writing anything).

    Args:
        name: a key of :data:`TASKS`.
        num_envs: environments (>= 1).
        sim: simulator settings with a ``backend`` key (``cfg/sim/*.yaml``); None: the default.
        settings: the task's own settings (``cfg/task/<name>.yaml`` minus ``name``/``num_envs``).

    Raises:
        TaskConfigError: unknown task (closest name suggested), ``num_envs`` not a positive int, an unknown
            setting (closest suggested), a missing required one, a value of the wrong type
            (``task.episode_length=abc: expected int``), a simulator backend the task cannot use, a
            simulator package that is not installed, or what the factory's own ``precheck`` finds (task ``Gym``:
            an unknown Gymnasium id or one with discrete actions).
    """
    factory = _check_static(name, num_envs, sim, settings)
    precheck = getattr(factory, "precheck", None)
    if precheck is not None:
        precheck(settings)


def _check_static(name: str, num_envs: int, sim: dict[str, Any] | None, settings: dict[str, Any]) -> Callable[..., Any]:
    """:func:`check_settings` without the factory's ``precheck`` (which builds an env); returns the factory."""
    factory = _resolve(name)
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise TaskConfigError(f"task.num_envs={S.show(num_envs)}: expected an int >= 1")
    _check_keys_and_types(name, factory, settings)
    _check_sim(name, factory, sim)
    return factory


def make(
    name: str,
    *,
    num_envs: int,
    seed: int = 0,
    device: str = "cpu",
    sim: dict[str, Any] | None = None,
    **settings: Any,
) -> BatchedTask:
    """Build task ``name`` with ``num_envs`` envs after :func:`check_settings`' static checks (a factory's
    ``precheck`` is skipped: building the task finds the same problems).

    Raises:
        TaskConfigError: everything :func:`check_settings` raises, and what the task finds wrong while it is
            built.
    """
    factory = _check_static(name, num_envs, sim, settings)  # the factory itself finds what a precheck would
    if fixed_physics_reason(factory) is None:
        settings["sim"] = dict(sim or {})
    return factory(num_envs=num_envs, seed=seed, device=device, **settings)


def make_viewer(name: str, *, seed: int = 0, **settings: Any) -> BatchedTask:
    """One env of task ``name`` that can :meth:`~tasks.base.BatchedTask.render`: the MuJoCo CPU backend
    with one thread for simulated tasks, ``render_mode="rgb_array"`` for Gymnasium ones. ``settings`` as
    for :func:`make` (``num_envs`` is 1, the device is the CPU)."""
    factory = _resolve(name)
    if "render_mode" in (settings_of(factory) or {}):
        settings = {**settings, "render_mode": "rgb_array"}
    return make(name, num_envs=1, seed=seed, device="cpu", sim={"backend": "mujoco_cpu", "nthread": 1},
                **settings)
