"""Simulator backends behind :class:`tasks.sim.base.BatchedSim`; ``make_sim`` picks one by name.

Only the modules of this package import a simulator; each is imported lazily, so a missing optional package
(mujoco_warp, isaacgym) only fails for the backend that needs it. A new backend: a :class:`BatchedSim`
subclass (the contract is in :mod:`tasks.sim.base`) and an entry in :data:`BACKENDS`. ``isaacgym`` is the
exception: it runs the original IsaacGymEnvs tasks whole (:mod:`tasks.sim.isaacgym_envs`), not our kernels.
"""

from __future__ import annotations

import importlib
from typing import Any

from tasks.base import TaskConfigError, closest
from tasks.sim.base import BatchedSim, Scene

# name -> ("module:class", what to install when its import fails)
BACKENDS: dict[str, tuple[str, str]] = {
    "mujoco_cpu": ("tasks.sim.mujoco_cpu:MujocoBatchedSim", "pip install mujoco"),
    "mujoco_warp": ("tasks.sim.mujoco_warp:MujocoWarpBatchedSim", "pip install 'epo_isaac[warp]' "
                    "(mujoco-warp, warp-lang) and run on an NVIDIA GPU"),
    # not a physics backend: the original IsaacGymEnvs tasks (tasks.sim.isaacgym_envs)
    "isaacgym": ("tasks.sim.isaacgym:IsaacGymEnvsTask", "Isaac Gym is not on PyPI: download it from "
                 "NVIDIA, pip install its python/ folder and IsaacGymEnvs (Isaac Gym Preview 4 supports Python "
                 "3.6-3.8 and this project needs 3.10+: README, sim=isaacgym)"),
}
ALIASES = {"mujoco": "mujoco_cpu", "cpu": "mujoco_cpu", "warp": "mujoco_warp"}
DEFAULT_BACKEND = "mujoco"  # cfg/config.yaml's default sim group


def canonical(backend: str) -> str:
    """The :data:`BACKENDS` key of ``backend`` or of its alias (``mujoco`` -> ``mujoco_cpu``); unknown names
    come back unchanged."""
    return ALIASES.get(backend, backend)


def backend_class(backend: str) -> type:
    """Import and return the class of simulator backend ``backend`` (a :data:`BACKENDS` name or an alias).

    Raises:
        TaskConfigError: unknown backend (the message lists the valid names), or its simulator package is not
            installed (one line: the import error and, once, what to install).
    """
    name = canonical(backend)
    if name not in BACKENDS:
        valid = sorted(BACKENDS) + sorted(ALIASES)
        raise TaskConfigError(f"unknown simulator backend {backend!r}{closest(str(backend), valid)}; "
                              f"valid backends: {', '.join(valid)}")
    target, install = BACKENDS[name]
    module, cls = target.split(":")
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        reason = " ".join(str(e).split())
        raise TaskConfigError(f"sim={backend} needs a simulator package that is not installed ({reason}): "
                              f"{install}; or use sim={DEFAULT_BACKEND}") from e
    return getattr(mod, cls)


def make_sim(backend: str, scene: Scene, num_envs: int, **kwargs: Any) -> BatchedSim:
    """Build ``num_envs`` worlds of ``scene`` on ``backend`` (keyword arguments go to its constructor, e.g.
    ``world_fields``, ``nthread``, ``device``, ``substeps``; see :mod:`tasks.sim.base`).

    Raises:
        TaskConfigError: unknown backend, or its simulator package is missing (see :func:`backend_class`).
        TypeError: the backend misses part of the contract (:meth:`BatchedSim.check_contract`; an abstract
            method: Python's own message), or does not take one of ``kwargs``.
    """
    cls = backend_class(backend)
    if not issubclass(cls, BatchedSim):
        raise TaskConfigError(f"sim={backend} runs the original IsaacGymEnvs tasks (tasks.make), not a scene")
    sim = cls(scene, num_envs, **kwargs)
    sim.check_contract()
    return sim
