"""Simulator backends behind :class:`tasks.sim.base.BatchedSim` and every ``sim.*`` setting
(:mod:`tasks.sim.config`); ``make_sim`` builds a backend from the validated settings.

Only the modules of this package import a simulator; each is imported lazily, so a missing optional package
(mujoco_warp) only fails for the backend that needs it. A new backend: a :class:`BatchedSim` subclass (the
contract is in :mod:`tasks.sim.base`), an entry in :data:`BACKENDS` and a settings model in
:data:`tasks.sim.config.SIM_CONFIGS`. ``sim=isaacgym`` has a settings model but no backend here: it runs the
original IsaacGymEnvs tasks whole (:mod:`tasks.isaacgymenvs`, dispatched by :func:`tasks.make`).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from tasks.base import TaskConfigError
from tasks.sim.base import BatchedSim, Scene
from tasks.sim.config import DEFAULT_BACKEND, SimConfig, canonical, sim_config, sim_model

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "BatchedSim", "SimConfig", "backend_class", "canonical", "make_sim",
           "require", "sim_config", "sim_model"]

# canonical name -> ("module:class", what to install when its import fails)
BACKENDS: dict[str, tuple[str, str]] = {
    "mujoco_cpu": ("tasks.sim.mujoco_cpu:MujocoBatchedSim", "pip install mujoco"),
    "mujoco_warp": ("tasks.sim.mujoco_warp:MujocoWarpBatchedSim", "pip install 'epo_isaac[warp]' "
                    "(mujoco-warp, warp-lang) and run on an NVIDIA GPU"),
}


def require(module: str, backend: str, install: str) -> ModuleType:
    """Import ``module``, the code of simulator choice ``backend``.

    Raises:
        TaskConfigError: a package it needs is not installed (one line: the import error and, once, what to
            install).
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        reason = " ".join(str(e).split())
        raise TaskConfigError(f"sim={backend} needs a simulator package that is not installed ({reason}): "
                              f"{install}; or use sim={DEFAULT_BACKEND}") from e


def backend_class(backend: str) -> type[BatchedSim]:
    """Import and return the class of simulator backend ``backend`` (a :data:`BACKENDS` name or an alias).

    Raises:
        TaskConfigError: ``backend`` has no :data:`BACKENDS` entry, or its simulator package is not installed
            (see :func:`require`).
    """
    name = canonical(backend)
    if name not in BACKENDS:
        raise TaskConfigError(f"sim={backend} is not a physics backend; valid: {', '.join(sorted(BACKENDS))}")
    target, install = BACKENDS[name]
    module, cls = target.split(":")
    return getattr(require(module, backend, install), cls)


def make_sim(sim: SimConfig, scene: Scene, num_envs: int, **kwargs: Any) -> BatchedSim:
    """Build ``num_envs`` worlds of ``scene`` on the backend ``sim`` (validated settings, :func:`sim_config`)
    names, with its settings (``sim.backend_options()``) and what the task adds in ``kwargs`` (``world_fields``,
    ``device``, ``seed``; see :mod:`tasks.sim.base`).

    Raises:
        TaskConfigError: the backend's simulator package is missing (see :func:`backend_class`).
        TypeError: the backend misses part of the contract (:meth:`BatchedSim.check_contract`; an abstract
            method: Python's own message), or does not take one of the keywords.
    """
    cls = backend_class(sim.backend)
    built = cls(scene, num_envs, **sim.backend_options(), **kwargs)
    built.check_contract()
    return built
