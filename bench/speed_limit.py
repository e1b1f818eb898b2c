"""How far joints move per physics substep against their URDF speed limits, on raw MuJoCo (issue 22).

    python -m bench.speed_limit [--steps 300] [--seeds 0 1]

One MjData of the one- and two-arm scenes, random full-range PD targets every control step (2 substeps of
1/120 s), driven on the hand only, the arm only, or both; per substep each joint's displacement / dt / its limit
(10 rad/s arm, 6.283 rad/s hand), peak over the rollout. Three speed caps: ``none``; ``qvel`` (velocity clamped
after ``mj_step``, the backend before issue 22); ``physx`` (velocity clamped and position re-integrated,
:func:`tasks.sim.mujoco_cpu.cap_joint_speeds`, the backend now). Ends with ``arm_peak_ratio=`` and
``hand_peak_ratio=`` (the ``physx`` cap, both targets, worst scene).
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python bench/speed_limit.py``: the package imports below would fail
    print("run it from the repository root as: python -m bench.speed_limit", file=sys.stderr)
    sys.exit(2)

import argparse
from collections.abc import Sequence

import mujoco
import numpy as np

from tasks.allegro_kuka.scene import SceneSpec, build_scene
from tasks.allegro_kuka.task import ARM_DOFS, DOFS_PER_ARM
from tasks.sim.mujoco_cpu import cap_joint_speeds
from tasks.sim.mujoco_model import addresses, compile_model


def peaks(arms: int, driven: str, cap: str, seeds: Sequence[int], steps: int) -> tuple[float, float]:
    """(arm, hand) peak displacement per substep / dt / limit over ``steps`` control steps per seed."""
    scene = build_scene(SceneSpec(num_arms=arms, goal="sphere"))
    m = compile_model(scene)
    adr = addresses(m, scene)
    lo, hi, limit = (np.asarray(x) for x in (scene.dof_lower, scene.dof_upper, scene.dof_vel_limit))
    arm = (np.arange(len(lo)) % DOFS_PER_ARM) < ARM_DOFS
    sel = {"all": np.ones_like(arm), "hand": ~arm, "arm": arm}[driven]
    peak = np.zeros(len(lo))
    for seed in seeds:
        d = mujoco.MjData(m)
        d.qpos[adr.qpos] = d.ctrl[adr.actuator] = np.clip(scene.default_dof_pos, lo, hi)
        mujoco.mj_forward(m, d)
        rng = np.random.default_rng(seed)
        for _ in range(steps):
            d.ctrl[adr.actuator[sel]] = rng.uniform(lo, hi)[sel]
            for _ in range(2):
                q0 = d.qpos[adr.qpos].copy()
                mujoco.mj_step(m, d)
                if cap != "none":
                    v, q = cap_joint_speeds(q0[None], d.qvel[adr.qvel][None], limit, m.opt.timestep)
                    d.qvel[adr.qvel] = v[0]
                    if cap == "physx":
                        d.qpos[adr.qpos] = q[0]
                peak = np.maximum(peak, np.abs(d.qpos[adr.qpos] - q0) / m.opt.timestep / limit)
    return float(peak[arm].max()), float(peak[~arm].max())


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = p.parse_args(argv)
    print(f"{'arms':>4s} {'driven':6s} {'cap':6s} {'arm peak':>9s} {'hand peak':>9s}  (displacement / dt / limit)")
    worst = [0.0, 0.0]
    for arms in (1, 2):
        for driven in ("hand", "arm", "all"):
            for cap in ("none", "qvel", "physx"):
                a, h = peaks(arms, driven, cap, args.seeds, args.steps)
                print(f"{arms:4d} {driven:6s} {cap:6s} {a:9.2f} {h:9.2f}", flush=True)
                if cap == "physx" and driven == "all":
                    worst = [max(worst[0], a), max(worst[1], h)]
    print(f"arm_peak_ratio={worst[0]:.4f}")
    print(f"hand_peak_ratio={worst[1]:.4f}")


if __name__ == "__main__":
    main()
