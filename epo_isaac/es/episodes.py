"""Whole episodes on a batched task, for evaluating an ES population (or its unperturbed policy).

Every env starts a fresh episode (``task.reset()``) and runs until it has finished ``episodes_per_env`` episodes;
the task's autoreset starts the next one (``tasks/base.py``). Envs that are done keep stepping until the slowest
one finishes (a batched simulator steps all worlds), but their steps no longer count towards any return.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from epo_isaac.es.policy import moments


@dataclass
class Episodes:
    """What :func:`run_episodes` saw.

    Attributes:
        returns: ``[N, k]`` undiscounted return of each env's k episodes, in task reward units.
        lengths: ``[N, k]`` control steps of each episode.
        successes: ``[N, k]`` the task's ``successes`` at episode end (zeros when the task has none).
        steps: control steps taken (each steps all N envs: ``steps·N`` env steps).
        obs_moments: ``[3, O]`` (count, Σx, Σx²) of the observations the policy acted on while its episodes ran
            (:func:`epo_isaac.es.policy.moments`), or None when not asked for.
    """

    returns: Tensor
    lengths: Tensor
    successes: Tensor
    steps: int
    obs_moments: Tensor | None


def run_episodes(task: Any, act: Callable[[Tensor], Tensor], episodes_per_env: int, max_steps: int,
                 collect_moments: bool = False) -> Episodes:
    """Reset ``task`` and step it with ``act`` until every env has finished ``episodes_per_env`` episodes.

    Args:
        task: a batched task (``reset() → obs [N, O]``; ``step(actions [N, A]) → obs, reward [N], done [N],
            extras``).
        act: raw observations ``[N, O]`` → actions ``[N, A]`` in [−1, 1].
        episodes_per_env: k ≥ 1.
        max_steps: a safety limit on control steps.
        collect_moments: also sum the observations of still-running episodes (for the normaliser).

    Raises:
        RuntimeError: if the envs have not finished within ``max_steps`` (a task that never ends its episodes).
    """
    obs = task.reset()
    n, device = obs.shape[0], obs.device
    returns = torch.zeros(n, episodes_per_env, device=device)
    lengths = torch.zeros(n, episodes_per_env, dtype=torch.long, device=device)
    successes = torch.zeros(n, episodes_per_env, device=device)
    finished = torch.zeros(n, dtype=torch.long, device=device)
    running = torch.zeros(n, device=device)
    length = torch.zeros(n, dtype=torch.long, device=device)
    rows = torch.arange(n, device=device)
    sums = torch.zeros(3, obs.shape[1], dtype=torch.float64, device=device) if collect_moments else None
    steps = 0
    while bool((finished < episodes_per_env).any()):
        if steps >= max_steps:
            raise RuntimeError(f"ES rollout: {int((finished < episodes_per_env).sum())} env(s) did not finish "
                               f"{episodes_per_env} episode(s) within {max_steps} control steps")
        active = finished < episodes_per_env
        if sums is not None:
            sums += moments(obs[active])
        obs, reward, done, extras = task.step(act(obs))
        steps += 1
        running += torch.where(active, reward.float(), 0.0)
        length += active.long()
        ended = done.bool() & active
        if bool(ended.any()):
            idx, slot = rows[ended], finished[ended]
            returns[idx, slot] = running[ended]
            lengths[idx, slot] = length[ended]
            if "successes" in extras:
                successes[idx, slot] = extras["successes"].float()[ended]
            finished[ended] += 1
            running[ended] = 0.0
            length[ended] = 0
    return Episodes(returns, lengths, successes, steps, sums)
