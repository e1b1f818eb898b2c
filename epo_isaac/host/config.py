"""One typed training config, parsed once; unknown or misspelled keys are rejected.

Hydra composes ``cfg/train/<ALGO>.yaml`` (+ ``cfg/task_train/<Task>.yaml``) into ``cfg.train``;
:func:`parse_train_config` checks it against these dataclasses (OmegaConf structured merge) and
:func:`rl_games_params` turns it into the dict rl_games' ``Runner`` expects. Derived values
(num_actors, minibatch_size from ``minibatch_envs``) are computed here, not by interpolation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, ValidationError

from epo_isaac.cli.run_config import schema_error
from epo_isaac.epo.gate import GATES
from epo_isaac.epo.genetic import FITNESS, GA_MODES
from epo_isaac.epo.genetic import GeneticConfig as GeneticSettings
from epo_isaac.epo.networks import LOG_STD_MODES
from epo_isaac.errors import UserError
from epo_isaac.es.config import ESTrainConfig, check_es, es_params

ALGOS = ("epo", "sapg", "ppo", "es")


class ConfigError(UserError, ValueError):
    """A configuration a user wrote that cannot run; the message says what to change."""


@dataclass
class PopulationConfig:
    size: int = 8
    """M: number of agents; must divide num_envs. Agent 0 is the master."""
    latent_dim: int = 32
    """D: width of each agent's latent φ_b (spec §1)."""


@dataclass
class OffPolicyConfig:
    enabled: bool = True
    """Train the master on every follower's data too (SAPG aggregation, spec §3)."""
    sampling: str = "union"
    """``union``: |D_master|·ratio transitions uniformly from all followers (paper);
    ``block``: ``ratio`` whole random follower blocks (official code)."""
    ratio: float = 1.0
    """Off-policy data per unit of master data."""
    clip: str = "plain"
    """``plain``: clip(ρ, 1−ε, 1+ε) (official); ``mu_scaled``: clip(ρ, μ(1−ε), μ(1+ε)) (paper)."""
    weight: float = 1.0
    """λ: policy loss = L_on + λ·L_off."""
    critic_weight: float = 1.0
    """λ_V: value loss = L_V,on + λ_V·L_V,off."""


@dataclass
class GeneticConfig:
    enabled: bool = True
    """Run the genetic algorithm on the latents (off for SAPG)."""
    mode: str = "paper"
    """``paper`` (spec §4) or ``official`` (top-2 average into the worst, no mutation, no gate, §6)."""
    fitness: str = "return"
    """``return``: mean episodic return of the block's episodes finished in the window (the paper, §4.1);
    ``true_objective``: the task's true_objective at episode end (official code, DexPBT; 0 on Allegro-Kuka until
    the first success, so it cannot select early)."""
    interval_frames: int = 0
    """Env steps between GA checks; 0: derived from the run's budget (max_epochs/max_frames) as
    budget / (num_checks + 2), so every run gets ``num_checks`` checks whatever its length."""
    warmup_frames: int = -1
    """No GA check before this many env steps; -1: two intervals. The fitness window of the first check opens
    one interval before it."""
    num_checks: int = 30
    """Target number of GA checks in the budget when interval_frames = 0 (a closed gate skips a check)."""
    gate: str = "kruskal"
    """``kruskal``: Kruskal-Wallis test across follower blocks on per-episode fitness values, open when
    p < gate_pvalue (shift- and scale-free); ``ratio``: paper Eq. 3, open when max F − min F >
    gate_ratio·|median F|; ``off``: always open."""
    gate_pvalue: float = 0.2
    """Significance level of the ``kruskal`` gate, in (0, 1)."""
    gate_ratio: float = 1.5
    """Threshold of the ``ratio`` gate, >= 0."""
    gate_latch: bool = True
    """true: once the gate has opened in a run, every later check with fitness runs a generation (the test is
    still logged); false: the gate decides at every check. README "Evolution": why true."""
    elite_frac: float = 0.25
    """Fraction of followers kept unchanged and used as parent a (at least one)."""
    frac_replaced: float = 0.1
    """Fraction of followers replaced by children per generation (at least one)."""
    mutation_std: float = 0.7
    """σ of the Gaussian mutation added to each child latent, in latent units (latents start N(0, 1); 0.7 keeps
    the population's spread: the midpoint of two parents halves the variance, the mutation restores it)."""


@dataclass
class NetworkConfig:
    units: list[int] = field(default_factory=lambda: [256, 128, 64])
    """MLP widths."""
    activation: str = "elu"
    lstm_units: int = 0
    """0: MLP only; >0: LSTM of this width before the MLP (paper preset 768)."""
    lstm_layers: int = 1
    lstm_layer_norm: bool = True
    sigma_init: float = 0.0
    """Initial log-std of every agent."""
    log_std: str = "shared_plus_offset"
    """``per_agent`` (each agent's σ row learns from its own block only), ``shared`` (one σ for all agents) or
    ``shared_plus_offset`` (σ_b = σ_shared + δ_b, δ_b initialised to 0; README "Exploration noise")."""


@dataclass
class PPOConfig:
    horizon_length: int = 32
    """Env steps per env per epoch."""
    minibatch_envs: int = 0
    """If > 0, minibatch_size = minibatch_envs·horizon_length (paper: 4·N with horizon 16)."""
    minibatch_size: int = 4096
    num_minibatches: int = 0
    """If > 0, minibatch_size = num_envs·horizon_length / num_minibatches (overrides the two above)."""
    mini_epochs: int = 5
    learning_rate: float = 3e-4
    lr_schedule: str = "adaptive"
    """``adaptive`` (KL-driven), ``linear`` or ``constant``."""
    kl_threshold: float = 0.008
    gamma: float = 0.99
    tau: float = 0.95
    """GAE λ."""
    value_target: str = "gae"
    """``gae`` or ``nstep`` (the paper's n-step return)."""
    nstep: int = 3
    e_clip: float = 0.2
    clip_value: bool = True
    critic_coef: float = 4.0
    entropy_coef: float = 0.0
    """Entropy bonus for PPO; EPO/SAPG use the per-agent schedule (``entropy_scale``)."""
    entropy_scale: float = 0.0
    """Per-agent entropy: c_0 = 0, c_b = scale·0.5·b/(M−1) (spec §2)."""
    grad_norm: float = 1.0
    bounds_loss_coef: float = 1e-4
    normalize_input: bool = True
    normalize_value: bool = True
    normalize_advantage: bool = True
    reward_scale: float = 1.0
    seq_length: int = 16
    """BPTT length for the LSTM."""
    mixed_precision: bool = False
    """float16 autocast + GradScaler for the update on CUDA (ignored on the CPU)."""
    max_epochs: int = 200
    max_frames: int = -1
    save_frequency: int = 10
    """Epochs between checkpoints (0: only at the end)."""
    save_best_after: int = 10
    score_to_win: float = 1e12


@dataclass
class TrainConfig:
    algo: str = "epo"
    """``epo``, ``sapg`` (our agent, GA off), ``ppo`` (stock rl_games continuous A2C) or ``es`` (OpenAI-ES, which
    reads only ``es`` and ``video_interval``)."""
    population: PopulationConfig = field(default_factory=PopulationConfig)
    off_policy: OffPolicyConfig = field(default_factory=OffPolicyConfig)
    ga: GeneticConfig = field(default_factory=GeneticConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    es: ESTrainConfig = field(default_factory=ESTrainConfig)
    video_interval: int = 0
    """Epochs (ES: iterations) between videos of the master policy (ES: the unperturbed policy θ); 0: none;
    tasks with a renderer only."""


def _choice(value: str, valid: tuple[str, ...], key: str) -> None:
    if value not in valid:
        raise ConfigError(f"train.{key}={value!r} is not valid; choose one of {list(valid)}")


def parse_train_config(cfg: DictConfig | dict[str, Any]) -> TrainConfig:
    """Check ``cfg`` (the composed ``train`` node) against :class:`TrainConfig`.

    Raises:
        ConfigError: an unknown or misspelled key, a wrong type, or an invalid choice.
    """
    schema = OmegaConf.structured(TrainConfig)
    if isinstance(cfg, DictConfig):  # drop Hydra's typing so keys forced in with '+' are checked too
        cfg = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    try:
        merged = OmegaConf.merge(schema, cfg)
    except (ConfigKeyError, ValidationError) as err:
        raise ConfigError(str(schema_error(err, schema, prefix="train."))) from None
    tc: TrainConfig = OmegaConf.to_object(merged)  # type: ignore[assignment]
    _choice(tc.algo, ALGOS, "algo")
    _choice(tc.off_policy.sampling, ("union", "block"), "off_policy.sampling")
    _choice(tc.off_policy.clip, ("plain", "mu_scaled"), "off_policy.clip")
    _choice(tc.ga.mode, GA_MODES, "ga.mode")
    _choice(tc.ga.fitness, FITNESS, "ga.fitness")
    _choice(tc.ga.gate, GATES, "ga.gate")
    _choice(tc.network.log_std, LOG_STD_MODES, "network.log_std")
    _choice(tc.ppo.lr_schedule, ("adaptive", "linear", "constant"), "ppo.lr_schedule")
    _choice(tc.ppo.value_target, ("gae", "nstep"), "ppo.value_target")
    if tc.algo == "es":
        try:
            check_es(tc.es)
        except UserError as err:
            raise ConfigError(str(err)) from None
    if tc.population.size < 1:
        raise ConfigError(f"train.population.size must be >= 1, got {tc.population.size}")
    try:
        genetic_config(tc)
    except ValueError as err:
        raise ConfigError(f"train.{err}") from None
    if tc.ga.num_checks < 1:
        raise ConfigError(f"train.ga.num_checks must be >= 1, got {tc.ga.num_checks}")
    return tc


def genetic_config(tc: TrainConfig) -> GeneticSettings:
    """The settings :func:`epo_isaac.epo.genetic.plan_generation` takes, from ``train.ga``.

    Raises:
        ValueError: an out-of-range threshold or fraction (the message names the key).
    """
    ga = tc.ga
    return GeneticSettings(mode=ga.mode, gate=ga.gate, gate_pvalue=ga.gate_pvalue, gate_ratio=ga.gate_ratio,
                           gate_latch=ga.gate_latch, elite_frac=ga.elite_frac, frac_replaced=ga.frac_replaced,
                           mutation_std=ga.mutation_std)


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
        ConfigError: an automatic value without a budget, or a schedule with no check inside the budget.
    """
    ga, budget = tc.ga, budget_frames(num_envs, tc)
    interval, warmup = ga.interval_frames, ga.warmup_frames
    if interval < 0 or warmup < -1:
        raise ConfigError("train.ga.interval_frames must be >= 0 (0: automatic) and train.ga.warmup_frames "
                          f">= -1 (-1: automatic), got {interval} and {warmup}")
    if budget is None:
        if interval == 0:
            raise ConfigError("train.ga.interval_frames=0 (automatic) needs a budget: set train.ppo.max_epochs "
                              "or train.ppo.max_frames > 0, or give train.ga.interval_frames explicitly")
        return (2 * interval if warmup == -1 else warmup), interval, None
    if interval == 0:
        interval = max(1, budget // (ga.num_checks + 2))
    if warmup == -1:
        warmup = 2 * interval
    checks = checks_within(budget, warmup, interval)
    if checks < 1:
        raise ConfigError(
            f"the GA schedule (warmup {warmup:,} + every {interval:,} env steps) leaves no generation within the "
            f"budget of {budget:,} env steps: lower train.ga.warmup_frames / train.ga.interval_frames (0 and -1 "
            "derive them from the budget) or raise max_epochs / train.ppo.max_frames")
    return warmup, interval, checks


def check_layout(num_envs: int, tc: TrainConfig) -> None:
    """Raise :class:`ConfigError` unless the population and minibatches fit ``num_envs``."""
    m = tc.population.size if tc.algo != "ppo" else 1
    if num_envs < 1:
        raise ConfigError(f"task.num_envs must be >= 1, got {num_envs}")
    if num_envs % m:
        raise ConfigError(
            f"train.population.size={m} does not divide task.num_envs={num_envs}; "
            f"pick num_envs as a multiple of {m} (e.g. {m * max(1, round(num_envs / m))})"
        )
    batch = num_envs * tc.ppo.horizon_length
    mb = minibatch_size(num_envs, tc)
    if batch % mb:
        raise ConfigError(
            f"minibatch_size={mb} does not divide the batch num_envs·horizon_length={batch}; "
            "set train.ppo.minibatch_size (or train.ppo.minibatch_envs) to a divisor"
        )
    if tc.network.lstm_units and tc.ppo.horizon_length % tc.ppo.seq_length:
        raise ConfigError("train.ppo.horizon_length must be a multiple of train.ppo.seq_length")


def minibatch_size(num_envs: int, tc: TrainConfig) -> int:
    """Rows per minibatch: from ``num_minibatches``, else ``minibatch_envs·horizon_length``, else
    ``minibatch_size`` (capped at the batch)."""
    if tc.ppo.num_minibatches > 0:
        return max(1, num_envs * tc.ppo.horizon_length // tc.ppo.num_minibatches)
    if tc.ppo.minibatch_envs > 0:
        return tc.ppo.minibatch_envs * tc.ppo.horizon_length
    return min(tc.ppo.minibatch_size, num_envs * tc.ppo.horizon_length)


def rl_games_params(
    tc: TrainConfig,
    *,
    name: str,
    num_envs: int,
    env_name: str,
    seed: int,
    device: str,
    train_dir: str,
    experiment: str,
    torch_threads: int,
    world_size: int = 1,
) -> dict[str, Any]:
    """The ``{"params": ...}`` dict for ``rl_games.torch_runner.Runner.load`` (ES: :func:`es_params`)."""
    if tc.algo == "es":
        return es_params(tc.es, video_interval=tc.video_interval, name=name, num_envs=num_envs,
                         env_name=env_name, seed=seed, device=device, train_dir=train_dir, experiment=experiment,
                         torch_threads=torch_threads, world_size=world_size)
    check_layout(num_envs, tc)
    p = tc.ppo
    is_ppo = tc.algo == "ppo"
    if is_ppo:
        network: dict[str, Any] = {
            "name": "actor_critic",
            "separate": False,
            "space": {"continuous": {
                "mu_activation": "None", "sigma_activation": "None",
                "mu_init": {"name": "default"},
                "sigma_init": {"name": "const_initializer", "val": tc.network.sigma_init},
                "fixed_sigma": True,
            }},
            "mlp": {"units": list(tc.network.units), "activation": tc.network.activation,
                    "d2rl": False, "initializer": {"name": "default"}, "regularizer": {"name": "None"}},
        }
        if tc.network.lstm_units:
            network["rnn"] = {"name": "lstm", "units": tc.network.lstm_units,
                              "layers": tc.network.lstm_layers, "before_mlp": True,
                              "layer_norm": tc.network.lstm_layer_norm}
    else:
        network = {"name": "epo_actor_critic", "num_agents": tc.population.size,
                   "latent_dim": tc.population.latent_dim, **asdict(tc.network)}
    config: dict[str, Any] = {
        "name": name,
        "full_experiment_name": experiment,
        "train_dir": train_dir,
        "env_name": env_name,
        "device": device,
        "device_name": device,
        "multi_gpu": False,  # rl_games' own init would create an NCCL group: epo_isaac.host.multirank joins ranks
        "ranks": world_size,
        "ppo": True,
        "mixed_precision": p.mixed_precision,
        "normalize_input": p.normalize_input,
        "normalize_value": p.normalize_value,
        "normalize_advantage": p.normalize_advantage,
        "value_bootstrap": True,
        "num_actors": num_envs,
        "reward_shaper": {"scale_value": p.reward_scale},
        "gamma": p.gamma,
        "tau": p.tau,
        "learning_rate": p.learning_rate,
        "lr_schedule": None if p.lr_schedule == "constant" else p.lr_schedule,
        "schedule_type": "standard",
        "kl_threshold": p.kl_threshold,
        "score_to_win": p.score_to_win,
        "max_epochs": p.max_epochs,
        "max_frames": p.max_frames,
        "save_best_after": p.save_best_after,
        "save_frequency": p.save_frequency,
        "grad_norm": p.grad_norm,
        "entropy_coef": p.entropy_coef if is_ppo else 0.0,
        "truncate_grads": True,
        "e_clip": p.e_clip,
        "clip_value": p.clip_value,
        "horizon_length": p.horizon_length,
        "minibatch_size": minibatch_size(num_envs, tc),
        "mini_epochs": p.mini_epochs,
        "critic_coef": p.critic_coef,
        "bounds_loss_coef": p.bounds_loss_coef,
        "seq_length": p.seq_length,
        "torch_compile": False,
        "print_stats": False,
        "player": {"deterministic": True, "games_num": 10, "print_stats": True,
                   "device_name": device},
    }
    if not is_ppo:
        ga = asdict(tc.ga)
        if tc.algo == "epo" and tc.ga.enabled:  # frames count every rank's env steps
            ga["warmup_frames"], ga["interval_frames"], _ = ga_schedule(num_envs * world_size, tc)
        config["epo"] = {
            "algo": tc.algo,
            "population": asdict(tc.population),
            "off_policy": asdict(tc.off_policy),
            "ga": ga,
            "entropy_scale": p.entropy_scale,
            "value_target": p.value_target,
            "nstep": p.nstep,
        }
    algo_name = "ppo" if is_ppo else "epo"
    return {"params": {
        "seed": seed,
        "torch_threads": torch_threads,
        "algo": {"name": algo_name},
        "model": {"name": "continuous_a2c_logstd"},
        "network": network,
        "config": config,
    }}


def register_schema() -> None:
    """Store :class:`TrainConfig` as Hydra config ``train/schema``: every ``cfg/train/*.yaml`` starts
    from it, so every key exists (overridable as ``train.a.b=v``) and is type-checked by Hydra."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(group="train", name="schema", node=TrainConfig)
