"""The latent gene pool: EPO's table of agent latents and its genetic algorithm, as a library API.

A :class:`LatentGenePool` holds the ``[population_size, latent_dim]`` latent table φ (row b = agent b's latent;
row 0 = the master, spec: docs/spec/epo_algorithm.md §1) and runs one generation of the genetic algorithm on it
from a fitness vector (spec §4, or §6 with ``GeneticConfig(mode="official")``). It needs torch, scipy and pydantic
only: importing it does not import rl_games, Hydra or any task. The EPO agent (:mod:`epo_isaac.epo.agent`) drives
the same class on its network's latent table (:meth:`LatentGenePool.from_latents`), so a generation planned here is
the one a training run would make.

Users of lucidrains' ``evolutionary-policy-optimization`` (github lucidrains/evolutionary-policy-optimization,
``README.md`` and ``LatentGenePool`` in ``evolutionary_policy_optimization/epo.py``, read at commit
``fc9aacd77ac899d26c175a79b6916a25e89500b7``) know the same three steps there as ``LatentGenePool(num_latents,
dim_latent)``, ``pool(latent_id=i)`` and ``pool.genetic_algorithm_step(fitness)``. Differences: the names here are
``population_size``, ``latent_dim``, ``pool[i]`` and :meth:`~LatentGenePool.genetic_step`; in the default ``paper``
mode row 0 is the master, which never takes part (its fitness is not read); the step returns what it did.

Example (``examples/gene_pool.py`` runs a longer one)::

    pool = LatentGenePool(population_size=9, latent_dim=32, seed=0)
    phi = pool[3]                                   # [32]: agent 3's latent
    generation = pool.genetic_step(torch.randn(9))  # the worst follower's row now holds a child of the fittest
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from epo_isaac.epo.config import GeneticConfig
from epo_isaac.epo.genetic import Generation, latent_diversity, plan_generation
from epo_isaac.epo.population import apply_generation

MIN_POPULATION = 3
"""The smallest pool a generation can change: the master and two followers (paper mode), or three agents
(official mode: two parents and the row they replace)."""


def _check_sizes(population_size: int, latent_dim: int, smallest: int) -> None:
    if population_size < smallest or latent_dim < 1:
        why = " (the master and two followers)" if smallest == MIN_POPULATION else ""
        raise ValueError(f"population_size must be >= {smallest}{why} and latent_dim >= 1, "
                         f"got population_size={population_size}, latent_dim={latent_dim}")


class LatentGenePool:
    """A table of ``population_size`` latents and the genetic algorithm that evolves it (spec §1, §4, §6).

    Args:
        population_size: M ≥ 3, the number of agents (row 0 = the master, rows 1..M−1 = followers).
        latent_dim: D ≥ 1, the width of each latent.
        config: the GA settings (:class:`~epo_isaac.epo.config.GeneticConfig`: ``mode``, ``gate``, ``elite_frac``,
            ``frac_replaced``, ``mutation_std``, ...). Default ``GeneticConfig()`` (gate ``off``, the
            training default): every :meth:`genetic_step` runs a generation. The schedule fields (``enabled``,
            ``interval_frames``, ``warmup_frames``, ``num_checks``, ``fitness``) belong to the training loop and
            are not read here.
        seed: seeds the ``torch.Generator`` that draws the initial latents N(0, 1) and every later generation's
            random choices: the same seed, config and fitness vectors give the same latents, bit for bit.
        device: where the latent table lives (random numbers are drawn on the CPU, then moved).
        dtype: floating-point dtype of the table.

    Attributes:
        latents: ``[M, D]`` the latent table; generations write into it in place.
        config: the GA settings.
        generator: the CPU ``torch.Generator`` behind every random choice.
        generation: the number of generations that ran (a skipped step does not count).
        gate_latched: whether the gate has opened at an earlier step (``config.gate_latch``, spec §4.2).

    Raises:
        ValueError: ``population_size < 3`` or ``latent_dim < 1``.
    """

    def __init__(self, population_size: int, latent_dim: int, config: GeneticConfig | None = None, seed: int = 0,
                 device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> None:
        _check_sizes(population_size, latent_dim, MIN_POPULATION)
        generator = torch.Generator().manual_seed(seed)
        latents = torch.randn(population_size, latent_dim, generator=generator, dtype=dtype).to(device)
        self._attach(latents, config, generator)

    @classmethod
    def from_latents(cls, latents: Tensor, config: GeneticConfig | None = None,
                     generator: torch.Generator | None = None) -> LatentGenePool:
        """A pool over an existing ``[M, D]`` table, written in place (not copied): e.g. an ``nn.Parameter`` an
        optimiser trains, as the EPO agent's network latents. ``generator`` defaults to a fresh CPU generator with
        seed 0; pass one to own the random stream (the agent passes its ``ga_generator``). Any M ≥ 1 is accepted
        (the agent wraps SAPG's and small populations' tables too); below M = 3 every step is ``not_applicable``.

        Raises:
            ValueError: ``latents`` is not a floating-point ``[M, D]`` tensor with M ≥ 1, D ≥ 1.
        """
        if latents.dim() != 2 or not latents.is_floating_point():
            raise ValueError(f"latents must be a floating-point [population_size, latent_dim] tensor, got "
                             f"{latents.dtype} of shape {tuple(latents.shape)}")
        _check_sizes(latents.shape[0], latents.shape[1], 1)
        pool = cls.__new__(cls)
        pool._attach(latents, config, generator if generator is not None else torch.Generator().manual_seed(0))
        return pool

    def _attach(self, latents: Tensor, config: GeneticConfig | None, generator: torch.Generator) -> None:
        self.latents = latents
        self.config = config if config is not None else GeneticConfig()
        self.generator = generator
        self.generation = 0
        self.gate_latched = False

    @property
    def population_size(self) -> int:
        """M, the number of latents (agents)."""
        return self.latents.shape[0]

    @property
    def latent_dim(self) -> int:
        """D, the width of each latent."""
        return self.latents.shape[1]

    def __len__(self) -> int:
        return self.population_size

    def __getitem__(self, index: Any) -> Tensor:
        """``pool[i]``: ``[D]`` latent of agent i; ``pool[ids]`` with ``ids`` ``[K]`` long: ``[K, D]``."""
        return self.latents[index]

    def diversity(self) -> float:
        """Mean pairwise Euclidean distance between the latents (:func:`~epo_isaac.epo.genetic.latent_diversity`)."""
        return latent_diversity(self.latents)

    def genetic_step(self, fitness: Tensor, episodes: list[Tensor] | None = None, *, allow_missing: bool = False,
                     log_std: Tensor | None = None, optimizer: torch.optim.Optimizer | None = None) -> Generation:
        """One generation: plan it from ``fitness`` and write the children into :attr:`latents` in place.

        Paper mode (spec §4): the master (row 0) never takes part; the top ``elite_frac`` of the followers are the
        elites; the worst ``frac_replaced`` (at least one, never an elite) are replaced by ½(φ_a + φ_b) + N(0,
        ``mutation_std``²) with parent a drawn from the elites and parent b from the survivors with probability ∝
        shifted fitness. Official mode (spec §6): the worst agent's row becomes the mean of the two best rows.
        The plan is :func:`~epo_isaac.epo.genetic.plan_generation`, the write
        :func:`~epo_isaac.epo.population.apply_generation`, exactly as in a training run.

        Args:
            fitness: ``[M]`` per-agent fitness, higher is better (e.g. mean episodic return); index 0 = master,
                not read in paper mode.
            episodes: M one-dimensional tensors of per-episode values, needed by ``gate="kruskal"`` only.
            allow_missing: let NaN mark an agent without a fitness yet (the step is then skipped with status
                ``missing_fitness`` while a follower has none); otherwise every value must be finite.
            log_std: ``[M, A]`` per-agent log-std rows to copy from parent a to each child, or None.
            optimizer: the optimiser that trains :attr:`latents` (and ``log_std``): a child's Adam moments are
                copied from parent a's row. None for a table nothing trains.

        Returns:
            The :class:`~epo_isaac.epo.genetic.Generation`: ``status`` (``ran``, ``gate_closed``,
            ``missing_fitness`` or ``not_applicable``), ``reason``, ``replaced`` ``[R]``, ``parents`` ``[R, 2]``,
            ``children`` ``[R, D]``, ``elites`` ``[E]`` (agent indices, best first) and the gate's statistic.

        Raises:
            ValueError: ``fitness`` is not ``[M]``; a non-finite fitness without ``allow_missing``;
                ``gate="kruskal"`` without ``episodes``.
        """
        fitness = torch.as_tensor(fitness)
        if fitness.shape != (self.population_size,):
            raise ValueError(f"fitness must be [population_size] = [{self.population_size}], "
                             f"got shape {tuple(fitness.shape)}")
        if not allow_missing:
            bad = torch.nonzero(~torch.isfinite(fitness)).flatten().tolist()
            if bad:
                raise ValueError(f"fitness must be finite, agents {bad} are NaN/inf; pass allow_missing=True to "
                                 "mark agents without a fitness yet with NaN")
        gen = plan_generation(self.latents.detach(), fitness, self.config, self.generator, episodes,
                              gate_latched=self.gate_latched)
        self.gate_latched = self.gate_latched or bool(gen.gate_open)
        if gen.ran:
            apply_generation(self.latents, log_std, optimizer, gen)
            self.generation += 1
        return gen

    def state_dict(self) -> dict[str, Any]:
        """Checkpointable state: ``latents`` (a copy), ``generation``, ``gate_latched`` and the generator's state."""
        return {"latents": self.latents.detach().clone(), "generation": self.generation,
                "gate_latched": self.gate_latched, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s dict, writing the latents into :attr:`latents` in place.

        Raises:
            ValueError: the saved table's shape differs from this pool's.
        """
        saved = state["latents"]
        if tuple(saved.shape) != tuple(self.latents.shape):
            raise ValueError(f"the saved latents are {tuple(saved.shape)}, this pool's are "
                             f"{tuple(self.latents.shape)}: build the pool with the saved population_size, latent_dim")
        with torch.no_grad():
            self.latents.copy_(saved.to(device=self.latents.device, dtype=self.latents.dtype))
        self.generation = int(state["generation"])
        self.gate_latched = bool(state["gate_latched"])
        self.generator.set_state(state["generator"].cpu())
