"""Worst-case contacts and constraint rows per world, measured on CPU MuJoCo, to size MuJoCo Warp's buffers.

    python -m bench.warp_capacity [--tasks AllegroKukaRegrasping ...] [--envs 4] [--steps 300] [--seed 0]

Each task runs ``--envs`` worlds for ``--steps`` control steps of uniform random actions in [-1, 1] (random
forces and resets as in training) on the CPU backend; after every step each world's ``MjData`` is recomputed
(``mj_forward``) and its ``ncon`` (contacts) and ``nefc`` (constraint rows: contacts × rows per contact plus
joint limits) are recorded. The closing hand is measured too: the scripted top-down grasps of
:mod:`bench.grasp` (every 9th of its plans: approach, close, lift) on AllegroKukaRegrasping. Prints one line
per task and then ``<scene>_ncon_max=`` / ``<scene>_nefc_max=``
for the one-arm and two-arm scenes (maximum over their tasks). :data:`tasks.allegro_kuka.scene.WARP_CAPACITY` holds
the measured numbers and the capacities chosen from them. ``--warp`` measures the peak buffer use on MuJoCo Warp
itself (Warp's CPU device), including the broadphase candidate pairs that share the contact pool.
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python bench/warp_capacity.py``: the package imports below would fail
    print("run it from the repository root as: python -m bench.warp_capacity", file=sys.stderr)
    sys.exit(2)

import argparse

import torch

ONE_ARM = ("AllegroKukaRegrasping", "AllegroKukaReorientation", "AllegroKukaThrow")
TWO_ARMS = ("AllegroKukaTwoArmsRegrasping", "AllegroKukaTwoArmsReorientation",
            "AllegroKukaTwoArmsReorientationPartition", "AllegroKukaTwoArmsReorientationHole",
            "AllegroKukaTwoArmsReorientationBarrier")


def _record(task, worst: list[int]) -> None:
    """Raise ``worst = [ncon, nefc]`` to the largest counts over the task's worlds at their current state."""
    for i in range(task.num_envs):
        d = task.sim.mj_data(i)
        worst[0], worst[1] = max(worst[0], int(d.ncon)), max(worst[1], int(d.nefc))


def grasp_worst_case(every: int = 9) -> tuple[int, int]:
    """``(max ncon, max nefc)`` over :mod:`bench.grasp`'s scripted grasps (every ``every``-th plan, one world
    each, through every phase of its script)."""
    from bench import grasp

    plans = grasp.PLANS[::every]
    task = grasp.grasp_task(plans, nthread=1)
    state = grasp.start_grasps(task, plans)
    worst = [0, 0]
    for phase in grasp.PHASES:
        for _ in range(phase[2]):
            grasp.drive(task, state, phase[0], phase[1], 1)
            _record(task, worst)
    task.close()
    return worst[0], worst[1]


def worst_case(task_name: str, num_envs: int = 4, steps: int = 300, seed: int = 0) -> tuple[int, int]:
    """``(max ncon, max nefc)`` over ``num_envs`` CPU-MuJoCo worlds of ``task_name`` and ``steps`` control
    steps of seeded uniform random actions."""
    import tasks

    task = tasks.make(task_name, num_envs=num_envs, seed=seed, sim={"backend": "mujoco", "num_threads": 1})
    gen = torch.Generator().manual_seed(seed)
    task.reset()
    worst = [0, 0]
    for _ in range(steps):
        task.step(torch.rand(num_envs, task.num_actions, generator=gen) * 2 - 1)
        _record(task, worst)
    task.close()
    return worst[0], worst[1]


def warp_use(task_name: str, num_envs: int = 2, steps: int = 100, seed: int = 0) -> dict[str, float]:
    """Peak per-world buffer use on MuJoCo Warp (Warp's CPU device; compiles for about a minute): contacts
    and broadphase candidate pairs per world (pool use / N) and constraint rows, over ``steps`` random-action
    control steps. Candidates count against the same pool as contacts (``BROADPHASE`` overflow)."""
    import tasks

    task = tasks.make(task_name, num_envs=num_envs, seed=seed, device="cpu", sim={"backend": "mujoco_warp"})
    gen = torch.Generator().manual_seed(seed)
    task.reset()
    peak = {"contacts": 0.0, "candidates": 0.0, "max_rows": 0.0}
    for _ in range(steps):
        task.step(torch.rand(num_envs, task.num_actions, generator=gen) * 2 - 1)
        use = task.sim.usage()
        for key in peak:
            peak[key] = max(peak[key], use[key] / (1 if key == "max_rows" else num_envs))
    task.close()
    return peak


def main() -> None:
    """Print the worst case per task and per scene (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=[*ONE_ARM, *TWO_ARMS])
    p.add_argument("--envs", type=int, default=4)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warp", action="store_true", help="measure on MuJoCo Warp (Warp CPU device) instead")
    args = p.parse_args()
    if args.warp:
        for name in args.tasks:
            peak = warp_use(name, min(args.envs, 2), min(args.steps, 100), args.seed)
            print(f"{name} (MuJoCo Warp): " + " ".join(f"{k}_max={v:g}" for k, v in peak.items()), flush=True)
        return
    scene = {"one_arm": (0, 0), "two_arms": (0, 0)}
    for name in args.tasks:
        ncon, nefc = worst_case(name, args.envs, args.steps, args.seed)
        print(f"{name}: ncon_max={ncon} nefc_max={nefc}", flush=True)
        key = "two_arms" if "TwoArms" in name else "one_arm"
        scene[key] = (max(scene[key][0], ncon), max(scene[key][1], nefc))
    ncon, nefc = grasp_worst_case()
    print(f"grasp (AllegroKukaRegrasping, scripted): ncon_max={ncon} nefc_max={nefc}", flush=True)
    scene["one_arm"] = (max(scene["one_arm"][0], ncon), max(scene["one_arm"][1], nefc))
    for key, (ncon, nefc) in scene.items():
        print(f"{key}_ncon_max={ncon}\n{key}_nefc_max={nefc}")


if __name__ == "__main__":
    main()
