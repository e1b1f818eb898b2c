"""EPO's own settings: ``train.population``, ``train.off_policy``, ``train.ga`` and ``train.network``.

Pydantic models (:data:`~epo_isaac.cli.validate.SETTINGS`): each field's type, range and choices are declared
here once, and its attribute docstring is its documentation. :class:`GeneticConfig` is also what
:func:`epo_isaac.epo.genetic.plan_generation` takes (spec: docs/spec/epo_algorithm.md §4, §6).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from epo_isaac.cli.validate import SETTINGS
from epo_isaac.epo.gate import GATES
from epo_isaac.epo.layers import ACTIVATIONS, LOG_STD_MODES

GA_MODES: tuple[str, ...] = ("paper", "official")
FITNESS: tuple[str, ...] = ("return", "true_objective")

Fraction = Annotated[float, Field(gt=0, le=1)]


class PopulationConfig(BaseModel):
    """``train.population``: the agents (spec §1)."""

    model_config = SETTINGS

    size: Annotated[int, Field(ge=1)] = 8
    """M: number of agents; must divide task.num_envs. Agent 0 is the master."""
    latent_dim: Annotated[int, Field(ge=1)] = 32
    """D: width of each agent's latent φ_b (spec §1)."""


class OffPolicyConfig(BaseModel):
    """``train.off_policy``: the master also learns from the followers' data (SAPG aggregation, spec §3)."""

    model_config = SETTINGS

    enabled: bool = True
    """Train the master on every follower's data too (SAPG aggregation, spec §3)."""
    sampling: Literal["union", "block"] = "union"
    """``union``: |D_master|·ratio transitions uniformly from all followers (paper);
    ``block``: ``ratio`` whole random follower blocks (official code)."""
    ratio: Annotated[float, Field(gt=0)] = 1.0
    """Off-policy data per unit of master data."""
    clip: Literal["plain", "mu_scaled"] = "plain"
    """``plain``: clip(ρ, 1−ε, 1+ε) (official); ``mu_scaled``: clip(ρ, μ(1−ε), μ(1+ε)) (paper)."""
    weight: Annotated[float, Field(ge=0)] = 1.0
    """λ: policy loss = L_on + λ·L_off."""
    critic_weight: Annotated[float, Field(ge=0)] = 1.0
    """λ_V: value loss = L_V,on + λ_V·L_V,off."""


class GeneticConfig(BaseModel):
    """``train.ga``: the genetic algorithm on the latents (spec §4; ``official`` mode: §6), its schedule and gate.

    Raises:
        pydantic.ValidationError (a ``ValueError``): an unknown mode, gate or fitness, or an out-of-range number.
    """

    model_config = SETTINGS

    enabled: bool = True
    """Run the genetic algorithm on the latents (off for SAPG)."""
    mode: Literal[GA_MODES] = "paper"  # type: ignore[valid-type]
    """``paper`` (spec §4: gate, protected master, elites, fitness-proportional crossover, mutation) or
    ``official`` (spec §6: top-2 average into the single worst agent, master included, no gate, no mutation)."""
    fitness: Literal[FITNESS] = "return"  # type: ignore[valid-type]
    """``return``: mean episodic return of the block's episodes finished in the window (the paper, §4.1);
    ``true_objective``: the task's true_objective at episode end (official code, DexPBT; 0 on Allegro-Kuka until
    the first success, so it cannot select early)."""
    interval_frames: Annotated[int, Field(ge=0)] = 0
    """Env steps between GA checks; 0: derived from the run's budget (max_epochs/max_frames) as
    budget / (num_checks + 2), so every run gets ``num_checks`` checks whatever its length."""
    warmup_frames: Annotated[int, Field(ge=-1)] = -1
    """No GA check before this many env steps; -1: two intervals. The fitness window of the first check opens
    one interval before it."""
    num_checks: Annotated[int, Field(ge=1)] = 30
    """Target number of GA checks in the budget when interval_frames = 0 (a closed gate skips a check)."""
    gate: Literal[GATES] = "off"  # type: ignore[valid-type]
    """``off`` (default, as the official EPO code): every check with fitness runs a generation. Why off
    (docs/algorithms.md "The genetic algorithm's choices"): at paper scale the ``kruskal`` gate opens at the first
    check for any difference, however small, and at 4,096 envs (bench.exploration) it did; at 48 envs, under no
    difference, it is a random delay (opened by check 3 / 10 / 30 in 40 / 60 / 74 % of simulated runs); the
    ``effect_size`` gate at τ = 0.3 never opens at paper scale. ``kruskal``: Kruskal-Wallis test across
    follower blocks on per-episode fitness values, open when p < gate_pvalue; ``effect_size``: the same test's
    effect size ε²_H = H/(n − 1), open when ε²_H ≥ gate_effect_size, asked afresh at every check; ``ratio``: paper
    Eq. 3, open when max F − min F > gate_ratio·|median F|. Paper mode only. The two rank gates are unchanged
    by a positive factor on the rewards and by a constant added to every episode's value, not by a constant added
    to every step's reward when episodes differ in length (docs/algorithms.md "The genetic algorithm's
    choices")."""
    gate_pvalue: Annotated[float, Field(gt=0, lt=1)] = 0.2
    """Significance level of the ``kruskal`` gate; the gate opens when p < gate_pvalue. Under no difference at all
    a latched gate at 0.2 has opened by check 10 in about 60 % of runs (docs/algorithms.md "How often the gate
    opens by chance")."""
    gate_effect_size: Annotated[float, Field(gt=0, lt=1)] = 0.3
    """τ of the ``effect_size`` gate: open when ε²_H ≥ τ. ε²_H is about the variance of the blocks' true mean
    returns in units of the within-block variance, plus a chance part of about 1/(episodes per block in the
    window). Why 0.3 (simulated, ``python -m bench.gate_simulation``): with no difference between agents it opens
    in 5 % of runs at M = 8 with 6 episodes per block per window (all at a window's first check: the chance part
    shrinks as a closed gate's window grows) and in none at M = 64 with 384; 0.2 would open in 20 % at M = 8. It
    opens when the blocks' means differ with a s.d. of about 0.65 within-block s.d. or more (ε² ≈ 0.3); it never
    opens for one block among 63 shifted by 0.5 s.d. (ε² ≈ 0.004). With hundreds of episodes per block a much
    smaller τ is safe (0.02: no chance opening at paper scale, open for means differing with s.d. 0.5)."""
    gate_ratio: Annotated[float, Field(ge=0)] = 1.5
    """Threshold of the ``ratio`` gate (paper Eq. 3)."""
    gate_latch: bool = True
    """true: once the gate has opened in a run, every later check with fitness runs a generation (the test is
    still logged), so one chance opening is paid at every later check; false: the gate decides at every check and
    a chance opening costs one generation. ``effect_size`` never latches. Why true: docs/algorithms.md "The
    genetic algorithm's choices"."""
    elite_frac: Annotated[float, Field(gt=0, lt=1)] = 0.25
    """Fraction of the M − 1 followers kept unchanged and used as parent a (at least one)."""
    frac_replaced: Fraction = 0.1
    """Fraction of the followers replaced by children per generation (at least one row)."""
    mutation_std: Annotated[float, Field(ge=0)] = 0.7
    """σ of the Gaussian mutation added to each child latent, in latent units (latents start N(0, 1); 0.7 ≈ 1/√2
    keeps the population's spread: the midpoint of two parents halves the variance, the mutation restores it)."""

    def num_elites(self, num_followers: int) -> int:
        """Elites among ``num_followers``: round(elite_frac·(M − 1)), at least 1."""
        return max(1, round(self.elite_frac * num_followers))

    def num_replaced(self, num_followers: int) -> int:
        """Rows replaced per generation: ceil(frac_replaced·(M − 1)), at least 1, never an elite."""
        wanted = max(1, math.ceil(self.frac_replaced * num_followers - 1e-9))
        return min(wanted, num_followers - self.num_elites(num_followers))


class NetworkConfig(BaseModel):
    """``train.network``: the shared latent-conditioned actor-critic (``train=PPO``: rl_games' actor_critic)."""

    model_config = SETTINGS

    units: list[Annotated[int, Field(ge=1)]] = [256, 128, 64]
    """MLP widths."""
    activation: Literal[tuple(ACTIVATIONS)] = "elu"  # type: ignore[valid-type]
    """Hidden activation of the MLP."""
    lstm_units: Annotated[int, Field(ge=0)] = 0
    """0: MLP only; >0: LSTM of this width before the MLP (paper preset 768)."""
    lstm_layers: Annotated[int, Field(ge=1)] = 1
    """Stacked LSTM layers (lstm_units > 0 only)."""
    lstm_layer_norm: bool = True
    """Layer norm on the LSTM's output (lstm_units > 0 only)."""
    sigma_init: float = 0.0
    """Initial log-std of every agent."""
    log_std: Literal[LOG_STD_MODES] = "shared_plus_offset"  # type: ignore[valid-type]
    """``per_agent`` (each agent's σ row learns from its own block only), ``shared`` (one σ for all agents) or
    ``shared_plus_offset`` (σ_b = σ_shared + δ_b, δ_b initialised to 0; docs/benchmarks.md "Exploration noise
    modes")."""
