"""Unit tests of epo_isaac.epo.genetic (spec §4, §6) and of applying a generation to live parameters."""

from __future__ import annotations

import math

import pytest
import torch

from epo_isaac.epo.gate import ratio_gate
from epo_isaac.epo.genetic import (
    GATE_CLOSED,
    MISSING_FITNESS,
    NOT_APPLICABLE,
    GeneticConfig,
    latent_diversity,
    plan_generation,
)
from epo_isaac.epo.population import apply_generation

NAN = float("nan")


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _setup(num_agents: int = 9, dim: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    latents = torch.randn(num_agents, dim, generator=_gen(seed))
    # followers 1..8 get a shuffled fitness; master (0) has the best fitness of all, and must still be ignored
    fitness = torch.tensor([100.0, 3.0, 8.0, 1.0, 6.0, 2.0, 7.0, 5.0, 4.0])[:num_agents]
    return latents, fitness


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="'paper' or 'official'"):
        GeneticConfig(mode="pbt")
    with pytest.raises(ValueError, match="elite_frac"):
        GeneticConfig(elite_frac=0.0)
    with pytest.raises(ValueError, match="'kruskal', 'effect_size', 'ratio' or 'off'"):
        GeneticConfig(gate="tukey")
    for tau in (0.0, 1.0, -0.2, 2.0):
        with pytest.raises(ValueError, match="gate_effect_size"):
            GeneticConfig(gate_effect_size=tau)
    with pytest.raises(ValueError, match="gate_pvalue"):
        GeneticConfig(gate_pvalue=1.0)
    with pytest.raises(ValueError, match="frac_replaced"):
        GeneticConfig(frac_replaced=0.0)
    with pytest.raises(ValueError, match="frac_replaced"):
        GeneticConfig(frac_replaced=1.5)
    with pytest.raises(ValueError, match="mutation_std"):
        GeneticConfig(mutation_std=-0.1)
    with pytest.raises(ValueError, match="gate_ratio"):
        GeneticConfig(gate_ratio=-1.0)


def test_paper_generation_keeps_size_master_elites_and_inputs() -> None:
    latents, fitness = _setup()
    latents_before, fitness_before = latents.clone(), fitness.clone()
    cfg = GeneticConfig(gate="off", elite_frac=0.25, frac_replaced=0.25)
    plan = plan_generation(latents, fitness, cfg, _gen())
    assert plan.ran, plan.reason
    # ceil(0.25 * 8) = 2 worst followers: agent 3 (F=1) and agent 5 (F=2)
    assert sorted(plan.replaced.tolist()) == [3, 5]
    assert plan.children.shape == (2, 4) and plan.parents.shape == (2, 2)
    assert plan.replaced.dtype == torch.long and plan.parents.dtype == torch.long
    elites = {2, 6}  # F = 8, 7
    assert set(plan.parents[:, 0].tolist()) <= elites
    assert not elites & set(plan.replaced.tolist())
    assert 0 not in plan.replaced.tolist() and 0 not in plan.parents.flatten().tolist()
    assert not set(plan.parents[:, 1].tolist()) & set(plan.replaced.tolist())  # parent b from survivors
    torch.testing.assert_close(latents, latents_before)
    torch.testing.assert_close(fitness, fitness_before)


def test_master_never_replaced_even_when_worst() -> None:
    latents, fitness = _setup()
    fitness[0] = -1e9
    plan = plan_generation(latents, fitness, GeneticConfig(gate="off"), _gen())
    assert plan.ran and 0 not in plan.replaced.tolist() and 0 not in plan.parents.flatten().tolist()


def test_children_are_parent_midpoints_without_mutation() -> None:
    latents, fitness = _setup(dim=6)
    cfg = GeneticConfig(gate="off", mutation_std=0.0, frac_replaced=0.5)
    plan = plan_generation(latents, fitness, cfg, _gen())
    a, b = plan.parents[:, 0], plan.parents[:, 1]
    torch.testing.assert_close(plan.children, 0.5 * (latents[a] + latents[b]))


def test_mutation_spread_matches_std() -> None:
    latents, fitness = _setup(dim=64)
    cfg = GeneticConfig(gate="off", mutation_std=0.3)
    gen = _gen(5)
    noise = []
    for _ in range(100):
        plan = plan_generation(latents, fitness, cfg, gen)
        noise.append(plan.children - 0.5 * (latents[plan.parents[:, 0]] + latents[plan.parents[:, 1]]))
    noise = torch.cat(noise)  # 100 * 2 * 64 = 12800 draws
    assert abs(noise.std().item() - 0.3) < 0.01
    assert abs(noise.mean().item()) < 0.01


def test_parent_b_probability_follows_shifted_fitness() -> None:
    latents = torch.zeros(5, 2)
    fitness = torch.tensor([NAN, 4.0, 3.0, 2.0, 1.0])  # master has none: fine in paper mode
    cfg = GeneticConfig(gate="off", frac_replaced=0.25)  # R = 1: agent 4 replaced
    gen = _gen(7)
    picks = torch.stack([plan_generation(latents, fitness, cfg, gen).parents[0, 1] for _ in range(3000)])
    freq = torch.bincount(picks, minlength=5).double() / picks.numel()
    # survivors 1,2,3 with weights F - min + eps = 2, 1, ~0
    assert abs(freq[1].item() - 2 / 3) < 0.03 and abs(freq[2].item() - 1 / 3) < 0.03
    assert freq[3].item() < 0.001 and freq[4].item() == 0


def test_gate_statistic_and_threshold() -> None:
    fit = torch.tensor([1.0, 2.0, 3.0, 4.0])  # spread 3, median 2.5 -> statistic 1.2
    result = ratio_gate(fit, 1.0)
    assert result.open and math.isclose(result.statistic, 1.2)
    assert not ratio_gate(fit, 1.5).open
    assert ratio_gate(torch.tensor([5.0, 5.0]), 0.0).open  # ratio 0 disables the gate
    with pytest.raises(ValueError, match="finite"):
        ratio_gate(torch.tensor([1.0, NAN]), 1.0)


def test_gate_closes_and_opens_generation() -> None:
    latents = torch.randn(5, 3, generator=_gen())
    close = torch.tensor([0.0, 10.0, 10.1, 9.9, 10.2])
    plan = plan_generation(latents, close, GeneticConfig(gate="ratio", gate_ratio=1.5), _gen())
    assert not plan.ran and plan.status == GATE_CLOSED and plan.gate_open is False and plan.replaced.numel() == 0
    assert plan.children.shape == (0, 3) and math.isfinite(plan.gate_statistic)
    assert plan_generation(latents, close, GeneticConfig(gate="off"), _gen()).ran
    spread = torch.tensor([0.0, 1.0, 2.0, 3.0, 10.0])  # 9 > 1.5 * 2.5
    assert plan_generation(latents, spread, GeneticConfig(gate="ratio", gate_ratio=1.5), _gen()).ran


def test_latched_gate_runs_while_the_test_is_closed() -> None:
    latents = torch.randn(5, 3, generator=_gen())
    close = torch.tensor([0.0, 10.0, 10.1, 9.9, 10.2])
    latch = GeneticConfig(gate="ratio", gate_ratio=1.5)  # gate_latch defaults to True
    assert not plan_generation(latents, close, latch, _gen()).ran  # never opened: the gate decides
    plan = plan_generation(latents, close, latch, _gen(), gate_latched=True)
    assert plan.ran and plan.gate_open is False and "latched" in plan.reason  # the test's answer is still kept
    strict = GeneticConfig(gate="ratio", gate_ratio=1.5, gate_latch=False)
    assert plan_generation(latents, close, strict, _gen(), gate_latched=True).status == GATE_CLOSED
    missing = torch.tensor([0.0, 10.0, NAN, 9.9, 10.2])  # a latch never runs without every follower's fitness
    assert plan_generation(latents, missing, latch, _gen(), gate_latched=True).status == MISSING_FITNESS


def test_effect_size_gate_never_latches() -> None:
    """``effect_size`` is asked afresh at every check, whatever ``gate_latch`` says; ``kruskal`` still latches."""
    latents, fitness = _setup(num_agents=5)
    g = torch.Generator().manual_seed(4)
    same = [torch.randn(6, generator=g, dtype=torch.float64) for _ in range(5)]  # no difference between blocks
    effect = GeneticConfig(gate="effect_size", gate_effect_size=0.9)  # gate_latch defaults to True
    plan = plan_generation(latents, fitness, effect, _gen(), same, gate_latched=True)
    assert plan.status == GATE_CLOSED and plan.gate_open is False and plan.reason.startswith("gate closed: ε² = ")
    assert "needs >= 0.9" in plan.reason
    kruskal = GeneticConfig(gate="kruskal", gate_pvalue=1e-6)
    assert plan_generation(latents, fitness, kruskal, _gen(), same, gate_latched=True).ran
    split = [torch.full((6,), 10.0 * b, dtype=torch.float64) + same[b] for b in range(5)]  # blocks far apart
    opened = plan_generation(latents, fitness, effect, _gen(), split)
    assert opened.ran and opened.gate_open and opened.gate_statistic > 0.9
    with pytest.raises(ValueError, match="'effect_size' needs the"):
        plan_generation(latents, fitness, effect, _gen())


def test_deterministic_under_seed() -> None:
    latents, fitness = _setup()
    cfg = GeneticConfig(gate="off", elite_frac=0.375, frac_replaced=0.5)
    p1 = plan_generation(latents, fitness, cfg, _gen(11))
    p2 = plan_generation(latents, fitness, cfg, _gen(11))
    p3 = plan_generation(latents, fitness, cfg, _gen(12))
    assert torch.equal(p1.replaced, p2.replaced) and torch.equal(p1.parents, p2.parents)
    assert torch.equal(p1.children, p2.children)
    assert not torch.equal(p1.children, p3.children)


def test_skip_when_a_follower_has_no_fitness() -> None:
    latents, fitness = _setup()
    fitness[4] = NAN
    plan = plan_generation(latents, fitness, GeneticConfig(gate="off"), _gen())
    assert not plan.ran and "[4]" in plan.reason


@pytest.mark.parametrize("num_agents", [1, 2])
@pytest.mark.parametrize("mode", ["paper", "official"])
def test_tiny_populations_skip(num_agents: int, mode: str) -> None:
    latents = torch.randn(num_agents, 3, generator=_gen())
    fitness = torch.arange(num_agents, dtype=torch.float32)
    plan = plan_generation(latents, fitness, GeneticConfig(mode=mode, gate="off"), _gen())
    assert not plan.ran and plan.reason


def test_skip_when_elites_cover_all_followers() -> None:
    latents, fitness = _setup(num_agents=4)
    plan = plan_generation(latents, fitness, GeneticConfig(gate="off", elite_frac=0.9), _gen())
    assert not plan.ran and plan.status == NOT_APPLICABLE and "elite_frac" in plan.reason


def test_official_mode_averages_top2_into_worst_including_master() -> None:
    latents = torch.randn(5, 3, generator=_gen())
    cfg = GeneticConfig(mode="official", gate_ratio=1e6, mutation_std=1.0)  # gate and mutation ignored
    plan = plan_generation(latents, torch.tensor([5.0, 1.0, 4.0, 2.0, 3.0]), cfg, _gen())
    assert plan.ran and plan.replaced.tolist() == [1] and plan.parents.tolist() == [[0, 2]]
    torch.testing.assert_close(plan.children, 0.5 * (latents[0] + latents[2]).unsqueeze(0))
    plan = plan_generation(latents, torch.tensor([0.0, 1.0, 4.0, 2.0, 3.0]), cfg, _gen())
    assert plan.replaced.tolist() == [0] and plan.parents.tolist() == [[2, 4]]  # master not protected
    # a master without a finished episode sits this generation out instead of blocking it
    plan = plan_generation(latents, torch.tensor([NAN, 1.0, 4.0, 2.0, 3.0]), cfg, _gen())
    assert plan.ran and plan.replaced.tolist() == [1] and plan.parents.tolist() == [[2, 4]]
    plan = plan_generation(latents, torch.tensor([5.0, 1.0, NAN, 2.0, 3.0]), cfg, _gen())
    assert plan.status == MISSING_FITNESS and "[2]" in plan.reason


def test_latent_diversity() -> None:
    latents = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])  # distances 5, 4, 3
    assert math.isclose(latent_diversity(latents), 4.0)
    assert latent_diversity(torch.zeros(1, 3)) == 0.0


def test_apply_generation_keeps_optimizer_tensors() -> None:
    num_agents, dim, act = 9, 4, 2
    latents = torch.nn.Parameter(torch.randn(num_agents, dim, generator=_gen(1)))
    log_std = torch.nn.Parameter(torch.randn(num_agents, act, generator=_gen(2)))
    optimizer = torch.optim.Adam([latents, log_std], lr=1e-2)
    ((latents**2).sum() + (log_std**3).sum()).backward()
    optimizer.step()
    ptr = latents.data_ptr()
    before_lat, before_std = latents.detach().clone(), log_std.detach().clone()
    moments = {k: optimizer.state[p][k].clone() for p in (latents,) for k in ("exp_avg", "exp_avg_sq")}
    std_moments = {k: optimizer.state[log_std][k].clone() for k in ("exp_avg", "exp_avg_sq")}
    step = optimizer.state[latents]["step"].clone()

    _, fitness = _setup()
    plan = plan_generation(latents, fitness, GeneticConfig(gate="off", frac_replaced=0.25), _gen(3))
    assert plan.ran
    apply_generation(latents, log_std, optimizer, plan)

    assert optimizer.param_groups[0]["params"][0] is latents
    assert optimizer.param_groups[0]["params"][1] is log_std
    assert latents.data_ptr() == ptr and latents.requires_grad
    rows = plan.replaced
    keep = torch.ones(num_agents, dtype=torch.bool)
    keep[rows] = False
    torch.testing.assert_close(latents[rows].detach(), plan.children)
    torch.testing.assert_close(latents[keep].detach(), before_lat[keep])
    torch.testing.assert_close(log_std[rows].detach(), before_std[plan.parents[:, 0]])
    torch.testing.assert_close(log_std[keep].detach(), before_std[keep])
    parent_a = plan.parents[:, 0]
    for key in ("exp_avg", "exp_avg_sq"):  # children continue with parent a's moments (issue 9 item 6)
        torch.testing.assert_close(optimizer.state[latents][key][rows], moments[key][parent_a])
        torch.testing.assert_close(optimizer.state[log_std][key][rows], std_moments[key][parent_a])
        torch.testing.assert_close(optimizer.state[latents][key][keep], moments[key][keep])
        torch.testing.assert_close(optimizer.state[log_std][key][keep], std_moments[key][keep])
    assert torch.equal(optimizer.state[latents]["step"], step)

    # the latents still train: another step moves the replaced rows
    after_apply = latents.detach().clone()
    optimizer.zero_grad()
    (latents**2).sum().backward()
    optimizer.step()
    assert not torch.allclose(latents[rows].detach(), after_apply[rows])


def _diversity_after(cfg: GeneticConfig, num_agents: int, generations: int, seed: int) -> float:
    """Ratio final / initial latent diversity after ``generations`` steps on noisy random fitness."""
    gen = _gen(seed)
    latents = torch.randn(num_agents, 32, generator=gen)
    initial = latent_diversity(latents)
    for _ in range(generations):
        plan = plan_generation(latents, torch.randn(num_agents, generator=gen), cfg, gen)
        assert plan.ran
        latents[plan.replaced] = plan.children
    return latent_diversity(latents) / initial


@pytest.mark.parametrize("num_agents", [64, 8])
def test_default_ga_keeps_diversity_over_50_generations(num_agents: int) -> None:
    cfg = GeneticConfig(gate="off")  # the defaults otherwise; random fitness, so the gate is moot
    ratios = [_diversity_after(cfg, num_agents, 50, seed) for seed in range(3)]
    assert min(ratios) >= 0.5, ratios
    assert max(ratios) <= 2.0, ratios  # and does not blow up either


def test_old_defaults_collapse_the_population() -> None:
    # one elite as parent a, σ 0.1: the settings that collapsed diversity 7.5 -> 2.2 (issue 9)
    cfg = GeneticConfig(gate="off", elite_frac=0.01, frac_replaced=0.25, mutation_std=0.1)
    assert _diversity_after(cfg, 64, 50, seed=0) < 0.5


def test_a_skipped_plan_is_empty_and_typed() -> None:
    """Every skip (missing fitness, gate closed, too few agents) returns empty tensors of the right shape and
    dtype on the latents' device, so applying it is a no-op."""
    latents, fitness = _setup(dim=5)
    missing = fitness.clone()
    missing[2] = NAN
    skips = [plan_generation(latents, missing, GeneticConfig(), _gen()),
             plan_generation(latents, fitness, GeneticConfig(gate="ratio", gate_ratio=1e9), _gen()),
             plan_generation(latents[:2], fitness[:2], GeneticConfig(), _gen())]
    assert [p.status for p in skips] == [MISSING_FITNESS, GATE_CLOSED, NOT_APPLICABLE]
    for plan in skips:
        assert not plan.ran
        assert plan.replaced.shape == (0,) and plan.replaced.dtype == torch.long
        assert plan.parents.shape == (0, 2) and plan.parents.dtype == torch.long
        assert plan.children.shape == (0, 5) and plan.children.dtype == latents.dtype
        assert plan.elites.shape == (0,) and plan.elites.dtype == torch.long
    assert skips[1].gate_open is False and skips[0].gate_open is None and math.isnan(skips[0].gate_statistic)


def test_elites_are_the_best_followers_and_each_child_has_its_own_noise() -> None:
    latents, fitness = _setup(dim=8)
    cfg = GeneticConfig(elite_frac=0.25, frac_replaced=0.25, mutation_std=0.5)  # 2 elites, 2 rows replaced
    plan = plan_generation(latents, fitness, cfg, _gen(3))
    assert plan.elites.tolist() == [2, 6]  # F = 8, 7, best first; the master (F = 100) never
    noise = plan.children - 0.5 * (latents[plan.parents[:, 0]] + latents[plan.parents[:, 1]])
    assert not torch.allclose(noise[0], noise[1]), "one noise row shared by all children"


def test_smallest_populations_that_run() -> None:
    """M = 3 in the paper mode (2 followers: 1 elite, 1 row replaced) and 3 agents with a fitness in the
    official mode."""
    latents = torch.randn(3, 2, generator=_gen())
    plan = plan_generation(latents, torch.tensor([NAN, 1.0, 2.0]), GeneticConfig(mutation_std=0.0), _gen())
    assert plan.ran and plan.replaced.tolist() == [1] and plan.elites.tolist() == [2]
    assert plan.parents.tolist() == [[2, 2]]  # parent b from the survivors: the elite alone
    torch.testing.assert_close(plan.children, latents[2:3])
    official = plan_generation(latents, torch.tensor([3.0, 1.0, 2.0]), GeneticConfig(mode="official"), _gen())
    assert official.ran and official.replaced.tolist() == [1] and official.parents.tolist() == [[0, 2]]
