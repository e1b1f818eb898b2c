"""Physics of the Allegro-Kuka scene through the task's own step(): grasps that hold, joint speed limits,
contact settings (issue 10 items 1-3; spec §2.3, §2.4; docs/tasks/allegro_kuka.md "Model and simulator differences")."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

import tasks
from bench import grasp
from tasks.allegro_kuka import robot
from tasks.allegro_kuka.task import ARM_DOFS, DOFS_PER_ARM


def test_scripted_grasp_holds_the_cube_for_10_s() -> None:
    """One scripted top-down grasp (``python -m bench.grasp``) lifts the 5 cm cube 20 cm and keeps it within 2 cm of its
    place in the palm for 10 s with the default contacts; with the old pyramidal cones at impratio 1 the same
    grasp lifts it and then loses it (the creep the default fixes)."""
    held = grasp.run_grasps([grasp.GOOD_PLAN], hold_s=10.0, nthread=1)
    assert held["finite"][0] and held["lifted"][0]
    assert held["drift"][0] <= grasp.HOLD_DRIFT, held
    creep = grasp.run_grasps([grasp.GOOD_PLAN], grasp.SETTINGS["pyramidal"], hold_s=10.0, nthread=1)
    assert creep["lifted"][0] and creep["drift"][0] > grasp.HOLD_DRIFT, creep


@pytest.mark.parametrize("name", ["AllegroKukaThrow", "AllegroKukaTwoArmsReorientation"])
def test_joint_speeds_stay_at_the_urdf_limits_under_random_actions(name: str) -> None:
    """300 uniform random-action steps: |q̇| <= 1.05 x the URDF limit (10 rad/s arm, 6.283 rad/s hand) for every
    joint and step. Without the limits two-arm random actions reach ~40 rad/s (arm) and ~150 rad/s (hand)."""
    task = tasks.make(name, num_envs=8, seed=3)
    task.reset()
    g = torch.Generator().manual_seed(3)
    arm = (torch.arange(task.num_actions) % DOFS_PER_ARM) < ARM_DOFS
    limit = torch.where(arm, robot.ARM_VEL_LIMIT, robot.HAND_VEL_LIMIT)
    peak = torch.zeros(task.num_actions)
    for _ in range(300):
        task.step(torch.rand(8, task.num_actions, generator=g) * 2 - 1)
        peak = torch.maximum(peak, task.sim.dof_vel.abs().amax(0))
    assert bool((peak <= 1.05 * limit).all()), (peak / limit).max()
    assert float((peak / limit).max()) > 0.9  # random actions do drive joints to the cap: the check is live
    task.close()


@pytest.mark.parametrize(("contact", "field"), [
    ({"cone": "round"}, "cone"), ({"impratio": 0.5}, "impratio"), ({"noslip_iterations": -1}, "noslip_iterations"),
    ({"conee": "elliptic"}, "conee"),
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
