"""``train=ES``: the typed ``train.es`` settings and the rl_games params of an ES run.

OpenAI-ES (Salimans et al. 2017, arXiv:1703.03864) on our batched tasks: the N envs are split into one block of
B = N / population_size envs per population member (docs/algorithms.md "ES on the tasks").
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from epo_isaac.errors import UserError
from epo_isaac.es.optimizer import ESConfig
from epo_isaac.es.policy import ACTIVATIONS


class ESTrainConfig(ESConfig):
    """``train.es``: the optimiser's settings (inherited from :class:`~epo_isaac.es.optimizer.ESConfig`, the same
    keys: ``train.es.sigma``, ``train.es.population_size`` ...) and those of the run: episodes, budget, tests,
    the policy and checkpoints. The agent hands this model itself to :class:`~epo_isaac.es.optimizer.OpenAIES`.
    """

    episodes_per_member: Annotated[int, Field(ge=0)] = 0
    """Whole episodes averaged into one member's fitness; a multiple of the block size B (each env of the block
    runs episodes_per_member / B episodes); 0: B (one episode per env)."""
    max_iterations: Annotated[int, Field(ge=0)] = 200
    """Iterations (generations) in the run; the top-level ``max_epochs=`` sets it too. 0: no limit."""
    max_frames: Annotated[int, Field(ge=-1)] = -1
    """Stop after this many env steps (tests included); -1 (or 0): no limit."""
    test_interval: Annotated[int, Field(ge=0)] = 10
    """Iterations between tests of the unperturbed policy θ (one episode per env); the last iteration is always
    tested. 0: only the last."""
    reward_goal: float | None = None
    """Stop when the test return reaches this value ``consecutive_goal_stopping`` tests in a row; null: never."""
    consecutive_goal_stopping: Annotated[int, Field(ge=1)] = 5
    """Consecutive tests at or above ``reward_goal`` that end the run (PyTorch-ES)."""
    obs_normalization: bool = True
    """Normalise observations by running statistics of the population's rollouts (frozen within an iteration)."""
    obs_clip: Annotated[float, Field(gt=0)] = 5.0
    """Normalised observations are clipped to ±obs_clip."""
    units: list[Annotated[int, Field(ge=1)]] = [64, 64]
    """Hidden widths of the deterministic MLP policy (the paper's MuJoCo policy: two layers of 64)."""
    activation: Literal[tuple(ACTIVATIONS)] = "tanh"  # type: ignore[valid-type]
    """Hidden activation."""
    save_frequency: Annotated[int, Field(ge=0)] = 10
    """Iterations between checkpoints (0: only at the end); every test that improves the best test return also
    writes ``nn/<task>.pth``."""

    @model_validator(mode="after")
    def _stops(self) -> ESTrainConfig:
        if self.max_iterations == 0 and self.max_frames <= 0 and self.reward_goal is None:
            raise ValueError("max_iterations=0 with no max_frames and no reward_goal: no stopping rule; set "
                             "max_iterations (or max_epochs=), max_frames or reward_goal")
        return self


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
              "es": es, "video_interval": video_interval,
              "player": {"deterministic": True, "device_name": device}}
    return {"params": {"seed": seed, "torch_threads": torch_threads, "algo": {"name": "es"}, "config": config}}
