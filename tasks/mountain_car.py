"""Task ``ContinuousMountainCar``: the SAPG code base's hard-exploration car on a multi-hill track, batched in
pure torch (CPU or GPU tensors, no simulator).

Facts taken from the official SAPG code (github.com/jayeshs999/sapg, commit e96efaef):
``isaacgymenvs/tasks/cont_mc/cont_mc.py`` (dynamics, reward, start, termination),
``isaacgymenvs/tasks/cont_mc/env_curve.py`` (the track) and ``isaacgymenvs/cfg/task/ContinuousMountainCar.yaml``,
``isaacgymenvs/cfg/train/ContinuousMountainCarPPO.yaml`` (512 envs, the rl_games settings). The code is ours.

Track (:func:`build_track`): starting at (x, y) = (0, 5), ``hills`` times: a flat segment of length 3·u, then a
cosine segment of length π and amplitude c = 0.9 + u/10 that goes up (y + c·(1 − cos(x − s))) or down
(y + c·(cos(x − s) − 1)) with probability ½ each; u ~ U[0, 1) drawn from ``torch.Generator().manual_seed(
track_seed)`` in that order (length, amplitude, direction), so the default seed 15 gives the official track. At a
shared end point the later segment holds. The goal is the x of the highest segment end point (the first of equals).

Dynamics per step (dt = 0.5, power 0.015, gravity 0.1, friction 0.005; k = 1/√(1 + slope²)):
v ← clamp(v + (0.015·F − 0.1·slope·k − 0.005·sign(v)·k)·dt, ±200); x ← clamp(x + v·dt·k, 0.01, L − 0.01);
at a clamped end a velocity pointing out of the track is reversed. The episode ends with +100 when the step moves the
car strictly across the goal with |v| < ``goal_speed`` (v after the step), or after ``episode_length`` steps; every
step costs 0.01·|F|. Starts: x ~ U[0, L), v = 0.

Choices where the original is silent or the contract differs: the action penalty uses the action clipped to
[−1, 1] (the official clips with ``clipActions: 1.0`` before the task sees it); a time-limit end is terminal
(``time_outs`` stays False: the official rl_games config does not bootstrap it); ``true_objective`` is the
episode's discounted return Σ 0.997^t·r_t (the official's ``discounted_reward``), ``successes`` 1 when it reached
the goal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

import torch
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from tasks.base import BatchedTask, fixed_physics
from tasks.settings import SETTINGS

POWER, GRAVITY, FRICTION, DT = 0.015, 0.1, 0.005, 0.5
MAX_SPEED, EDGE = 200.0, 0.01
GOAL_REWARD, ACTION_COST, LOG_GAMMA = 100.0, 0.01, 0.997


@dataclass(frozen=True)
class Track:
    """Segments of a track: ``starts [S]`` (x where each begins, ascending), ``kind [S]`` (0 flat, +1 up,
    −1 down), ``scale [S]`` (cosine amplitude c), ``offset [S]`` (height y where each begins); ``length`` L (x of
    the end) and ``goal`` (x of the highest end point)."""

    starts: torch.Tensor
    kind: torch.Tensor
    scale: torch.Tensor
    offset: torch.Tensor
    length: float
    goal: float

    def to(self, device: torch.device | str) -> Track:
        """This track with its tensors on ``device``."""
        return Track(self.starts.to(device), self.kind.to(device), self.scale.to(device), self.offset.to(device),
                     self.length, self.goal)


def build_track(hills: int, seed: int) -> Track:
    """The official procedural track with ``hills`` flat + cosine pairs drawn from ``seed`` (module docstring)."""
    rng = torch.Generator().manual_seed(seed)
    starts, kind, scale, offset = [], [], [], []
    x, y = torch.tensor(0.0), torch.tensor(5.0)
    points = [(x, y)]
    for _ in range(hills):
        flat = torch.rand(1, generator=rng).squeeze() * 3
        starts.append(x); kind.append(0.0); scale.append(0.0); offset.append(y)  # noqa: E702
        x = x + flat
        points.append((x, y))
        c = 0.9 + torch.rand(1, generator=rng).item() / 10
        up = 1.0 if torch.rand(1, generator=rng).item() >= 0.5 else -1.0
        starts.append(x); kind.append(up); scale.append(c); offset.append(y)  # noqa: E702
        end = x + math.pi
        y = y + up * c * (1 - torch.cos(end - x))
        x = end
        points.append((x, y))
    goal = max(points, key=lambda p: float(p[1]))[0]
    as_t = lambda v: torch.stack([torch.as_tensor(e, dtype=torch.float32) for e in v])  # noqa: E731
    return Track(as_t(starts), as_t(kind), as_t(scale), as_t(offset), float(x), float(goal))


def height_and_slope(track: Track, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Track height and slope dy/dx at positions ``x`` (any shape); 0 and 0 outside [0, L]."""
    i = (torch.searchsorted(track.starts, x.contiguous(), right=True) - 1).clamp(0, len(track.starts) - 1)
    u = x - track.starts[i]
    kind, c = track.kind[i], track.scale[i]
    height = track.offset[i] + kind * c * (1 - torch.cos(u))
    slope = kind * c * torch.sin(u)
    inside = (x >= 0) & (x <= track.length)
    return torch.where(inside, height, 0.0), torch.where(inside, slope, 0.0)


def dynamics(track: Track, x: torch.Tensor, v: torch.Tensor, force: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the car: positions ``x [N]``, velocities ``v [N]``, force ``[N]`` in [−1, 1] → (x', v')."""
    _, slope = height_and_slope(track, x)
    k = torch.rsqrt(1 + slope * slope)
    v = (v + (force * POWER - GRAVITY * slope * k - FRICTION * torch.sign(v) * k) * DT).clamp(-MAX_SPEED, MAX_SPEED)
    x = (x + v * DT * k).clamp(EDGE, track.length - EDGE)
    out = ((x == EDGE) & (v < 0)) | ((x == track.length - EDGE) & (v > 0))
    return x, torch.where(out, -v, v)


def reached_goal(x_old: torch.Tensor, x_new: torch.Tensor, v_new: torch.Tensor, goal: float,
                 goal_speed: float) -> torch.Tensor:
    """``[N]`` bool: the step moved strictly across ``goal`` and ends with |v| < ``goal_speed``."""
    lo, hi = torch.minimum(x_old, x_new), torch.maximum(x_old, x_new)
    return (lo < goal) & (goal < hi) & (v_new.abs() < goal_speed)


def reward(reached: torch.Tensor, force: torch.Tensor) -> torch.Tensor:
    """``[N]`` float32: +100 where ``reached``, minus 0.01·|force|."""
    return reached.float() * GOAL_REWARD - ACTION_COST * force.abs()


class MountainCarSettings(BaseModel):
    """Settings of ``task=ContinuousMountainCar`` (``task.<key>``)."""

    model_config = SETTINGS

    episode_length: Annotated[int, Field(ge=1)] = 500
    """Steps after which an episode ends (official 500)."""
    hills: Annotated[int, Field(ge=1, le=64)] = 4
    """Flat + cosine segment pairs of the track (official 4)."""
    track_seed: Annotated[int, Field(ge=0)] = 15
    """Seed of the track's draws (official 15); the start states use the run's seed."""
    goal_position: float | None = None
    """x of the goal, strictly inside the track; None: the highest point (official)."""
    goal_speed: Annotated[float, Field(gt=0)] = 2.0
    """Crossing the goal pays only below this |v| (official 2)."""

    @field_validator("goal_position")
    @classmethod
    def _inside(cls, goal: float | None, info: ValidationInfo) -> float | None:
        if goal is None or "hills" not in info.data or "track_seed" not in info.data:
            return goal
        length = build_track(info.data["hills"], info.data["track_seed"]).length
        if not EDGE < goal < length - EDGE:
            raise ValueError(f"must lie strictly inside the track ({EDGE}, {length - EDGE:.4f})")
        return goal


class MountainCarTask(BatchedTask):
    """``num_envs`` cars on one track. obs ``[N, 2]`` = (x, v); action ``[N, 1]`` = force in [−1, 1];
    ``control_dt`` = 0.5 s. Extras at an episode's end: ``successes`` (1.0 when it reached the goal) and
    ``true_objective`` (its discounted return); ``time_outs`` all False (module docstring)."""

    num_obs = 2
    num_actions = 1
    control_dt = DT

    def __init__(self, num_envs: int, seed: int, device: str, settings: MountainCarSettings) -> None:
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.settings = settings
        self.max_episode_length = settings.episode_length
        self.track = build_track(settings.hills, settings.track_seed).to(self.device)
        self.goal = self.track.goal if settings.goal_position is None else settings.goal_position
        self.rng = torch.Generator(device=self.device).manual_seed(seed)
        self.x = torch.zeros(num_envs, device=self.device)
        self.v = torch.zeros(num_envs, device=self.device)
        self.steps = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.discounted = torch.zeros(num_envs, device=self.device)
        self.reached = torch.zeros(num_envs, device=self.device)

    def _start(self, envs: torch.Tensor) -> None:
        """New episodes for the ``envs`` mask ``[N]`` bool: x ~ U[0, L), v = 0."""
        fresh = torch.rand(self.num_envs, generator=self.rng, device=self.device) * self.track.length
        self.x = torch.where(envs, fresh, self.x)
        self.v = torch.where(envs, 0.0, self.v)
        self.steps = torch.where(envs, 0, self.steps)
        self.discounted = torch.where(envs, 0.0, self.discounted)
        self.reached = torch.where(envs, 0.0, self.reached)

    def _obs(self) -> torch.Tensor:
        return torch.stack([self.x, self.v], dim=1)

    def reset(self) -> torch.Tensor:
        self._start(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))
        return self._obs()

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        force = actions.to(self.device).reshape(self.num_envs).clamp(-1.0, 1.0)
        x_old = self.x
        self.x, self.v = dynamics(self.track, self.x, self.v, force)
        reached = reached_goal(x_old, self.x, self.v, self.goal, self.settings.goal_speed)
        rew = reward(reached, force)
        self.discounted = self.discounted + LOG_GAMMA ** self.steps.float() * rew
        self.reached = torch.maximum(self.reached, reached.float())
        self.steps = self.steps + 1
        done = reached | (self.steps >= self.max_episode_length)
        extras = {"time_outs": torch.zeros_like(done), "successes": self.reached.clone(),
                  "true_objective": self.discounted.clone()}
        self._start(done)
        return self._obs(), rew, done, extras

    def get_state(self) -> dict[str, Any]:
        return {"x": self.x, "v": self.v, "steps": self.steps, "discounted": self.discounted,
                "reached": self.reached, "rng": self.rng.get_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        for key in ("x", "v", "steps", "discounted", "reached"):
            setattr(self, key, state[key].to(self.device))
        self.rng.set_state(state["rng"])


@fixed_physics("ContinuousMountainCar computes its own physics in torch")
def make_mountain_car(*, num_envs: int, seed: int = 0, device: str = "cpu", **settings: Any) -> MountainCarTask:
    """Task ``ContinuousMountainCar`` (settings: :class:`MountainCarSettings`).

    Raises:
        pydantic.ValidationError: a setting out of range, naming its key.
    """
    return MountainCarTask(num_envs, seed, device, MountainCarSettings(**settings))


make_mountain_car.settings_model = MountainCarSettings  # type: ignore[attr-defined]
