"""MuJoCo Warp backend (GPU): the same scene and contract as ``mujoco_cpu``, all worlds on one device.

Constructor::

    MujocoWarpBatchedSim(scene, num_envs, *, world_fields=None, device="cuda", substeps=2, seed=0,
                         nconmax=None, njmax=None, max_overflow_fraction=0.01, nthread=0,
                         refresh_sensors=False, contact=None)

Same arguments and tensors as :class:`tasks.sim.mujoco_cpu.MujocoBatchedSim` (``nthread`` is accepted and
ignored). The state lives in Warp arrays viewed zero-copy as torch tensors (``wp.to_torch``); the
``world_fields`` are batched model fields (``put_model(batch_sizes=...)``). After each step a ``forward`` pass makes
positions, velocities and sensors current (as the CPU backend's ``mjSTAGE_VEL``).

Capacity and overflow. MuJoCo Warp allocates fixed buffers: ``nconmax`` contacts per world (one pool of
``nconmax × N`` shared by all worlds) and ``njmax`` constraint rows per world. Their defaults are the scene's
measured worst case with headroom (``scene.max_contacts`` / ``scene.max_constraints``, measured by
``python -m bench.warp_capacity``; see ``tasks/allegro_kuka/scene.py``), else MuJoCo Warp's own guess. What does not fit
is dropped, and MuJoCo Warp ORs a bit into ``Data.overflow [N]`` (``types.OverflowType``: ``NEFC`` per world in
``forward._next_time``; ``BROADPHASE`` / ``NARROWPHASE`` when the shared contact pool is full, set in *every*
world because the dropped contacts' worlds are unknown; ``CCD``, ``NJMAX_NNZ`` from the collision and constraint
kernels). The bits are sticky; after every control step a kernel copies the capacity bits into ``overflow [N]``
bool and clears them. An overflowed world is also flagged ``unstable`` (the task resets it and counts it in
``sim/contact_overflows``); more than ``max_overflow_fraction`` of the worlds in one step raises
:class:`ContactOverflowError`. MuJoCo Warp's own overflow printing (``opt.warn_overflow``) is switched off.

Resets. ``reset_dofs`` and ``reset_free_body`` end in one sensor refresh over every world (kinematics,
centre-of-mass positions and velocities, position/velocity sensors: what the CPU backend's ``mjSTAGE_VEL`` forward
gives the sensors, without its collision pass); inside :meth:`~tasks.sim.base.BatchedSim.deferred_refresh` (the
task's resets of one step) they share one. Before, each reset ran a full ``forward`` (collision, constraints,
solver) over every world, two or three per step with resets.

Divergence. A world whose sensors or ``qpos`` hold a non-finite value, or whose joint speeds exceed 1e4 rad/s,
after a step is flagged ``unstable`` (the task resets it; ``sim/unstable_resets``). The joint speed cap keeps a NaN
velocity NaN, so a diverged world cannot hide behind the clamp.

Per-world masses. ``world_fields`` that change masses or inertias come with per-world copies of the constants MuJoCo
derives from them (:data:`DERIVED_FIELDS`), recomputed once by ``mjw.set_const`` as the CPU backend's
``set_const`` does, so each world's contact softness and subtree centre of mass are its own.

CUDA graphs (CUDA devices only). The first ``step()`` and the first reset run eagerly (every kernel compiles
or loads), the next capture ``step`` (``substeps`` × ``mjw.step``, the joint speed limit, the overflow kernel, the
optional ``forward``) and the reset's ``forward`` once each; later calls replay them. A graph holds the
addresses of the arrays and the values of the Python-side settings at capture, so after construction nothing
may: reallocate or replace any array of the model or data (``put_model`` / ``put_data`` again, ``setattr`` of a
model field, new ``world_fields``: build a new backend instead), change ``m.opt`` (settings are compiled into
the kernels), or change ``substeps`` / ``refresh_sensors`` (ignored after capture). Writing *into* the arrays
(the torch views: targets, forces, resets) is what the graphs read each replay. Warp runs on its own blocking
stream, which the legacy default stream torch uses waits for, so the torch ops before and after a replay are
ordered without an explicit synchronisation.
Host-device copies left on the hot path of ``step()``: one ``int`` read of the overflow count (4 bytes, the
fraction check). The resets add one host read (``nonzero`` of the done mask, in the task) per step with resets.

Kernel cache and compile time. Warp caches compiled kernels under ``$WARP_CACHE_PATH/<warp version>``; when
the variable is unset, importing this module sets it to ``$XDG_CACHE_HOME/epo_isaac/warp`` (default
``~/.cache/epo_isaac/warp``), so the cache is in one known place and reused by every later run (set
``WARP_CACHE_PATH`` to share another one; it has no effect once Warp is initialised by an earlier import).
The first backend in a process prints one line with the seconds from construction to the end of its first
step (kernel compile or cache load included; about 60-130 s cold on Warp's CPU device) and the cache path.

Status: verified on Warp's CPU device only (no GPU has run it): equality with the CPU backend
(``tests/allegro_kuka/test_model.py``, ``tests/allegro_kuka/test_warp.py``) and the overflow path. Warp's CPU
device is a correctness tool, far below the CPU backend's speed. ``python -m bench.gpu_check`` is the device check.

Raises ``ImportError`` at import when ``warp`` / ``mujoco_warp`` are missing; :func:`tasks.sim.backend_class` turns
it into one :class:`~tasks.base.TaskConfigError` line with the install hint (``pip install -e .[warp]``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_XDG = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
os.environ.setdefault("WARP_CACHE_PATH", str(_XDG / "epo_isaac" / "warp"))  # before Warp initialises

import mujoco  # noqa: E402
import mujoco_warp as mjw  # noqa: E402  (ImportError when missing: the install hint is in tasks.sim.BACKENDS)
import numpy as np  # noqa: E402
import torch  # noqa: E402
import warp as wp  # noqa: E402

# Warp logs a line per kernel module it loads (hundreds on a cold start): warnings only (set it back to
# wp.LOG_INFO after importing this module to see them)
wp.config.log_level = wp.LOG_WARNING

from tasks.base import TaskConfigError  # noqa: E402
from tasks.sim.base import BatchedSim, Scene, WorldFields  # noqa: E402
from tasks.sim.config import ContactConfig  # noqa: E402
from tasks.sim.mujoco_model import addresses, compile_model, element_id  # noqa: E402

_OT = mjw.OverflowType
# the Data.overflow bits that mean a full buffer (dropped contacts or constraint rows); solver iteration limits
# (ITERATIONS, LS_ITERATIONS) and EPA's internal horizon are not capacity and are ignored
CAPACITY_BITS = int(_OT.NEFC | _OT.NJMAX_NNZ | _OT.BROADPHASE | _OT.NARROWPHASE | _OT.CCD)
# model constants MuJoCo derives from masses and inertias (mj_setConst): a world with its own object mass needs its
# own copy, or its contact softness (body_invweight0) and subtree centre of mass (body_subtreemass) are world 0's
DERIVED_FIELDS = ("body_subtreemass", "body_invweight0", "dof_invweight0", "actuator_acc0")
first_step_seconds: float | None = None  # the first backend's construction + first step in this process (s)


class ContactOverflowError(TaskConfigError):
    """More than ``max_overflow_fraction`` of the worlds overflowed their contact or constraint buffers in one
    step. A :class:`~tasks.base.TaskConfigError` because the fix is a setting (``sim.nconmax``, ``sim.njmax``):
    ``train.py`` prints it as one line (exit code 2). It happens mid-run (``mid_run``), so ``train.py`` keeps the
    run folder and its log, with the traceback, even before the first checkpoint."""

    mid_run = True


@wp.kernel
def _save_positions(qpos: wp.array2d(dtype=float), adr: wp.array(dtype=int), q_prev: wp.array2d(dtype=float)):
    """``q_prev[w, j] = qpos[w, adr[j]]``: the capped joints' positions at a substep's start."""
    w, j = wp.tid()
    q_prev[w, j] = qpos[w, adr[j]]


@wp.kernel
def _cap_speeds(qpos: wp.array2d(dtype=float), qvel: wp.array2d(dtype=float), qadr: wp.array(dtype=int),
                vadr: wp.array(dtype=int), limit: wp.array(dtype=float), q_prev: wp.array2d(dtype=float),
                dt: float):
    """PhysX's joint speed limit after a substep (as ``mujoco_cpu.cap_joint_speeds``): ``qvel`` clamped to
    ``±limit[j]`` rad/s and ``qpos = q_prev + dt·qvel``; a NaN velocity stays NaN (comparisons, not ``clamp``,
    whose fmin/fmax would turn it into a number). One thread per (world, capped joint)."""
    w, j = wp.tid()
    v = qvel[w, vadr[j]]
    if v > limit[j]:
        v = limit[j]
    elif v < -limit[j]:
        v = -limit[j]
    qvel[w, vadr[j]] = v
    qpos[w, qadr[j]] = q_prev[w, j] + v * dt


@wp.kernel
def _take_overflow(flags: wp.array(dtype=int), bits: int, hit: wp.array(dtype=wp.bool)):
    """``hit[w]`` = world ``w`` set any of ``bits`` in MuJoCo Warp's sticky ``flags[w]``, which is cleared."""
    w = wp.tid()
    hit[w] = (flags[w] & bits) != 0
    flags[w] = 0


class MujocoWarpBatchedSim(BatchedSim):
    """N worlds of one MJCF scene on MuJoCo Warp (see module docstring).

    Extras besides :class:`~tasks.sim.base.BatchedSim`: ``overflow [N]`` bool (capacity overflow in the last
    step; also in ``unstable``), ``overflow_worlds`` (int, overflowed world-steps so far), ``nconmax`` /
    ``njmax`` (the capacities in use), :meth:`usage`, ``first_step_seconds`` (construction to the end of the
    first step, s).

    Raises:
        TaskConfigError: a CUDA ``device`` without a GPU, or ``nconmax`` / ``njmax`` too small for the scene's
            initial state (one line naming the setting). Ranges are checked by
            :class:`tasks.sim.config.MujocoWarpConfig`.
        ContactOverflowError: from :meth:`step`, see the module docstring.
    """

    def __init__(self, scene: Scene, num_envs: int, *, world_fields: WorldFields | None = None,
                 device: str | torch.device = "cuda", substeps: int = 2, seed: int = 0,
                 nconmax: int | None = None, njmax: int | None = None, max_overflow_fraction: float = 0.01,
                 nthread: int = 0, refresh_sensors: bool = False, contact: ContactConfig | None = None) -> None:
        t0 = time.perf_counter()
        self.scene, self.num_envs, self.seed, self.substeps = scene, int(num_envs), seed, substeps
        self.refresh_sensors, self.max_overflow_fraction = refresh_sensors, float(max_overflow_fraction)
        self.device = torch.device(device)
        wp.init()
        self._wp_device = "cpu" if self.device.type == "cpu" else f"cuda:{self.device.index or 0}"
        if self._wp_device != "cpu" and not wp.is_cuda_available():
            raise TaskConfigError(f"sim=mujoco_warp on device={device}: Warp sees no CUDA GPU; use device=cpu (Warp's "
                                  "CPU device: correct but about 300 world-steps/s) or sim=mujoco")
        mjm = compile_model(scene, contact)
        self.model, n = mjm, self.num_envs
        self.control_dt = float(mjm.opt.timestep * substeps)
        adr = addresses(mjm, scene)
        self._qadr = torch.as_tensor(adr.qpos, device=self.device)
        self._vadr = torch.as_tensor(adr.qvel, device=self.device)
        self._act = torch.as_tensor(adr.actuator, device=self.device)
        self._pq = torch.as_tensor(adr.passive_qpos, device=self.device, dtype=torch.long)
        self._pv = torch.as_tensor(adr.passive_qvel, device=self.device, dtype=torch.long)
        self._body_ids, self._free_adr = adr.bodies.tolist(), adr.free

        mjd = mujoco.MjData(mjm)
        default = np.asarray(scene.default_dof_pos, dtype=np.float64)
        mjd.qpos[adr.qpos] = default
        mjd.ctrl[adr.actuator] = default
        mujoco.mj_forward(mjm, mjd)
        self.nconmax = nconmax if nconmax is not None else getattr(scene, "max_contacts", None) or None
        self.njmax = njmax if njmax is not None else getattr(scene, "max_constraints", None) or None
        with wp.ScopedDevice(self._wp_device):
            self._m = self._put_model(mjm, world_fields or {})
            self._m.opt.warn_overflow = 0  # counted and reported by step() instead of printed per world
            try:
                self._d = mjw.put_data(mjm, mjd, nworld=n, nconmax=self.nconmax, njmax=self.njmax)
            except ValueError as e:
                raise TaskConfigError(f"sim.nconmax={self.nconmax} / sim.njmax={self.njmax} cannot hold the "
                                      f"scene's initial state ({e}): raise them or leave them unset") from e
            self._overflow_wp = wp.zeros(n, dtype=wp.bool)
            if world_fields:  # per-world masses and inertias -> per-world derived constants (as CPU set_const)
                mjw.set_const(self._m, self._d)
        self.nconmax, self.njmax = self._d.naconmax // n, self._d.njmax
        t = wp.to_torch
        d = self._d
        self._qpos, self._qvel, self._ctrl = t(d.qpos), t(d.qvel), t(d.ctrl)
        self._xfrc, self._warm = t(d.xfrc_applied), t(d.qacc_warmstart)
        self._mpos, self._mquat, self._sd = t(d.mocap_pos), t(d.mocap_quat), t(d.sensordata)

        self._bind_sensors(self._sd, len(adr.qpos))
        self.unstable = torch.zeros(n, dtype=torch.bool, device=self.device)
        self.overflow = t(self._overflow_wp)
        self.overflow_worlds = 0
        f32 = dict(dtype=torch.float32, device=self.device)
        self.dof_lower = torch.tensor(np.asarray(scene.dof_lower), **f32)
        self.dof_upper = torch.tensor(np.asarray(scene.dof_upper), **f32)
        self.default_dof_pos = torch.tensor(default, **f32)
        limit = np.asarray(scene.dof_vel_limit, dtype=np.float32)
        capped = np.flatnonzero(limit > 0) if limit.size else np.zeros(0, dtype=np.int64)
        with wp.ScopedDevice(self._wp_device):  # joint speed limits, applied after every substep (§2.3)
            self._vcap_adr = wp.array(adr.qvel[capped].astype(np.int32), dtype=int)
            self._qcap_adr = wp.array(adr.qpos[capped].astype(np.int32), dtype=int)
            self._vcap = wp.array(limit[capped], dtype=float)
            self._qprev = wp.zeros((n, capped.size), dtype=float)
        self._graphs: dict[str, Any] = {}
        self._calls: dict[str, int] = {}
        self._t0, self.first_step_seconds = t0, None
        self._forward_all()

    def _put_model(self, mjm: mujoco.MjModel, fields: WorldFields) -> Any:
        """The device model with per-world copies of the given model fields (``batch_sizes``), filled in, and of
        the constants MuJoCo derives from masses and inertias (:data:`DERIVED_FIELDS`), which
        :meth:`__init__` recomputes per world with ``mjw.set_const`` once the data exist."""
        if not fields:
            return mjw.put_model(mjm)
        m = mjw.put_model(mjm, batch_sizes={name: self.num_envs for name in (*fields, *DERIVED_FIELDS)})
        for name, rows in fields.items():
            arr = getattr(m, name)
            host = arr.numpy().copy()
            for element, values in rows.items():
                k = element_id(mjm, name, element)
                host[:, k] = np.asarray(values).reshape(host[:, k].shape)
            setattr(m, name, wp.array(host, dtype=arr.dtype))
        return m

    # ------------------------------------------------------------------------------------------- internals
    def _run(self, name: str, kernels: Callable[[], None]) -> None:
        """Run ``kernels`` on the Warp device: eagerly on the CPU and on a CUDA device's first call (kernels
        compile or load), captured into a CUDA graph on the second call, replayed from then on."""
        calls = self._calls[name] = self._calls.get(name, 0) + 1
        with wp.ScopedDevice(self._wp_device):
            if self._wp_device == "cpu" or calls == 1:
                kernels()
                return
            if name not in self._graphs:  # pragma: no cover - needs a GPU
                with wp.ScopedCapture() as cap:
                    kernels()
                self._graphs[name] = cap.graph
            wp.capture_launch(self._graphs[name])  # pragma: no cover - needs a GPU

    def _refresh(self) -> None:
        self._reorder_quat()

    def _refresh_worlds(self, ids: list[torch.Tensor]) -> None:
        """After the resets of ``ids``: the sensors recomputed from the new state, as the CPU backend's
        ``mjSTAGE_VEL`` forward gives them, by kinematics, centre-of-mass positions and velocities and the
        position/velocity sensors only (no collision, actuation or constraint solve: the next step computes those
        from the state). The kernels cover every world (MuJoCo Warp has no per-world mask); an untouched
        world's derived state is recomputed by the next step anyway; its sensors are put back, so that they keep
        describing the state before the last substep, as on the CPU backend."""
        reset = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        reset[torch.cat([i.reshape(-1) for i in ids])] = True
        before = self._sd.clone()
        self._run("refresh", self._refresh_kernels)
        self._sd.copy_(torch.where(reset[:, None], self._sd, before))
        self._refresh()

    def _refresh_kernels(self) -> None:
        m, d = self._m, self._d
        mjw.kinematics(m, d)
        mjw.com_pos(m, d)
        d.sensordata.zero_()
        mjw.sensor_pos(m, d)
        mjw.com_vel(m, d)
        mjw.sensor_vel(m, d)

    def _forward_all(self) -> None:
        self._run("forward", lambda: mjw.forward(self._m, self._d))
        self._refresh()

    def _step_kernels(self) -> None:
        dim, d = (self.num_envs, self._vcap.shape[0]), self._d
        for _ in range(self.substeps):
            if dim[1]:
                wp.launch(_save_positions, dim=dim, inputs=[d.qpos, self._qcap_adr, self._qprev])
            mjw.step(self._m, d)
            if dim[1]:
                wp.launch(_cap_speeds, dim=dim, inputs=[d.qpos, d.qvel, self._qcap_adr, self._vcap_adr, self._vcap,
                                                        self._qprev, float(self.model.opt.timestep)])
        wp.launch(_take_overflow, dim=self.num_envs, inputs=[self._d.overflow, CAPACITY_BITS, self._overflow_wp])
        if self.refresh_sensors:
            mjw.forward(self._m, self._d)

    def _check_overflow(self) -> None:
        """Count this step's overflowed worlds (one 4-byte host read); raise past ``max_overflow_fraction``."""
        count = int(self.overflow.sum())
        if count == 0:
            return
        self.overflow_worlds += count
        if count > self.max_overflow_fraction * self.num_envs:
            raise ContactOverflowError(
                f"MuJoCo Warp dropped contacts or constraints in {count}/{self.num_envs} worlds in one step (more "
                f"than sim.max_overflow_fraction={self.max_overflow_fraction}): raise sim.nconmax (now "
                f"{self.nconmax} per world) or sim.njmax (now {self.njmax})")

    def _report_first_step(self) -> None:
        """Print, once per process, the seconds from construction to the end of the first step."""
        global first_step_seconds
        wp.synchronize_device(self._wp_device)
        self.first_step_seconds = time.perf_counter() - self._t0
        if first_step_seconds is None:
            first_step_seconds = self.first_step_seconds
            print(f"mujoco_warp: construction + first step {self.first_step_seconds:.1f} s on {self._wp_device} "
                  f"(kernel compile or cache load; cache {wp.config.kernel_cache_dir})", flush=True)

    # ------------------------------------------------------------------------------------------- contract
    def set_dof_targets(self, targets: torch.Tensor) -> None:
        """PD position targets ``[N, D]`` rad → ``ctrl``."""
        self._ctrl[:, self._act] = targets.to(self.device, torch.float32)

    def set_body_force(self, body: int, force: torch.Tensor) -> None:
        """External force ``[N, 3]`` N (world frame) at tracked body ``body``'s centre of mass."""
        self._xfrc[:, self._body_ids[body], :3] = force.to(self.device, torch.float32)

    def step(self) -> None:
        """Advance every world by ``substeps`` physics steps (+ one forward pass with ``refresh_sensors``, as
        on the CPU backend), flag overflowed and diverged worlds, and refresh the tensors.

        Raises:
            ContactOverflowError: more than ``max_overflow_fraction`` of the worlds overflowed in this step.
        """
        self._run("step", self._step_kernels)
        if self.first_step_seconds is None:
            self._report_first_step()
        bad = ~(torch.isfinite(self._sd).all(1) & torch.isfinite(self._qpos).all(1)) | (self.dof_vel.abs() > 1e4).any(1)
        torch.logical_or(bad, self.overflow, out=self.unstable)
        self._refresh()
        self._check_overflow()

    def reset_dofs(self, env_ids: torch.Tensor, pos: torch.Tensor, vel: torch.Tensor) -> None:
        """Set robot joint positions/velocities ``[n, D]`` and PD targets = pos (and the partition to 0)."""
        ids = self._ids(env_ids)
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
        self._reset_done(ids)

    def reset_free_body(
        self, env_ids: torch.Tensor, body: int, pos: torch.Tensor, quat: torch.Tensor
    ) -> None:
        """Place tracked free body ``body`` at ``pos [n, 3]``, ``quat [n, 4]`` (x, y, z, w); zero velocity."""
        ids = self._ids(env_ids)
        if ids.numel() == 0:
            return
        qa, va = self._free_adr[body]
        self._qpos[ids, qa:qa + 3] = pos.to(self.device, torch.float32)
        self._qpos[ids, qa + 3:qa + 7] = quat.to(self.device, torch.float32)[:, [3, 0, 1, 2]]
        self._qvel[ids, va:va + 6] = 0.0
        self._warm[ids] = 0.0
        self._reset_done(ids)

    def set_mocap(self, env_ids: torch.Tensor, index: int, pos: torch.Tensor, quat: torch.Tensor) -> None:
        """Move mocap body ``index`` to ``pos [n, 3]`` m, ``quat [n, 4]`` (x, y, z, w)."""
        ids = self._ids(env_ids)
        self._mpos[ids, index] = pos.to(self.device, torch.float32)
        self._mquat[ids, index] = quat.to(self.device, torch.float32)[:, [3, 0, 1, 2]]

    def usage(self) -> dict[str, int]:
        """Buffer use after the last step (host reads; diagnostics, not for the hot path): ``contacts`` and
        ``candidates`` (broadphase pairs) in the shared pool of ``nconmax × N``, ``max_rows`` (largest
        constraint-row count of a world, against ``njmax``)."""
        d = self._d
        return {"contacts": int(d.nacon.numpy()[0]), "candidates": int(d.ncollision.numpy()[0]),
                "max_rows": int(d.nefc.numpy().max())}

    def _ids(self, env_ids: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Env indices as a long tensor on ``device`` (index tensors stay on the device; masks: ``nonzero``)."""
        ids = torch.as_tensor(env_ids, device=self.device)
        return ids.nonzero().squeeze(-1) if ids.dtype == torch.bool else ids.long().reshape(-1)

    def close(self) -> None:
        """Drop the device arrays and the captured graphs."""
        self._graphs, self._m, self._d = {}, None, None
