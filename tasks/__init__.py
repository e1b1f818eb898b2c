"""Task registry: every batched task by name.

``tasks.make(name, ...)`` builds a :class:`tasks.base.BatchedTask`. Entries are imported lazily so a
missing optional simulator only fails for the tasks that need it.
"""

from __future__ import annotations

import importlib
import inspect
import os
from typing import Any

# Headless offscreen rendering (videos) with EGL unless the user chose a backend; MuJoCo reads this
# when it is first imported, so it is set before any simulator module loads.
os.environ.setdefault("MUJOCO_GL", "egl")

from tasks.base import BatchedTask  # noqa: E402

# name -> "module:factory". A factory takes keyword arguments only:
#   num_envs: int, seed: int, device: str, sim: dict, plus the task's own settings.
TASKS: dict[str, str] = {
    "Pendulum": "tasks.gymnasium:make_pendulum",
    "LunarLanderContinuous": "tasks.gymnasium:make_lunar_lander",
    "HalfCheetah": "tasks.gymnasium:make_half_cheetah",
    "Hopper": "tasks.gymnasium:make_hopper",
    "AllegroKukaRegrasping": "tasks.allegro_kuka.registry:make_regrasping",
    "AllegroKukaReorientation": "tasks.allegro_kuka.registry:make_reorientation",
    "AllegroKukaThrow": "tasks.allegro_kuka.registry:make_throw",
    "AllegroKukaTwoArmsRegrasping": "tasks.allegro_kuka.registry:make_two_arms_regrasping",
    "AllegroKukaTwoArmsReorientation": "tasks.allegro_kuka.registry:make_two_arms_reorientation",
    "AllegroKukaTwoArmsReorientationPartition": (
        "tasks.allegro_kuka.registry:make_two_arms_reorientation_partition"
    ),
    "AllegroKukaTwoArmsReorientationHole": (
        "tasks.allegro_kuka.registry:make_two_arms_reorientation_hole"
    ),
    "AllegroKukaTwoArmsReorientationBarrier": (
        "tasks.allegro_kuka.registry:make_two_arms_reorientation_barrier"
    ),
}


def register(name: str, target: str) -> None:
    """Add ``name`` -> ``"module:factory"`` to the registry (raises ``ValueError`` on a clash)."""
    if name in TASKS and TASKS[name] != target:
        raise ValueError(f"task {name!r} is already registered as {TASKS[name]}")
    TASKS[name] = target


def _resolve(name: str) -> Any:
    if name not in TASKS:
        valid = ", ".join(sorted(TASKS))
        raise KeyError(f"unknown task {name!r}; valid tasks: {valid}")
    module, attr = TASKS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def make(
    name: str,
    *,
    num_envs: int,
    seed: int = 0,
    device: str = "cpu",
    sim: dict[str, Any] | None = None,
    **settings: Any,
) -> BatchedTask:
    """Build task ``name`` with ``num_envs`` envs.

    Raises:
        KeyError: unknown task name (the message lists the valid ones).
        TypeError: a setting the task does not define (the message lists the ones it does).
    """
    factory = _resolve(name)
    params = inspect.signature(factory).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        allowed = set(params) - {"num_envs", "seed", "device", "sim"}
        unknown = sorted(set(settings) - allowed)
        if unknown:
            raise TypeError(
                f"task {name!r} does not take setting(s) {unknown}; it takes {sorted(allowed)}"
            )
    return factory(num_envs=num_envs, seed=seed, device=device, sim=dict(sim or {}), **settings)


def make_viewer(name: str, *, seed: int = 0, **settings: Any) -> BatchedTask:
    """One env of task ``name`` that can :meth:`~tasks.base.BatchedTask.render`: the MuJoCo CPU backend
    with one thread for simulated tasks, ``render_mode="rgb_array"`` for Gymnasium ones. ``settings`` as
    for :func:`make` (``num_envs`` is 1, the device is the CPU)."""
    factory = _resolve(name)
    if "render_mode" in inspect.signature(factory).parameters:
        settings = {**settings, "render_mode": "rgb_array"}
    return make(name, num_envs=1, seed=seed, device="cpu", sim={"backend": "mujoco_cpu", "nthread": 1},
                **settings)
