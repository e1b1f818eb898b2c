"""Several ``torchrun`` processes for the rl_games agents (EPO, SAPG, PPO): mix in before the agent class.

rl_games' multi-GPU path (``multi_gpu``) already all-reduces the gradients of every minibatch, averages the KL
of PPO's update, broadcasts rank 0's learning rate, broadcasts rank 0's model before training, counts every
rank's frames and broadcasts rank 0's decision to stop. Its constructor, though, creates an NCCL process group
and moves the agent to ``cuda:<LOCAL_RANK>``, and its normalisers drift apart across ranks. So the agent is built
as a single-process agent and joins the ranks afterwards (:meth:`RanksMixin.__init__`): the process group is ours
(gloo on the CPU, nccl on CUDA, :mod:`epo_isaac.host.ranks`); on the CPU ``local_rank`` is −1, for which
``torch.cuda.set_device`` is a documented no-op. Every epoch the running mean/std normalisers are pooled
(:func:`epo_isaac.host.ranks.pool_running_moments`: every rank's rows, counted once), so all ranks normalise
alike. Rank r's envs are seeded ``seed + r`` and its torch/numpy/random generators
:func:`epo_isaac.host.session.rank_seed` ``(seed, r)``; rank 0 logs and writes checkpoints, with every rank's RNG
states (and EPO's fitness window) gathered at the end of each epoch, so a resumed rank r continues with its own
(:func:`resume_for_rank`, :func:`restored_fitness`).
"""

from __future__ import annotations

from typing import Any

import torch

from epo_isaac.epo.population import FitnessTracker, merge_fitness_states
from epo_isaac.host.ranks import Ranks, pool_running_moments
from epo_isaac.host.resume import rng_state
from epo_isaac.host.stats import EpochStats


def normalizers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """rl_games' running mean/std modules of ``model`` (observations, values), in module order."""
    return [m for m in model.modules() if hasattr(m, "running_mean") and hasattr(m, "running_var")]


def saved_ranks_of(rank: int, size: int, saved: int) -> list[int]:
    """The ranks of a checkpoint written by ``saved`` ranks whose per-rank state rank ``rank`` of ``size`` takes
    over: s ≡ rank (mod size), so each saved rank's state is restored exactly once (K → K: its own; K → 1: all)."""
    return list(range(rank, saved, size))


def saved_rank(saved: list[dict[str, Any]] | None, rank: int) -> dict[str, Any]:
    """Saved rank ``rank``'s entry of a checkpoint's ``ranks`` list (:meth:`RanksMixin.rank_state`); empty when
    the checkpoint has none (written by one rank, or by fewer ranks than ``rank`` + 1)."""
    return saved[rank] if saved is not None and rank < len(saved) else {}


def resume_for_rank(resume: dict[str, Any], saved: list[dict[str, Any]] | None, rank: int) -> dict[str, Any]:
    """Rank ``rank``'s copy of a checkpoint's ``resume`` state (:func:`epo_isaac.host.resume.resume_state`,
    written by rank 0).

    Rank 0 takes it as it is. Rank r > 0 takes saved rank r's ``torch_rng`` and ``cuda_rng`` from ``saved`` (the
    checkpoint's ``ranks`` list, :meth:`RanksMixin.rank_state`), or, when the checkpoint has no rank r (fewer
    ranks wrote it), keeps its own generators (no RNG keys); never rank 0's in-progress episodes (it keeps its
    own envs).
    """
    if rank == 0:
        return resume
    own = {k: v for k, v in resume.items() if k not in ("torch_rng", "cuda_rng")}
    return {**own, **saved_rank(saved, rank).get("rng", {}), "episodes": None}


def restored_fitness(state: dict[str, Any], saved: list[dict[str, Any]] | None, rank: int,
                     size: int) -> dict[str, Any]:
    """Rank ``rank`` of ``size``'s fitness window from a checkpoint: ``state`` is the checkpoint's own
    (rank 0's) :meth:`~epo_isaac.epo.population.FitnessTracker.state_dict`, ``saved`` its ``ranks`` list (None
    for a 1-rank checkpoint). Every saved window is restored once (:func:`saved_ranks_of`), so the merged
    window of the resumed run holds every episode once; ranks with no saved window start an empty one."""
    if saved is None:
        return merge_fitness_states(state, [state] if rank == 0 else [])
    return merge_fitness_states(state, [saved[s]["fitness"] for s in saved_ranks_of(rank, size, len(saved))])


def _cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _cpu(v) for k, v in value.items()}
    return value


class RanksMixin:
    """Join the ``torchrun`` ranks named in ``config["ranks"]`` (see the module docstring)."""

    ranks: Ranks

    def __init__(self, base_name: str, params: dict[str, Any]) -> None:
        ranks = Ranks.from_config(params["config"])  # the process group exists before rl_games needs it
        super().__init__(base_name, params)  # type: ignore[call-arg]
        self.ranks = ranks
        self._rank_states: list[dict[str, Any]] | None = None
        if ranks.size > 1:
            self.multi_gpu = True
            self.global_rank, self.world_size = ranks.rank, ranks.size
            device = torch.device(self.ppo_device)
            self.local_rank = (device.index or 0) if device.type == "cuda" else -1
            self._remember_normalizers()

    def _remember_normalizers(self) -> None:
        """Keep the normalisers' (mean, var, count), identical on every rank here, as the prior of the next pool
        (at construction, after a restore, after every pool; rl_games' start-of-training broadcast of rank 0's
        model leaves them as they are)."""
        self._normalizer_prior = [(n.running_mean.detach().clone(), n.running_var.detach().clone(),
                                   n.count.detach().clone()) for n in normalizers(self.model)]

    def sync_normalizers(self) -> None:
        """Pool every rank's running mean/variance/count (:func:`~epo_isaac.host.ranks.pool_running_moments`):
        the statistics of the rows every rank normalised since the last pool, each counted once, and of
        everything before; one all-gather of all normalisers' statistics."""
        if self.ranks.size == 1:
            return
        norms = normalizers(self.model)
        if not norms:
            return
        flat = torch.cat([torch.cat((n.running_mean.reshape(-1), n.running_var.reshape(-1), n.count.reshape(1)))
                          for n in norms])
        gathered = self.ranks.all_gather(flat.detach()).view(self.ranks.size, -1)
        offset = 0
        for n, (prior_mean, prior_var, prior_count) in zip(norms, self._normalizer_prior, strict=True):
            size = n.running_mean.numel()
            means = gathered[:, offset:offset + size]
            variances = gathered[:, offset + size:offset + 2 * size]
            counts = gathered[:, offset + 2 * size]
            offset += 2 * size + 1
            mean, var, count = pool_running_moments(prior_mean.reshape(-1), prior_var.reshape(-1), prior_count,
                                                    means, variances, counts)
            n.running_mean.copy_(mean.view_as(n.running_mean))
            n.running_var.copy_(var.view_as(n.running_var))
            n.count.copy_(count)
        self._remember_normalizers()

    def merged_fitness(self, tracker: FitnessTracker) -> FitnessTracker:
        """A tracker holding every rank's finished episodes (rank order), identical on all ranks, so the GA's
        gate and selection see all K blocks of each agent and decide the same generation everywhere."""
        if self.ranks.size == 1:
            return tracker
        state = _cpu(tracker.state_dict())
        merged = FitnessTracker(tracker.num_envs, tracker.num_agents, tracker._ids.device)
        merged.load_state_dict(merge_fitness_states(state, self.ranks.all_gather_object(state)))
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
            terms = self.ranks.mean(torch.stack([stats.terms[n] for n in names]))
            stats.terms = dict(zip(names, terms, strict=True))

    def finish_epoch(self) -> None:
        """Call at the end of every epoch: rl_games advances ``frame`` (every rank's env steps) on rank 0 only;
        the other ranks follow, so frame-based decisions (the GA schedule) agree everywhere. Then every rank's
        :meth:`rank_state` is gathered, for rank 0's checkpoints (rl_games saves on rank 0 alone, after the
        epoch: nothing is drawn in between)."""
        if self.ranks.size == 1:
            return
        if self.ranks.rank > 0:
            self.frame += self.curr_frames * self.ranks.size
        self._rank_states = self.ranks.all_gather_object(_cpu(self.rank_state()))

    def rank_state(self) -> dict[str, Any]:
        """What is this rank's own in a checkpoint: its RNG states (:func:`~epo_isaac.host.resume.rng_state`)."""
        return {"rng": rng_state(self.ppo_device)}

    def train_epoch(self):
        """rl_games' epoch (PPO), then the normalisers pooled over ranks."""
        out = super().train_epoch()  # type: ignore[misc]
        self.sync_normalizers()
        self.finish_epoch()
        return out

    def get_full_state_weights(self) -> dict[str, Any]:
        """rl_games' state (and the mixins' after this one), plus ``ranks``: every rank's :meth:`rank_state` of
        the last epoch, rank order (several ranks only)."""
        state = super().get_full_state_weights()  # type: ignore[misc]
        if self._rank_states is not None:
            state["ranks"] = self._rank_states
        return state

    def set_full_state_weights(self, weights: dict[str, Any], set_epoch: bool = True) -> None:
        """Ranks other than 0 keep their own envs (not rank 0's saved episodes) and take their own saved RNG
        states (:func:`resume_for_rank`)."""
        if self.ranks.rank > 0:
            weights = {**weights, "env_state": None}
            if weights.get("resume"):
                weights["resume"] = resume_for_rank(weights["resume"], weights.get("ranks"), self.ranks.rank)
        super().set_full_state_weights(weights, set_epoch=set_epoch)  # type: ignore[misc]
        if self.ranks.size > 1:
            self._remember_normalizers()
