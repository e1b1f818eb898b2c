"""EPO's latent gene pool without rl_games: create, read, evolve, checkpoint (docs/algorithms.md, "The latent gene
pool as a library"). Run: python examples/gene_pool.py (epo_isaac installed: pip install -e .)"""

import torch

from epo_isaac import LatentGenePool
from epo_isaac.epo.config import GeneticConfig

pool = LatentGenePool(population_size=9, latent_dim=32, seed=0)  # row 0: the master; rows 1..8: followers
phi = pool[3]  # [32]: agent 3's latent
batch = pool.latents[torch.tensor([0, 3, 5])]  # [3, 32]

# One generation from a hand-made fitness vector (e.g. each agent's mean episodic return; higher is better).
fitness = torch.tensor([0.0, 3.0, 8.0, 1.0, 6.0, 2.0, 7.0, 5.0, 4.0])  # [9]; the master's entry is not read
generation = pool.genetic_step(fitness)
print(f"generation {pool.generation}: {generation.status}, replaced {generation.replaced.tolist()} "
      f"(children of parents {generation.parents.tolist()}), elites {generation.elites.tolist()}")

# Evolution alone on a toy fitness (closeness to a target); GeneticConfig holds the train.ga settings.
pool = LatentGenePool(9, 32, GeneticConfig(gate="off", elite_frac=0.25, frac_replaced=0.25, mutation_std=0.3))
target = torch.ones(32)
start = (pool.latents[1:] - target).norm(dim=1).min().item()
for _ in range(200):
    pool.genetic_step(-(pool.latents - target).norm(dim=1))
best = (pool.latents[1:] - target).norm(dim=1).min().item()
print(f"best follower's distance to the target: {start:.2f} -> {best:.2f} after {pool.generation} generations")

state = pool.state_dict()  # latents, generation count, gate latch, random stream: resume bit-exactly
resumed = LatentGenePool(9, 32)
resumed.load_state_dict(state)
assert torch.equal(resumed.latents, pool.latents)
