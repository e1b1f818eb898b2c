"""``train=ES``: the typed ``train.es`` settings and the rl_games params of an ES run.

OpenAI-ES (Salimans et al. 2017, arXiv:1703.03864) on our batched tasks: the N envs are split into one block of
B = N / population_size envs per population member (README "Evolution strategies").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from epo_isaac.errors import UserError
from epo_isaac.es.optimizer import ESConfig
from epo_isaac.es.policy import ACTIVATIONS


@dataclass
class ESTrainConfig:
    population_size: int = 48
    """P candidates per iteration (even with antithetic); must divide task.num_envs (per rank) into blocks."""
    sigma: float = 0.02
    """σ > 0 of the parameter perturbations θ + σ·ε, in parameter units."""
    learning_rate: float = 0.01
    """Step size of the optimiser on the ES gradient estimate."""
    antithetic: bool = True
    """Mirrored sampling: members 2k and 2k+1 use ε_k and −ε_k."""
    rank_shaping: bool = True
    """Centred-rank fitness shaping (returns → ranks in [−0.5, 0.5])."""
    weight_decay: float = 0.005
    """L2 coefficient λ: −λ·θ is added to the ascent direction."""
    optimizer: str = "adam"
    """``adam`` or ``sgd`` (with ``momentum``)."""
    momentum: float = 0.9
    """SGD momentum in [0, 1); unused by Adam."""
    sigma_decay: float = 1.0
    """σ ← max(σ·sigma_decay, sigma_min) after every iteration, in (0, 1]."""
    sigma_min: float = 0.0
    lr_decay: float = 1.0
    """learning_rate ← max(learning_rate·lr_decay, lr_min) after every iteration, in (0, 1]."""
    lr_min: float = 0.0
    episodes_per_member: int = 0
    """Whole episodes averaged into one member's fitness; a multiple of the block size B (each env of the block
    runs episodes_per_member / B episodes); 0: B (one episode per env)."""
    max_iterations: int = 200
    """Iterations (generations) in the run; the top-level ``max_epochs=`` sets it too. 0: no limit."""
    max_frames: int = -1
    """Stop after this many env steps (tests included); -1: no limit."""
    test_interval: int = 10
    """Iterations between tests of the unperturbed policy θ (one episode per env); the last iteration is always
    tested. 0: only the last."""
    reward_goal: float | None = None
    """Stop when the test return reaches this value ``consecutive_goal_stopping`` tests in a row; null: never."""
    consecutive_goal_stopping: int = 5
    """Consecutive tests at or above ``reward_goal`` that end the run (PyTorch-ES)."""
    obs_normalization: bool = True
    """Normalise observations by running statistics of the population's rollouts (frozen within an iteration)."""
    obs_clip: float = 5.0
    """Normalised observations are clipped to ±obs_clip."""
    units: list[int] = field(default_factory=lambda: [64, 64])
    """Hidden widths of the deterministic MLP policy (the paper's MuJoCo policy: two layers of 64)."""
    activation: str = "tanh"
    """Hidden activation: ``tanh``, ``elu`` or ``relu``."""
    save_frequency: int = 10
    """Iterations between checkpoints (0: only at the end); every test that improves the best test return also
    writes ``nn/<task>.pth``."""


def es_optimizer_config(es: ESTrainConfig) -> ESConfig:
    """The :class:`~epo_isaac.es.optimizer.ESConfig` of ``train.es``.

    Raises:
        UserError: an out-of-range value, naming its ``train.es.`` key.
    """
    try:
        return ESConfig(**{f.name: getattr(es, f.name) for f in fields(ESConfig)})  # same names, same checks
    except ValueError as err:
        raise UserError(str(err).replace("ESConfig.", "train.es.")) from None


def check_es(es: ESTrainConfig) -> None:
    """Check every ``train.es`` value that does not depend on the task.

    Raises:
        UserError: the first bad value, naming its key and a valid value.
    """
    es_optimizer_config(es)
    ints = {"episodes_per_member": es.episodes_per_member, "max_iterations": es.max_iterations,
            "test_interval": es.test_interval, "save_frequency": es.save_frequency}
    for key, value in ints.items():
        if value < 0:
            raise UserError(f"train.es.{key} must be >= 0, got {value}")
    if es.consecutive_goal_stopping < 1:
        raise UserError(f"train.es.consecutive_goal_stopping must be >= 1, got {es.consecutive_goal_stopping}")
    if es.obs_clip <= 0:
        raise UserError(f"train.es.obs_clip must be > 0, got {es.obs_clip}")
    if es.activation not in ACTIVATIONS:
        raise UserError(f"train.es.activation={es.activation!r} is not valid; choose one of {sorted(ACTIVATIONS)}")
    if any(u < 1 for u in es.units):
        raise UserError(f"train.es.units must be widths >= 1 (e.g. [64, 64]), got {list(es.units)}")
    if es.max_iterations == 0 and es.max_frames <= 0 and es.reward_goal is None:
        raise UserError("train.es has no stopping rule: set max_iterations (or max_epochs=), max_frames or "
                        "reward_goal")


def es_layout(num_envs: int, es: ESTrainConfig, world_size: int = 1) -> tuple[int, int, int]:
    """(members per rank, block size B, episodes per env) of ``num_envs`` envs on each of ``world_size`` ranks.

    Raises:
        UserError: a population the ranks or the envs do not split into whole blocks, or an
            ``episodes_per_member`` that is not a multiple of B.
    """
    p = es.population_size
    if p % world_size:
        raise UserError(f"train.es.population_size={p} does not split over {world_size} ranks; use a multiple of "
                        f"{world_size} (e.g. {world_size * max(1, round(p / world_size))})")
    local = p // world_size
    if num_envs % local:
        where = f" per rank ({world_size} ranks, {local} members each)" if world_size > 1 else ""
        example = local * max(1, round(num_envs / local))
        raise UserError(f"train.es.population_size={p} does not divide task.num_envs={num_envs}{where} into whole "
                        f"blocks; pick num_envs as a multiple of {local} (e.g. {example})")
    block = num_envs // local
    episodes = es.episodes_per_member or block
    if episodes % block:
        raise UserError(f"train.es.episodes_per_member={episodes} is not a multiple of the block size {block} "
                        f"(task.num_envs / population_size); use {block * max(1, round(episodes / block))}, or 0 "
                        "for one episode per env")
    return local, block, episodes // block


def es_params(es: ESTrainConfig, *, video_interval: int, name: str, num_envs: int, env_name: str, seed: int,
              device: str, train_dir: str, experiment: str, torch_threads: int, world_size: int = 1) -> dict[str, Any]:
    """The ``{"params": ...}`` dict for ``rl_games.torch_runner.Runner.load`` with algo ``es``.

    Raises:
        UserError: a layout :func:`es_layout` rejects.
    """
    es_layout(num_envs, es, world_size)
    config = {"name": name, "full_experiment_name": experiment, "train_dir": train_dir, "env_name": env_name,
              "device": device, "num_actors": num_envs, "reward_shaper": {}, "ranks": world_size,
              "torch_compile": False,
              "es": asdict(es), "video_interval": video_interval,
              "player": {"deterministic": True, "device_name": device}}
    return {"params": {"seed": seed, "torch_threads": torch_threads, "algo": {"name": "es"}, "config": config}}
