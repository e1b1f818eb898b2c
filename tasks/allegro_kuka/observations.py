"""Allegro-Kuka "full_state" observations (spec §6).

One arm (A = 1): 93 + 6K entries -> 117 (K = 4 keypoints, reorientation) / 99 (K = 1).
Two arms (A = 2): 160 + 9K entries -> 196 / 169. Layouts: spec §6.1 and §6.2, in :func:`observation_layout`.

:class:`ObservationBuffer` writes each part straight into its slice of a preallocated ``[N, O]`` buffer
(one torch op per part, no concatenation: the per-step cost is op count, not arithmetic, at N <= 4096);
:func:`observations` is the same computation into a fresh buffer.
Spec: docs/spec/allegro_kuka.md.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from tasks.allegro_kuka.kernels import unscale_coefficients


def observation_layout(num_arms: int, num_keypoints: int) -> list[tuple[str, tuple[int, ...]]]:
    """Named segments of the observation in order, each with its per-env shape (§6.1 / §6.2).

    Raises:
        ValueError: num_arms not 1 or 2.
    """
    if num_arms not in (1, 2):
        raise ValueError(f"num_arms must be 1 or 2, got {num_arms}")
    a, k = num_arms, num_keypoints
    layout = [
        ("dof_pos", (23 * a,)), ("dof_vel", (23 * a,)), ("palm_centre", (a, 3)), ("palm_state", (a, 10)),
        ("object_quat", (4,)), ("object_linvel", (3,)), ("object_angvel", (3,)),
        ("fingertips_rel", (a, 4, 3)), ("keypoints_rel", (a, k, 3)), ("keypoints_to_goal", (k, 3)),
        ("object_scales", (3,)), ("best_keypoint_dist", ()),
    ]
    if a == 1:
        layout.append(("best_fingertip_dist", (4,)))
    return layout + [("lifted", ()), ("progress", ()), ("successes", ()), ("reward", ())]


def observation_size(num_arms: int, num_keypoints: int) -> int:
    """Observation length for ``num_arms`` in {1, 2} and K keypoints (§6).

    Raises:
        ValueError: num_arms not 1 or 2.
    """
    return sum(math.prod(shape) for _, shape in observation_layout(num_arms, num_keypoints))


class ObservationBuffer:
    """A reusable ``[N, O]`` float32 observation buffer of A arms and K keypoints (§6).

    Args:
        num_envs: N. num_arms: A in {1, 2}. num_keypoints: K.
        dof_lower, dof_upper: ``[23A]`` joint limits (rad), for the [-1, 1] position normalisation.
        clamp: every entry is clamped to ±clamp (``clampAbsObservations``).
    """

    def __init__(self, num_envs: int, num_arms: int, num_keypoints: int, dof_lower: torch.Tensor,
                 dof_upper: torch.Tensor, clamp: float = 10.0) -> None:
        layout = observation_layout(num_arms, num_keypoints)
        n = num_envs
        self.num_arms, self.clamp = num_arms, float(clamp)
        self.buf = torch.zeros(n, observation_size(num_arms, num_keypoints), device=dof_lower.device)
        self._gain, self._bias = unscale_coefficients(dof_lower, dof_upper)  # kernels.unscale as one addcmul
        self.views: dict[str, torch.Tensor] = {}
        offset = 0
        for name, shape in layout:
            width = math.prod(shape)
            seg = self.buf[:, offset:offset + width]
            self.views[name] = seg.view(n, *shape) if shape else seg[:, 0]
            offset += width
        palm = self.views.pop("palm_state")
        self.views.update(palm_quat=palm[..., :4], palm_linvel=palm[..., 4:7], palm_angvel=palm[..., 7:])

    def write(
        self,
        *,
        dof_pos: torch.Tensor,
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
    ) -> torch.Tensor:
        """Fill the buffer and return a clamped copy ``[N, O]`` (the buffer is reused by the next call).

        Shapes with A arms, K keypoints (m, rad, rad/s, m/s, quaternions x,y,z,w):

        Args:
            dof_pos: ``[N, 23A]`` rad (observed normalised to [-1, 1] by the joint limits).
            dof_vel: ``[N, 23A]`` rad/s.
            palm_centre: ``[N, A, 3]``; palm_quat ``[N, A, 4]``, palm_linvel / palm_angvel ``[N, A, 3]``
                (body ``iiwa7_link_7`` of each arm).
            object_quat: ``[N, 4]``; object_linvel, object_angvel ``[N, 3]``.
            fingertips: ``[N, 4A, 3]`` fingertip points, arm 0's four first.
            keypoints, goal_keypoints: ``[N, K, 3]``.
            object_scales: ``[N, 3]`` side multipliers.
            best_keypoint_dist: ``[N]`` best max-keypoint distance since the goal was set.
            best_fingertip_dist: ``[N, 4]`` best fingertip-object distances (one arm), None for two arms.
            lifted: ``[N]`` bool. progress: ``[N]`` step counter. successes: ``[N]``.
            reward: ``[N]`` reward of this step (observed × 0.01).
        Returns:
            ``[N, 93 + 6K]`` (A = 1) or ``[N, 160 + 9K]`` (A = 2) float32.
        """
        v, a = self.views, self.num_arms
        palm = palm_centre.unsqueeze(2)  # [N, A, 1, 3]
        torch.addcmul(self._bias, dof_pos, self._gain, out=v["dof_pos"])
        v["dof_vel"].copy_(dof_vel)
        v["palm_centre"].copy_(palm_centre)
        v["palm_quat"].copy_(palm_quat)
        v["palm_linvel"].copy_(palm_linvel)
        v["palm_angvel"].copy_(palm_angvel)
        v["object_quat"].copy_(object_quat)
        v["object_linvel"].copy_(object_linvel)
        v["object_angvel"].copy_(object_angvel)
        torch.sub(fingertips.unflatten(1, (a, 4)), palm, out=v["fingertips_rel"])
        torch.sub(keypoints.unsqueeze(1), palm, out=v["keypoints_rel"])
        torch.sub(keypoints, goal_keypoints, out=v["keypoints_to_goal"])
        v["object_scales"].copy_(object_scales)
        v["best_keypoint_dist"].copy_(best_keypoint_dist)
        if best_fingertip_dist is not None:
            v["best_fingertip_dist"].copy_(best_fingertip_dist)
        v["lifted"].copy_(lifted)
        torch.mul(progress, 0.1, out=v["progress"]).log1p_()  # log(progress / 10 + 1)
        torch.log1p(successes, out=v["successes"])
        torch.mul(reward, 0.01, out=v["reward"])
        return self.buf.clamp(-self.clamp, self.clamp)


def observations(*, dof_lower: torch.Tensor, dof_upper: torch.Tensor, clamp: float = 10.0,
                 **parts: Any) -> torch.Tensor:
    """:meth:`ObservationBuffer.write` into a fresh buffer (same arguments, plus the joint limits
    ``dof_lower``, ``dof_upper`` ``[23A]`` rad and ``clamp``) -> ``[N, O]`` float32 (§6)."""
    n, a = parts["palm_centre"].shape[:2]
    buffer = ObservationBuffer(n, a, parts["keypoints"].shape[1], dof_lower, dof_upper, clamp)
    return buffer.write(**parts)
