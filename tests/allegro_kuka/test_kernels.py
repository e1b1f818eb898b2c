"""Unit tests of the Allegro-Kuka pure torch kernels on synthetic tensors with hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from tasks.allegro_kuka import kernels as K
from tasks.allegro_kuka import sampling as S
from tasks.allegro_kuka.observations import observation_size, observations
from tasks.allegro_kuka.rewards import RewardScales, lift_height, reward_terms, total_reward, update_lifted


def approx(x: torch.Tensor, expected: list | float, tol: float = 1e-5) -> bool:
    return torch.allclose(x.float(), torch.as_tensor(expected, dtype=torch.float32), atol=tol)


# --------------------------------------------------------------------------- actions (§2.5)
def test_scale_unscale_roundtrip() -> None:
    lower, upper = torch.tensor([-2.0, 0.0]), torch.tensor([2.0, 1.0])
    assert approx(K.scale(torch.tensor([[-1.0, 1.0]]), lower, upper), [[-2.0, 1.0]])
    assert approx(K.scale(torch.tensor([[0.0, 0.0]]), lower, upper), [[0.0, 0.5]])
    assert approx(K.unscale(torch.tensor([[1.0, 0.25]]), lower, upper), [[0.5, -0.5]])
    x = torch.rand(5, 2) * 2 - 1
    assert approx(K.unscale(K.scale(x, lower, upper), lower, upper), x)


def test_action_targets_single_arm_incremental_arm_absolute_hand() -> None:
    lower, upper = torch.tensor([-1.0, -1.0, 0.0]), torch.tensor([1.0, 1.0, 2.0])
    incremental = torch.tensor([True, True, False])
    prev = torch.tensor([[0.5, 0.95, 1.7]])
    actions = torch.tensor([[1.0, 1.0, -0.5]])
    speed_dt = 10.0 / 60.0
    out = K.action_targets(actions, prev, lower, upper, incremental, speed_dt, 1.0)
    # arm: 0.5 + 0.1667; 0.95 + 0.1667 -> clamped to 1.0; hand: 0 + 0.25 * 2 = 0.5 (absolute)
    assert approx(out, [[0.5 + speed_dt, 1.0, 0.5]])


def test_action_targets_moving_average_and_clamp() -> None:
    lower, upper = torch.tensor([0.0]), torch.tensor([2.0])
    out = K.action_targets(torch.tensor([[1.0]]), torch.tensor([[0.0]]), lower, upper,
                           torch.tensor([False]), 0.1, 0.25)
    assert approx(out, [[0.25 * 2.0]])
    # actions outside [-1, 1] are clipped first
    out = K.action_targets(torch.tensor([[7.0]]), torch.tensor([[0.0]]), lower, upper,
                           torch.tensor([False]), 0.1, 1.0)
    assert approx(out, [[2.0]])


def test_action_targets_two_arms_all_absolute() -> None:
    lower, upper = -torch.ones(46), torch.ones(46)
    a = torch.linspace(-1, 1, 46).unsqueeze(0)
    out = K.action_targets(a, torch.zeros(1, 46), lower, upper, torch.zeros(46, dtype=torch.bool), 0.1, 1.0)
    assert approx(out, a)


# --------------------------------------------------------------------------- geometry (§3.5, §4.2)
def test_keypoint_offsets_base_cube_and_cuboid() -> None:
    signs = torch.tensor(K.KEYPOINT_SIGNS_REORIENTATION)
    off = K.keypoint_offsets(signs, torch.tensor([[1.0, 1.0, 1.0], [2.0, 1.0, 0.5]]))
    assert off.shape == (2, 4, 3)
    assert approx(off[0, 0], [0.0375, 0.0375, 0.0375])
    assert approx(off[0, 3], [-0.0375, -0.0375, -0.0375])
    assert approx(off[1, 1], [0.075, 0.0375, -0.01875])
    centre = K.keypoint_offsets(torch.tensor(K.KEYPOINT_SIGNS_CENTRE), torch.ones(3, 3))
    assert centre.shape == (3, 1, 3) and centre.abs().sum() == 0


def test_transform_points_rotation_about_z() -> None:
    s = math.sqrt(0.5)
    quat = torch.tensor([[0.0, 0.0, s, s]])  # +90° about z: x -> y
    pos = torch.tensor([[1.0, 2.0, 3.0]])
    pts = K.transform_points(pos, quat, torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]]))
    assert approx(pts, [[[1.0, 3.0, 3.0], [1.0, 2.0, 5.0]]])
    # per-env offsets [N, K, 3]
    pts2 = K.transform_points(pos, quat, torch.tensor([[[0.0, 1.0, 0.0]]]))
    assert approx(pts2, [[[0.0, 2.0, 3.0]]])


def test_body_points_fingertip_offsets() -> None:
    s = math.sqrt(0.5)
    pos = torch.zeros(1, 2, 3)
    quat = torch.tensor([[[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, s, s]]])
    offsets = torch.tensor([[0.05, 0.005, 0.0], [0.06, 0.005, 0.0]])
    pts = K.body_points(pos, quat, offsets)
    assert approx(pts, [[[0.05, 0.005, 0.0], [-0.005, 0.06, 0.0]]])


def test_max_keypoint_distance_and_point_distances() -> None:
    kp = torch.zeros(1, 4, 3)
    goal = torch.zeros(1, 4, 3)
    goal[0, 2] = torch.tensor([0.3, 0.4, 0.0])
    goal[0, 1] = torch.tensor([0.1, 0.0, 0.0])
    assert approx(K.max_keypoint_distance(kp, goal), [0.5])
    d = K.point_distances(torch.tensor([[[1.0, 0.0, 0.0], [0.0, 3.0, 4.0]]]), torch.zeros(1, 3))
    assert approx(d, [[1.0, 5.0]])


# --------------------------------------------------------------------------- success / curriculum (§5)
def test_near_goal_cumulative_counter_and_success() -> None:
    # tolerance 0.075 * keypoint scale 1.5 = 0.1125 m
    d = torch.tensor([0.1125, 0.1126, 0.0])
    near = K.near_goal(d, 0.075)
    assert near.tolist() == [True, False, True]
    steps = torch.zeros(3, dtype=torch.long)
    for is_near in ([True, False, True], [False, False, True], [True, False, False]):
        steps = K.update_near_goal_steps(steps, torch.tensor(is_near))
    assert steps.tolist() == [2, 0, 2]  # cumulative, not consecutive
    assert K.is_success(steps, 2).tolist() == [True, False, True]
    assert K.is_success(steps, 30).tolist() == [False, False, False]


def test_tolerance_curriculum() -> None:
    kw = dict(interval=3000, initial=0.075, target=0.01, increment=0.9)
    good, bad = torch.full((8,), 3.0), torch.full((8,), 2.9)
    assert K.tolerance_curriculum(0.075, 0, 2999, good, **kw) == (0.075, 0)  # interval not reached
    assert K.tolerance_curriculum(0.075, 0, 3000, bad, **kw) == (0.075, 0)  # mean < 3
    tol, last = K.tolerance_curriculum(0.075, 0, 3000, good, **kw)
    assert tol == pytest.approx(0.0675) and last == 3000
    tol, _ = K.tolerance_curriculum(0.0105, 0, 3000, good, **kw)
    assert tol == pytest.approx(0.01)  # clamped to the target
    # 20 tightenings reach the target (spec §5.3, derived)
    tol, steps = 0.075, 0
    while tol > 0.01 + 1e-12:
        tol, _ = K.tolerance_curriculum(tol, 0, 3000, good, **kw)
        steps += 1
    assert steps == 20


def test_true_objective() -> None:
    s = torch.tensor([0.0, 10.0])
    assert approx(K.true_objective(s, 0.075, 0.075, 0.01), [0.0, 0.1])
    # halfway: tolerance 0.0425 -> c = 0.5
    assert approx(K.true_objective(s, 0.0425, 0.075, 0.01), [0.5, 0.6])
    assert approx(K.true_objective(s, 0.01, 0.075, 0.01), [1.0, 11.0])
    # throw: initial == target -> successes + 1
    assert approx(K.true_objective(s, 0.075, 0.075, 0.075), [1.0, 11.0])


# --------------------------------------------------------------------------- resets (§5.4)
def test_resets() -> None:
    z = torch.tensor([0.63, 0.09, 0.63, 0.63, 0.63])
    successes = torch.tensor([0, 0, 50, 0, 3])
    progress = torch.tensor([10, 10, 10, 299, 298])
    success = torch.tensor([False, False, False, False, True])
    progress = K.progress_after_success(progress + 1, success)
    assert progress.tolist() == [11, 11, 11, 300, 0]
    resets, time_outs = K.compute_resets(object_z=z, successes=successes, progress=progress,
                                         episode_length=300)
    assert resets.tolist() == [False, True, True, True, False]
    assert time_outs.tolist() == [False, False, False, True, False]
    ft = torch.tensor([[0.1, 0.2, 0.3, 1.0]] * 4 + [[0.1, 0.2, 0.3, 1.6]])
    resets, _ = K.compute_resets(object_z=z, successes=successes, progress=progress, episode_length=300,
                                 fingertip_dist=ft)
    assert resets.tolist() == [False, True, True, True, True]


def test_best_distance_updates() -> None:
    best = torch.tensor([-1.0, 0.2])
    cur = torch.tensor([0.5, 0.3])
    best = K.fill_uninitialised(best, cur)
    assert approx(best, [0.5, 0.2])
    assert approx(K.update_best(best, torch.tensor([0.4, 0.25])), [0.4, 0.2])


# --------------------------------------------------------------------------- rewards (§7)
def test_lifting_and_lifted_flag() -> None:
    h = lift_height(torch.tensor([0.63, 0.74, 0.70, 2.0]))
    assert approx(h, [0.05, 0.16, 0.12, 1.42])
    lifted = update_lifted(torch.tensor([False, False, False, True]), h, 0.15)
    assert lifted.tolist() == [False, True, False, True]


def _terms(**over):
    n = 3
    kw = dict(
        height=torch.tensor([0.05, 0.16, 0.6]),
        lifted_before=torch.tensor([False, False, True]),
        lifted=torch.tensor([False, True, True]),
        fingertip_dist=torch.tensor([[0.1, 0.2, 0.3, 0.4]] * n),
        best_fingertip_dist=torch.tensor([[0.15, 0.2, 0.25, 0.5]] * n),
        keypoint_dist=torch.tensor([0.2, 0.2, 0.05]),
        best_keypoint_dist=torch.tensor([0.3, 0.3, 0.1]),
        near=torch.tensor([False, False, True]),
        dof_vel=torch.ones(n, 23),
        scales=RewardScales(reach_goal_bonus=1000.0),
        success_steps=30,
    )
    kw.update(over)
    return reward_terms(**kw)


def test_reward_terms_single_arm() -> None:
    t = _terms()
    # lifting: clip(h, 0, 0.5) * 20 while not lifted (after update)
    assert approx(t["lifting"], [1.0, 0.0, 0.0])
    assert approx(t["lifting_bonus"], [0.0, 300.0, 0.0])
    # fingertip progress: (0.05 + 0 + 0 + 0.1) * 50 = 7.5, zero once lifted
    assert approx(t["distance_delta"], [7.5, 0.0, 0.0])
    # keypoint progress only when lifted: 0.1 * 200 = 20; 0.05 * 200 = 10
    assert approx(t["keypoint"], [0.0, 20.0, 10.0])
    assert approx(t["reach_goal_bonus"], [0.0, 0.0, 1000.0 / 30])
    assert approx(t["kuka_actions_penalty"], [-7 * 0.003] * 3)
    assert approx(t["allegro_actions_penalty"], [-16 * 0.0003] * 3)
    total = total_reward(t)
    assert approx(total, sum(v for v in t.values()))
    assert approx(total[0], 1.0 + 7.5 - 0.021 - 0.0048)


def test_reward_terms_two_arms_not_gated_no_penalties() -> None:
    t = _terms(
        fingertip_dist=torch.tensor([[0.1] * 8] * 3),
        best_fingertip_dist=torch.tensor([[0.2] * 8] * 3),
        dof_vel=None,
        gate_fingertips_by_lift=False,
    )
    assert set(t) == {"lifting", "lifting_bonus", "distance_delta", "keypoint", "reach_goal_bonus"}
    assert approx(t["distance_delta"], [40.0, 40.0, 40.0])  # 8 * 0.1 * 50, even when lifted


# --------------------------------------------------------------------------- observations (§6)
@pytest.mark.parametrize("arms,k,size", [(1, 4, 117), (1, 1, 99), (2, 4, 196), (2, 1, 169)])
def test_observation_layout_sizes(arms: int, k: int, size: int) -> None:
    n = 3
    assert observation_size(arms, k) == size
    obs = observations(
        dof_pos=torch.full((n, 23 * arms), 0.5), dof_lower=-torch.ones(23 * arms), dof_upper=torch.ones(23 * arms),
        dof_vel=torch.full((n, 23 * arms), 20.0),
        palm_centre=torch.ones(n, arms, 3), palm_quat=torch.zeros(n, arms, 4),
        palm_linvel=torch.zeros(n, arms, 3), palm_angvel=torch.zeros(n, arms, 3),
        object_quat=torch.tensor([[0.0, 0.0, 0.0, 1.0]] * n), object_linvel=torch.zeros(n, 3),
        object_angvel=torch.zeros(n, 3), fingertips=torch.full((n, 4 * arms, 3), 2.0),
        keypoints=torch.full((n, k, 3), 3.0), goal_keypoints=torch.full((n, k, 3), 1.0),
        object_scales=torch.ones(n, 3), best_keypoint_dist=torch.full((n,), 0.25),
        best_fingertip_dist=torch.full((n, 4), 0.125) if arms == 1 else None,
        lifted=torch.ones(n, dtype=torch.bool), progress=torch.full((n,), 90),
        successes=torch.full((n,), 3.0), reward=torch.full((n,), 50.0),
    )
    assert obs.shape == (n, size)
    d = 23 * arms
    assert approx(obs[0, :d], 0.5) and approx(obs[0, d:2 * d], 10.0)  # clamped to ±10
    base = 2 * d + 3 * arms + 10 * arms
    assert approx(obs[0, base + 3], 1.0)  # object quaternion w
    f0 = base + 10
    assert approx(obs[0, f0:f0 + 12 * arms], 1.0)  # fingertips - own palm
    k0 = f0 + 12 * arms
    assert approx(obs[0, k0:k0 + 3 * k * arms], 2.0)  # keypoints - palm
    assert approx(obs[0, k0 + 3 * k * arms:k0 + 3 * k * arms + 3 * k], 2.0)  # keypoints - goal
    tail = obs[0, -4:]
    assert approx(tail, [1.0, math.log(10.0), math.log(4.0), 0.5])
    if arms == 1:  # best keypoint distance, then the 4 best fingertip distances (§6.1: 108, 109-112 for K=4)
        b = 93 + 6 * k - 9
        assert approx(obs[0, b], 0.25) and approx(obs[0, b + 1:b + 5], 0.125)


def test_single_arm_slices_match_spec_table() -> None:
    """Spec §6.1 slice boundaries for K = 4 (palm centre at 46–48, object quat at 59, scales 105–107)."""
    n = 1
    obs = observations(
        dof_pos=torch.zeros(n, 23), dof_lower=-torch.ones(23), dof_upper=torch.ones(23), dof_vel=torch.zeros(n, 23),
        palm_centre=torch.tensor([[[0.1, 0.2, 0.3]]]), palm_quat=torch.tensor([[[0.0, 0.0, 0.0, 1.0]]]),
        palm_linvel=torch.zeros(n, 1, 3), palm_angvel=torch.zeros(n, 1, 3),
        object_quat=torch.tensor([[0.5, 0.5, 0.5, 0.5]]), object_linvel=torch.zeros(n, 3),
        object_angvel=torch.zeros(n, 3), fingertips=torch.zeros(n, 4, 3),
        keypoints=torch.zeros(n, 4, 3), goal_keypoints=torch.zeros(n, 4, 3),
        object_scales=torch.tensor([[1.0, 1.5, 2.0]]), best_keypoint_dist=torch.zeros(n),
        best_fingertip_dist=torch.zeros(n, 4), lifted=torch.zeros(n, dtype=torch.bool),
        progress=torch.zeros(n), successes=torch.zeros(n), reward=torch.zeros(n),
    )
    assert approx(obs[0, 46:49], [0.1, 0.2, 0.3])
    assert approx(obs[0, 52], 1.0)
    assert approx(obs[0, 59:63], [0.5] * 4)
    assert approx(obs[0, 105:108], [1.0, 1.5, 2.0])


# --------------------------------------------------------------------------- sampling (§4, §5.1, §8, §9, §10)
def test_goal_sampling_volumes() -> None:
    g = torch.Generator().manual_seed(0)
    p = S.sample_goal_positions(4000, False, g, torch.device("cpu"))
    assert p[:, 0].min() >= -0.4 and p[:, 0].max() <= 0.4
    assert p[:, 1].min() >= 0.0 and p[:, 1].max() <= 0.35
    assert p[:, 2].min() >= 0.68 and p[:, 2].max() <= 1.05
    p2 = S.sample_goal_positions(4000, True, g, torch.device("cpu"))
    ax = p2[:, 0].abs()
    assert ax.min() >= 0.55 and ax.max() <= 0.95
    assert 0.4 < (p2[:, 0] > 0).float().mean() < 0.6
    assert p2[:, 1].abs().max() <= 0.5


def test_bucket_and_object_sampling() -> None:
    g = torch.Generator().manual_seed(1)
    b = S.sample_bucket_positions(2000, g, torch.device("cpu"))
    assert b[:, 0].abs().min() >= 0.5 and b[:, 0].abs().max() <= 0.9
    assert b[:, 1].min() >= -1.0 and b[:, 1].max() <= 0.7 and b[:, 2].min() >= 0 and b[:, 2].max() <= 1
    pos, quat = S.sample_object_poses(2000, False, g, torch.device("cpu"))
    assert (pos - torch.tensor([0.0, 0.0, 0.63])).abs().amax(0).le(torch.tensor([0.1, 0.1, 0.02])).all()
    assert approx(quat.norm(dim=-1), 1.0)
    pos2, _ = S.sample_object_poses(2000, True, g, torch.device("cpu"))
    assert pos2[:, 0].abs().min() >= 0.25 and pos2[:, 0].abs().max() <= 0.45


def test_random_quaternions_uniform() -> None:
    g = torch.Generator().manual_seed(2)
    q = S.random_quaternions(20000, g, torch.device("cpu"))
    assert approx(q.norm(dim=-1), 1.0)
    # uniform rotations: E[w^2] = 1/4 and the mean of each component ≈ 0
    assert abs(float((q[:, 3] ** 2).mean()) - 0.25) < 0.01
    assert q.mean(0).abs().max() < 0.02


def test_dof_reset_sampling() -> None:
    g = torch.Generator().manual_seed(3)
    default = torch.tensor([0.0, 1.0])
    lower, upper = torch.tensor([0.279, -2.0]), torch.tensor([1.57, 2.0])
    pos, vel = S.sample_dof_states(5000, default, lower, upper, g)
    # q in [q0 + 0.1 (lower - q0), q0 + 0.1 (upper - q0)]
    assert pos[:, 0].min() >= 0.0279 - 1e-6 and pos[:, 0].max() <= 0.157 + 1e-6
    assert pos[:, 1].min() >= 0.7 - 1e-6 and pos[:, 1].max() <= 1.1 + 1e-6
    assert vel.abs().max() <= 0.5


def test_random_forces() -> None:
    g = torch.Generator().manual_seed(4)
    p = S.sample_force_probabilities(10000, 0.001, 0.1, g, torch.device("cpu"))
    assert p.min() >= 0.001 and p.max() <= 0.1
    assert abs(float(torch.log(p).mean()) - 0.5 * (math.log(0.001) + math.log(0.1))) < 0.05
    decay = 0.99 ** ((1 / 60) / 0.08)
    f = torch.ones(3, 3)
    out = S.update_random_forces(f, torch.tensor([0.0, 0.0, 1.0]), magnitude=0.1, decay_factor=decay,
                                 generator=g)
    assert approx(out[:2], decay) and not approx(out[2], decay)
    assert out[2].abs().max() < 1.0
