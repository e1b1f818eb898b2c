"""Pure torch maths of the Allegro-Kuka tasks: actions, geometry, success, curriculum, resets.

Every function here is a pure function over tensors (no simulator, no state mutation): a state
update such as "best distance so far" returns the new value and the caller stores it.
Spec: docs/spec/allegro_kuka.md (section numbers in the docstrings).
Rewards live in ``rewards.py``, observations in ``observations.py``, random sampling in ``sampling.py``.
"""

from __future__ import annotations

import roma
import torch

# §4.2: keypoint sign patterns (object frame).
KEYPOINT_SIGNS_REORIENTATION: tuple[tuple[float, float, float], ...] = (
    (1.0, 1.0, 1.0),
    (1.0, 1.0, -1.0),
    (-1.0, -1.0, 1.0),
    (-1.0, -1.0, -1.0),
)
KEYPOINT_SIGNS_CENTRE: tuple[tuple[float, float, float], ...] = ((0.0, 0.0, 0.0),)

# §3.5: task-defined points on the hand, in the body frame (m).
FINGERTIP_OFFSETS: tuple[tuple[float, float, float], ...] = (
    (0.05, 0.005, 0.0),  # index_link_3
    (0.05, 0.005, 0.0),  # middle_link_3
    (0.05, 0.005, 0.0),  # ring_link_3
    (0.06, 0.005, 0.0),  # thumb_link_3
)
PALM_CENTRE_OFFSET: tuple[float, float, float] = (0.0, -0.02, 0.16)  # in iiwa7_link_7


# ----------------------------------------------------------------------------------------------
# Actions and DOF normalisation (§2.5, §6)
# ----------------------------------------------------------------------------------------------
def scale(x: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """Map ``x`` in [-1, 1] to [lower, upper]: ``lower + (x + 1) / 2 * (upper - lower)``.

    Args:
        x: ``[N, D]``; lower, upper: ``[D]`` (rad).
    Returns:
        ``[N, D]`` (rad). Spec §2.5.
    """
    return lower + 0.5 * (x + 1.0) * (upper - lower)


def unscale(q: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """Normalise joint positions to [-1, 1] by limits: ``(2q - upper - lower) / (upper - lower)``.

    Args:
        q: ``[N, D]`` rad; lower, upper: ``[D]`` rad.
    Returns:
        ``[N, D]`` (values outside the limits map outside [-1, 1]). Spec §6.
    """
    return (2.0 * q - upper - lower) / (upper - lower)


def unscale_coefficients(lower: torch.Tensor, upper: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(gain, bias)`` ``[D]`` with ``unscale(q) = q * gain + bias`` (one fused ``addcmul`` per step):
    gain = 2 / (upper - lower), bias = -(upper + lower) / (upper - lower). Spec §6."""
    span = upper - lower
    return 2.0 / span, -(upper + lower) / span


def action_targets(
    actions: torch.Tensor,
    prev_targets: torch.Tensor,
    lower: torch.Tensor,
    upper: torch.Tensor,
    incremental: torch.Tensor,
    speed_dt: float,
    moving_average: float,
) -> torch.Tensor:
    """PD position targets from policy actions (§2.5).

    Absolute DOFs: ``target = alpha * scale(a) + (1 - alpha) * prev``. Incremental DOFs (single-arm
    arm joints): ``target = prev + dofSpeedScale * dt * a``. Both are then clamped to the limits.
    Actions are clamped to [-1, 1] first (rl_games clips them the same way).

    Args:
        actions: ``[N, D]`` in [-1, 1].
        prev_targets: ``[N, D]`` rad, the targets of the previous control step.
        lower, upper: ``[D]`` joint limits (rad).
        incremental: ``[D]`` bool, True for DOFs driven incrementally (arm DOFs 0-6 of one arm; none
            for two arms).
        speed_dt: ``dofSpeedScale * dt`` (rad per step at |a| = 1), 10 / 60 by default.
        moving_average: alpha of the moving average (1.0 = none).
    Returns:
        ``[N, D]`` targets (rad).
    """
    a = actions.clamp(-1.0, 1.0)
    absolute = torch.lerp(lower, upper, a.add(1.0).mul_(0.5))  # = scale(a, lower, upper)
    if moving_average != 1.0:
        absolute = torch.lerp(prev_targets, absolute, moving_average)
    targets = torch.where(incremental, torch.add(prev_targets, a, alpha=speed_dt), absolute)
    return targets.clamp_(lower, upper)


# ----------------------------------------------------------------------------------------------
# Geometry (§3.5, §4.2, §5.2)
# ----------------------------------------------------------------------------------------------
def transform_points(pos: torch.Tensor, quat: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Points given in a body frame, expressed in the world (env) frame.

    Args:
        pos: ``[..., 3]`` body origin (m).
        quat: ``[..., 4]`` body orientation (x, y, z, w), unit norm.
        offsets: ``[..., K, 3]`` or ``[K, 3]`` points in the body frame (m), broadcast over ``...``.
    Returns:
        ``[..., K, 3]`` world positions (m).
    """
    return rotate_points(pos, roma.unitquat_to_rotmat(quat), offsets)


def rotate_points(pos: torch.Tensor, rot: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """``transform_points`` with the rotation already as a matrix ``rot [..., 3, 3]`` (reuse it).

    Args:
        pos: ``[..., 3]`` m. rot: ``[..., 3, 3]``. offsets: ``[..., K, 3]`` or ``[K, 3]`` m.
    Returns:
        ``[..., K, 3]`` world positions (m).
    """
    return pos.unsqueeze(-2) + torch.matmul(offsets, rot.transpose(-1, -2))


def body_points(pos: torch.Tensor, quat: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """One point per body: ``pos_b + R_b @ offset_b`` (fingertip points, palm centre; §3.5).

    Args:
        pos: ``[N, B, 3]`` body origins (m); quat: ``[N, B, 4]`` (x, y, z, w).
        offsets: ``[B, 3]`` one offset per body in that body's frame (m).
    Returns:
        ``[N, B, 3]`` world positions (m).
    """
    rot = roma.unitquat_to_rotmat(quat)  # [N, B, 3, 3]
    return pos + torch.matmul(rot, offsets.unsqueeze(-1)).squeeze(-1)


def keypoint_offsets(
    signs: torch.Tensor, object_scales: torch.Tensor, base_size: float = 0.05, keypoint_scale: float = 1.5
) -> torch.Tensor:
    """Keypoint offsets in the object frame: ``sign * scale_axis * base_size * keypoint_scale / 2`` (§4.2).

    Args:
        signs: ``[K, 3]`` sign patterns (``KEYPOINT_SIGNS_*``).
        object_scales: ``[N, 3]`` side-length multipliers (sx, sy, sz) / 100.
        base_size: ``objectBaseSize`` (m). keypoint_scale: ``keypointScale``.
    Returns:
        ``[N, K, 3]`` (m); ±0.0375 m per axis for the base cube.
    """
    return signs.unsqueeze(0) * object_scales.unsqueeze(1) * (base_size * keypoint_scale / 2.0)


def max_keypoint_distance(keypoints: torch.Tensor, goal_keypoints: torch.Tensor) -> torch.Tensor:
    """d = max over keypoints of ``|object keypoint - goal keypoint|`` (§5.2).

    Args:
        keypoints, goal_keypoints: ``[N, K, 3]`` (m).
    Returns:
        ``[N]`` (m).
    """
    return torch.linalg.vector_norm(keypoints - goal_keypoints, dim=-1).amax(dim=-1)


def point_distances(points: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """Distances of ``points [N, F, 3]`` to ``centre [N, 3]`` (m) -> ``[N, F]`` (fingertip-object, §7)."""
    return torch.linalg.vector_norm(points - centre.unsqueeze(1), dim=-1)


# ----------------------------------------------------------------------------------------------
# Success, curriculum, objective (§5.2, §5.3, §5.5)
# ----------------------------------------------------------------------------------------------
def near_goal(keypoint_dist: torch.Tensor, tolerance: float, keypoint_scale: float = 1.5) -> torch.Tensor:
    """``d <= successTolerance * keypointScale`` -> ``[N]`` bool (§5.2). keypoint_dist: ``[N]`` m."""
    return keypoint_dist <= tolerance * keypoint_scale


def update_near_goal_steps(near_goal_steps: torch.Tensor, is_near: torch.Tensor) -> torch.Tensor:
    """Cumulative near-goal step counter (not strictly consecutive; zeroed only on a new goal, §5.2).

    Args:
        near_goal_steps: ``[N]`` int64. is_near: ``[N]`` bool.
    Returns:
        ``[N]`` int64, the new counter.
    """
    return near_goal_steps + is_near


def is_success(near_goal_steps: torch.Tensor, success_steps: int) -> torch.Tensor:
    """Success when the near-goal counter reaches ``successSteps`` -> ``[N]`` bool (§5.2)."""
    return near_goal_steps >= success_steps


def tolerance_curriculum(
    tolerance: float,
    last_update: int,
    frame: int,
    prev_episode_successes: torch.Tensor,
    *,
    interval: int,
    initial: float,
    target: float,
    increment: float,
    min_mean_successes: float = 3.0,
) -> tuple[float, int]:
    """Tighten the success tolerance (§5.3).

    When at least ``interval`` control steps passed since the last tightening and the mean of the
    per-env last-episode success counts is >= ``min_mean_successes``, the tolerance is multiplied by
    ``increment`` and clamped to [target, initial]; otherwise nothing changes (the check repeats on
    the next step).

    Args:
        tolerance: current ``successTolerance``. last_update: frame of the last tightening.
        frame: control steps of the vectorised env since start. prev_episode_successes: ``[N]``.
    Returns:
        (new tolerance, new last_update).
    """
    if frame - last_update < interval:
        return tolerance, last_update
    if float(prev_episode_successes.float().mean()) < min_mean_successes:
        return tolerance, last_update
    new_tolerance = min(max(tolerance * increment, target), initial)
    return new_tolerance, frame


def curriculum_progress(tolerance: float, initial: float, target: float) -> float:
    """c in [0, 1]: 0 at the initial tolerance, 1 at the target (1 when initial == target, §5.5)."""
    if initial <= target:
        return 1.0
    return min(max((initial - tolerance) / (initial - target), 0.0), 1.0)


def true_objective(successes: torch.Tensor, tolerance: float, initial: float, target: float) -> torch.Tensor:
    """PBT fitness (§5.5): ``0.01 * successes + c`` while the tolerance is above the target, then
    ``successes + 1``.

    Args:
        successes: ``[N]`` successes in the episode.
    Returns:
        ``[N]`` float32.
    """
    s = successes.float()
    if tolerance > target + 1e-9:
        return s.mul(0.01).add_(curriculum_progress(tolerance, initial, target))
    return s + 1.0


# ----------------------------------------------------------------------------------------------
# Resets (§5.4)
# ----------------------------------------------------------------------------------------------
def progress_after_success(progress: torch.Tensor, success: torch.Tensor) -> torch.Tensor:
    """Step counter zeroed on every success (episodeLength is a per-goal time budget, §1, §5.4).

    Args:
        progress: ``[N]`` int64 control steps; success: ``[N]`` bool.
    """
    return progress.masked_fill(success, 0)


def compute_resets(
    *,
    object_z: torch.Tensor,
    successes: torch.Tensor,
    progress: torch.Tensor,
    episode_length: int,
    max_consecutive_successes: int = 50,
    fall_height: float = 0.1,
    fingertip_dist: torch.Tensor | None = None,
    max_fingertip_dist: float = 1.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Episode terminations (§5.4).

    Args:
        object_z: ``[N]`` object centre height (m); reset when below ``fall_height``.
        successes: ``[N]`` successes this episode; reset at ``max_consecutive_successes`` (0 = no cap).
        progress: ``[N]`` step counter (already zeroed on success); reset at ``episode_length - 1``.
        fingertip_dist: ``[N, F]`` fingertip-object distances (m), single-arm reorientation only; reset
            when the farthest exceeds ``max_fingertip_dist``.
    Returns:
        (resets ``[N]`` bool, time_outs ``[N]`` bool — the time-limit part, for value bootstrapping).
    """
    time_outs = progress >= episode_length - 1
    resets = time_outs | (object_z < fall_height)
    if max_consecutive_successes > 0:
        resets = resets | (successes >= max_consecutive_successes)
    if fingertip_dist is not None:
        resets = resets | (fingertip_dist.amax(dim=-1) > max_fingertip_dist)
    return resets, time_outs


def fill_uninitialised(best: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """Best-so-far distances are negative when "uninitialised" (after a reset / new goal); they take
    the distance after the next physics step, so the first progress reward is zero (§7).

    Args:
        best, current: same shape (``[N]`` or ``[N, F]``, m).
    """
    return torch.where(best < 0.0, current, best)


def update_best(best: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """Best (smallest) distance so far: ``min(best, current)`` (§7)."""
    return torch.minimum(best, current)
