"""EPO, SAPG and PPO on two gloo ranks under ``torchrun`` (CPU), and the pure pieces of the rank sync."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import ROOT, compose_cfg

import train
from bench.launch import launch, rl_games_agent
from epo_isaac.errors import UserError
from epo_isaac.host.multirank import restored_fitness, resume_for_rank
from epo_isaac.host.ranks import Ranks, pool_running_moments


def _moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return x.mean(0), x.var(0, unbiased=False), torch.tensor(float(x.shape[0]), dtype=x.dtype)


def test_pooled_running_moments_are_those_of_the_prior_and_every_ranks_rows() -> None:
    """Every rank starts the epoch from the same pooled state (the prior) and adds its own, unequal, rows: the
    pool holds the prior once and every rank's rows once (Chan et al.), with their total count."""
    g = torch.Generator().manual_seed(0)
    prior = torch.randn(40, 3, generator=g, dtype=torch.float64) * 2.0 + 5.0
    rows = [torch.randn(n, 3, generator=g, dtype=torch.float64) * s + m for n, s, m in ((50, 1.0, 0.0),
                                                                                       (20, 3.0, 1.0),
                                                                                       (70, 0.5, -3.0))]
    per_rank = [_moments(torch.cat([prior, r])) for r in rows]
    mean, var, count = pool_running_moments(*_moments(prior), *(torch.stack(m) for m in zip(*per_rank, strict=True)))
    union = torch.cat([prior, *rows])
    torch.testing.assert_close(mean, union.mean(0))
    torch.testing.assert_close(var, union.var(0, unbiased=False))
    assert count.item() == 40 + 50 + 20 + 70
    # an empty prior: the union of disjoint samples (Chan, Golub and LeVeque's parallel combination)
    empty = (torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64),
             torch.tensor(0.0, dtype=torch.float64))
    alone = (torch.stack(m) for m in zip(*map(_moments, rows), strict=True))
    mean, var, count = pool_running_moments(*empty, *alone)
    torch.testing.assert_close(var, torch.cat(rows).var(0, unbiased=False))
    assert count.item() == 140


class _TwoRanks(Ranks):
    """Rank 0 of 2 in one process: the other rank's tensor in a sum is ``other``."""

    def __init__(self, other: float) -> None:
        super().__init__(rank=0, size=2)
        self.other = other

    def all_reduce(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.other


def test_epo_adaptive_lr_uses_the_kl_averaged_over_ranks(tmp_path: Path) -> None:
    """As rl_games' own agents under multi_gpu: each mini-epoch's KL is averaged over ranks (all-reduce) before
    the adaptive schedule sees it, so rank 0's broadcast learning rate is every rank's decision."""
    from rl_games.algos_torch import torch_ext

    cfg = compose_cfg(["task=Pendulum", "task.num_envs=8", "train.ppo.horizon_length=16",
                       "train.ppo.minibatch_size=64", "train.ppo.mini_epochs=2", "train.population.size=4", "seed=3"])
    agent, close = rl_games_agent(cfg, train_dir=tmp_path, experiment="kl")
    try:
        agent.init_tensors()
        agent.obs = agent.env_reset()
        data = agent.build_dataset(agent.collect_rollout()[0])
        own: list[list[torch.Tensor]] = [[]]
        seen: list[float] = []
        minibatch_loss, update = agent.minibatch_loss, agent.scheduler.update

        def spy_loss(mb):
            loss, info = minibatch_loss(mb)
            own[-1].append(info["kl"].detach().clone())
            return loss, info

        def spy_update(lr, entropy_coef, epoch, frames, kl, **kwargs):
            seen.append(kl)
            own.append([])
            return update(lr, entropy_coef, epoch, frames, kl, **kwargs)

        agent.minibatch_loss, agent.scheduler.update = spy_loss, spy_update
        agent.ranks = _TwoRanks(other=0.25)
        agent.update(data)
    finally:
        close()
    expected = [(torch_ext.mean_list(kls).item() + 0.25) / 2 for kls in own[:-1]]
    assert len(seen) == 2
    assert seen == pytest.approx(expected, rel=1e-6), "the adaptive lr saw this rank's KL, not the ranks' mean"


def test_each_rank_takes_its_own_saved_rng_and_fitness_window() -> None:
    """A K-rank checkpoint: rank r resumes saved rank r's RNG (CPU and CUDA; the CUDA branch cannot run on this
    CPU machine, so it is checked here as a selection), or keeps its own when the checkpoint has no rank r;
    every saved fitness window is restored exactly once (K ranks → K ranks: its own; → 1 rank: all of them)."""
    resume = {"torch_rng": torch.tensor([0]), "cuda_rng": torch.tensor([10]), "episodes": {"obs": 1}, "last_lr": 1e-3}
    saved = [{"rng": {"torch_rng": torch.tensor([s]), "cuda_rng": torch.tensor([10 + s])},
              "fitness": {"num_envs": 4, "num_agents": 2, "period": 7, "ids": torch.tensor([s, 1]),
                          "values": torch.tensor([float(s), 5.0 + s], dtype=torch.float64),
                          "periods": torch.tensor([6, 7])}} for s in range(2)]
    assert resume_for_rank(resume, saved, 0) is resume
    one = resume_for_rank(resume, saved, 1)
    assert one["torch_rng"].item() == 1 and one["cuda_rng"].item() == 11 and one["episodes"] is None
    assert one["last_lr"] == 1e-3
    beyond = resume_for_rank(resume, saved, 2)  # a third rank: the checkpoint has none, it keeps its own RNG
    assert "torch_rng" not in beyond and "cuda_rng" not in beyond
    assert "torch_rng" not in resume_for_rank(resume, None, 1)  # a 1-rank checkpoint on 2 ranks
    state = saved[0]["fitness"]
    assert torch.equal(restored_fitness(state, saved, 1, 2)["values"], saved[1]["fitness"]["values"])
    merged = restored_fitness(state, saved, 0, 1)
    assert merged["values"].tolist() == [0.0, 5.0, 1.0, 6.0] and merged["ids"].tolist() == [0, 1, 1, 1]
    assert restored_fitness(state, saved, 2, 3)["ids"].numel() == 0
    assert restored_fitness(state, None, 1, 2)["ids"].numel() == 0  # rank 0 alone restores a 1-rank window
    assert torch.equal(restored_fitness(state, None, 0, 2)["values"], state["values"])
    assert restored_fitness(state, None, 1, 2)["period"] == 7


def test_multi_gpu_without_torchrun_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(UserError, match="multi_gpu=true needs a torchrun launch"):
        train.run(compose_cfg(["task=Pendulum", "multi_gpu=true", f"+run_dir={tmp_path / 'x'}"]))
    assert not (tmp_path / "x").exists()


def test_epo_sapg_ppo_on_two_gloo_ranks(tmp_path: Path) -> None:
    """Parameters, latents, log-stds and normalisers bit-identical on both ranks after GA generations; frames
    count both ranks; each rank draws its own action noise and off-policy rows while the GA generator is shared;
    the adaptive learning rate sees the same (rank-averaged) KL on both ranks for EPO, SAPG and PPO; the pooled
    normalisers count every rank's rows; a restore gives each rank its own RNG and fitness window; a 2-rank
    checkpoint resumes on 2 ranks and on 1; SAPG and PPO run 2 epochs on 2 ranks."""
    out = tmp_path / "ranks.json"
    proc = launch([str(ROOT / "tests" / "epo_ranks_worker.py"), str(tmp_path), str(out)], ranks=2,
                  env={"OMP_NUM_THREADS": "1"}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(out.read_text())
    epo = result["epo"]
    assert epo["identical"], "the ranks' models differ"
    assert epo["generation"] >= 1 and epo["frame"] == 4 * 8 * 16 * 2
    assert {"a2c_network.latents", "a2c_network.log_std", "a2c_network.log_std_shared", "running_mean_std.running_mean",
            "value_mean_std.running_var"} <= set(epo["keys"])
    assert epo["noise_differs"], "both ranks drew the same action noise"
    assert epo["sample_generator_differs"], "both ranks drew the same off-policy rows"
    assert epo["ga_generator_shared"], "the ranks' GA generators differ"
    assert result["cli_rank_rngs_differ"], "train.py's ranks saved identical (or no per-rank) RNG states"
    for kls in (epo["kls"], result["SAPG_kls"], result["PPO_kls"]):
        assert len(kls[0]) >= 4 and kls[0] == kls[1], f"the ranks' adaptive-lr KLs differ: {kls}"
    assert epo["normalizer_counts_ok"] == [True] * 4, "a pooled normaliser count is not the sum over ranks"
    assert epo["resumed_own_rng"], "a restored rank did not get its own RNG state"
    assert epo["resumed_own_rows"], "a restored rank did not get its own off-policy row generator"
    assert epo["resumed_own_window"], f"a restored rank did not get its own fitness window: {epo['windows']}"
    assert result["cli_frames"] == 2 * 8 * 16 * 2 and result["resumed_epochs"] == [3]
    assert result["SAPG"] == [256, 512] and result["PPO"] == [256, 512]
    one = train.run(compose_cfg(["task=Pendulum", "task.num_envs=8", "train.ppo.horizon_length=16",
                                 "train.ppo.minibatch_size=64", "train.ppo.mini_epochs=2", "seed=4",
                                 "+task.max_episode_steps=16", "train.population.size=4", "max_epochs=3",
                                 f"checkpoint={result['checkpoint']}", f"+run_dir={tmp_path / 'one'}"]))
    assert [h["epoch"] for h in one["history"]] == [3]
