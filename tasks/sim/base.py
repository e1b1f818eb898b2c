"""The contract between a task's scene and a batched physics backend (MuJoCo CPU, MuJoCo Warp, Isaac Gym),
stated once here.

Only modules under ``tasks/sim`` import a simulator. A task describes its scene once (:class:`Scene`), a
backend steps N worlds of it and exposes their state as torch tensors (:class:`BatchedSim`).

What a scene gives a backend (:class:`Scene`, e.g. ``tasks.allegro_kuka.scene.SceneInfo``):
    ``xml`` (MJCF with one position actuator per actuated joint, named as the joint, and ``sensordata`` laid out
    as :data:`SENSOR_GROUPS` for the tracked names), ``dof_names``, ``body_names``, ``site_names``,
    ``mocap_names``, ``passive_joints``, ``dof_lower``/``dof_upper``/``default_dof_pos`` ``[D]`` rad and
    ``dof_vel_limit`` ``[D]`` rad/s (joint speed limits the backend enforces after every physics step as PhysX
    does: velocity clamped, position integrated with the clamped velocity; 0 or an empty array: no limit).
    Optional: ``max_contacts`` / ``max_constraints`` (contacts / constraint rows per world, a measured worst case
    with headroom) for backends with fixed buffers (MuJoCo Warp); absent or 0: the backend's own guess.
What a backend is built with (constructor keywords, :func:`tasks.sim.make_sim`): the user's ``sim.*`` settings
    (:mod:`tasks.sim.config`: ``nthread``, ``substeps``, ``refresh_sensors``, ``contact`` and backend-specific
    options, from ``SimConfig.backend_options()``), and from the task ``world_fields`` (:data:`WorldFields`:
    per-world values of model fields, e.g. each env's object size, mass and inertia), ``device``, ``seed``.
What a backend exposes: the attributes :data:`CONTRACT` lists (checked by :meth:`BatchedSim.check_contract`
when :func:`tasks.sim.make_sim` builds it) and the abstract methods of :class:`BatchedSim`.

Conventions: SI units (m, rad, s, N, N·m); every position is in the env's own frame (each env is a
separate world); quaternions are **(x, y, z, w)**, scalar last, as in the spec and Isaac Gym; a
backend converts from its native order. One control step = ``substeps`` physics steps.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Protocol

import numpy as np
import torch

# model field (an MjModel array, e.g. "geom_size"; its prefix names the element kind: geom_, body_, jnt_, site_,
# actuator_) -> element name -> per-world values [N, *per-element shape]. Applied once at construction.
WorldFields = Mapping[str, Mapping[str, np.ndarray]]


class Scene(Protocol):
    """What a backend reads from a scene (see the module docstring); names are MJCF names."""

    xml: str  # MJCF
    dof_names: list[str]  # actuated joints, in the order of dof_pos / dof_vel / targets [D]
    body_names: list[str]  # tracked bodies, the order of the body_* tensors [B]
    site_names: list[str]  # tracked sites, the order of site_pos [S]
    mocap_names: list[str]  # mocap bodies, the index order of set_mocap
    passive_joints: list[str]  # non-actuated joints that reset_dofs puts back to 0
    dof_lower: np.ndarray  # [D] rad
    dof_upper: np.ndarray  # [D] rad
    default_dof_pos: np.ndarray  # [D] rad: the initial pose and PD targets
    dof_vel_limit: np.ndarray  # [D] rad/s, enforced every physics step; 0 (or empty): no limit


# sensordata groups a scene declares (tasks/allegro_kuka/scene.py), in order: name, floats per item, item kind
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


# what every backend must provide after construction (BatchedSim.check_contract): name -> description
CONTRACT: dict[str, str] = {
    "scene": "the Scene it was built from", "num_envs": "N", "device": "torch device of the tensors",
    "control_dt": "seconds of simulated time per step()",
    "dof_pos": "[N, D] tensor", "dof_vel": "[N, D] tensor", "body_pos": "[N, B, 3] tensor",
    "body_quat": "[N, B, 4] tensor", "body_linvel": "[N, B, 3] tensor", "body_angvel": "[N, B, 3] tensor",
    "body_rotmat": "[N, B, 3, 3] tensor", "site_pos": "[N, S, 3] tensor", "unstable": "[N] bool tensor",
}


class BatchedSim(ABC):
    """N worlds of one scene. Tensors are refreshed after ``step`` and after ``reset_*``.

    Attributes (:data:`CONTRACT`; tensors torch float32 on ``device``):
        dof_pos ``[N, D]`` rad, dof_vel ``[N, D]`` rad/s: actuated robot joints in spec order.
        body_pos ``[N, B, 3]``, body_quat ``[N, B, 4]`` (x, y, z, w), body_linvel ``[N, B, 3]``,
        body_angvel ``[N, B, 3]`` (world frame), body_rotmat ``[N, B, 3, 3]`` (body -> world, the same
        orientation as body_quat): the tracked bodies named at construction.
        site_pos ``[N, S, 3]``: the tracked sites named at construction.
        unstable ``[N]`` bool: the simulator reset this world during the last ``step`` because it diverged; the
            task ends that env's episode (it is reset like any other done env and counted in
            ``sim/unstable_resets``).
        overflow ``[N]`` bool, or None (the default: buffers cannot overflow): worlds whose fixed-size contact or
            constraint buffers overflowed during the last ``step`` (contacts were dropped); they are also in
            ``unstable``, and the task counts them in ``sim/contact_overflows`` as well.

    The tensors are updated in place, so a view taken once (``sim.site_pos[:, :2]``) stays current.
    A backend's constructor takes ``(scene, num_envs, **options)`` and applies the ``world_fields`` it is given
    (:data:`WorldFields`).
    """

    scene: Scene
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
    overflow: torch.Tensor | None = None

    def check_contract(self) -> None:
        """Raise ``TypeError`` (one line naming the first missing attribute) unless this backend provides every
        attribute of :data:`CONTRACT`, each tensor with ``num_envs`` rows."""
        name = type(self).__name__
        for key, what in CONTRACT.items():
            if not hasattr(self, key):
                raise TypeError(f"simulator backend {name} does not provide {key!r} ({what}; tasks/sim/base.py)")
            value = getattr(self, key)
            if what.endswith("tensor") and (not isinstance(value, torch.Tensor) or value.shape[0] != self.num_envs):
                raise TypeError(f"simulator backend {name}: {key!r} must be a {what} with N = {self.num_envs}")

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

    _deferring: bool = False

    @contextlib.contextmanager
    def deferred_refresh(self) -> Iterator[None]:
        """Inside the block, :meth:`reset_dofs` and :meth:`reset_free_body` write state without refreshing the
        tensors; on exit one refresh (``forward`` pass) covers every world they touched, instead of one per call
        (the task resets robot, object and goal of the same envs back to back). Read no state tensor inside the
        block. Nested blocks join the outer one."""
        if self._deferring:
            yield
            return
        self._deferring, self._pending = True, []
        try:
            yield
        finally:
            self._deferring = False
            pending, self._pending = self._pending, []
            if pending:
                self._refresh_worlds(pending)

    def _reset_done(self, ids: object) -> None:
        """Called by a reset with the worlds it wrote: refresh them now, or at the end of :meth:`deferred_refresh`."""
        if self._deferring:
            self._pending.append(ids)
        else:
            self._refresh_worlds([ids])

    def _refresh_worlds(self, ids: list) -> None:
        """Recompute the derived state and tensors of the worlds in ``ids`` (a list of index arrays, possibly
        overlapping). Backends that refresh in their resets need not override it."""

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
