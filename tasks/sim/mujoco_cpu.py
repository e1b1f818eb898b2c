"""MuJoCo CPU backend: N worlds stepped by MuJoCo's native thread pool (``mujoco.batch.Batch``).

Constructor::

    MujocoBatchedSim(scene, num_envs, *, world_fields=None, nthread=0, device="cpu", substeps=2, seed=0,
                     refresh_sensors=False, persistent=False, contact=None)

* ``scene``: a :class:`tasks.sim.base.Scene` (e.g. :class:`tasks.allegro_kuka.scene.SceneInfo`).
* ``world_fields``: per-world model fields (:data:`tasks.sim.base.WorldFields`, e.g. each env's object size,
  mass and inertia), or None: every world is the template. One model serves every env; the given fields are
  per-world copies (``Batch.expand``) followed by ``set_const``, so no per-world model compile is needed.
* ``nthread``: worker threads (0 = all cores). ``substeps``: physics steps of 1/120 s per control step.
* ``seed``: stored for API symmetry; MuJoCo itself is deterministic (bit-identical to a loop over MjData).
* ``refresh_sensors``: False (default) reads the sensors ``mj_step`` computed, i.e. MuJoCo's convention
  that derived quantities describe the state before the last 1/120 s substep (joint, body and site
  state lag the end of the control step by one substep); True adds a position/velocity pass after the
  last substep so they describe its end, as Isaac Gym's refreshed tensors do, at about 20 % more cost.
* ``contact``: MuJoCo ``<option>`` contact settings (:class:`tasks.sim.config.ContactConfig`; None: its defaults).
* ``persistent``: False (default) lets each thread reuse one hot MjData and load only each world's small
  state row (qpos, qvel, warm start, controls, forces, mocap) per call; True keeps a full MjData per
  world, which at 2 substeps per call runs ~25 % slower (cache misses). Results are bit-identical.

Joint speed limits: MuJoCo has no joint velocity limit (a joint has a position ``range`` only; damping or an
actuator force range would change the dynamics below the limit too). Where the scene gives
``dof_vel_limit [D]`` rad/s (> 0), every physics substep ends with :func:`cap_joint_speeds`: those joints' new
velocities are clamped to ±limit and their positions re-integrated from the substep's start with the clamped
velocity, ``q ← q_prev + dt·clip(q̇)``. That is PhysX's order (the maximum joint velocity is applied to the
solved velocity before positions are integrated, spec §2.3). Clamping ``qvel`` after ``mj_step`` alone does
not limit motion: MuJoCo's semi-implicit Euler has already moved ``qpos`` with the unclamped velocity, and one
1/120 s substep of a 300 N·m arm drive, or of the inertial load a moving arm puts on 1e-3 kg·m² fingers held by
0.35 N·m, carries a joint 3-4x (arm) and 12-25x (hand) past its limit (``docs/tasks/allegro_kuka.md``,
"Joint speed limits"). Joints below their limit are untouched (the re-integration is bit-identical to MuJoCo's
``qpos += dt·qvel`` for a hinge). A non-finite velocity stays non-finite (``np.clip`` keeps NaN).

State tensors (float32, ``device``) follow :class:`tasks.sim.base.BatchedSim`; they are refreshed in place
(read them, do not write them). Extras: ``unstable [N]`` bool (MuJoCo reset a diverging world during the
last step: reset that env), ``dof_lower/dof_upper [D]`` rad,
``default_dof_pos [D]`` rad, ``mj_model(i)`` / ``mj_data(i)`` (one world, e.g. to render).
"""

from __future__ import annotations

import mujoco
import numpy as np
import torch
from mujoco import batch as mjbatch

from tasks.sim.base import BatchedSim, Scene, WorldFields
from tasks.sim.config import ContactConfig
from tasks.sim.mujoco_model import addresses, compile_model, element_id


def cap_joint_speeds(q_prev: np.ndarray, qvel: np.ndarray, limit: np.ndarray, dt: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """PhysX's joint speed limit applied after one semi-implicit Euler substep (spec §2.3).

    Args:
        q_prev: ``[N, J]`` rad, hinge positions at the substep's start.
        qvel: ``[N, J]`` rad/s, their velocities after the substep (unclamped).
        limit: ``[J]`` rad/s, > 0.
        dt: the substep, s.

    Returns:
        ``(v, q)``: ``v = clip(qvel, -limit, limit)`` (NaN stays NaN) and ``q = q_prev + dt·v`` ``[N, J]``, the
        positions integrated with the clamped velocity (equal to MuJoCo's own ``q_prev + dt·qvel`` bit for bit
        where nothing was clamped).
    """
    v = np.clip(qvel, -limit, limit)
    return v, q_prev + v * dt


def _ids(env_ids: torch.Tensor | np.ndarray) -> np.ndarray:
    """Env indices as an int64 numpy array (accepts index tensors or ``[N]`` bool masks)."""
    ids = env_ids.detach().cpu().numpy() if isinstance(env_ids, torch.Tensor) else np.asarray(env_ids)
    return np.flatnonzero(ids) if ids.dtype == bool else ids.astype(np.int64).reshape(-1)


def _as_slice(idx: np.ndarray) -> slice | np.ndarray:
    """``idx`` as a slice when it is a run of consecutive indices (views and in-place ops, no gather), else as is."""
    if idx.size and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
        return slice(int(idx[0]), int(idx[0]) + idx.size)
    return idx


def _np(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """A numpy view (CPU tensors) or copy (other devices) of ``x``."""
    if isinstance(x, torch.Tensor):
        return x.numpy() if x.device.type == "cpu" and not x.requires_grad else x.detach().cpu().numpy()
    return np.asarray(x)


class MujocoBatchedSim(BatchedSim):
    """N worlds of one MJCF scene on MuJoCo's batched CPU stepping (see module docstring)."""

    def __init__(self, scene: Scene, num_envs: int, *, world_fields: WorldFields | None = None,
                 nthread: int = 0, device: str | torch.device = "cpu", substeps: int = 2, seed: int = 0,
                 refresh_sensors: bool = False, persistent: bool = False,
                 contact: ContactConfig | None = None) -> None:
        self.scene, self.num_envs, self.seed = scene, int(num_envs), seed
        self.device = torch.device(device)
        self.substeps = substeps
        self._stage = mujoco.mjtStage.mjSTAGE_VEL if refresh_sensors else mujoco.mjtStage.mjSTAGE_NONE
        self._models: dict[int, mujoco.MjModel] = {}
        self.model = compile_model(scene, contact)
        m = self.model
        self.control_dt = float(m.opt.timestep * substeps)
        self.batch = mjbatch.Batch(m, self.num_envs, nthread=nthread, persistent=persistent)
        b = self.batch
        n = self.num_envs

        adr = addresses(m, scene)
        self._qadr, self._vadr, self._act = adr.qpos, adr.qvel, adr.actuator
        self._act_cols = _as_slice(self._act)  # a slice when consecutive: no fancy indexing per step
        self._pq, self._pv = adr.passive_qpos, adr.passive_qvel
        self._body_ids, self._free_adr = adr.bodies, adr.free

        self._qpos, self._qvel, self._ctrl = b.bind("qpos"), b.bind("qvel"), b.bind("ctrl")
        self._xfrc, self._warm = b.bind("xfrc_applied"), b.bind("qacc_warmstart")
        self._mpos, self._mquat = b.bind("mocap_pos"), b.bind("mocap_quat")
        self._sensordata, self._time = b.bind("sensordata"), b.bind("time")
        self.unstable = torch.zeros(n, dtype=torch.bool, device=self.device)
        limit = np.asarray(scene.dof_vel_limit, dtype=np.float64)
        capped = np.flatnonzero(limit > 0) if limit.size else np.zeros(0, dtype=np.int64)
        # capped dofs' velocity and position addresses (slices when consecutive: in-place ops, no gather/scatter)
        self._vcap_adr, self._qcap_adr = _as_slice(self._vadr[capped]), _as_slice(self._qadr[capped])
        self._vcap = limit[capped]
        self._qprev = np.zeros((n, capped.size))

        self._set_world_fields(world_fields or {})
        self._build_views()
        self.dof_lower = torch.tensor(np.asarray(scene.dof_lower), dtype=torch.float32, device=self.device)
        self.dof_upper = torch.tensor(np.asarray(scene.dof_upper), dtype=torch.float32, device=self.device)
        self.default_dof_pos = torch.tensor(np.asarray(scene.default_dof_pos), dtype=torch.float32,
                                            device=self.device)
        # initial state: model defaults + the default robot pose, targets = pose
        all_ids = torch.arange(n)
        self.reset_dofs(all_ids, self.default_dof_pos.expand(n, -1), torch.zeros(n, len(self._qadr)))

    # ------------------------------------------------------------------------------------------- setup
    def _set_world_fields(self, fields: WorldFields) -> None:
        """Per-world copies of the given model fields, then ``set_const`` (masses, inertias -> derived)."""
        for name, rows in fields.items():
            per_world = self.batch.expand(name)
            for element, values in rows.items():
                k = element_id(self.model, name, element)
                per_world[:, k] = np.asarray(values, dtype=np.float64).reshape(per_world[:, k].shape)
        if fields:
            self.batch.set_const()

    def _build_views(self) -> None:
        """A float32 mirror of ``sensordata`` (on ``device``: one more copy of it there); every state tensor
        is a view of it (:meth:`BatchedSim._bind_sensors`)."""
        self._buf = torch.zeros(self.num_envs, self._sensordata.shape[1], dtype=torch.float32)
        self._buf_np = self._buf.numpy()
        self._device_buf = self._buf if self.device.type == "cpu" else self._buf.to(self.device)
        self._bind_sensors(self._device_buf, len(self._qadr))

    def _refresh(self) -> None:
        np.copyto(self._buf_np, self._sensordata, casting="same_kind")
        if self._device_buf is not self._buf:
            self._device_buf.copy_(self._buf, non_blocking=True)
        self._reorder_quat()

    # ------------------------------------------------------------------------------------------- contract
    def set_dof_targets(self, targets: torch.Tensor) -> None:
        """PD position targets ``[N, D]`` rad → ``ctrl`` (no clamping here; the task clamps, §2.5)."""
        self._ctrl[:, self._act_cols] = _np(targets)

    def set_body_force(self, body: int, force: torch.Tensor) -> None:
        """External force ``[N, 3]`` N (world frame) at tracked body ``body``'s centre of mass."""
        self._xfrc[:, self._body_ids[body], :3] = _np(force)

    def step(self) -> None:
        """Advance every world by ``substeps`` × 1/120 s on the thread pool, then refresh the tensors
        (sensors as of the last substep's start unless ``refresh_sensors``; see the module docstring).

        Raises:
            mujoco.batch.SimulationError: MuJoCo raised in some worlds (they keep their pre-step state).
        """
        t0 = self._time.copy()
        if self._vcap.size:
            for _ in range(self.substeps):
                self._qprev[:] = self._qpos[:, self._qcap_adr]
                self.batch.step(nstep=1)
                self._cap_speeds()
            if self._stage != mujoco.mjtStage.mjSTAGE_NONE:
                self.batch.forward(stage=self._stage)
        else:
            self.batch.step(nstep=self.substeps, stage=self._stage)
        # MuJoCo resets a diverging world to the model defaults (its clock restarts): flag it for the task
        self.unstable.copy_(torch.from_numpy(self._time < t0 + 0.5 * self.control_dt))
        self._refresh()

    def _cap_speeds(self) -> None:
        """:func:`cap_joint_speeds` on the capped joints of every world, in place."""
        qv, qp = self._qvel[:, self._vcap_adr], self._qpos[:, self._qcap_adr]
        v, q = cap_joint_speeds(self._qprev, qv, self._vcap, float(self.model.opt.timestep))
        if isinstance(self._vcap_adr, slice) and isinstance(self._qcap_adr, slice):
            qv[:], qp[:] = v, q  # views of the batch's arrays
        else:
            self._qvel[:, self._vcap_adr], self._qpos[:, self._qcap_adr] = v, q

    def _refresh_worlds(self, ids: list[np.ndarray]) -> None:
        """One position/velocity pass (``mjSTAGE_VEL``) over the given worlds, warm start cleared, tensors refreshed."""
        worlds = np.unique(np.concatenate(ids)) if len(ids) > 1 else ids[0]
        self._warm[worlds] = 0.0
        self.batch.forward(worlds, stage=mujoco.mjtStage.mjSTAGE_VEL)
        self._refresh()

    def reset_dofs(self, env_ids: torch.Tensor, pos: torch.Tensor, vel: torch.Tensor) -> None:
        """Set robot joint positions/velocities ``[n, D]`` and PD targets = pos. Also restores passive scene
        joints (the partition board) to 0 — call it at every episode reset."""
        ids = _ids(env_ids)
        if ids.size == 0:
            return
        p = _np(pos)
        self._qpos[ids[:, None], self._qadr] = p
        self._qvel[ids[:, None], self._vadr] = _np(vel)
        self._ctrl[ids[:, None], self._act] = p
        if self._pq.size:
            self._qpos[ids[:, None], self._pq] = 0.0
            self._qvel[ids[:, None], self._pv] = 0.0
        self._reset_done(ids)

    def reset_free_body(
        self, env_ids: torch.Tensor, body: int, pos: torch.Tensor, quat: torch.Tensor
    ) -> None:
        """Place tracked free body ``body`` at ``pos [n, 3]`` m, ``quat [n, 4]`` (x, y, z, w); zero velocity.

        Raises:
            KeyError: ``body`` has no free joint.
        """
        ids = _ids(env_ids)
        if ids.size == 0:
            return
        qa, va = self._free_adr[body]
        q = _np(quat)
        self._qpos[ids, qa:qa + 3] = _np(pos)
        self._qpos[ids, qa + 3:qa + 7] = q[:, [3, 0, 1, 2]]
        self._qvel[ids, va:va + 6] = 0.0
        self._reset_done(ids)

    def set_mocap(self, env_ids: torch.Tensor, index: int, pos: torch.Tensor, quat: torch.Tensor) -> None:
        """Move mocap body ``index`` (``scene.mocap_names``) to ``pos [n, 3]`` m, ``quat [n, 4]`` (x,y,z,w)."""
        ids = _ids(env_ids)
        self._mpos[ids, index] = _np(pos)
        self._mquat[ids, index] = _np(quat)[:, [3, 0, 1, 2]]

    # ------------------------------------------------------------------------------------------- extras
    def mj_model(self, env: int = 0) -> mujoco.MjModel:
        """World ``env``'s model (with its own ``world_fields``), e.g. for rendering (cached; do not modify)."""
        if env not in self._models:
            self._models[env] = self.batch.get_model(env)
        return self._models[env]

    def mj_data(self, env: int = 0) -> mujoco.MjData:
        """A copy of world ``env``'s MjData at its current state with every derived field computed
        (``mj_forward``), e.g. to render it."""
        data = self.batch.get_data(env)
        mujoco.mj_forward(self.mj_model(env), data)
        return data

    def close(self) -> None:
        """Drop the batch (its threads and per-world data)."""
        self.batch = None  # type: ignore[assignment]
