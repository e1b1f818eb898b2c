"""MuJoCo offscreen frames of one world of a backend that keeps host-side MuJoCo data (``mujoco_cpu``).

Headless: ``MUJOCO_GL=egl`` (the default set by :mod:`tasks`; Debian packages libegl1 libegl-mesa0
libgl1-mesa-dri) or ``MUJOCO_GL=osmesa`` (libosmesa6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mujoco  # MUJOCO_GL was set by the package (tasks/__init__.py), which always loads first
import numpy as np


@dataclass(frozen=True)
class Camera:
    """A free camera: it looks at ``lookat`` (m, env frame) from ``distance`` (m), ``azimuth`` and
    ``elevation`` (degrees)."""

    lookat: tuple[float, float, float]
    distance: float
    azimuth: float
    elevation: float


class MujocoFrames:
    """Offscreen frames of world ``env`` of ``sim`` seen by ``camera``: call it for an RGB image
    ``[height, width, 3]`` uint8 of the world's current state. ``key`` is ``(env, width, height)``.

    Raises:
        TypeError: ``sim`` keeps no host-side MuJoCo data (``mj_model``/``mj_data``; e.g. MuJoCo Warp).
    """

    def __init__(self, sim: Any, camera: Camera, env: int = 0, width: int = 640, height: int = 480) -> None:
        if not hasattr(sim, "mj_data"):
            raise TypeError(f"{type(sim).__name__} has no host-side MuJoCo data to render; use sim=mujoco")
        self.key = (env, width, height)
        self.sim, self.env = sim, env
        self.renderer = mujoco.Renderer(sim.mj_model(env), height, width)
        self.camera = mujoco.MjvCamera()
        self.camera.lookat[:] = camera.lookat
        self.camera.distance, self.camera.azimuth, self.camera.elevation = (
            camera.distance, camera.azimuth, camera.elevation)

    def __call__(self) -> np.ndarray:
        self.renderer.update_scene(self.sim.mj_data(self.env), camera=self.camera)
        return self.renderer.render()

    def close(self) -> None:
        self.renderer.close()
