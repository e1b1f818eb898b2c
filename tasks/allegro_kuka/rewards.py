"""Allegro-Kuka reward terms (spec §7) as pure torch functions.

The latched "lifted" flag and the best-so-far distances are state: their updates are separate
functions (``update_lifted`` here, ``kernels.update_best``); ``reward_terms`` only evaluates.
Spec: docs/spec/allegro_kuka.md.
"""

from __future__ import annotations

import torch

from tasks.allegro_kuka.config import RewardScales


def lift_height(object_z: torch.Tensor, object_start_z: float = 0.63) -> torch.Tensor:
    """h = 0.05 + z - z0 with the fixed nominal start height z0 (m) -> ``[N]`` m (§7).

    object_z: ``[N]`` object centre height (m).
    """
    return object_z - (object_start_z - 0.05)


def update_lifted(lifted: torch.Tensor, height: torch.Tensor, threshold: float) -> torch.Tensor:
    """Latched lifted flag: becomes and stays True once ``h > threshold`` -> ``[N]`` bool (§7).

    Args:
        lifted: ``[N]`` bool previous flag. height: ``[N]`` lift height h (m).
    """
    return lifted | (height > threshold)


def reward_terms(
    *,
    height: torch.Tensor,
    lifted_before: torch.Tensor,
    lifted: torch.Tensor,
    fingertip_dist: torch.Tensor,
    best_fingertip_dist: torch.Tensor,
    keypoint_dist: torch.Tensor,
    best_keypoint_dist: torch.Tensor,
    near: torch.Tensor,
    dof_vel: torch.Tensor | None,
    scales: RewardScales,
    success_steps: int,
    gate_fingertips_by_lift: bool = True,
    num_arm_dofs: int = 7,
) -> dict[str, torch.Tensor]:
    """Named, already scaled reward terms of one control step (§7). Their sum is the reward.

    Args:
        height: ``[N]`` lift height h (m), from ``lift_height``.
        lifted_before: ``[N]`` bool flag before this step's update; lifted: ``[N]`` after it.
        fingertip_dist: ``[N, F]`` fingertip-point-to-object-centre distances (m).
        best_fingertip_dist: ``[N, F]`` best so far *before* this step's update (m, initialised).
        keypoint_dist: ``[N]`` max keypoint distance d (m).
        best_keypoint_dist: ``[N]`` best d so far *before* this step's update (m, initialised).
        near: ``[N]`` bool, d within the success tolerance this step.
        dof_vel: ``[N, 23]`` joint velocities (rad/s) for the single-arm velocity penalties; None for
            the two-arm tasks (which have no penalties).
        scales: coefficients.
        success_steps: near-goal steps needed for a success (the goal bonus is split over them).
        gate_fingertips_by_lift: True (single arm): fingertip approach is zero once lifted; False
            (two arms): never gated.
        num_arm_dofs: arm DOFs at the start of ``dof_vel`` (the rest are hand DOFs).
    Returns:
        dict with ``lifting``, ``lifting_bonus``, ``distance_delta``, ``keypoint``, ``reach_goal_bonus``
        and, when ``dof_vel`` is given, ``kuka_actions_penalty`` and ``allegro_actions_penalty``;
        each ``[N]`` float32.
    """
    # masked_fill / where instead of multiplying by float masks: fewer ops per step, same values
    not_lifted = ~lifted
    lifting = height.clamp(0.0, 0.5).mul_(scales.lifting_rew_scale).masked_fill_(lifted, 0.0)
    lifting_bonus = torch.where(lifted & ~lifted_before, scales.lifting_bonus, 0.0)

    distance_delta = (best_fingertip_dist - fingertip_dist).clamp_(0.0, 10.0).sum(dim=-1)
    distance_delta.mul_(scales.distance_delta_rew_scale)
    if gate_fingertips_by_lift:
        distance_delta.masked_fill_(lifted, 0.0)

    keypoint = (best_keypoint_dist - keypoint_dist).clamp_(0.0, 100.0).mul_(scales.keypoint_rew_scale)
    keypoint.masked_fill_(not_lifted, 0.0)

    reach_goal_bonus = torch.where(near, scales.reach_goal_bonus / success_steps, 0.0)

    terms = {
        "lifting": lifting,
        "lifting_bonus": lifting_bonus,
        "distance_delta": distance_delta,
        "keypoint": keypoint,
        "reach_goal_bonus": reach_goal_bonus,
    }
    if dof_vel is not None:
        speed = dof_vel.abs()
        terms["kuka_actions_penalty"] = speed[:, :num_arm_dofs].sum(-1).mul_(-scales.kuka_actions_penalty_scale)
        terms["allegro_actions_penalty"] = (
            speed[:, num_arm_dofs:].sum(-1).mul_(-scales.allegro_actions_penalty_scale))
    return terms


def total_reward(terms: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of the named terms -> ``[N]`` float32."""
    return torch.stack(tuple(terms.values())).sum(0)
