"""Several ``torchrun`` processes for the rl_games agents (EPO, SAPG, PPO): mix in before the agent class.

rl_games' multi-GPU path (``multi_gpu``) already all-reduces the gradients of every minibatch, averages the KL
of PPO's update, broadcasts rank 0's learning rate, broadcasts rank 0's model before training, counts every
rank's frames and broadcasts rank 0's decision to stop. Its constructor, though, creates an NCCL process group
and moves the agent to ``cuda:<LOCAL_RANK>``, and its normalisers drift apart across ranks. So the agent is built
as a single-process agent and joins the ranks afterwards (:meth:`RanksMixin.__init__`): the process group is ours
(gloo on the CPU, nccl on CUDA, :mod:`epo_isaac.host.ranks`); on the CPU ``local_rank`` is −1, for which
``torch.cuda.set_device`` is a documented no-op. Every epoch the running mean/std normalisers are pooled
(:func:`epo_isaac.host.ranks.pooled_moments`), so all ranks normalise alike. Rank r's envs are seeded ``seed + r``;
rank 0 logs and writes checkpoints; a resumed run loads rank 0's envs and RNG only on rank 0.
"""

from __future__ import annotations

from typing import Any

import torch

from epo_isaac.epo.population import FitnessTracker
from epo_isaac.host.ranks import Ranks, pooled_moments
from epo_isaac.host.stats import EpochStats


def normalizers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """rl_games' running mean/std modules of ``model`` (observations, values), in module order."""
    return [m for m in model.modules() if hasattr(m, "running_mean") and hasattr(m, "running_var")]


class RanksMixin:
    """Join the ``torchrun`` ranks named in ``config["ranks"]`` (see the module docstring)."""

    ranks: Ranks

    def __init__(self, base_name: str, params: dict[str, Any]) -> None:
        ranks = Ranks.from_config(params["config"])  # the process group exists before rl_games needs it
        super().__init__(base_name, params)  # type: ignore[call-arg]
        self.ranks = ranks
        if ranks.size > 1:
            self.multi_gpu = True
            self.global_rank, self.world_size = ranks.rank, ranks.size
            device = torch.device(self.ppo_device)
            self.local_rank = (device.index or 0) if device.type == "cuda" else -1

    def sync_normalizers(self) -> None:
        """Pool every rank's running mean/variance (counts are equal: every rank updates on as many rows); one
        all-gather of all normalisers' statistics."""
        if self.ranks.size == 1:
            return
        norms = normalizers(self.model)
        if not norms:
            return
        flat = torch.cat([torch.cat((n.running_mean.reshape(-1), n.running_var.reshape(-1))) for n in norms])
        gathered = self.ranks.all_gather(flat.detach()).view(self.ranks.size, -1)
        offset = 0
        for n in norms:
            size = n.running_mean.numel()
            means = gathered[:, offset:offset + size]
            variances = gathered[:, offset + size:offset + 2 * size]
            offset += 2 * size
            mean, var = pooled_moments(means, variances)
            n.running_mean.copy_(mean.view_as(n.running_mean))
            n.running_var.copy_(var.view_as(n.running_var))

    def merged_fitness(self, tracker: FitnessTracker) -> FitnessTracker:
        """A tracker holding every rank's finished episodes (rank order), identical on all ranks, so the GA's
        gate and selection see all K blocks of each agent and decide the same generation everywhere."""
        if self.ranks.size == 1:
            return tracker
        state = {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in tracker.state_dict().items()}
        parts = self.ranks.all_gather_object(state)
        merged = FitnessTracker(tracker.num_envs, tracker.num_agents, tracker._ids.device)
        merged.load_state_dict({**state, **{k: torch.cat([p[k] for p in parts]) for k in ("ids", "values",
                                                                                         "periods")}})
        return merged

    def reduce_stats(self, stats: EpochStats) -> None:
        """Sum every rank's finished-episode statistics into ``stats`` (reward terms: mean over ranks; task
        scalars: rank 0's)."""
        if self.ranks.size == 1:
            return
        keys = list(stats.KEYS)
        rows = [stats.sums[k] for k in keys] + [stats.counts[k] for k in keys]
        total = self.ranks.all_reduce(torch.stack(rows))  # one collective for every key's sums and counts
        for i, key in enumerate(keys):
            stats.sums[key], stats.counts[key] = total[i], total[len(keys) + i]
        names = sorted(stats.terms)
        if names:
            terms = self.ranks.all_reduce(torch.stack([stats.terms[n] for n in names])) / self.ranks.size
            stats.terms = dict(zip(names, terms, strict=True))

    def follow_frames(self) -> None:
        """Call at the end of every epoch: rl_games advances ``frame`` (every rank's env steps) on rank 0 only;
        the other ranks follow, so frame-based decisions (the GA schedule) agree everywhere."""
        if self.ranks.rank > 0:
            self.frame += self.curr_frames * self.ranks.size

    def train_epoch(self):
        """rl_games' epoch (PPO), then the normalisers pooled over ranks."""
        out = super().train_epoch()  # type: ignore[misc]
        self.sync_normalizers()
        self.follow_frames()
        return out

    def set_full_state_weights(self, weights: dict[str, Any], set_epoch: bool = True) -> None:
        """Ranks other than 0 keep their own envs (not rank 0's saved episodes)."""
        if self.ranks.rank > 0:
            weights = {**weights, "env_state": None}
            resume = weights.get("resume")
            if resume:
                weights["resume"] = {**resume, "episodes": None,
                                     "torch_rng": torch.Generator().manual_seed(1000 + self.ranks.rank).get_state()}
        super().set_full_state_weights(weights, set_epoch=set_epoch)  # type: ignore[misc]
