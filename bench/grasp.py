"""Scripted top-down grasps through the task's own ``step()``, and how long they hold.

    python -m bench.grasp [--contacts elliptic elliptic+noslip4 ...] [--hold 10] [--rounds 3]

Each world of one regrasping task (random forces off, no reset noise, no success) runs one scripted grasp: the arm
moves the palm centre above the object, descends, the hand closes to a fixed posture, the arm lifts the palm 20 cm
and holds still for ``--hold`` seconds. Arm and hand are driven through the task's actions (at most 0.05 rad of arm
target change per 60 Hz step), so the grasp sees exactly the physics a policy sees. Three grasp sets
(:data:`GRASP_SETS`): the tuning set :data:`PLANS` (the 5 cm cube at yaw 0, 36 palm offsets x 9 hand postures), and
the wider sets of :func:`wide_plans` (the cube and three cuboids of the task's distribution, yaws 0-90 deg, aim
errors within 1 cm; under the one-arm hand, and under each hand of the two-arm scene).

Per contact setting (``sim.contact``, :data:`SETTINGS`) and grasp set it prints: lifted (object centre >= 10 cm
above its rest height after the lift), held (lifted and the object's position in the palm frame drifts <= 2 cm over
the hold), the median drift of the lifted grasps over the hold and over its last half (settle); then the raw
physics rate of the one- and two-arm scenes (:func:`bench.physics_limit.physics_steps_per_second`, 256 worlds,
rounds alternating between settings) and env-steps/s per setting with and without the joint speed limits
(:func:`env_rates`). Last lines, over both wide sets with the default setting: ``grasp_lifted=``,
``grasp_hold_rate=`` (held / lifted) and ``grasp_settle_mm=`` (median drift over the last half of the hold).
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
from scipy.spatial.transform import Rotation

import tasks
from tasks.allegro_kuka.registry import FACTORIES
from tasks.allegro_kuka.sampling import TWO_ARM_OBJECT_SIDE_X
from tasks.allegro_kuka.scene import OBJECT_BASE_SIZE, palm_body, palm_site
from tasks.allegro_kuka.task import ARM_DOFS, DOFS_PER_ARM, AllegroKukaTask
from tasks.sim.config import ContactConfig, sim_config

TABLE_TOP = 0.53  # m
CUBE = (OBJECT_BASE_SIZE,) * 3  # the 5 cm cube's full sides, m
LIFT = 0.2  # palm lift (m)
MAX_TARGET_STEP = 0.05  # rad of arm target change per control step (0.3 of the incremental action)
LIFTED = 0.10  # an object counts as lifted when its centre is >= 10 cm above its rest height
HOLD_DRIFT = 0.02  # m, over the whole hold
SETTLED_DRIFT = 0.002  # m, median over the last 5 s of the hold (the drift has stopped)
_ELLIPTIC = {"cone": "elliptic", "impratio": 10.0}
SETTINGS: dict[str, dict] = {
    "pyramidal": {"cone": "pyramidal", "impratio": 1.0, "noslip_iterations": 0},
    "elliptic": {**_ELLIPTIC, "noslip_iterations": 0},
    "elliptic+noslip2": {**_ELLIPTIC, "noslip_iterations": 2},
    "elliptic+noslip4": {**_ELLIPTIC, "noslip_iterations": 4},
    "elliptic+noslip10": {**_ELLIPTIC, "noslip_iterations": 10},
    "elliptic+torsion": {**_ELLIPTIC, "noslip_iterations": 0, "object_condim": 4, "torsional_friction": 0.01},
    "elliptic+rolling": {**_ELLIPTIC, "noslip_iterations": 0, "object_condim": 6, "torsional_friction": 0.01},
}

FINGERS = ((0.0, 0.8, 0.8, 0.8), (0.0, 1.2, 1.0, 0.6), (0.0, 1.5, 0.8, 0.4))  # index/middle/ring joints 0-3
THUMBS = ((1.4, 0.2, 0.6, 0.6), (1.5, 0.6, 1.0, 1.0), (1.2, 1.0, 0.4, 0.8))  # thumb joints 0-3
OFFSETS = list(itertools.product((-0.02, 0.0, 0.02), (-0.06, -0.03, 0.0, 0.03), (0.03, 0.05, 0.07)))


@dataclass(frozen=True)
class GraspPlan:
    """One scripted grasp.

    ``offset``: palm centre from the object centre (m, world frame), for the 5 cm cube; a taller object raises
    the palm by the difference in half-height. ``hand``: 16 hand joint targets (rad, spec order). ``yaw``: the
    object's yaw about the vertical (rad). ``size``: the object's full sides (m). ``arm``: the grasping arm;
    ``arms``: the scene (1: AllegroKukaRegrasping, object at the table centre; 2: AllegroKukaTwoArmsRegrasping,
    object at x = -0.35 m for arm 0 and +0.35 m for arm 1, the other arm holding its default pose)."""

    offset: tuple[float, float, float]
    hand: tuple[float, ...]
    yaw: float = 0.0
    size: tuple[float, float, float] = CUBE
    arm: int = 0
    arms: int = 1


GOOD_HAND = FINGERS[1] * 3 + THUMBS[1]
GOOD_OFFSET = (0.0, 0.03, 0.07)
# the tuning set: the 5 cm cube at yaw 0 under one arm, 36 palm offsets x 9 hand postures
PLANS = [GraspPlan(off, f * 3 + t) for f, t in itertools.product(FINGERS, THUMBS) for off in OFFSETS]
GOOD_PLAN = GraspPlan(GOOD_OFFSET, GOOD_HAND)
# the wider set: objects of the task's distribution (§4.1: the cube, small cuboids, a big cuboid; percent scales of
# 5 cm), yaws 0-90 deg, aim errors within +-1 cm, under the one-arm hand and both hands of the two-arm scene
WIDE_SCALES = ((100, 100, 100), (125, 75, 125), (150, 100, 110), (200, 90, 110))
WIDE_YAWS_DEG = (0, 15, 30, 45, 60, 75, 90)
WIDE_AIMS = tuple(itertools.product((-0.01, 0.0, 0.01), (-0.01, 0.0, 0.01)))


def wide_plans(arms: int) -> list[GraspPlan]:
    """The wider grasp set for the one-arm (``arms=1``, 252 grasps) or two-arm scene (504: both hands)."""
    out = []
    for arm in range(arms):
        for scale, yaw, (ex, ey) in itertools.product(WIDE_SCALES, WIDE_YAWS_DEG, WIDE_AIMS):
            ox, oy = GOOD_OFFSET[0] + ex, GOOD_OFFSET[1] + ey  # one arm: its base lies at +y
            # two arms: the one-arm offset turned to the arm's base direction (arm 0: -x, arm 1: +x)
            off = (ox, oy, GOOD_OFFSET[2]) if arms == 1 else ((-oy, ox, GOOD_OFFSET[2]) if arm == 0
                                                              else (oy, -ox, GOOD_OFFSET[2]))
            size = tuple(OBJECT_BASE_SIZE * c / 100 for c in scale)
            out.append(GraspPlan(off, GOOD_HAND, np.deg2rad(yaw), size, arm, arms))
    return out


def object_centre(plan: GraspPlan) -> np.ndarray:
    """Where the plan's object rests (m, world frame)."""
    x = 0.0 if plan.arms == 1 else (-1.0 if plan.arm == 0 else 1.0) * TWO_ARM_OBJECT_SIDE_X
    return np.array([x, 0.0, TABLE_TOP + plan.size[2] / 2])


def tilt(plan: GraspPlan) -> np.ndarray:
    """World rotation ``[3, 3]`` applied to the palm's reset orientation: none on one arm; on two arms the hand
    pitched 10 deg toward its arm's base, without which the arm's links rest on the table edge (3.7 mm deep at the
    IK pose) before the hand reaches the object."""
    if plan.arms == 1:
        return np.eye(3)
    return Rotation.from_euler("y", 10.0 if plan.arm == 0 else -10.0, degrees=True).as_matrix()


def grasp_task(plans: list[GraspPlan], contact: dict | None = None, seed: int = 1, nthread: int = 0):
    """The plans' regrasping task (one world per plan, each with the plan's object) with everything random off:
    no forces, no reset noise, no successes, no episode end."""
    arms = {p.arms for p in plans}
    if len(arms) != 1:
        raise ValueError("plans of one run must share the scene (GraspPlan.arms)")
    name = "AllegroKukaRegrasping" if arms == {1} else "AllegroKukaTwoArmsRegrasping"
    cfg = FACTORIES[name].variant.config(dict(
        force_scale=0.0, reset_dof_pos_random_interval_arm=0.0, reset_dof_pos_random_interval_fingers=0.0,
        reset_dof_vel_random_interval=0.0, episode_length=100_000, success_tolerance=1e-4,
        target_success_tolerance=1e-4))
    sim = sim_config({"num_threads": nthread, "contact": dict(contact or {})})
    return AllegroKukaTask(cfg, num_envs=len(plans), seed=seed, sim=sim,
                           object_sizes=np.array([p.size for p in plans]))


def arm_ik(model: mujoco.MjModel, scene, q: np.ndarray, target: np.ndarray, rot: np.ndarray, arm: int = 0,
           iters: int = 100) -> np.ndarray:
    """Arm ``arm``'s joints ``[7]`` (rad) putting its palm centre at ``target [3]`` m with link 7 at rotation
    ``rot [3,3]`` (damped least squares from that arm's ``q [23]``, joint limits respected)."""
    data = mujoco.MjData(model)
    names = scene.dof_names[arm * DOFS_PER_ARM:arm * DOFS_PER_ARM + ARM_DOFS]
    qadr = [model.jnt_qposadr[model.joint(n).id] for n in names]
    vadr = [model.jnt_dofadr[model.joint(n).id] for n in names]
    lo = scene.dof_lower[arm * DOFS_PER_ARM:][:ARM_DOFS]
    hi = scene.dof_upper[arm * DOFS_PER_ARM:][:ARM_DOFS]
    site = model.site(scene.site_names[palm_site(arm)]).id
    q = q[:ARM_DOFS].copy()
    for _ in range(iters):
        data.qpos[qadr] = q
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        jp, jr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
        mujoco.mj_jacSite(model, data, jp, jr, site)
        r = data.site_xmat[site].reshape(3, 3)
        err = np.concatenate([target - data.site_xpos[site], 0.5 * sum(np.cross(r[:, k], rot[:, k]) for k in range(3))])
        jac = np.vstack([jp, jr])[:, vadr]
        q = np.clip(q + jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), err), lo, hi)
    return q


@dataclass
class GraspState:
    """Per-world script of :func:`start_grasps`: full targets ``[P, 3, D]`` rad for the three arm waypoints
    (above, at, up the object; the hand columns are ignored), closed and open hand targets ``[P, 16]`` and the
    columns ``[P, 23]`` of each plan's grasping arm + hand in the task's targets."""

    way: torch.Tensor
    hand: torch.Tensor
    open_hand: torch.Tensor
    cols: torch.Tensor


# (waypoint, hand "open" | "closed", control steps): above the object, down, close, lift
PHASES = ((0, "open", 60), (1, "open", 60), (1, "closed", 60), (2, "closed", 90))


def start_grasps(task, plans: list[GraspPlan]) -> GraspState:
    """Reset ``task`` (one world per plan), put each object on the table at its yaw and plan the arms by IK."""
    n, scene = len(plans), task.scene
    task.reset()
    pos = torch.tensor(np.array([object_centre(p) for p in plans]), dtype=torch.float32)
    quat = torch.tensor([[0.0, 0.0, np.sin(p.yaw / 2), np.cos(p.yaw / 2)] for p in plans])  # (x, y, z, w)
    task.sim.reset_free_body(torch.arange(n), task.object_body, pos, quat)
    model = task.sim.mj_model(0)
    q0 = np.asarray(scene.default_dof_pos)
    data = mujoco.MjData(model)
    data.qpos[[model.jnt_qposadr[model.joint(j).id] for j in scene.dof_names]] = q0
    mujoco.mj_kinematics(model, data)
    cols = torch.stack([torch.arange(DOFS_PER_ARM) + p.arm * DOFS_PER_ARM for p in plans])
    rot = np.stack([tilt(p) @ data.site_xmat[model.site(scene.site_names[palm_site(p.arm)]).id].reshape(3, 3)
                    for p in plans])
    at = np.stack([object_centre(p) + p.offset + (0, 0, (p.size[2] - OBJECT_BASE_SIZE) / 2) for p in plans])
    palm = np.stack([at + (0, 0, 0.08), at, at + (0, 0, LIFT)], 1)
    hand = torch.tensor([p.hand for p in plans], dtype=torch.float32)
    open_hand = torch.tensor(q0[ARM_DOFS:DOFS_PER_ARM], dtype=torch.float32).repeat(n, 1)
    open_hand[:, 12] = hand[:, 12]  # thumb turned under the palm before the descent
    state = GraspState(torch.tensor(q0, dtype=torch.float32).repeat(n, 3, 1), hand, open_hand, cols)
    for i, plan in enumerate(plans):  # arm joints of the three waypoints by IK from the default pose
        a = plan.arm * DOFS_PER_ARM
        q, qs = q0[a:a + DOFS_PER_ARM], []
        for target in palm[i]:
            qs.append(arm_ik(model, scene, q, target, rot[i], plan.arm))
            q = np.r_[qs[-1], q[ARM_DOFS:]]
        state.way[i, :, a:a + ARM_DOFS] = torch.tensor(np.stack(qs), dtype=torch.float32)
    return state


def drive(task, state: GraspState, waypoint: int, hand: str | torch.Tensor, steps: int) -> float:
    """``steps`` control steps moving each grasping arm's targets toward ``waypoint`` (<= 0.05 rad per step) with
    its hand at ``hand`` ("open", "closed" or targets ``[P, 16]`` rad); the other arm of a two-arm scene holds its
    default pose. Actions as a policy's: incremental arm actions on one arm, absolute targets otherwise.
    Returns the largest hand joint speed seen (rad/s)."""
    lo, hi = task.dof_lower, task.dof_upper
    speed_dt = task.cfg.dof_speed_scale * task.control_dt
    fingers = {"open": state.open_hand, "closed": state.hand}.get(hand, hand) if isinstance(hand, str) else hand
    rows = torch.arange(task.num_envs)[:, None]
    speed = 0.0
    for _ in range(steps):
        goal = state.way[:, waypoint].clone()
        goal[rows, state.cols[:, ARM_DOFS:]] = fingers
        prev = task.prev_targets
        targets = prev + (goal - prev).clamp(-MAX_TARGET_STEP, MAX_TARGET_STEP)
        targets[rows, state.cols[:, ARM_DOFS:]] = fingers  # hands jump to their targets
        actions = (2 * (targets - lo) / (hi - lo) - 1).clamp(-1, 1)
        actions[:, task.incremental] = ((targets - prev) / speed_dt)[:, task.incremental]
        task.step(actions)
        speed = max(speed, float(task.sim.dof_vel.abs().nan_to_num(0.0).max()))
    return speed


def object_in_palm(task, arms: torch.Tensor) -> torch.Tensor:
    """Object centre in the grasping palm's frame ``[N, 3]`` m (palm centre site, link-7 axes); ``arms [N]``."""
    rows = torch.arange(task.num_envs)
    site = task.sim.site_pos[rows, torch.as_tensor([palm_site(int(a)) for a in arms])]
    rot = task.sim.body_rotmat[rows, torch.as_tensor([palm_body(int(a)) for a in arms])]
    return torch.einsum("nji,nj->ni", rot, task.sim.body_pos[:, task.object_body] - site)


def run_grasps(plans: list[GraspPlan], contact: dict | None = None, hold_s: float = 10.0,
               nthread: int = 0) -> dict[str, np.ndarray]:
    """Run ``plans`` (one world each, one scene) through ``task.step``; returns per plan ``lifted [P]`` bool,
    ``drift [P]`` m (object displacement in the palm frame over the hold), ``settle [P]`` m (the same over the
    hold's last half), ``height [P]`` m (object centre above its rest height after the lift) and ``finite [P]``
    bool (no non-finite state and no diverged world in the task).

    The arm's PD drive (kp 40, kv 5; spec §2.4) swings the lifted hand by up to ±10 cm for the first seconds of
    the hold, so the grasp holds under motion, not only at rest."""
    task = grasp_task(plans, contact, nthread=nthread)
    state = start_grasps(task, plans)
    for phase in PHASES:
        drive(task, state, *phase)
    rest = torch.tensor([object_centre(p)[2] for p in plans], dtype=torch.float32)
    height = task.sim.body_pos[:, task.object_body, 2] - rest
    arms = torch.tensor([p.arm for p in plans])
    start = object_in_palm(task, arms)
    half = round(hold_s / 2 / task.control_dt)
    drive(task, state, 2, "closed", half)
    middle = object_in_palm(task, arms)
    drive(task, state, 2, "closed", round(hold_s / task.control_dt) - half)
    end = object_in_palm(task, arms)
    finite = torch.isfinite(task.sim.dof_pos).all(1) & (task.unstable_resets == 0)
    task.close()
    return {"lifted": (height >= LIFTED).numpy(), "drift": (end - start).norm(dim=1).numpy(),
            "settle": (end - middle).norm(dim=1).numpy(), "height": height.numpy(), "finite": finite.numpy()}


def summary(result: dict[str, np.ndarray]) -> dict[str, float]:
    """``lifted`` (count), ``held`` (lifted and drift <= 2 cm), ``hold_rate`` (held / lifted), ``drift`` and
    ``settle`` (medians over the lifted grasps, m) of :func:`run_grasps`' result."""
    lifted = result["lifted"] & result["finite"]
    held = lifted & (result["drift"] <= HOLD_DRIFT)
    med = (lambda x: float(np.median(x[lifted])) if lifted.any() else float("nan"))
    return {"grasps": len(lifted), "lifted": int(lifted.sum()), "held": int(held.sum()),
            "hold_rate": held.sum() / max(lifted.sum(), 1), "drift": med(result["drift"]),
            "settle": med(result["settle"])}


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
    return next(k for k, v in SETTINGS.items() if ContactConfig(**v) == ContactConfig())


GRASP_SETS = {"tuning": lambda: PLANS, "wide, one arm": lambda: wide_plans(1), "wide, two arms": lambda: wide_plans(2)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--contacts", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--hold", type=float, default=10.0, help="hold time after the lift (s)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds of the physics-rate measurement")
    args = p.parse_args(argv)
    results: dict[tuple[str, str], dict] = {}
    for name in args.contacts:
        for set_name, plans in GRASP_SETS.items():
            t0 = time.perf_counter()
            r = results[(name, set_name)] = run_grasps(plans(), SETTINGS[name], args.hold)
            m = summary(r)
            print(f"{name:24s} {set_name:15s} lifted {m['lifted']:3d}/{m['grasps']}  held {args.hold:g} s "
                  f"{m['held']:3d} ({m['hold_rate']:.2f})  median drift {m['drift'] * 1e3:6.2f} mm, last "
                  f"{args.hold / 2:g} s {m['settle'] * 1e3:5.2f} mm  ({time.perf_counter() - t0:.0f} s)", flush=True)
    rates = physics_rates(args.contacts, rounds=args.rounds)
    base = "pyramidal" if "pyramidal" in args.contacts else args.contacts[0]
    print("\nraw physics, 256 worlds (world-steps/s; ratio to " + base + "):")
    for name in args.contacts:
        cells = [f"{arms} arm{'s' if arms > 1 else ' '} {rates[(name, arms)]:8.0f} "
                 f"({rates[(name, arms)] / rates[(base, arms)]:.2f})" for arms in (1, 2)]
        print(f"{name:24s} " + "  ".join(cells))
    env = env_rates(args.contacts, rounds=args.rounds)
    print("\nenv-steps/s, 240 envs, untrained-policy actions (ratio to the first setting without speed limits):")
    for (task_name, key), rate in env.items():
        ref = env.get((task_name, f"{args.contacts[0]}, no limits"), rate)
        print(f"{task_name:32s} {key:34s} {rate:8.0f} ({rate / ref:.2f})")
    d = default_setting()
    if d in args.contacts:
        wide = {k: np.concatenate([results[(d, s)][k] for s in GRASP_SETS if s.startswith("wide")])
                for k in results[(d, "tuning")]}
        m = summary(wide)
        print(f"grasp_lifted={m['lifted']}")
        print(f"grasp_hold_rate={m['hold_rate']:.4f}")
        print(f"grasp_settle_mm={m['settle'] * 1e3:.3f}")


if __name__ == "__main__":
    main()
