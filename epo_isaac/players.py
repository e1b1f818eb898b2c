"""Players (play/eval) with checked checkpoint reads, and the thin PPO subclass used for the baseline."""

from __future__ import annotations

from typing import Any

from rl_games.algos_torch.a2c_continuous import A2CAgent
from rl_games.algos_torch.players import PpoPlayerContinuous

from epo_isaac.checkpoint import check_checkpoint, population_meta, read_checkpoint, run_meta
from epo_isaac.errors import UserError
from epo_isaac.multirank import RanksMixin
from epo_isaac.resume import ResumableAgentMixin
from epo_isaac.threads import PhaseThreadsMixin


class CheckedRestoreMixin:
    """``restore`` for an rl_games player (mix in before the player class): the checkpoint is read with
    :func:`read_checkpoint` and checked with :func:`check_checkpoint` (algorithm, task, population layout,
    network; not ``num_envs``: a player runs one env) before the weights and the task state are loaded, so every
    unusable file raises a one-line :class:`~epo_isaac.errors.CheckpointError`."""

    def player_algo(self) -> str:
        return "ppo"

    def checkpoint_meta(self) -> dict[str, Any]:
        """This player's algorithm, task and network sizes (compared with the checkpoint's)."""
        return run_meta(self.player_algo(), self)

    def restore(self, fn: str) -> None:
        state = read_checkpoint(fn)
        check_checkpoint(str(fn), state, self.checkpoint_meta(), self.model.state_dict())
        self.set_weights(state)
        env_state = state.get("env_state")
        if self.env is not None and env_state:
            self.env.set_env_state(env_state)


class EPOPlayer(CheckedRestoreMixin, PpoPlayerContinuous):
    """rl_games player for ``epo``/``sapg`` checkpoints; acts with the latent of
    ``config["player"]["agent"]`` (default 0, the master)."""

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        agent = int(self.player_config.get("agent", 0))
        num_agents = self.model.a2c_network.num_agents
        if not 0 <= agent < num_agents:
            raise UserError(f"agent={agent} is out of range; this policy has agents 0..{num_agents - 1} "
                            "(0 = the master)")
        self.model.a2c_network.default_agent = agent

    def player_algo(self) -> str:
        return str(self.config.get("epo", {}).get("algo", "epo"))

    def checkpoint_meta(self) -> dict[str, Any]:
        return {**super().checkpoint_meta(), **population_meta(self.model.a2c_network)}


class PPOPlayer(CheckedRestoreMixin, PpoPlayerContinuous):
    """rl_games' continuous player for ``train=PPO`` checkpoints, with the checked ``restore``."""


class PPOAgent(PhaseThreadsMixin, RanksMixin, ResumableAgentMixin, A2CAgent):
    """Stock rl_games continuous A2C (the PPO baseline) with atomic, checked checkpoints and exact resume
    (:class:`~epo_isaac.resume.ResumableAgentMixin`), ``torchrun`` ranks (:mod:`epo_isaac.multirank`) and torch
    threads by phase (:mod:`epo_isaac.threads`)."""

    def train_epoch(self):
        with self.update_phase():
            return super().train_epoch()

    def play_steps(self):
        with self.rollout_phase():
            return super().play_steps()
