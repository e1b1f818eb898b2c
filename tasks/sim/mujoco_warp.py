"""MuJoCo Warp backend (GPU): the same scene and contract as ``mujoco_cpu``, all worlds on one device.

Constructor::

    MujocoWarpBatchedSim(scene, num_envs, *, world_fields=None, device="cuda", substeps=2, seed=0,
                         nconmax=None, njmax=None, nthread=0, refresh_sensors=False)

Same arguments and tensors as :class:`tasks.sim.mujoco_cpu.MujocoBatchedSim` (``nthread`` is accepted and
ignored). The state lives in Warp arrays viewed zero-copy as torch tensors (``wp.to_torch``); the
``world_fields`` are batched model fields (``put_model(batch_sizes=...)``). After each step a ``forward`` pass makes
positions, velocities and sensors current (as the CPU backend's ``mjSTAGE_VEL``). On CUDA the step is
captured once in a CUDA graph. Status: minimal; exercised on Warp's CPU device only (no GPU here), where it
compiles for about a minute and runs far below the CPU backend's speed.

Raises ``ImportError`` at import when ``warp`` / ``mujoco_warp`` are missing; :func:`tasks.sim.backend_class` turns
it into one :class:`~tasks.base.TaskConfigError` line with the install hint (``pip install -e .[warp]``).
"""

from __future__ import annotations

from typing import Any

import mujoco
import mujoco_warp as mjw  # ImportError when missing: the install hint is in tasks.sim.BACKENDS
import numpy as np
import torch
import warp as wp

from tasks.sim.base import BatchedSim, Scene, WorldFields
from tasks.sim.mujoco_cpu import _ids, element_id


@wp.kernel
def _clamp_speeds(qvel: wp.array2d(dtype=float), adr: wp.array(dtype=int), limit: wp.array(dtype=float)):
    """``qvel[w, adr[j]]`` clamped to ``±limit[j]`` (rad/s), one thread per (world, capped joint)."""
    w, j = wp.tid()
    a = adr[j]
    qvel[w, a] = wp.clamp(qvel[w, a], -limit[j], limit[j])


class MujocoWarpBatchedSim(BatchedSim):
    """N worlds of one MJCF scene on MuJoCo Warp (see module docstring)."""

    def __init__(self, scene: Scene, num_envs: int, *, world_fields: WorldFields | None = None,
                 device: str | torch.device = "cuda", substeps: int = 2, seed: int = 0,
                 nconmax: int | None = None, njmax: int | None = None, nthread: int = 0,
                 refresh_sensors: bool = False) -> None:
        self.scene, self.num_envs, self.seed, self.substeps = scene, int(num_envs), seed, substeps
        self.refresh_sensors = refresh_sensors
        self.device = torch.device(device)
        wp.init()
        self._wp_device = "cpu" if self.device.type == "cpu" else f"cuda:{self.device.index or 0}"
        mjm = mujoco.MjModel.from_xml_string(scene.xml)
        self.model, n = mjm, self.num_envs
        self.control_dt = float(mjm.opt.timestep * substeps)
        jid = [mjm.joint(j).id for j in scene.dof_names]
        self._qadr = torch.as_tensor(mjm.jnt_qposadr[jid], device=self.device)
        self._vadr = torch.as_tensor(mjm.jnt_dofadr[jid], device=self.device)
        self._act = torch.as_tensor([mjm.actuator(j).id for j in scene.dof_names], device=self.device)
        pj = [mjm.joint(j).id for j in getattr(scene, "passive_joints", [])]
        self._pq = torch.as_tensor(mjm.jnt_qposadr[pj], device=self.device, dtype=torch.long)
        self._pv = torch.as_tensor(mjm.jnt_dofadr[pj], device=self.device, dtype=torch.long)
        self._body_ids = [mjm.body(b).id for b in scene.body_names]
        self._free_adr = {}
        for i, bid in enumerate(self._body_ids):
            ja = mjm.body_jntadr[bid]
            if ja >= 0 and mjm.jnt_type[ja] == mujoco.mjtJoint.mjJNT_FREE:
                self._free_adr[i] = (int(mjm.jnt_qposadr[ja]), int(mjm.jnt_dofadr[ja]))

        mjd = mujoco.MjData(mjm)
        default = np.asarray(scene.default_dof_pos, dtype=np.float64)
        mjd.qpos[mjm.jnt_qposadr[jid]] = default
        mjd.ctrl[[mjm.actuator(j).id for j in scene.dof_names]] = default
        mujoco.mj_forward(mjm, mjd)
        with wp.ScopedDevice(self._wp_device):
            self._m = self._put_model(mjm, world_fields or {})
            self._d = mjw.put_data(mjm, mjd, nworld=n, nconmax=nconmax, njmax=njmax)
        t = wp.to_torch
        d = self._d
        self._qpos, self._qvel, self._ctrl = t(d.qpos), t(d.qvel), t(d.ctrl)
        self._xfrc, self._warm = t(d.xfrc_applied), t(d.qacc_warmstart)
        self._mpos, self._mquat, self._sd = t(d.mocap_pos), t(d.mocap_quat), t(d.sensordata)

        self._bind_sensors(self._sd, len(jid))
        self.unstable = torch.zeros(n, dtype=torch.bool, device=self.device)
        f32 = dict(dtype=torch.float32, device=self.device)
        self.dof_lower = torch.tensor(np.asarray(scene.dof_lower), **f32)
        self.dof_upper = torch.tensor(np.asarray(scene.dof_upper), **f32)
        self.default_dof_pos = torch.tensor(default, **f32)
        limit = np.asarray(scene.dof_vel_limit, dtype=np.float32)
        capped = np.flatnonzero(limit > 0) if limit.size else np.zeros(0, dtype=np.int64)
        with wp.ScopedDevice(self._wp_device):  # joint speed limits, clamped after every substep (§2.3)
            self._vcap_adr = wp.array(mjm.jnt_dofadr[jid][capped].astype(np.int32), dtype=int)
            self._vcap = wp.array(limit[capped], dtype=float)
        self._graph = None
        self._forward_all()

    def _put_model(self, mjm: mujoco.MjModel, fields: WorldFields) -> Any:
        """The device model with per-world copies of the given model fields (``batch_sizes``), filled in."""
        if not fields:
            return mjw.put_model(mjm)
        m = mjw.put_model(mjm, batch_sizes={name: self.num_envs for name in fields})
        for name, rows in fields.items():
            arr = getattr(m, name)
            host = arr.numpy().copy()
            for element, values in rows.items():
                k = element_id(mjm, name, element)
                host[:, k] = np.asarray(values).reshape(host[:, k].shape)
            setattr(m, name, wp.array(host, dtype=arr.dtype))
        return m

    # ------------------------------------------------------------------------------------------- internals
    def _refresh(self) -> None:
        self._reorder_quat()

    def _forward_all(self) -> None:
        with wp.ScopedDevice(self._wp_device):
            mjw.forward(self._m, self._d)
        self._refresh()

    def _step_kernels(self) -> None:
        for _ in range(self.substeps):
            mjw.step(self._m, self._d)
            if self._vcap.shape[0]:
                wp.launch(_clamp_speeds, dim=(self.num_envs, self._vcap.shape[0]),
                          inputs=[self._d.qvel, self._vcap_adr, self._vcap])
        if self.refresh_sensors:
            mjw.forward(self._m, self._d)

    # ------------------------------------------------------------------------------------------- contract
    def set_dof_targets(self, targets: torch.Tensor) -> None:
        """PD position targets ``[N, D]`` rad → ``ctrl``."""
        self._ctrl[:, self._act] = targets.to(self.device, torch.float32)

    def set_body_force(self, body: int, force: torch.Tensor) -> None:
        """External force ``[N, 3]`` N (world frame) at tracked body ``body``'s centre of mass."""
        self._xfrc[:, self._body_ids[body], :3] = force.to(self.device, torch.float32)

    def step(self) -> None:
        """Advance every world by ``substeps`` physics steps (+ one forward pass with ``refresh_sensors``, as
        on the CPU backend) and refresh the tensors."""
        with wp.ScopedDevice(self._wp_device):
            if self._wp_device == "cpu":
                self._step_kernels()
            else:  # pragma: no cover - needs a GPU
                if self._graph is None:
                    with wp.ScopedCapture() as cap:
                        self._step_kernels()
                    self._graph = cap.graph
                wp.capture_launch(self._graph)
        bad = ~torch.isfinite(self.dof_vel).all(1) | (self.dof_vel.abs() > 1e4).any(1)
        self.unstable.copy_(bad)
        self._refresh()

    def reset_dofs(self, env_ids: torch.Tensor, pos: torch.Tensor, vel: torch.Tensor) -> None:
        """Set robot joint positions/velocities ``[n, D]`` and PD targets = pos (and the partition to 0)."""
        ids = torch.as_tensor(_ids(env_ids), device=self.device)
        if ids.numel() == 0:
            return
        p = pos.to(self.device, torch.float32)
        self._qpos[ids[:, None], self._qadr] = p
        self._qvel[ids[:, None], self._vadr] = vel.to(self.device, torch.float32)
        self._ctrl[ids[:, None], self._act] = p
        if self._pq.numel():
            self._qpos[ids[:, None], self._pq] = 0.0
            self._qvel[ids[:, None], self._pv] = 0.0
        self._warm[ids] = 0.0
        self._forward_all()

    def reset_free_body(
        self, env_ids: torch.Tensor, body: int, pos: torch.Tensor, quat: torch.Tensor
    ) -> None:
        """Place tracked free body ``body`` at ``pos [n, 3]``, ``quat [n, 4]`` (x, y, z, w); zero velocity."""
        ids = torch.as_tensor(_ids(env_ids), device=self.device)
        if ids.numel() == 0:
            return
        qa, va = self._free_adr[body]
        self._qpos[ids, qa:qa + 3] = pos.to(self.device, torch.float32)
        self._qpos[ids, qa + 3:qa + 7] = quat.to(self.device, torch.float32)[:, [3, 0, 1, 2]]
        self._qvel[ids, va:va + 6] = 0.0
        self._warm[ids] = 0.0
        self._forward_all()

    def set_mocap(self, env_ids: torch.Tensor, index: int, pos: torch.Tensor, quat: torch.Tensor) -> None:
        """Move mocap body ``index`` to ``pos [n, 3]`` m, ``quat [n, 4]`` (x, y, z, w)."""
        ids = torch.as_tensor(_ids(env_ids), device=self.device)
        self._mpos[ids, index] = pos.to(self.device, torch.float32)
        self._mquat[ids, index] = quat.to(self.device, torch.float32)[:, [3, 0, 1, 2]]

    def close(self) -> None:
        """Drop the device arrays and the captured graph."""
        self._graph = self._m = self._d = None
