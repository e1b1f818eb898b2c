"""Hand joint armature: the smallest value that keeps contact-rich rollouts finite, and its finger speed.

    python -m bench.armature [--values 0 1e-5 1e-4 3e-4 1e-3] [--hold 5]

For each armature (kg·m², every hand joint; set through ``tasks.allegro_kuka.robot.HAND_ARMATURE`` before the
scene is built) it runs, with the default contact settings and joint speed limits:

* **contact-rich**: the 324 scripted grasps of :mod:`bench.grasp` (fingers closing on the cube, many pressing
  it into the table), then ``--hold`` seconds with the hand targets redrawn uniformly at random every
  control step (the hardest excitation a policy can give) while the arm holds the cube up;
* **random**: 300 uniform random-action steps of AllegroKukaRegrasping and AllegroKukaTwoArmsRegrasping
  (64 envs each; two-arm targets are absolute, so the arms and hands whip and collide with the table).

Printed per value: worlds that became non-finite or that MuJoCo reset as diverged (``sim/unstable_resets``),
the largest hand joint speed seen (rad/s; the limit is 6.283), and the finger closing time: seconds for
index/middle/ring joints 1–3 to cover 90 % of a 0 → 1.2 rad step in free air ("inf": not settled within 5 % and
0.5 rad/s after 1 s — finite, but a limit cycle at the speed limit) and its overshoot (the kp 40 / kv 5 drive
is overdamped on these links, so an overshoot is the integrator's).
Last line: ``hand_armature=<float>``, the smallest value with no non-finite or diverged world that settles with
at most 2 % overshoot.
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python bench/armature.py``: the package imports below would fail
    print("run it from the repository root as: python -m bench.armature", file=sys.stderr)
    sys.exit(2)

import argparse
import time

import torch

import tasks
from bench import grasp
from tasks.allegro_kuka import robot
from tasks.allegro_kuka.task import ARM_DOFS, DOFS_PER_ARM

MAX_OVERSHOOT = 0.02  # of the step: the drive is overdamped, so more is a numerical artefact
FLEX = [7 + 4 * f + j for f in range(3) for j in (1, 2, 3)]  # index/middle/ring joints 1-3 (spec order)


def contact_rich(hold_s: float, seed: int = 1) -> tuple[int, float]:
    """(bad worlds, max hand speed) over the scripted grasps followed by random hand targets."""
    plans = grasp.PLANS
    task = grasp.grasp_task(plans, seed=seed)
    state = grasp.start_grasps(task, plans)
    g = torch.Generator().manual_seed(seed)
    speed = 0.0
    for phase in grasp.PHASES:
        speed = max(speed, grasp.drive(task, state, *phase))
    lo, hi = task.dof_lower[7:], task.dof_upper[7:]
    for _ in range(round(hold_s / task.control_dt)):
        hand = lo + torch.rand(len(plans), 16, generator=g) * (hi - lo)
        speed = max(speed, grasp.drive(task, state, 2, hand, 1))
    bad = int((~torch.isfinite(task.sim.dof_pos).all(1)).sum()) + task.unstable_resets
    task.close()
    return bad, speed


def random_actions(name: str, steps: int = 300, num_envs: int = 64, seed: int = 1) -> tuple[int, float]:
    """(bad worlds, max hand speed) of ``steps`` uniform random-action steps of task ``name``."""
    task = tasks.make(name, num_envs=num_envs, seed=seed)
    g = torch.Generator().manual_seed(seed)
    task.reset()
    hand = (torch.arange(task.num_actions) % DOFS_PER_ARM) >= ARM_DOFS
    speed, bad = 0.0, 0
    for _ in range(steps):
        task.step(torch.rand(num_envs, task.num_actions, generator=g) * 2 - 1)
        v = task.sim.dof_vel[:, hand]
        bad += int((~torch.isfinite(v).all(1)).sum())
        speed = max(speed, float(v.abs().nan_to_num(0.0).max()))
    bad += task.unstable_resets
    task.close()
    return bad, speed


def closing_time(seed: int = 1, settle_s: float = 1.0) -> tuple[float, float]:
    """(seconds until the flexion joints have covered 90 % of a 0 -> 1.2 rad target step, overshoot as a
    fraction of the step) with the hand in the air. Seconds are inf when the joints have not settled after
    ``settle_s`` (every joint within 5 % of the target and slower than 0.5 rad/s): a limit cycle, the clamped
    0.35 N·m drive chattering on low-inertia finger links. A kp 40 / kv 5 drive on these links is overdamped,
    so an overshoot is the integrator's, not the drive's."""
    task = grasp.grasp_task([grasp.GOOD_PLAN], seed=seed)
    task.reset()
    lo, hi = task.dof_lower, task.dof_upper
    target = task.default_dof_pos.clone()
    target[FLEX] = 1.2
    act = 2 * (target - lo) / (hi - lo) - 1
    act[:7] = 0.0  # arm: hold
    reached, peak = None, 0.0
    for k in range(1, round(settle_s / task.control_dt) + 1):
        task.step(act[None])
        q = task.sim.dof_pos[0, FLEX]
        peak = max(peak, float(q.max()))
        if reached is None and bool((q >= 0.9 * 1.2).all()):
            reached = k * task.control_dt
    settled = bool(((task.sim.dof_pos[0, FLEX] - 1.2).abs() <= 0.05 * 1.2).all()
                   and (task.sim.dof_vel[0, FLEX].abs() < 0.5).all())
    task.close()
    return (reached if reached is not None and settled else float("inf")), max(0.0, peak - 1.2) / 1.2


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--values", type=float, nargs="+", default=[0.0, 1e-4, 3e-4, 5e-4, 1e-3])
    p.add_argument("--hold", type=float, default=5.0, help="seconds of random hand targets while holding")
    args = p.parse_args(argv)
    default = robot.HAND_ARMATURE
    stable = []
    print(f"{'armature':>9s} {'grasps: bad':>12s} {'max v':>7s} {'1-arm: bad':>11s} {'max v':>7s} "
          f"{'2-arm: bad':>11s} {'max v':>7s} {'close 90%':>10s} {'overshoot':>9s}")
    try:
        for value in args.values:
            robot.HAND_ARMATURE = value
            t0 = time.perf_counter()
            rich = contact_rich(args.hold)
            one = random_actions("AllegroKukaRegrasping")
            two = random_actions("AllegroKukaTwoArmsRegrasping")
            close, overshoot = closing_time()
            print(f"{value:9.0e} {rich[0]:12d} {rich[1]:7.2f} {one[0]:11d} {one[1]:7.2f} {two[0]:11d} {two[1]:7.2f} "
                  f"{close:9.3f}s {overshoot:9.1%}  ({time.perf_counter() - t0:.0f} s)", flush=True)
            if rich[0] == one[0] == two[0] == 0 and close < float("inf") and overshoot <= MAX_OVERSHOOT:
                stable.append(value)
    finally:
        robot.HAND_ARMATURE = default
    print(f"hand_armature={min(stable) if stable else float('nan'):g}")


if __name__ == "__main__":
    main()
