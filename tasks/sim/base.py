"""Contract of a batched physics backend (MuJoCo CPU, MuJoCo Warp, Isaac Gym).

Only modules under ``tasks/sim`` import a simulator. A task builds its model (MJCF) once and hands
it to a backend; the backend steps N worlds and exposes state as torch tensors.

Conventions: SI units (m, rad, s, N, N·m); every position is in the env's own frame (each env is a
separate world); quaternions are **(x, y, z, w)**, scalar last, as in the spec and Isaac Gym; a
backend converts from its native order. One control step = ``substeps`` physics steps.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch

# sensordata groups of the scene (tasks/allegro_kuka/scene.py), in order: name, floats per item, item kind
SENSOR_GROUPS: tuple[tuple[str, int, str], ...] = (
    ("body_pos", 3, "body"), ("body_quat_wxyz", 4, "body"), ("body_linvel", 3, "body"),
    ("body_angvel", 3, "body"), ("body_axes", 9, "body"), ("site_pos", 3, "site"), ("dof_pos", 1, "dof"),
    ("dof_vel", 1, "dof"),
)


def sensor_views(buf: torch.Tensor, num_bodies: int, num_sites: int, num_dofs: int) -> dict[str, torch.Tensor]:
    """Named views of a ``[N, S]`` sensordata buffer laid out as :data:`SENSOR_GROUPS` (no copies).

    Returns ``body_pos [N, B, 3]``, ``body_quat_wxyz [N, B, 4]`` (MuJoCo order, w first), ``body_linvel``,
    ``body_angvel [N, B, 3]``, ``body_rotmat [N, B, 3, 3]`` (body -> world; a transposed view of the
    framexaxis/frameyaxis/framezaxis sensors), ``site_pos [N, S, 3]``, ``dof_pos``, ``dof_vel [N, D]``.

    Raises:
        ValueError: the buffer width does not match the tracked names.
    """
    count = {"body": num_bodies, "site": num_sites, "dof": num_dofs}
    widths = [w * count[kind] for _, w, kind in SENSOR_GROUPS]
    if sum(widths) != buf.shape[1]:
        raise ValueError(f"scene sensors ({buf.shape[1]}) do not match the tracked names ({sum(widths)})")
    n, views = buf.shape[0], {}
    for (name, w, kind), lo, hi in zip(SENSOR_GROUPS, np.cumsum([0, *widths[:-1]]), np.cumsum(widths),
                                       strict=True):
        shape = (count[kind],) if w == 1 else (count[kind], w)
        views[name] = buf[:, lo:hi].view(n, *shape)
    views["body_rotmat"] = views.pop("body_axes").view(n, num_bodies, 3, 3).transpose(-1, -2)
    return views


class BatchedSim(ABC):
    """N worlds of one scene. Tensors are refreshed after ``step`` and after ``reset_*``.

    Attributes (torch float32 on ``device``):
        dof_pos ``[N, D]`` rad, dof_vel ``[N, D]`` rad/s: actuated robot joints in spec order.
        body_pos ``[N, B, 3]``, body_quat ``[N, B, 4]`` (x, y, z, w), body_linvel ``[N, B, 3]``,
        body_angvel ``[N, B, 3]`` (world frame), body_rotmat ``[N, B, 3, 3]`` (body -> world, the same
        orientation as body_quat): the tracked bodies named at construction.
        site_pos ``[N, S, 3]``: the tracked sites named at construction.
        unstable ``[N]`` bool: the simulator reset this world during the last ``step`` because it diverged; the
            task ends that env's episode (it is reset like any other done env and counted in
            ``sim/unstable_resets``).

    The tensors are updated in place, so a view taken once (``sim.site_pos[:, :2]``) stays current.
    """

    scene: Any
    num_envs: int
    device: torch.device
    control_dt: float
    dof_pos: torch.Tensor
    dof_vel: torch.Tensor
    body_pos: torch.Tensor
    body_quat: torch.Tensor
    body_linvel: torch.Tensor
    body_angvel: torch.Tensor
    body_rotmat: torch.Tensor
    site_pos: torch.Tensor
    unstable: torch.Tensor

    @abstractmethod
    def set_dof_targets(self, targets: torch.Tensor) -> None:
        """PD position targets ``[N, D]`` rad for the next ``step``."""

    @abstractmethod
    def set_body_force(self, body: int, force: torch.Tensor) -> None:
        """External force ``[N, 3]`` N (world frame) at tracked body ``body``'s centre of mass,
        held until changed."""

    @abstractmethod
    def step(self) -> None:
        """Advance every world by one control step and refresh the state tensors."""

    @abstractmethod
    def reset_dofs(self, env_ids: torch.Tensor, pos: torch.Tensor, vel: torch.Tensor) -> None:
        """Set joint positions ``[n, D]`` and velocities ``[n, D]`` (and PD targets = pos)."""

    @abstractmethod
    def reset_free_body(
        self, env_ids: torch.Tensor, body: int, pos: torch.Tensor, quat: torch.Tensor
    ) -> None:
        """Place tracked free body ``body`` at ``pos [n, 3]``, ``quat [n, 4]`` (x,y,z,w), zero velocity."""

    @abstractmethod
    def set_mocap(self, env_ids: torch.Tensor, index: int, pos: torch.Tensor, quat: torch.Tensor) -> None:
        """Move non-colliding mocap body ``index`` (goal marker, bucket) to ``pos [n,3]``, ``quat [n,4]``."""

    def _bind_sensors(self, buf: torch.Tensor, num_dofs: int) -> None:
        """Point the state tensors at views of ``buf`` (``[N, S]`` in the :data:`SENSOR_GROUPS` layout, on
        ``device``); ``body_quat`` is a reordered copy, kept current by :meth:`_reorder_quat`."""
        views = sensor_views(buf, len(self.scene.body_names), len(self.scene.site_names), num_dofs)
        self._quat_wxyz = views.pop("body_quat_wxyz")
        for name, view in views.items():
            setattr(self, name, view)
        self._xyzw = torch.tensor([1, 2, 3, 0], device=buf.device)
        self.body_quat = torch.empty_like(self._quat_wxyz)
        self._reorder_quat()

    def _reorder_quat(self) -> None:
        """``body_quat`` (x, y, z, w) from the sensors' (w, x, y, z): one ``index_select``, no fancy index."""
        torch.index_select(self._quat_wxyz, 2, self._xyzw, out=self.body_quat)

    def close(self) -> None:
        """Release threads and native memory."""
