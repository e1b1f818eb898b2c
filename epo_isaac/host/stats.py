"""Per-epoch episode statistics per agent (returns, successes, true_objective) and task extras."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from epo_isaac.epo.population import agent_ids


class EpochStats:
    """Accumulates, over one epoch, the episodes that finished in each agent's block and the
    per-step task extras (named reward terms, scalars). Vectorised; nothing syncs per step."""

    EPISODE_EXTRAS = {"successes": "successes", "true_objective": "true_objective", "lifted": "lift_rate"}
    """Task extra (value at episode end) -> logged key."""
    KEYS = ("return", *EPISODE_EXTRAS.values())

    def __init__(self, num_envs: int, num_agents: int, device: torch.device | str) -> None:
        self.num_agents = num_agents
        self.ids = agent_ids(num_envs, num_agents, device)  # [N]: the agent of each env
        self.device = device
        self.reset()

    def reset(self) -> None:
        m = self.num_agents
        self.sums = {k: torch.zeros(m, dtype=torch.float64, device=self.device) for k in self.KEYS}
        self.counts = {k: torch.zeros(m, dtype=torch.float64, device=self.device) for k in self.KEYS}
        self.terms: dict[str, Tensor] = {}
        self.scalars: dict[str, float] = {}
        self.steps = 0

    def _add(self, key: str, done: Tensor, values: Tensor) -> None:
        ids = self.ids[done]
        self.sums[key].index_add_(0, ids, values[done].double())
        self.counts[key].index_add_(0, ids, torch.ones_like(ids, dtype=torch.float64))

    def update(self, done: Tensor, episode_return: Tensor, infos: dict[str, Any]) -> None:
        """``done [N] bool``; ``episode_return [N]`` (before it is zeroed); task ``infos``."""
        self.steps += 1
        self._add("return", done, episode_return)
        for extra, key in self.EPISODE_EXTRAS.items():
            if extra in infos:
                self._add(key, done, infos[extra].to(self.device).float())
        for name, value in infos.get("rewards", {}).items():
            total = value.float().mean()
            self.terms[name] = self.terms[name] + total if name in self.terms else total
        for name, value in infos.get("scalars", {}).items():
            self.scalars[name] = float(value)

    def summary(self) -> dict[str, float]:
        """``master/<key>``, ``agents/<key>_<b>`` means over finished episodes (``lift_rate``: the fraction
        whose object was lifted, from the ``lifted`` extra of the Allegro-Kuka tasks), reward terms
        (mean per step), task scalars."""
        out: dict[str, float] = {}
        for key in self.KEYS:
            counts = self.counts[key]
            if counts.sum() == 0:
                continue
            means = (self.sums[key] / counts.clamp(min=1)).cpu()
            for b in range(self.num_agents):
                if counts[b] > 0:
                    out[f"agents/{key}_{b}"] = means[b].item()
            if counts[0] > 0:
                out[f"master/{key}"] = means[0].item()
        for name, total in self.terms.items():
            out[f"reward_terms/{name}"] = (total / max(self.steps, 1)).item()
        for name, value in self.scalars.items():  # a name with its own group ("sim/...") is kept as it is
            out[name if "/" in name else f"task/{name}"] = value
        return out
