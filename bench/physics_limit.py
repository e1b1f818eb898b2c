"""Raw physics limit: MuJoCo world-steps per second on all cores, no Python in the loop.

    python -m bench.physics_limit [--arms 1|2] [--worlds 64 256 1024] [--nthread 0] [--seconds 3]

One ``mujoco.batch.Batch.step(nstep=k)`` call advances every world ``k`` physics steps on MuJoCo's thread
pool (measured with one MjData per world and with per-thread MjData; the faster counts), so the number is
an upper bound for any env-steps/s (env-steps/s <= world-steps/s / 2 at 60 Hz with
1/120 s steps). The worlds start from the default pose with the cube on the table and hold constant
PD targets (hand in the air, cube resting: the cheap end of the contact load). ``bench.env_throughput``
calls :func:`physics_steps_per_second` with the env's own world states instead. Ends with one
``<one_arm|two_arms>_physics_wps_<N>=<world-steps/s>`` line per scene and N (the names ``bench.gpu_check`` uses).
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python bench/physics_limit.py``: the package imports below would fail
    print("run it from the repository root as: python -m bench.physics_limit", file=sys.stderr)
    sys.exit(2)

import argparse
import time
from collections.abc import Sequence

import mujoco
import numpy as np
from mujoco import batch as mjbatch

# world state copied into the limit's batch (everything that makes its physics the env's)
STATE_FIELDS = ("qpos", "qvel", "qacc_warmstart", "ctrl", "xfrc_applied", "mocap_pos", "mocap_quat")


def physics_steps_per_second(models: mujoco.MjModel | Sequence[mujoco.MjModel], num_worlds: int,
                             nthread: int = 0, seconds: float = 3.0,
                             state: dict[str, np.ndarray] | None = None) -> float:
    """World-steps/s of ``num_worlds`` worlds stepped by MuJoCo's native thread pool.

    Args:
        models: one MjModel for every world, or one per world (same layout, e.g. other object sizes).
        num_worlds: number of worlds N.
        nthread: threads (0 = all cores).
        seconds: rough measuring time (s), after a short warm-up.
        state: start state by MjData field (:data:`STATE_FIELDS`: ``qpos``, ``ctrl``, ``xfrc_applied``, ...),
            each ``[N, ...]`` or broadcastable to it; held constant (controls, applied forces) while stepping.
            Default: the model's ``qpos0`` and zero controls.

    Returns:
        Physics steps per second summed over worlds (float): the faster of a persistent batch (one MjData
        per world) and a non-persistent one (one MjData per thread).
    """
    return max(_steps_per_second(models, num_worlds, nthread, seconds / 2, state or {}, persistent)
               for persistent in (True, False))


def _steps_per_second(models: mujoco.MjModel | Sequence[mujoco.MjModel], num_worlds: int, nthread: int,
                      seconds: float, state: dict[str, np.ndarray], persistent: bool) -> float:
    base = models if isinstance(models, mujoco.MjModel) else models[0]
    batch = mjbatch.Batch(base, num_worlds, nthread=nthread, persistent=persistent)
    if not isinstance(models, mujoco.MjModel):
        batch.set_models(list(models))
    for name, value in state.items():
        field = batch.bind(name)
        field[:] = np.broadcast_to(value, field.shape)
    batch.forward()
    batch.step(nstep=20)  # warm-up
    t0 = time.perf_counter()
    batch.step(nstep=20)
    per_step = (time.perf_counter() - t0) / 20
    nstep = max(10, int(seconds / max(per_step, 1e-9)))
    t0 = time.perf_counter()
    batch.step(nstep=nstep)
    return num_worlds * nstep / (time.perf_counter() - t0)


def default_robot_state(num_arms: int = 1, contact: dict | None = None
                        ) -> tuple[mujoco.MjModel, np.ndarray, np.ndarray]:
    """(model, qpos0 with the default robot pose, ctrl = that pose) of the Allegro-Kuka scene (contact settings:
    ``sim.contact`` overrides of :class:`tasks.sim.config.ContactConfig`'s defaults)."""
    from tasks.allegro_kuka.scene import SceneSpec, build_scene
    from tasks.sim.config import ContactConfig
    from tasks.sim.mujoco_model import compile_model

    info = build_scene(SceneSpec(num_arms=num_arms))
    model = compile_model(info, ContactConfig.model_validate(contact or {}))
    qpos = model.qpos0.copy()
    for name, q in zip(info.dof_names, info.default_dof_pos, strict=True):
        qpos[model.jnt_qposadr[model.joint(name).id]] = q
    return model, qpos, np.asarray(info.default_dof_pos)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arms", type=int, nargs="+", default=[1, 2])
    p.add_argument("--worlds", type=int, nargs="+", default=[64, 256, 1024])
    p.add_argument("--nthread", type=int, default=0)
    p.add_argument("--seconds", type=float, default=3.0)
    a = p.parse_args(argv)
    figures = {}
    for arms in a.arms:
        model, qpos, ctrl = default_robot_state(arms)
        for n in a.worlds:
            sps = physics_steps_per_second(model, n, a.nthread, a.seconds, {"qpos": qpos, "ctrl": ctrl})
            print(f"arms={arms} worlds={n:5d} nthread={a.nthread}: {sps:9.0f} world-steps/s "
                  f"(<= {sps / 2:8.0f} env-steps/s at 2 steps per control step)", flush=True)
            figures[f"{'one_arm' if arms == 1 else 'two_arms'}_physics_wps_{n}"] = sps
    for name, sps in figures.items():
        print(f"{name}={sps:.0f}")


if __name__ == "__main__":
    main()
