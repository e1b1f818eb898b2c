"""The latent gene pool as a library API (epo_isaac.epo.gene_pool; spec §4, §6): shapes, bad input, one hand-made
generation, seeds, checkpoints, and that it (and its documented example) runs without rl_games."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from epo_isaac.epo.config import GeneticConfig
from epo_isaac.epo.gene_pool import LatentGenePool

ROOT = Path(__file__).resolve().parents[1]
# followers 1..8 ranked 2 (F=8), 6 (F=7), 7, 4, 8, 1, 5 (F=2), 3 (F=1); the master's 100 must not count
FITNESS = torch.tensor([100.0, 3.0, 8.0, 1.0, 6.0, 2.0, 7.0, 5.0, 4.0])


def test_shapes_and_indexing() -> None:
    pool = LatentGenePool(population_size=9, latent_dim=5, seed=1)
    assert pool.latents.shape == (9, 5) and len(pool) == 9
    assert (pool.population_size, pool.latent_dim) == (9, 5)
    assert pool[3].shape == (5,) and torch.equal(pool[3], pool.latents[3])
    ids = torch.tensor([0, 4, 4])
    assert torch.equal(pool[ids], pool.latents[ids]) and pool[ids].shape == (3, 5)
    assert pool.diversity() > 0


@pytest.mark.parametrize(("build", "message"), [
    (lambda: LatentGenePool(1, 4), r"population_size must be >= 3 .* got population_size=1, latent_dim=4"),
    (lambda: LatentGenePool(2, 4), r"population_size must be >= 3 .* got population_size=2"),
    (lambda: LatentGenePool(5, 0), r"latent_dim >= 1, got population_size=5, latent_dim=0"),
    (lambda: LatentGenePool.from_latents(torch.zeros(8)), r"latents must be a floating-point \[population_size"),
    (lambda: LatentGenePool.from_latents(torch.zeros(0, 3)), r"population_size must be >= 1 and latent_dim >= 1"),
])
def test_bad_pool_raises_one_line(build, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        build()
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("fitness", "message"), [
    (torch.zeros(8), r"fitness must be \[population_size\] = \[9\], got shape \(8,\)"),
    (torch.zeros(9, 1), r"fitness must be \[population_size\] = \[9\], got shape \(9, 1\)"),
    (torch.tensor([0.0, 1, float("nan"), 3, 4, float("inf"), 6, 7, 8]), r"agents \[2, 5\] are NaN/inf"),
])
def test_bad_fitness_raises_one_line_and_changes_nothing(fitness: torch.Tensor, message: str) -> None:
    pool = LatentGenePool(9, 4)
    before = pool.state_dict()
    with pytest.raises(ValueError, match=message) as err:
        pool.genetic_step(fitness)
    assert "\n" not in str(err.value)
    after = pool.state_dict()
    assert torch.equal(after["latents"], before["latents"]) and torch.equal(after["generator"], before["generator"])
    assert pool.generation == 0


def test_kruskal_gate_without_episodes_says_what_to_pass() -> None:
    pool = LatentGenePool(9, 4, GeneticConfig(gate="kruskal"))
    with pytest.raises(ValueError, match="gate 'kruskal' needs"):
        pool.genetic_step(FITNESS)


def test_step_replaces_the_worst_followers_with_children_of_the_fittest() -> None:
    pool = LatentGenePool(9, 4, GeneticConfig(gate="off", elite_frac=0.25, frac_replaced=0.25, mutation_std=0.0))
    before = pool.latents.clone()
    gen = pool.genetic_step(FITNESS)
    assert gen.ran and pool.generation == 1, gen.reason
    assert gen.replaced.tolist() == [5, 3]  # the two worst followers (F = 2, 1); the master (F = 100) is ignored
    assert gen.elites.tolist() == [2, 6]  # the two best followers (F = 8, 7), best first
    assert set(gen.parents[:, 0].tolist()) <= {2, 6}
    assert not set(gen.parents[:, 1].tolist()) & {0, 3, 5}  # parent b: a surviving follower
    for row, (a, b) in zip(gen.replaced.tolist(), gen.parents.tolist(), strict=True):
        assert torch.equal(pool.latents[row], 0.5 * (before[a] + before[b]))  # no mutation: the midpoint
    kept = [r for r in range(9) if r not in (3, 5)]
    assert torch.equal(pool.latents[kept], before[kept])


def test_official_mode_writes_the_top2_mean_into_the_worst_agent() -> None:
    pool = LatentGenePool(5, 3, GeneticConfig(mode="official"))
    before = pool.latents.clone()
    gen = pool.genetic_step(torch.tensor([9.0, 1.0, 4.0, 0.5, 7.0]))
    assert gen.replaced.tolist() == [3] and gen.parents.tolist() == [[0, 4]] and gen.elites.tolist() == [0, 4]
    assert torch.equal(pool.latents[3], 0.5 * (before[0] + before[4]))


def test_missing_fitness_skips_without_a_generation() -> None:
    pool = LatentGenePool(9, 4)
    fitness = FITNESS.clone()
    fitness[4] = float("nan")
    before = pool.latents.clone()
    gen = pool.genetic_step(fitness, allow_missing=True)
    assert gen.status == "missing_fitness" and pool.generation == 0 and torch.equal(pool.latents, before)


def test_same_seed_same_result() -> None:
    def run(seed: int) -> tuple[torch.Tensor, list[list[int]]]:
        pool = LatentGenePool(9, 6, seed=seed)
        parents = []
        for step in range(5):
            parents += pool.genetic_step(FITNESS.roll(step)).parents.tolist()
        return pool.latents, parents

    (lat_a, par_a), (lat_b, par_b), (lat_c, _) = run(3), run(3), run(4)
    assert torch.equal(lat_a, lat_b) and par_a == par_b
    assert not torch.equal(lat_a, lat_c)


def test_state_dict_round_trip_continues_bit_identically() -> None:
    pool = LatentGenePool(9, 4, seed=2)
    pool.genetic_step(FITNESS)
    saved = pool.state_dict()
    first = pool.genetic_step(FITNESS.flip(0))
    restored = LatentGenePool(9, 4, seed=99)
    restored.load_state_dict(saved)
    assert restored.generation == 1
    second = restored.genetic_step(FITNESS.flip(0))
    assert torch.equal(first.children, second.children) and torch.equal(restored.latents, pool.latents)
    with pytest.raises(ValueError, match=r"the saved latents are \(9, 4\), this pool's are \(9, 5\)"):
        LatentGenePool(9, 5).load_state_dict(saved)


def test_from_latents_accepts_tables_too_small_to_evolve() -> None:
    gen = LatentGenePool.from_latents(torch.zeros(2, 3)).genetic_step(torch.zeros(2))
    assert gen.status == "not_applicable" and "M >= 3" in gen.reason


def test_from_latents_writes_into_the_given_parameter() -> None:
    table = torch.nn.Parameter(torch.zeros(4, 2))
    with torch.no_grad():
        table[1:] = torch.tensor([[1.0, 1.0], [3.0, 3.0], [5.0, 5.0]])
    pool = LatentGenePool.from_latents(table, GeneticConfig(gate="off", mutation_std=0.0))
    gen = pool.genetic_step(torch.tensor([0.0, 1.0, 2.0, 3.0]))
    assert pool.latents is table and gen.replaced.tolist() == [1]
    assert torch.equal(table.detach()[1], 0.5 * (table.detach()[3] + table.detach()[int(gen.parents[0, 1])]))


def test_example_runs_and_nothing_imports_rl_games() -> None:
    """``examples/gene_pool.py`` (the docs' example, included verbatim) runs in a fresh process that never imports
    rl_games; ``from epo_isaac import LatentGenePool`` works there."""
    code = ("import runpy, sys; runpy.run_path('examples/gene_pool.py', run_name='__main__'); "
            "from epo_isaac import LatentGenePool; "
            "print('rl_games modules:', sorted(m for m in sys.modules if m.split('.')[0] == 'rl_games'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "generation 1: ran" in out.stdout and "after 200 generations" in out.stdout, out.stdout
    assert "rl_games modules: []" in out.stdout, out.stdout
