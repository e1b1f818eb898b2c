"""Physics of the Allegro-Kuka scene through the task's own step(): grasps that hold, joint speed limits,
contact settings (issue 10 items 1-3; spec §2.3, §2.4; docs/tasks/allegro_kuka.md "Model and simulator differences")."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

import tasks
from bench import grasp
from tasks.allegro_kuka import robot
from tasks.allegro_kuka.task import ARM_DOFS, DOFS_PER_ARM
from tasks.sim.mujoco_cpu import cap_joint_speeds


def test_scripted_grasp_holds_the_cube_for_10_s() -> None:
    """One scripted top-down grasp (``python -m bench.grasp``) lifts the 5 cm cube 20 cm and keeps it within 2 cm of its
    place in the palm for 10 s with the default contacts; with the old pyramidal cones at impratio 1 the same
    grasp lifts it and then loses it (the creep the default fixes)."""
    held = grasp.run_grasps([grasp.GOOD_PLAN], hold_s=10.0, nthread=1)
    assert held["finite"][0] and held["lifted"][0]
    assert held["drift"][0] <= grasp.HOLD_DRIFT, held
    creep = grasp.run_grasps([grasp.GOOD_PLAN], grasp.SETTINGS["pyramidal"], hold_s=10.0, nthread=1)
    assert creep["lifted"][0] and creep["drift"][0] > grasp.HOLD_DRIFT, creep


# not in the tuning set (the 5 cm cube at yaw 0): a 10 x 4.5 x 5.5 cm cuboid of the task's distribution, turned 30 deg
UNSEEN_GRASP = grasp.GraspPlan((-0.01, 0.03, 0.07), grasp.GOOD_HAND, float(np.deg2rad(30)), (0.1, 0.045, 0.055))


def test_a_grasp_outside_the_tuning_set_holds_and_settles() -> None:
    """Issue 22 items 2-3: the default contacts (elliptic cones, 4 no-slip passes) hold a grasp the contact choice was
    not tuned on within 2 cm for 10 s, and the drift has stopped (<= 2 mm over the last 5 s); with elliptic cones
    alone (the default before issue 22) the same cuboid creeps out of the hand."""
    held = grasp.run_grasps([UNSEEN_GRASP], hold_s=10.0, nthread=1)
    assert held["finite"][0] and held["lifted"][0]
    assert held["drift"][0] <= grasp.HOLD_DRIFT and held["settle"][0] <= grasp.SETTLED_DRIFT, held
    creep = grasp.run_grasps([UNSEEN_GRASP], grasp.SETTINGS["elliptic"], hold_s=10.0, nthread=1)
    assert creep["lifted"][0] and creep["drift"][0] > grasp.HOLD_DRIFT, creep


def _substep_speeds(name: str, backend: str, steps: int = 300) -> torch.Tensor:
    """Peak over ``steps`` uniform random-action steps (8 envs) of each joint's displacement per physics substep
    divided by the substep, ``[D]`` rad/s. One substep per control step and refreshed sensors, so ``dof_pos``
    before and after ``sim.step`` are the positions at the substep's two ends (resets happen outside it)."""
    task = tasks.make(name, num_envs=8, seed=3, sim={"backend": backend, "substeps": 1, "refresh_sensors": True})
    task.reset()
    sim, inner = task.sim, task.sim.step
    peak = torch.zeros(task.num_actions)

    def step() -> None:
        before = sim.dof_pos.clone()
        inner()
        speed = (sim.dof_pos - before).abs() / sim.control_dt
        peak.copy_(torch.maximum(peak, speed.masked_fill(sim.unstable[:, None], 0.0).amax(0).cpu()))

    sim.step = step
    g = torch.Generator().manual_seed(3)
    for _ in range(steps):
        task.step(torch.rand(8, task.num_actions, generator=g) * 2 - 1)
    task.close()
    return peak


def _limits(num_actions: int) -> torch.Tensor:
    arm = (torch.arange(num_actions) % DOFS_PER_ARM) < ARM_DOFS
    return torch.where(arm, robot.ARM_VEL_LIMIT, robot.HAND_VEL_LIMIT)


@pytest.mark.parametrize("name", [
    "AllegroKukaRegrasping", "AllegroKukaReorientation", "AllegroKukaThrow", "AllegroKukaTwoArmsRegrasping",
    "AllegroKukaTwoArmsReorientation", "AllegroKukaTwoArmsReorientationPartition",
    "AllegroKukaTwoArmsReorientationHole", "AllegroKukaTwoArmsReorientationBarrier"])
def test_joints_move_no_faster_than_the_urdf_limits_under_random_actions(name: str) -> None:
    """Issue 22 item 1: each joint's displacement over each physics substep, divided by the substep, stays within
    1.05 x its URDF speed limit (10 rad/s arm, 6.283 rad/s hand) under 300 random-action steps. Measured on
    positions, not on the reported velocity (which the backend clamps by construction). With the velocity clamped
    after ``mj_step`` only (the code before issue 22) the hands moved up to 12-25x and the arms 3-4x their limits."""
    peak = _substep_speeds(name, "mujoco") / _limits(tasks.make(name, num_envs=1).num_actions)
    assert float(peak.max()) <= 1.05, peak
    assert float(peak.max()) > 0.9  # random actions do drive joints to the cap: the check is live


@pytest.mark.parametrize("name", ["AllegroKukaTwoArmsReorientation",
                                  pytest.param("AllegroKukaThrow", marks=pytest.mark.slow)])
def test_joint_speed_limits_hold_on_mujoco_warp(name: str) -> None:
    """The same bound on MuJoCo Warp (Warp's CPU device; its own kernel, ``tasks.sim.mujoco_warp._cap_speeds``)."""
    pytest.importorskip("mujoco_warp")
    peak = _substep_speeds(name, "mujoco_warp", steps=100) / _limits(tasks.make(name, num_envs=1).num_actions)
    assert 0.9 < float(peak.max()) <= 1.05, peak


def test_cap_joint_speeds_reintegrates_only_the_clamped_joints() -> None:
    """Pure function: clamped joints move by dt·limit, the others keep MuJoCo's ``q + dt·v`` bit for bit, NaN stays."""
    q0 = np.array([[0.1, -0.2, 0.3, 0.0]])
    v = np.array([[12.0, -30.0, 1.5, np.nan]])
    lim = np.array([10.0, 6.283, 6.283, 6.283])
    vc, q = cap_joint_speeds(q0, v, lim, 1 / 120)
    np.testing.assert_array_equal(vc[0, :3], [10.0, -6.283, 1.5])
    assert q[0, 0] == q0[0, 0] + 10.0 / 120 and q[0, 1] == q0[0, 1] - 6.283 / 120
    assert q[0, 2] == q0[0, 2] + 1.5 * (1 / 120)  # what mj_integratePos computes for an unclamped hinge
    assert np.isnan(vc[0, 3]) and np.isnan(q[0, 3])


@pytest.mark.parametrize(("contact", "field"), [
    ({"cone": "round"}, "cone"), ({"impratio": 0.5}, "impratio"), ({"noslip_iterations": -1}, "noslip_iterations"),
    ({"conee": "elliptic"}, "conee"), ({"object_condim": 5}, "object_condim"),
    ({"torsional_friction": -0.01}, "torsional_friction"),
])
def test_bad_contact_setting_fails_naming_the_field(contact: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        tasks.make("AllegroKukaRegrasping", num_envs=1, sim={"contact": contact})
    assert err.value.title == "MujocoConfig" and err.value.errors()[0]["loc"] == ("contact", field)


def test_contact_settings_reach_the_model() -> None:
    task = tasks.make("AllegroKukaRegrasping", num_envs=1, sim={"contact": {"cone": "pyramidal",
                                                                            "noslip_iterations": 3}})
    opt = task.sim.model.opt
    assert (int(opt.cone), float(opt.impratio), int(opt.noslip_iterations)) == (0, 10.0, 3)
    obj = task.sim.model.geom(task.scene.object_geom)
    assert (int(obj.condim[0]), float(obj.friction[1])) == (3, 0.005)  # MuJoCo's defaults
    task.close()
    task = tasks.make("AllegroKukaRegrasping", num_envs=1, sim={"contact": {"object_condim": 6,
                                                                            "torsional_friction": 0.02}})
    obj = task.sim.model.geom(task.scene.object_geom)
    assert (int(obj.condim[0]), float(obj.friction[1])) == (6, 0.02)
    task.close()


def test_hand_armature_is_the_smallest_that_settles(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 0 -> 1.2 rad finger step settles within 1 s without overshoot at the default hand armature; a tenth of
    it limit-cycles at the speed limit (finite but never settles), which is why the default is not smaller
    (``python -m bench.armature``: 3e-4 settles but overshoots 8 %)."""
    from bench.armature import closing_time

    seconds, overshoot = closing_time()
    assert seconds < 0.5 and overshoot <= 0.02
    monkeypatch.setattr(robot, "HAND_ARMATURE", robot.HAND_ARMATURE / 10)
    assert closing_time()[0] == float("inf")
