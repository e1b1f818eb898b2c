"""Scripted top-down grasps of the 5 cm cube through the task's own ``step()``, and how long they hold.

    python -m bench.grasp [--contacts pyramidal elliptic noslip ...] [--hold 10] [--png PATH]

Each world of one AllegroKukaRegrasping task (random forces off, cube only, no reset noise, no success)
runs one scripted grasp: the arm moves the palm centre above the cube, descends, the hand closes to a fixed
posture, the arm lifts the palm 20 cm and holds still for ``--hold`` seconds. The arm is driven through the
task's incremental arm actions (at most 0.05 rad of target change per 60 Hz step), the hand through its
absolute actions, so the grasp sees exactly the physics a policy sees. The worlds differ in the palm's
offset from the cube (x, y, height) and in the hand posture: a grid of :data:`PLANS` imperfect grasps.

Per contact setting (``sim.contact``, :data:`SETTINGS`) it prints: lifted (cube centre >= 10 cm above its
rest height after the lift), held (lifted and the cube's position in the palm frame drifts <= 2 cm over the
hold), the median drift of the lifted grasps, and the raw physics rate of the one- and two-arm scenes
(:func:`bench.physics_limit.physics_steps_per_second`, 256 worlds, rounds alternating between settings).
It also prints env-steps/s of the one- and two-arm tasks per setting with and without the joint speed limits
(:func:`env_rates`). Last line: ``grasp_hold_rate=<float>``, the share of lifted grasps that hold with the
default setting.
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python bench/grasp.py``: the package imports below would fail
    print("run it from the repository root as: python -m bench.grasp", file=sys.stderr)
    sys.exit(2)

import argparse
import itertools
import time
from dataclasses import dataclass

import mujoco
import numpy as np
import torch

import tasks
from tasks.sim.config import ContactConfig

CUBE_REST_Z = 0.555  # cube centre resting on the table (table top 0.53 m + 2.5 cm), m
LIFT = 0.2  # palm lift (m)
MAX_TARGET_STEP = 0.05  # rad of arm target change per control step (0.3 of the incremental action)
LIFTED_Z = CUBE_REST_Z + 0.10
HOLD_DRIFT = 0.02  # m
SETTINGS: dict[str, dict] = {
    "pyramidal": {"cone": "pyramidal", "impratio": 1.0, "noslip_iterations": 0},
    "elliptic": {"cone": "elliptic", "impratio": 10.0, "noslip_iterations": 0},
    "noslip": {"cone": "pyramidal", "impratio": 1.0, "noslip_iterations": 10},
    "elliptic+noslip": {"cone": "elliptic", "impratio": 10.0, "noslip_iterations": 10},
}

FINGERS = ((0.0, 0.8, 0.8, 0.8), (0.0, 1.2, 1.0, 0.6), (0.0, 1.5, 0.8, 0.4))  # index/middle/ring joints 0-3
THUMBS = ((1.4, 0.2, 0.6, 0.6), (1.5, 0.6, 1.0, 1.0), (1.2, 1.0, 0.4, 0.8))  # thumb joints 0-3
OFFSETS = list(itertools.product((-0.02, 0.0, 0.02), (-0.06, -0.03, 0.0, 0.03), (0.03, 0.05, 0.07)))


@dataclass(frozen=True)
class GraspPlan:
    """One scripted grasp: palm-centre offset from the cube centre (m, world frame) and hand posture (rad)."""

    offset: tuple[float, float, float]
    hand: tuple[float, ...]  # 16 hand joint targets, spec order


PLANS = [GraspPlan(off, f * 3 + t) for f, t in itertools.product(FINGERS, THUMBS) for off in OFFSETS]
GOOD_PLAN = GraspPlan((0.0, 0.03, 0.07), FINGERS[1] + FINGERS[1] + FINGERS[1] + THUMBS[1])


def grasp_task(num_envs: int, contact: dict | None = None, seed: int = 1, nthread: int = 0):
    """AllegroKukaRegrasping with everything random off: cube only, no forces, no reset noise, no successes."""
    sim = {"num_threads": nthread, "contact": dict(contact or {})}
    return tasks.make("AllegroKukaRegrasping", num_envs=num_envs, seed=seed, sim=sim, force_scale=0.0,
                      with_small_cuboids=False, with_big_cuboids=False, with_sticks=False,
                      reset_dof_pos_random_interval_arm=0.0, reset_dof_pos_random_interval_fingers=0.0,
                      reset_dof_vel_random_interval=0.0, episode_length=100_000, success_tolerance=1e-4,
                      target_success_tolerance=1e-4)


def arm_ik(model: mujoco.MjModel, scene, q: np.ndarray, target: np.ndarray, rot: np.ndarray,
           iters: int = 100) -> np.ndarray:
    """Arm joints ``[7]`` (rad) putting the palm centre at ``target [3]`` m with link 7 at rotation ``rot [3,3]``
    (damped least squares from ``q [23]``, joint limits respected); hand joints unchanged."""
    data = mujoco.MjData(model)
    qadr = [model.jnt_qposadr[model.joint(n).id] for n in scene.dof_names[:7]]
    vadr = [model.jnt_dofadr[model.joint(n).id] for n in scene.dof_names[:7]]
    site = model.site(scene.site_names[0]).id
    q = q.copy()
    for _ in range(iters):
        data.qpos[qadr] = q[:7]
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        jp, jr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
        mujoco.mj_jacSite(model, data, jp, jr, site)
        r = data.site_xmat[site].reshape(3, 3)
        err = np.concatenate([target - data.site_xpos[site], 0.5 * sum(np.cross(r[:, k], rot[:, k]) for k in range(3))])
        jac = np.vstack([jp, jr])[:, vadr]
        q[:7] = np.clip(q[:7] + jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), err),
                        scene.dof_lower[:7], scene.dof_upper[:7])
    return q[:7]


@dataclass
class GraspState:
    """Per-world script of :func:`start_grasps`: arm waypoints ``way [P, 3, 7]`` rad (above, at, up the cube),
    closed ``hand [P, 16]`` and ``open_hand [P, 16]`` targets (rad)."""

    way: torch.Tensor
    hand: torch.Tensor
    open_hand: torch.Tensor


# (waypoint, hand "open" | "closed", control steps): above the cube, down, close, lift
PHASES = ((0, "open", 60), (1, "open", 60), (1, "closed", 60), (2, "closed", 90))


def start_grasps(task, plans: list[GraspPlan]) -> GraspState:
    """Reset ``task`` (one world per plan), put the cube at the origin on the table and plan the arm by IK."""
    n, scene = len(plans), task.scene
    task.reset()
    cube = torch.tensor([[0.0, 0.0, CUBE_REST_Z]]).expand(n, 3)
    task.sim.reset_free_body(torch.arange(n), task.object_body, cube, torch.tensor([[0, 0, 0, 1.0]]).expand(n, 4))
    model = task.sim.mj_model(0)
    q0 = np.asarray(scene.default_dof_pos)
    data = mujoco.MjData(model)
    data.qpos[[model.jnt_qposadr[model.joint(j).id] for j in scene.dof_names]] = q0
    mujoco.mj_kinematics(model, data)
    rot = data.site_xmat[model.site(scene.site_names[0]).id].reshape(3, 3).copy()  # palm down, as at reset
    waypoints = []
    for plan in plans:
        at = np.array([0.0, 0.0, CUBE_REST_Z]) + plan.offset
        above = arm_ik(model, scene, q0, at + (0, 0, 0.08), rot)
        low = arm_ik(model, scene, np.r_[above, q0[7:]], at, rot)
        up = arm_ik(model, scene, np.r_[low, q0[7:]], at + (0, 0, LIFT), rot)
        waypoints.append(np.stack([above, low, up]))
    hand = torch.tensor([p.hand for p in plans], dtype=torch.float32)
    open_hand = torch.tensor(q0[7:], dtype=torch.float32).repeat(n, 1)
    open_hand[:, 12] = hand[:, 12]  # thumb turned under the palm before the descent
    return GraspState(torch.tensor(np.stack(waypoints), dtype=torch.float32), hand, open_hand)


def drive(task, state: GraspState, waypoint: int, hand: str | torch.Tensor, steps: int) -> float:
    """``steps`` control steps moving the arm targets toward ``waypoint`` (<= 0.05 rad per step, incremental
    actions) with the hand at ``hand`` ("open", "closed" or targets ``[P, 16]`` rad, absolute actions).
    Returns the largest hand joint speed seen (rad/s)."""
    lo, hi = task.dof_lower, task.dof_upper
    speed_dt = task.cfg.dof_speed_scale * task.control_dt
    cap = MAX_TARGET_STEP / speed_dt
    targets = {"open": state.open_hand, "closed": state.hand}.get(hand, hand) if isinstance(hand, str) else hand
    fingers = 2 * (targets - lo[7:]) / (hi[7:] - lo[7:]) - 1
    speed = 0.0
    for _ in range(steps):
        arm = ((state.way[:, waypoint] - task.prev_targets[:, :7]) / speed_dt).clamp(-cap, cap)
        task.step(torch.cat([arm, fingers], 1))
        speed = max(speed, float(task.sim.dof_vel[:, 7:].abs().nan_to_num(0.0).max()))
    return speed


def cube_in_palm(task) -> torch.Tensor:
    """Cube centre in the palm frame ``[N, 3]`` m (palm centre site, link-7 axes)."""
    rel = task.sim.body_pos[:, task.object_body] - task.sim.site_pos[:, 0]
    return torch.einsum("nji,nj->ni", task.sim.body_rotmat[:, 0], rel)


def run_grasps(plans: list[GraspPlan], contact: dict | None = None, hold_s: float = 10.0,
               nthread: int = 0) -> dict[str, np.ndarray]:
    """Run ``plans`` (one world each) through ``task.step``; returns per plan ``lifted [P]`` bool,
    ``drift [P]`` m (cube displacement in the palm frame over the hold), ``height [P]`` m (cube centre
    after the lift) and ``finite [P]`` bool (no non-finite state and no diverged world in the task).

    The arm's PD drive (kp 40, kv 5; spec §2.4) swings the lifted hand by up to ±10 cm for the first seconds of
    the hold, so the grasp holds under motion, not only at rest."""
    task = grasp_task(len(plans), contact, nthread=nthread)
    state = start_grasps(task, plans)
    for phase in PHASES:
        drive(task, state, *phase)
    height = task.sim.body_pos[:, task.object_body, 2].clone()
    start = cube_in_palm(task)
    drive(task, state, 2, "closed", round(hold_s / task.control_dt))
    drift = (cube_in_palm(task) - start).norm(dim=1)
    finite = torch.isfinite(task.sim.dof_pos).all(1) & (task.unstable_resets == 0)
    task.close()
    return {"lifted": (height >= LIFTED_Z).numpy(), "drift": drift.numpy(), "height": height.numpy(),
            "finite": finite.numpy()}


def physics_rates(names: list[str], rounds: int = 3, worlds: int = 256, seconds: float = 2.0) -> dict:
    """Median world-steps/s of the one- and two-arm scenes per contact setting, rounds alternating."""
    from bench.physics_limit import default_robot_state, physics_steps_per_second

    rates: dict[tuple[str, int], list[float]] = {}
    for _ in range(rounds):
        for name in names:
            for arms in (1, 2):
                model, qpos, ctrl = default_robot_state(arms, SETTINGS[name])
                rate = physics_steps_per_second(model, worlds, seconds=seconds, state={"qpos": qpos, "ctrl": ctrl})
                rates.setdefault((name, arms), []).append(rate)
    return {k: float(np.median(v)) for k, v in rates.items()}


def env_rates(names: list[str], rounds: int = 4, num_envs: int = 240, steps: int = 100) -> dict:
    """Median env-steps/s of AllegroKukaRegrasping and AllegroKukaTwoArmsReorientation (``num_envs`` envs, actions
    N(0, 1) clipped, as an untrained policy draws them) per contact setting, with the joint speed limits
    (``"<setting>"``) and without them (``"<setting>, no limits"``); rounds alternate between the variants."""
    from tasks.allegro_kuka import robot

    out = {}
    for task_name in ("AllegroKukaRegrasping", "AllegroKukaTwoArmsReorientation"):
        variants = {}
        for name in names:
            for limits in (True, False):
                saved = robot.ARM_VEL_LIMIT, robot.HAND_VEL_LIMIT
                if not limits:
                    robot.ARM_VEL_LIMIT = robot.HAND_VEL_LIMIT = 0.0  # 0: no limit (scene.dof_vel_limit)
                try:
                    task = tasks.make(task_name, num_envs=num_envs, seed=1, sim={"contact": SETTINGS[name]})
                finally:
                    robot.ARM_VEL_LIMIT, robot.HAND_VEL_LIMIT = saved
                task.reset()
                variants[name + ("" if limits else ", no limits")] = task
        g = torch.Generator().manual_seed(1)
        actions = [torch.randn(num_envs, task.num_actions, generator=g).clamp_(-1, 1) for _ in range(32)]
        rates: dict[str, list[float]] = {k: [] for k in variants}
        for task in variants.values():  # warm-up
            for i in range(steps // 2):
                task.step(actions[i % 32])
        for _ in range(rounds):
            for key, task in variants.items():
                start = time.perf_counter()
                for i in range(steps):
                    task.step(actions[i % 32])
                rates[key].append(num_envs * steps / (time.perf_counter() - start))
        for key, task in variants.items():
            out[(task_name, key)] = float(np.median(rates[key]))
            task.close()
    return out


def default_setting() -> str:
    """The :data:`SETTINGS` name equal to the default ``sim.contact`` settings."""
    return next(k for k, v in SETTINGS.items() if v == ContactConfig().model_dump())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--contacts", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--hold", type=float, default=10.0, help="hold time after the lift (s)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds of the physics-rate measurement")
    args = p.parse_args(argv)
    rows = {}
    for name in args.contacts:
        t0 = time.perf_counter()
        r = run_grasps(PLANS, SETTINGS[name], args.hold)
        lifted = r["lifted"] & r["finite"]
        held = lifted & (r["drift"] <= HOLD_DRIFT)
        rows[name] = (int(lifted.sum()), int(held.sum()), float(np.median(r["drift"][lifted])) if lifted.any()
                      else float("nan"))
        print(f"{name:16s} lifted {rows[name][0]:3d}/{len(PLANS)}  held {args.hold:g} s {rows[name][1]:3d}  "
              f"median drift {rows[name][2] * 100:6.2f} cm  ({time.perf_counter() - t0:.0f} s)", flush=True)
    rates = physics_rates(args.contacts, rounds=args.rounds)
    base = "pyramidal" if "pyramidal" in args.contacts else args.contacts[0]
    print("\nraw physics, 256 worlds (world-steps/s; ratio to " + base + "):")
    for name in args.contacts:
        cells = [f"{arms} arm{'s' if arms > 1 else ' '} {rates[(name, arms)]:8.0f} "
                 f"({rates[(name, arms)] / rates[(base, arms)]:.2f})" for arms in (1, 2)]
        print(f"{name:16s} " + "  ".join(cells))
    env = env_rates(args.contacts, rounds=args.rounds)
    print("\nenv-steps/s, 240 envs, untrained-policy actions (ratio to pyramidal without speed limits):")
    for (task_name, key), rate in env.items():
        ref = env.get((task_name, "pyramidal, no limits"), rate)
        print(f"{task_name:32s} {key:28s} {rate:8.0f} ({rate / ref:.2f})")
    d = default_setting()
    if d in rows:
        lifted, held, _ = rows[d]
        print(f"grasp_hold_rate={held / max(lifted, 1):.4f}")


if __name__ == "__main__":
    main()
