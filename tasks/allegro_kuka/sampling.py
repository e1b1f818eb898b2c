"""Random sampling of the Allegro-Kuka tasks: goals, object / robot resets, random forces (pure torch).

All functions take an explicit ``torch.Generator`` so a task seeded once replays exactly.
Positions are in the env frame (m), quaternions (x, y, z, w). Spec sections in the docstrings.
Spec: docs/spec/allegro_kuka.md.
"""

from __future__ import annotations

import math

import roma
import torch

# §5.1 single-arm target volume: origin + extents (m).
SINGLE_ARM_GOAL_ORIGIN = (0.0, 0.05, 0.8)
SINGLE_ARM_GOAL_EXTENTS = ((-0.4, 0.4), (-0.05, 0.3), (-0.12, 0.25))
# §10 two-arm target volume, then x shifted by ±0.75.
TWO_ARM_GOAL_ORIGIN = (0.0, 0.0, 0.8)
TWO_ARM_GOAL_EXTENTS = ((-0.2, 0.2), (-0.5, 0.5), (-0.12, 0.25))
TWO_ARM_GOAL_SIDE_SHIFT = 0.75
# §4.4 object start.
OBJECT_START = (0.0, 0.0, 0.63)
OBJECT_START_NOISE = (0.1, 0.1, 0.02)
TWO_ARM_OBJECT_SIDE_X = 0.35
# §9 bucket placement and goal offset.
BUCKET_X_RANGE = (0.5, 0.9)
BUCKET_Y_RANGE = (-1.0, 0.7)
BUCKET_Z_RANGE = (0.0, 1.0)
BUCKET_GOAL_OFFSET = (0.0, 0.0, 0.05)


def _uniform(shape: tuple[int, ...], low: float | torch.Tensor, high: float | torch.Tensor,
             generator: torch.Generator, device: torch.device) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, device=device)
    return low + u * (high - low)


def _random_side(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """±1 with probability 1/2 each -> ``[n]`` float32."""
    return torch.where(torch.rand(n, generator=generator, device=device) < 0.5, -1.0, 1.0)


def random_quaternions(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Uniformly random unit quaternions (Shoemake's method, §4.4) -> ``[n, 4]`` (x, y, z, w)."""
    return roma.random_unitquat(n, device=device, generator=generator)


def identity_quaternions(n: int, device: torch.device) -> torch.Tensor:
    """``[n, 4]`` identity rotations (0, 0, 0, 1)."""
    q = torch.zeros(n, 4, device=device)
    q[:, 3] = 1.0
    return q


def sample_goal_positions(n: int, two_arms: bool, generator: torch.Generator,
                          device: torch.device) -> torch.Tensor:
    """Goal positions uniform in the target volume -> ``[n, 3]`` m (§5.1 single arm, §10 two arms).

    Single arm: x ∈ [-0.4, 0.4], y ∈ [0.0, 0.35], z ∈ [0.68, 1.05]. Two arms: x ∈ ±[0.55, 0.95]
    (side 50/50), y ∈ [-0.5, 0.5], z ∈ [0.68, 1.05].
    """
    origin = TWO_ARM_GOAL_ORIGIN if two_arms else SINGLE_ARM_GOAL_ORIGIN
    extents = TWO_ARM_GOAL_EXTENTS if two_arms else SINGLE_ARM_GOAL_EXTENTS
    low = torch.tensor([o + e[0] for o, e in zip(origin, extents, strict=True)], device=device)
    high = torch.tensor([o + e[1] for o, e in zip(origin, extents, strict=True)], device=device)
    pos = _uniform((n, 3), low, high, generator, device)
    if two_arms:
        pos[:, 0] += TWO_ARM_GOAL_SIDE_SHIFT * _random_side(n, generator, device)
    return pos


def sample_bucket_positions(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Throw-task bucket base positions -> ``[n, 3]`` m (§9): x = ±U(0.5, 0.9), y = U(-1.0, 0.7),
    z = U(0.0, 1.0). The goal is ``bucket + BUCKET_GOAL_OFFSET``."""
    x = _uniform((n,), *BUCKET_X_RANGE, generator, device) * _random_side(n, generator, device)
    y = _uniform((n,), *BUCKET_Y_RANGE, generator, device)
    z = _uniform((n,), *BUCKET_Z_RANGE, generator, device)
    return torch.stack((x, y, z), dim=-1)


def sample_object_poses(n: int, two_arms: bool, generator: torch.Generator,
                        device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Object reset pose (§4.4): nominal start (0, 0, 0.63) + U(-1, 1)·(0.1, 0.1, 0.02); two arms
    put it at x = ±0.35 (side 50/50) first. Orientation uniformly random.

    Returns:
        (pos ``[n, 3]`` m, quat ``[n, 4]`` x,y,z,w).
    """
    start = torch.tensor(OBJECT_START, device=device)
    noise = torch.tensor(OBJECT_START_NOISE, device=device)
    pos = start + _uniform((n, 3), -1.0, 1.0, generator, device) * noise
    if two_arms:
        pos[:, 0] += TWO_ARM_OBJECT_SIDE_X * _random_side(n, generator, device)
    return pos, random_quaternions(n, generator, device)


def sample_dof_states(n: int, default: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor,
                      generator: torch.Generator, *, pos_interval: float | torch.Tensor = 0.1,
                      vel_interval: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Robot reset (§8): ``q = q0 + c·(lower - q0 + U(0,1)·(upper - lower))``, ``qd = U(-v, v)``.

    Not clamped to the limits (thumb_joint_0 starts below its lower limit, as in the original).

    Args:
        default, lower, upper: ``[D]`` rad. pos_interval: c, a float or ``[D]`` (arm vs fingers).
        vel_interval: v (rad/s).
    Returns:
        (pos ``[n, D]`` rad, vel ``[n, D]`` rad/s).
    """
    d = default.shape[0]
    u = torch.rand((n, d), generator=generator, device=default.device)
    pos = default + pos_interval * (lower - default + u * (upper - lower))
    vel = _uniform((n, d), -vel_interval, vel_interval, generator, default.device)
    return pos, vel


def sample_force_probabilities(n: int, low: float, high: float, generator: torch.Generator,
                               device: torch.device) -> torch.Tensor:
    """Per-env probability of a new random force, log-uniform in [low, high] (§4.5) -> ``[n]``."""
    return torch.exp(_uniform((n,), math.log(low), math.log(high), generator, device))


def update_random_forces(forces: torch.Tensor, probabilities: torch.Tensor, *, magnitude: float,
                         decay_factor: float, generator: torch.Generator) -> torch.Tensor:
    """One control step of the random object force (§4.5), in the object's local frame.

    The held force decays by ``decay_factor`` (``forceDecay ** (dt / forceDecayInterval)``); with the
    env's probability a fresh force ``N(0, 1)^3 · magnitude`` (mass · forceScale, N) replaces it.

    Args:
        forces: ``[N, 3]`` N. probabilities: ``[N]``.
    Returns:
        ``[N, 3]`` new forces (N, object frame).
    """
    n = forces.shape[0]
    fresh = torch.randn((n, 3), generator=generator, device=forces.device) * magnitude
    draw = torch.rand(n, generator=generator, device=forces.device) < probabilities
    return torch.where(draw.unsqueeze(-1), fresh, forces * decay_factor)
