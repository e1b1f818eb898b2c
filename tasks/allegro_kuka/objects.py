"""Each env's cuboid as per-world model fields for the simulator backends (spec §4.1).

One scene serves every env; what differs per env (the object's size, hence its mass and inertia, and a box goal
marker's size) is handed to the backend as :data:`tasks.sim.base.WorldFields`. Spec: docs/spec/allegro_kuka.md.
"""

from __future__ import annotations

import numpy as np

from tasks.allegro_kuka.scene import OBJECT_DENSITY, SceneInfo
from tasks.sim.base import WorldFields


def cuboid_mass_inertia(sizes: np.ndarray, density: float = OBJECT_DENSITY) -> tuple[np.ndarray, np.ndarray]:
    """Mass ``[N]`` kg and principal inertia ``[N, 3]`` kg·m² of solid boxes with full sides ``[N, 3]`` m."""
    m = density * sizes.prod(axis=1)
    sq = sizes**2
    inertia = m[:, None] / 12.0 * np.stack([sq[:, 1] + sq[:, 2], sq[:, 0] + sq[:, 2], sq[:, 0] + sq[:, 1]], 1)
    return m, inertia


def object_world_fields(scene: SceneInfo, sizes: np.ndarray) -> WorldFields:
    """Model fields giving env ``i``'s object the full side lengths ``sizes[i]`` (``[N, 3]`` m): box geom size,
    bounding radius and box, body mass (400 kg/m³) and inertia; a box goal marker (reorientation) gets the same
    geom size so it shows the target pose of that env's object."""
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1, 3)
    half = sizes / 2
    box = {"geom_size": half, "geom_rbound": np.linalg.norm(half, axis=1),
           "geom_aabb": np.concatenate([np.zeros_like(half), half], 1)}
    geoms = [scene.object_geom] + ([scene.goal_geom] if scene.spec.goal == "box" else [])
    mass, inertia = cuboid_mass_inertia(sizes)
    body = scene.body_names[scene.object_body]
    return {**{name: dict.fromkeys(geoms, values) for name, values in box.items()},
            "body_mass": {body: mass}, "body_inertia": {body: inertia}}
