"""Simulator backends behind :class:`tasks.sim.base.BatchedSim`; ``make_sim`` picks one by name.

Only the modules of this package import a simulator; each is imported lazily, so a missing optional package
(mujoco_warp, isaacgym) only fails for the backend that needs it.
"""

from __future__ import annotations

import importlib
from typing import Any

from tasks.sim.base import BatchedSim

# name -> ("module:class", what to install when its import fails)
BACKENDS: dict[str, tuple[str, str]] = {
    "mujoco_cpu": ("tasks.sim.mujoco_cpu:MujocoBatchedSim", "pip install mujoco"),
    "mujoco_warp": ("tasks.sim.mujoco_warp:MujocoWarpBatchedSim", "pip install 'epo_isaac[warp]' "
                    "(mujoco-warp, warp-lang) and run on an NVIDIA GPU"),
    "isaacgym": ("tasks.sim.isaacgym:IsaacGymBatchedSim", "Isaac Gym is not on PyPI: download it from "
                 "NVIDIA (Python <= 3.8) and pip install its python/ folder"),
}
ALIASES = {"mujoco": "mujoco_cpu", "cpu": "mujoco_cpu", "warp": "mujoco_warp"}


def make_sim(backend: str, scene: Any, num_envs: int, **kwargs: Any) -> BatchedSim:
    """Build ``num_envs`` worlds of ``scene`` on ``backend`` (keyword arguments go to its constructor).

    Raises:
        ValueError: unknown backend (the message lists the valid names).
        ImportError: the backend's simulator package is not installed (the message says what to install).
    """
    name = ALIASES.get(backend, backend)
    if name not in BACKENDS:
        valid = ", ".join(sorted(BACKENDS) + sorted(ALIASES))
        raise ValueError(f"unknown simulator backend {backend!r}; valid backends: {valid}")
    target, install = BACKENDS[name]
    module, cls = target.split(":")
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"simulator backend {name!r} needs a package that is not installed ({e}); "
                          f"{install}") from e
    return getattr(mod, cls)(scene, num_envs, **kwargs)
