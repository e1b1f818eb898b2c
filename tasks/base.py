"""The batched-task contract shared by every task family (Gymnasium, Allegro-Kuka).

A batched task steps ``num_envs`` environments at once with torch tensors in and out.
`epo_isaac` never imports `tasks` (and vice versa): `train.py` wires them through this contract.

A task *factory* (registered in ``tasks.TASKS``) takes keyword arguments only: ``num_envs``, ``seed``,
``device``, ``sim`` (the validated simulator settings, :class:`tasks.sim.config.SimConfig`) and the task's own
settings: annotated keyword arguments, or a ``settings_model`` attribute declaring them as a pydantic model
(:mod:`tasks.settings`), which :func:`tasks.make` validates values against. A factory whose physics is fixed
(Gymnasium) is marked with :func:`fixed_physics` and takes no ``sim``. A factory may carry a
``precheck(settings)`` attribute: a check of its settings' values beyond their types and ranges that
:func:`tasks.check_settings` runs before anything is built, and a ``check_sim(sim)`` one of the simulator choice
(run before the simulator package is imported). A bad setting value raises ``pydantic.ValidationError``; other
mistakes a user can fix raise :class:`TaskConfigError`.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import numpy as np
import torch

F = TypeVar("F", bound=Callable[..., Any])


class TaskConfigError(ValueError):
    """A task name, simulator choice or setting the user can fix that is not a settings model's error (an unknown
    task or backend, a simulator not installed, a Gymnasium id that does not exist).

    The message is one line that names the key and says what to change; ``train.py`` prints it without a
    traceback.
    """


def closest(word: str, candidates: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the candidate closest to ``word`` (difflib, case-insensitive), else ``""``."""
    by_lower = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[match[0]]!r}?)" if match else ""


def fixed_physics(reason: str) -> Callable[[F], F]:
    """Decorator for a task factory without a simulator choice; ``reason`` says why (shown in errors).

    :func:`tasks.make` accepts only the default simulator config (``sim=mujoco``, or none) for such a task and
    does not pass ``sim`` to the factory.
    """

    def mark(factory: F) -> F:
        factory.fixed_physics = reason  # type: ignore[attr-defined]
        return factory

    return mark


def fixed_physics_reason(factory: Callable[..., Any]) -> str | None:
    """Why ``factory`` has no simulator choice (see :func:`fixed_physics`), or None when it takes ``sim``."""
    return getattr(factory, "fixed_physics", None)


class BatchedTask(ABC):
    """N environments stepped together; torch tensors in, torch tensors out.

    Attributes:
        num_envs: N.
        num_obs: O, size of the flat float32 observation.
        num_actions: A; actions live in [-1, 1]^A.
        device: torch device of every returned tensor.
        max_episode_length: control steps after which an episode times out (for logging).
        control_dt: seconds of simulated time per control step (sets the video frame rate).

    Autoreset: an env whose ``done`` is True at step t is reset inside ``step``; the observation
    returned for it is the first observation of its next episode (IsaacGymEnvs convention).
    """

    num_envs: int
    num_obs: int
    num_actions: int
    device: torch.device
    max_episode_length: int
    control_dt: float = 1.0 / 60.0

    @abstractmethod
    def reset(self) -> torch.Tensor:
        """Reset every env. Returns obs ``[N, O]`` float32."""

    @abstractmethod
    def step(
        self, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Advance every env by one control step.

        Args:
            actions: ``[N, A]`` float32 in [-1, 1].

        Returns:
            obs ``[N, O]`` float32, reward ``[N]`` float32, done ``[N]`` bool, extras with
            ``time_outs [N] bool`` (done by time limit: bootstrap the value), and for tasks that
            define them ``successes [N]`` (successes in the current episode; for an env that is
            done, of the episode that just ended), ``true_objective [N]`` (same convention) and
            ``rewards: dict[str, Tensor[N]]`` (each named reward term of this step, already scaled).
            Optional scalar diagnostics (e.g. ``success_tolerance``) go in ``extras["scalars"]``.
        """

    def get_state(self) -> dict[str, Any]:
        """Task state worth checkpointing (e.g. curriculum tolerance). Default: nothing."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what ``get_state`` returned."""

    def render(self, env: int = 0, width: int = 640, height: int = 480) -> np.ndarray:
        """RGB image ``[height, width, 3]`` uint8 of env ``env`` in its current state.

        Raises:
            NotImplementedError: the task (or its simulator backend) has no offscreen renderer;
                build a viewer with :func:`tasks.make_viewer`.
        """
        raise NotImplementedError(f"{type(self).__name__} has no offscreen renderer")

    def close(self) -> None:
        """Release simulator resources."""
