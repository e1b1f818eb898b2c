"""One typed training config (``train.*``), validated once; the GA schedule and the env layout it implies.

Hydra composes ``cfg/train/<ALGO>.yaml`` (+ ``cfg/task_train/<Task>.yaml``) over the defaults of
:class:`TrainConfig` (registered as ``train/schema`` by :func:`epo_isaac.cli.run_config.register_defaults`) into
``cfg.train``; :func:`parse_train_config` validates it (pydantic, :mod:`epo_isaac.cli.validate`), and
:func:`epo_isaac.host.params.rl_games_params` turns it into the dict rl_games' ``Runner`` expects. The constraints
that need the task's ``num_envs`` are all in :func:`check_layout`. Derived values (num_actors, minibatch_size from
``minibatch_envs``) are computed in code, not by interpolation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from epo_isaac.cli.validate import SETTINGS, validate
from epo_isaac.epo.config import GeneticConfig, NetworkConfig, OffPolicyConfig, PopulationConfig
from epo_isaac.errors import UserError
from epo_isaac.es.config import ESTrainConfig, es_layout

ALGOS: tuple[str, ...] = ("epo", "sapg", "ppo", "es")
PositiveInt = Annotated[int, Field(ge=1)]
NonNegative = Annotated[float, Field(ge=0)]


class PPOConfig(BaseModel):
    """``train.ppo``: the PPO update every algorithm but ES runs (rl_games' ``config`` keys), and the budget."""

    model_config = SETTINGS

    horizon_length: PositiveInt = 32
    """Env steps per env per epoch."""
    minibatch_envs: Annotated[int, Field(ge=0)] = 0
    """If > 0, minibatch_size = minibatch_envs·horizon_length (paper: 4·N with horizon 16); 0: unset."""
    minibatch_size: PositiveInt = 4096
    """Rows per minibatch (capped at num_envs·horizon_length) when minibatch_envs and num_minibatches are 0."""
    num_minibatches: Annotated[int, Field(ge=0)] = 0
    """If > 0, minibatch_size = num_envs·horizon_length / num_minibatches (overrides the two above); 0: unset."""
    mini_epochs: PositiveInt = 5
    """Passes over the epoch's data per update."""
    learning_rate: Annotated[float, Field(gt=0)] = 3e-4
    """Adam step size (the start value of ``adaptive`` and ``linear``)."""
    lr_schedule: Literal["adaptive", "linear", "constant"] = "adaptive"
    """``adaptive`` (KL-driven), ``linear`` or ``constant``."""
    kl_threshold: Annotated[float, Field(gt=0)] = 0.008
    """Target KL of the ``adaptive`` schedule."""
    gamma: Annotated[float, Field(gt=0, le=1)] = 0.99
    """Discount γ."""
    tau: Annotated[float, Field(ge=0, le=1)] = 0.95
    """GAE λ."""
    value_target: Literal["gae", "nstep"] = "gae"
    """``gae`` or ``nstep`` (the paper's n-step return); EPO/SAPG only."""
    nstep: PositiveInt = 3
    """n of the ``nstep`` value target."""
    e_clip: Annotated[float, Field(gt=0)] = 0.2
    """PPO clip ε of the policy ratio (and of the value change with clip_value)."""
    clip_value: bool = True
    """Clip the value update to ±e_clip around the old value."""
    critic_coef: NonNegative = 4.0
    """Weight of the value loss."""
    entropy_coef: NonNegative = 0.0
    """Entropy bonus for PPO; EPO/SAPG use the per-agent schedule (``entropy_scale``)."""
    entropy_scale: NonNegative = 0.0
    """Per-agent entropy: c_0 = 0, c_b = scale·0.5·b/(M−1) (spec §2). A follower's bonus trains only its own
    log-std (never the shared σ the master acts with), so it needs network.log_std per_agent or
    shared_plus_offset."""
    grad_norm: Annotated[float, Field(gt=0)] = 1.0
    """Gradients are clipped to this global norm."""
    bounds_loss_coef: NonNegative = 1e-4
    """Weight of the penalty on action means outside [−1.1, 1.1]."""
    normalize_input: bool = True
    """Running mean/std normalisation of the observations."""
    normalize_value: bool = True
    """Running mean/std normalisation of the value targets."""
    normalize_advantage: bool = True
    """Advantages normalised per minibatch."""
    reward_scale: Annotated[float, Field(gt=0)] = 1.0
    """Rewards are multiplied by this before learning (the logged returns are not)."""
    seq_length: PositiveInt = 16
    """BPTT length for the LSTM; horizon_length must be a multiple of it when network.lstm_units > 0."""
    mixed_precision: bool = False
    """float16 autocast + GradScaler for the update on CUDA (ignored on the CPU)."""
    max_epochs: Annotated[int, Field(ge=-1)] = 200
    """Epochs in the run (the top-level ``max_epochs=`` sets it too); -1: no limit."""
    max_frames: Annotated[int, Field(ge=-1)] = -1
    """Stop after this many env steps; -1: no limit."""
    save_frequency: Annotated[int, Field(ge=0)] = 10
    """Epochs between checkpoints (0: only at the end)."""
    save_best_after: Annotated[int, Field(ge=0)] = 10
    """No best-return checkpoint (``nn/<task>.pth``) before this epoch."""
    score_to_win: float = 1e12
    """Stop when the mean return reaches this value."""


class TrainConfig(BaseModel):
    """``train``: the algorithm and all its settings (``cfg/train/<ALGO>.yaml`` holds what differs from these)."""

    model_config = SETTINGS

    algo: Literal[ALGOS] = "epo"  # type: ignore[valid-type]
    """``epo``, ``sapg`` (our agent, GA off), ``ppo`` (stock rl_games continuous A2C) or ``es`` (OpenAI-ES, which
    reads only ``es`` and ``video_interval``)."""
    population: PopulationConfig = PopulationConfig()
    """The agents (EPO/SAPG)."""
    off_policy: OffPolicyConfig = OffPolicyConfig()
    """The master's learning from follower data (EPO/SAPG)."""
    ga: GeneticConfig = GeneticConfig()
    """The genetic algorithm on the latents (EPO)."""
    network: NetworkConfig = NetworkConfig()
    """The actor-critic (EPO/SAPG/PPO)."""
    ppo: PPOConfig = PPOConfig()
    """The PPO update and the budget (EPO/SAPG/PPO)."""
    es: ESTrainConfig = ESTrainConfig()
    """OpenAI-ES (train=ES)."""
    video_interval: Annotated[int, Field(ge=0)] = 0
    """Epochs (ES: iterations) between videos of the master policy (ES: the unperturbed policy θ); 0: none;
    tasks with a renderer only."""


def parse_train_config(cfg: Mapping[str, Any]) -> TrainConfig:
    """Validate ``cfg`` (the composed ``train`` node, a ``DictConfig`` or a plain mapping) against
    :class:`TrainConfig`.

    Raises:
        UserError: one line: an unknown or misspelled key (with the closest valid one), a wrong type, an
            invalid choice or an out-of-range value, naming its ``train.`` key.
    """
    from omegaconf import DictConfig, OmegaConf

    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    return validate(TrainConfig, cfg, prefix="train.")


def budget_frames(num_envs: int, tc: TrainConfig) -> int | None:
    """Env steps the run will make: the smaller of max_epochs·num_envs·horizon_length and max_frames (those
    that are > 0); None when neither limits the run."""
    limits = [tc.ppo.max_epochs * num_envs * tc.ppo.horizon_length] if tc.ppo.max_epochs > 0 else []
    if tc.ppo.max_frames > 0:
        limits.append(tc.ppo.max_frames)
    return min(limits) if limits else None


def checks_within(frames: int, warmup: int, interval: int) -> int:
    """Number of GA checks at ``warmup + k·interval`` env steps (k = 0, 1, ...) that fall within ``frames``."""
    return 0 if warmup > frames else (frames - warmup) // max(interval, 1) + 1


def ga_schedule(num_envs: int, tc: TrainConfig) -> tuple[int, int, int | None]:
    """(warmup_frames, interval_frames, checks) of the GA, resolving the automatic values (spec §4.2).

    interval_frames = 0 → budget // (num_checks + 2); warmup_frames = -1 → 2·interval. Checks fall at
    warmup + k·interval ≤ budget; ``checks`` counts them (None without a budget).

    Raises:
        UserError: an automatic value without a budget, or a schedule with no check inside the budget.
    """
    ga, budget = tc.ga, budget_frames(num_envs, tc)
    interval, warmup = ga.interval_frames, ga.warmup_frames
    if budget is None:
        if interval == 0:
            raise UserError("train.ga.interval_frames=0 (automatic) needs a budget: set train.ppo.max_epochs "
                            "or train.ppo.max_frames > 0, or give train.ga.interval_frames explicitly")
        return (2 * interval if warmup == -1 else warmup), interval, None
    if interval == 0:
        interval = max(1, budget // (ga.num_checks + 2))
    if warmup == -1:
        warmup = 2 * interval
    checks = checks_within(budget, warmup, interval)
    if checks < 1:
        raise UserError(
            f"the GA schedule (warmup {warmup:,} + every {interval:,} env steps) leaves no generation within the "
            f"budget of {budget:,} env steps: lower train.ga.warmup_frames / train.ga.interval_frames (0 and -1 "
            "derive them from the budget) or raise max_epochs / train.ppo.max_frames")
    return warmup, interval, checks


def check_layout(num_envs: int, tc: TrainConfig, world_size: int = 1) -> None:
    """Every constraint between ``train.*`` and the task's ``num_envs`` (per rank, ``world_size`` ranks), and
    between ``train.*`` groups: the population divides the envs into blocks, the minibatch divides
    num_envs·horizon_length, the horizon is a multiple of the LSTM's sequence length, the GA schedule leaves a
    generation in the budget, an entropy bonus has a per-agent log-std to train (not ``network.log_std=shared``);
    ``train=ES``: :func:`~epo_isaac.es.config.es_layout`.

    Raises:
        UserError: the first constraint broken, naming its keys and a value that works.
    """
    if tc.algo == "es":
        es_layout(num_envs, tc.es, world_size)
        return
    m = tc.population.size if tc.algo != "ppo" else 1
    if num_envs % m:
        raise UserError(
            f"train.population.size={m} does not divide task.num_envs={num_envs}; "
            f"pick num_envs as a multiple of {m} (e.g. {m * max(1, round(num_envs / m))})"
        )
    if tc.algo != "ppo" and tc.network.log_std == "shared" and tc.ppo.entropy_scale > 0:
        raise UserError(
            f"train.ppo.entropy_scale={tc.ppo.entropy_scale} has no effect with train.network.log_std=shared: a "
            "follower's entropy bonus trains only its own log-std, never the master's; use "
            "train.network.log_std=shared_plus_offset or per_agent, or train.ppo.entropy_scale=0"
        )
    batch = num_envs * tc.ppo.horizon_length
    mb = minibatch_size(num_envs, tc)
    if batch % mb:
        raise UserError(
            f"minibatch_size={mb} does not divide the batch num_envs·horizon_length={batch}; "
            "set train.ppo.minibatch_size (or train.ppo.minibatch_envs) to a divisor"
        )
    if tc.network.lstm_units and tc.ppo.horizon_length % tc.ppo.seq_length:
        raise UserError("train.ppo.horizon_length must be a multiple of train.ppo.seq_length")
    if tc.algo == "epo" and tc.ga.enabled:  # frames count every rank's env steps
        ga_schedule(num_envs * world_size, tc)


def minibatch_size(num_envs: int, tc: TrainConfig) -> int:
    """Rows per minibatch: from ``num_minibatches``, else ``minibatch_envs·horizon_length``, else
    ``minibatch_size`` (capped at the batch)."""
    if tc.ppo.num_minibatches > 0:
        return max(1, num_envs * tc.ppo.horizon_length // tc.ppo.num_minibatches)
    if tc.ppo.minibatch_envs > 0:
        return tc.ppo.minibatch_envs * tc.ppo.horizon_length
    return min(tc.ppo.minibatch_size, num_envs * tc.ppo.horizon_length)
