"""Allegro-Kuka "full_state" observations (spec §6) as one pure torch function.

One arm (A = 1): 93 + 6K entries -> 117 (K = 4 keypoints, reorientation) / 99 (K = 1).
Two arms (A = 2): 160 + 9K entries -> 196 / 169. Layouts: spec §6.1 and §6.2.
"""

from __future__ import annotations

import torch


def observation_size(num_arms: int, num_keypoints: int) -> int:
    """Observation length for ``num_arms`` in {1, 2} and K keypoints (§6).

    Raises:
        ValueError: num_arms not 1 or 2.
    """
    if num_arms == 1:
        return 93 + 6 * num_keypoints
    if num_arms == 2:
        return 160 + 9 * num_keypoints
    raise ValueError(f"num_arms must be 1 or 2, got {num_arms}")


def observations(
    *,
    dof_pos_norm: torch.Tensor,
    dof_vel: torch.Tensor,
    palm_centre: torch.Tensor,
    palm_quat: torch.Tensor,
    palm_linvel: torch.Tensor,
    palm_angvel: torch.Tensor,
    object_quat: torch.Tensor,
    object_linvel: torch.Tensor,
    object_angvel: torch.Tensor,
    fingertips: torch.Tensor,
    keypoints: torch.Tensor,
    goal_keypoints: torch.Tensor,
    object_scales: torch.Tensor,
    best_keypoint_dist: torch.Tensor,
    best_fingertip_dist: torch.Tensor | None,
    lifted: torch.Tensor,
    progress: torch.Tensor,
    successes: torch.Tensor,
    reward: torch.Tensor,
    clamp: float = 10.0,
) -> torch.Tensor:
    """Assemble the observation vector, clamped to ±``clamp`` (§6).

    Shapes with A arms, F = 4A fingertips, K keypoints (m, rad, rad/s, m/s, quaternions x,y,z,w):

    Args:
        dof_pos_norm: ``[N, 23A]`` joint positions normalised to [-1, 1].
        dof_vel: ``[N, 23A]`` rad/s.
        palm_centre: ``[N, A, 3]``; palm_quat ``[N, A, 4]``, palm_linvel / palm_angvel ``[N, A, 3]``
            (body ``iiwa7_link_7`` of each arm).
        object_quat: ``[N, 4]``; object_linvel, object_angvel ``[N, 3]``.
        fingertips: ``[N, F, 3]`` fingertip points, arm 0's four first.
        keypoints, goal_keypoints: ``[N, K, 3]``.
        object_scales: ``[N, 3]`` side multipliers.
        best_keypoint_dist: ``[N]`` best max-keypoint distance since the goal was set.
        best_fingertip_dist: ``[N, 4]`` best fingertip-object distances (single arm), None for two arms.
        lifted: ``[N]`` bool. progress: ``[N]`` step counter. successes: ``[N]``.
        reward: ``[N]`` reward of this step (observed × 0.01).
    Returns:
        ``[N, 93 + 6K]`` (A = 1) or ``[N, 160 + 9K]`` (A = 2) float32.
    """
    n, num_arms = palm_centre.shape[:2]
    palm_state = torch.cat((palm_quat, palm_linvel, palm_angvel), dim=-1).reshape(n, -1)
    fingers_rel = fingertips.view(n, num_arms, -1, 3) - palm_centre.unsqueeze(2)
    keypoints_rel = keypoints.unsqueeze(1) - palm_centre.unsqueeze(2)  # [N, A, K, 3]
    parts = [
        dof_pos_norm,
        dof_vel,
        palm_centre.reshape(n, -1),
        palm_state,
        object_quat,
        object_linvel,
        object_angvel,
        fingers_rel.reshape(n, -1),
        keypoints_rel.reshape(n, -1),
        (keypoints - goal_keypoints).reshape(n, -1),
        object_scales,
        best_keypoint_dist.unsqueeze(-1),
    ]
    if best_fingertip_dist is not None:
        parts.append(best_fingertip_dist)
    parts += [
        lifted.float().unsqueeze(-1),
        torch.log(progress.float() / 10.0 + 1.0).unsqueeze(-1),
        torch.log(successes.float() + 1.0).unsqueeze(-1),
        0.01 * reward.unsqueeze(-1),
    ]
    return torch.cat(parts, dim=-1).clamp_(-clamp, clamp)
