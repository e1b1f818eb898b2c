"""Allegro-Kuka MuJoCo model and batched simulator: kinematics (spec §3.5), drives (§2.4), contacts,
per-env objects (§4.1) and the BatchedSim contract (reset, determinism, equality with a plain MjData loop)."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import torch

from tasks.allegro_kuka.objects import object_world_fields
from tasks.allegro_kuka.scene import (
    FINGERS,
    SceneSpec,
    assign_objects,
    build_scene,
    cuboid_scales,
    fingertip_site,
    palm_body,
    palm_site,
)
from tasks.base import TaskConfigError
from tasks.sim import BACKENDS, make_sim, sim_config
from tasks.sim.base import BatchedSim
from tasks.sim.config import MujocoConfig
from tasks.sim.mujoco_cpu import MujocoBatchedSim

VARIANTS = [
    SceneSpec(),
    SceneSpec(goal="box"),
    SceneSpec(bucket=True),
    SceneSpec(num_arms=2),
    SceneSpec(num_arms=2, goal="box", obstacle="hole"),
    SceneSpec(num_arms=2, goal="box", obstacle="partition"),
    SceneSpec(num_arms=2, goal="box", obstacle="barrier"),
]
ARM_LIMITS = [(-2.96706, 2.96706), (-2.09440, 2.09440)] * 3 + [(-3.05433, 3.05433)]
FINGER_LIMITS = [(-0.558489, 0.558489)] + [(-0.279244, 1.727825)] * 3
THUMB_LIMITS = [(0.279244, 1.57075), (-0.331603, 1.151883), (-0.279244, 1.727825), (-0.279244, 1.762731)]
LIMITS = ARM_LIMITS + FINGER_LIMITS * 3 + THUMB_LIMITS  # §2.3


def _sim(spec: SceneSpec | None = None, n: int = 2, sizes: np.ndarray | None = None, nthread: int = 1,
         **kw) -> MujocoBatchedSim:
    """``n`` worlds of ``spec``'s scene; env ``i``'s object has the full sides ``sizes[i]`` (None: the template)."""
    info = build_scene(spec)
    fields = None if sizes is None else object_world_fields(info, sizes)
    return MujocoBatchedSim(info, n, nthread=nthread, world_fields=fields, **kw)


@pytest.mark.parametrize("spec", VARIANTS, ids=lambda s: f"{s.num_arms}arm-{s.goal}-{s.bucket}-{s.obstacle}")
def test_every_variant_compiles_with_dofs_in_spec_order(spec: SceneSpec) -> None:
    info = build_scene(spec)
    m = mujoco.MjModel.from_xml_string(info.xml)
    assert m.nu == 23 * spec.num_arms == info.num_dofs
    names = [f"{p}{j}" for p in [f"arm{a}_" for a in range(spec.num_arms)]
             for j in [f"iiwa7_joint_{i}" for i in range(1, 8)]
             + [f"{f}_joint_{k}" for f in FINGERS for k in range(4)]]
    assert info.dof_names == names
    assert [m.actuator(i).name for i in range(m.nu)] == names  # ctrl order = spec order
    assert [m.joint(m.actuator_trnid[i, 0]).name for i in range(m.nu)] == names
    assert np.all(m.body_gravcomp[[m.body(n).id for n in info.body_names if "arm" in n]] == 1)
    assert m.opt.timestep == pytest.approx(1 / 120)


def test_joint_limits_and_drives_match_spec() -> None:
    info = build_scene(SceneSpec(num_arms=2))
    m = mujoco.MjModel.from_xml_string(info.xml)
    rng = np.array([m.jnt_range[m.joint(n).id] for n in info.dof_names])
    np.testing.assert_allclose(rng, np.array(LIMITS * 2), atol=1e-5)
    np.testing.assert_allclose(info.dof_lower, rng[:, 0])
    assert np.all(m.actuator_gainprm[:, 0] == 40.0)
    force = m.actuator_forcerange[:23, 1]
    assert np.all(force[:7] == 300.0) and np.all(force[7:] == 0.35)
    assert m.dof_frictionloss[m.jnt_dofadr[m.joint("arm0_index_joint_0").id]] == pytest.approx(0.0523963)


def test_forward_kinematics_default_pose_single_arm() -> None:
    sim = _sim()
    expect = {"palm": (0.014, 0.085, 0.692), "index": (0.069, -0.101, 0.684), "middle": (0.012, -0.104, 0.683),
              "ring": (-0.046, -0.101, 0.683), "thumb": (0.195, 0.135, 0.728)}
    np.testing.assert_allclose(sim.body_pos[0, palm_body(0)], (0.0, 0.242, 0.724), atol=0.01)
    np.testing.assert_allclose(sim.site_pos[0, palm_site(0)], expect["palm"], atol=0.01)
    for f, name in enumerate(FINGERS):
        np.testing.assert_allclose(sim.site_pos[0, fingertip_site(1, 0, f)], expect[name], atol=0.01)


def test_forward_kinematics_two_arm_palm_centres() -> None:
    sim = _sim(SceneSpec(num_arms=2))
    np.testing.assert_allclose(sim.site_pos[0, palm_site(0)], (-0.471, 0.014, 0.753), atol=0.01)
    np.testing.assert_allclose(sim.site_pos[0, palm_site(1)], (0.471, -0.014, 0.753), atol=0.01)


def test_cuboid_families_and_assignment() -> None:
    assert len(cuboid_scales()) == 947 and len(cuboid_scales(True, False, False)) == 654
    assert cuboid_scales() == cuboid_scales()  # fixed shuffle
    sizes = assign_objects(2000, cuboid_scales())
    assert sizes.shape == (2000, 3) and np.array_equal(sizes[0], sizes[947])
    assert sizes.min() == pytest.approx(0.025) and sizes.max() == pytest.approx(0.30)


def test_cubes_of_every_size_come_to_rest_on_the_table() -> None:
    sizes = np.array([[0.05, 0.05, 0.05], [0.1, 0.05, 0.025], [0.05, 0.05, 0.15]])
    sim = _sim(n=3, sizes=sizes)
    ids = torch.arange(3)
    # away from the hand, which hovers over the table centre (§3.5)
    sim.reset_free_body(ids, sim.scene.object_body, torch.tensor([[-0.15, -0.12, 0.7]] * 3),
                        torch.tensor([[0.0, 0, 0, 1]] * 3))
    for _ in range(90):
        sim.step()
    obj = sim.scene.object_body
    np.testing.assert_allclose(sim.body_pos[:, obj, 2], 0.53 + sizes[:, 2] / 2, atol=3e-3)
    assert sim.body_linvel[:, obj].norm(dim=-1).max() < 1e-2
    body = sim.model.body("object").id
    mass = [sim.mj_model(i).body_mass[body] for i in range(3)]
    np.testing.assert_allclose(mass, 400 * sizes.prod(1), rtol=1e-6)


def test_pd_reaches_target_and_arm_holds_pose_under_gravity() -> None:
    sim = _sim(SceneSpec(num_arms=2, goal="none"), n=2)
    target = sim.default_dof_pos.repeat(2, 1)
    target[1, 3] += 0.3  # arm joint 4 of arm 0
    target[1, 8] += 0.5  # index joint 1 of arm 0
    sim.set_dof_targets(target)
    for _ in range(240):
        sim.step()
    err = (sim.dof_pos - target).abs()
    err[:, [19, 42]] = 0  # thumb_joint_0 default (0) is below its lower limit (§2.3)
    assert err[0].max() < 0.01  # holds the default pose
    assert err[1, 3] < 0.01 and err[1, 8] < 0.03  # finger: 0.35 N·m clamp + friction leave a small error


def test_bucket_catches_the_object() -> None:
    sim = _sim(SceneSpec(bucket=True), n=1)
    one = torch.tensor([0])
    # the bucket floats beside the table (§9: fixed base at any height); the cube falls into it
    sim.set_mocap(one, 1, torch.tensor([[0.0, -0.4, 0.3]]), torch.tensor([[0.0, 0, 0, 1]]))
    sim.reset_free_body(one, sim.scene.object_body, torch.tensor([[0.0, -0.4, 0.7]]),
                        torch.tensor([[0.0, 0, 0, 1]]))
    for _ in range(90):
        sim.step()
    pos = sim.body_pos[0, sim.scene.object_body]
    assert 0.3 + 0.01 + 0.02 < pos[2] < 0.3 + 0.04 and abs(pos[1] + 0.4) < 0.06


def test_reset_of_a_subset_only_changes_those_envs() -> None:
    sim = _sim(n=4)
    for _ in range(3):
        sim.step()
    before = (sim.dof_pos.clone(), sim.body_pos.clone())
    ids = torch.tensor([1, 3])
    pos = sim.default_dof_pos + 0.05
    sim.reset_dofs(ids, pos.repeat(2, 1), torch.zeros(2, 23))
    sim.reset_free_body(ids, sim.scene.object_body, torch.tensor([[0.1, 0.0, 0.7]] * 2),
                        torch.tensor([[0.0, 0, 0, 1]] * 2))
    assert torch.equal(sim.dof_pos[[0, 2]], before[0][[0, 2]])
    assert torch.equal(sim.body_pos[[0, 2]], before[1][[0, 2]])
    torch.testing.assert_close(sim.dof_pos[[1, 3]], pos.repeat(2, 1))
    torch.testing.assert_close(sim.body_pos[[1, 3], sim.scene.object_body], torch.tensor([[0.1, 0.0, 0.7]] * 2))


def _rollout(sim: MujocoBatchedSim, steps: int = 20) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(steps):
        a = torch.rand(sim.num_envs, sim.dof_lower.numel(), generator=g)
        sim.set_dof_targets(sim.dof_lower + a * (sim.dof_upper - sim.dof_lower))
        sim.step()
        out.append(torch.cat([sim.dof_pos, sim.body_pos.flatten(1)], 1))
    return torch.stack(out)


def test_same_inputs_give_the_same_trajectory() -> None:
    sizes = assign_objects(3, cuboid_scales())
    a = _rollout(_sim(n=3, sizes=sizes))
    b = _rollout(_sim(n=3, sizes=sizes, nthread=2))
    assert torch.equal(a, b)


def _physics_step(m: mujoco.MjModel, d: mujoco.MjData, qadr: np.ndarray, vadr: np.ndarray, limit: np.ndarray) -> None:
    """mj_step, then the joint speed limits as PhysX applies them: velocity clamped, position integrated with it."""
    q0 = d.qpos[qadr].copy()
    mujoco.mj_step(m, d)
    d.qvel[vadr] = np.clip(d.qvel[vadr], -limit, limit)
    d.qpos[qadr] = q0 + d.qvel[vadr] * m.opt.timestep


@pytest.mark.parametrize("refresh_sensors", [False, True])
def test_batched_stepping_equals_a_loop_over_mjdata(refresh_sensors: bool) -> None:
    """Sensors follow mj_step's convention (the state before the last substep) unless refresh_sensors; the batch
    equals a loop of mj_step + the joint speed limit over one MjData per world."""
    sizes = assign_objects(3, cuboid_scales())
    sim = _sim(n=3, sizes=sizes, refresh_sensors=refresh_sensors)
    traj = _rollout(sim, 10)
    g = torch.Generator().manual_seed(0)
    targets = [sim.dof_lower + torch.rand(3, 23, generator=g) * (sim.dof_upper - sim.dof_lower)
               for _ in range(10)]
    for i in range(3):
        m = sim.mj_model(i)
        d = mujoco.MjData(m)
        qadr = sim._qadr
        d.qpos[qadr] = sim.default_dof_pos.numpy()
        d.ctrl[:] = sim.default_dof_pos.numpy()
        for k in range(10):
            d.ctrl[:] = targets[k][i].numpy()
            _physics_step(m, d, qadr, sim._vadr, np.asarray(sim.scene.dof_vel_limit))
            before_last = d.qpos[qadr].copy()
            _physics_step(m, d, qadr, sim._vadr, np.asarray(sim.scene.dof_vel_limit))
            expected = d.qpos[qadr] if refresh_sensors else before_last
            np.testing.assert_allclose(traj[k, i, :23].numpy(), expected, atol=1e-6)
        np.testing.assert_allclose(sim.mj_data(i).qpos[qadr], d.qpos[qadr], atol=1e-6)  # state: the end


def test_persistent_and_per_thread_mjdata_give_identical_trajectories() -> None:
    sizes = assign_objects(3, cuboid_scales())
    a = _rollout(_sim(n=3, sizes=sizes, persistent=True))
    b = _rollout(_sim(n=3, sizes=sizes, nthread=2, persistent=False))
    assert torch.equal(a, b)


def test_body_rotation_matrices_match_quaternions_and_mujoco() -> None:
    """body_rotmat (MuJoCo's frame-axis sensors) is the rotation of body_quat and of MuJoCo's xmat."""
    roma = pytest.importorskip("roma")
    sim = _sim(n=3, refresh_sensors=True)  # sensors at the end of the step, as mj_data's forwarded state
    g = torch.Generator().manual_seed(3)
    quat = torch.nn.functional.normalize(torch.randn(3, 4, generator=g), dim=-1)
    sim.reset_free_body(torch.arange(3), sim.scene.object_body, torch.tensor([[0.0, 0.0, 0.8]] * 3), quat)
    for _ in range(5):
        sim.step()
    torch.testing.assert_close(sim.body_rotmat, roma.unitquat_to_rotmat(sim.body_quat), atol=1e-5, rtol=0)
    d = sim.mj_data(1)
    for b, name in enumerate(sim.scene.body_names):
        np.testing.assert_allclose(sim.body_rotmat[1, b].numpy(), d.body(name).xmat.reshape(3, 3), atol=1e-5)


def test_partition_is_reset_with_the_robot() -> None:
    sim = _sim(SceneSpec(num_arms=2, obstacle="partition"), n=1)
    adr = sim.model.jnt_qposadr[sim.model.joint("partition_slide").id]
    sim._qpos[0, adr] = 0.3
    sim.reset_dofs(torch.tensor([0]), sim.default_dof_pos[None], torch.zeros(1, 46))
    assert sim._qpos[0, adr] == 0.0


def test_make_sim_errors_are_clear() -> None:
    with pytest.raises(TaskConfigError, match="valid backends"):
        sim_config({"backend": "physx"})
    with pytest.raises(TaskConfigError, match="sim=isaacgym is not a physics backend"):
        make_sim(sim_config({"backend": "isaacgym"}), build_scene(), 1)
    assert isinstance(make_sim(sim_config({"num_threads": 1}), build_scene(), 1), MujocoBatchedSim)


class _NoUnstable(MujocoBatchedSim):
    """A backend that forgets ``unstable`` (a field of the contract)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        del self.unstable


class _NoStep(MujocoBatchedSim):
    """A backend without ``step`` (an abstract method of the contract)."""

    step = BatchedSim.step


@pytest.mark.parametrize(("cls", "field"), [(_NoUnstable, "'unstable'"), (_NoStep, "step")])
def test_backend_missing_part_of_the_contract_fails_at_build(monkeypatch: pytest.MonkeyPatch, cls: type,
                                                             field: str) -> None:
    monkeypatch.setitem(BACKENDS, "incomplete", (f"{__name__}:{cls.__name__}", "nothing to install"))
    with pytest.raises(TypeError, match=field) as info:
        make_sim(MujocoConfig.model_construct(backend="incomplete", num_threads=1), build_scene(), 1)
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_warp_backend_matches_the_cpu_backend() -> None:
    """MuJoCo Warp on Warp's CPU device (about a minute of kernel compilation on first use)."""
    pytest.importorskip("mujoco_warp")
    from tasks.sim.mujoco_warp import MujocoWarpBatchedSim

    sizes = np.array([[0.05, 0.05, 0.05], [0.1, 0.05, 0.025]])
    info = build_scene(SceneSpec(goal="box"))
    fields = object_world_fields(info, sizes)
    sims = [MujocoWarpBatchedSim(info, 2, world_fields=fields, device="cpu"),
            MujocoBatchedSim(info, 2, world_fields=fields, nthread=1)]
    for s in sims:
        s.reset_free_body(torch.arange(2), info.object_body, torch.tensor([[-0.15, -0.12, 0.7]] * 2),
                          torch.tensor([[0.0, 0, 0, 1]] * 2))
        for _ in range(60):
            s.step()
    for field in ("body_pos", "body_quat", "body_rotmat", "dof_pos"):
        torch.testing.assert_close(getattr(sims[0], field), getattr(sims[1], field), atol=1e-3, rtol=0)
