"""PPO (stock rl_games continuous A2C) with checked, atomic, exactly resumable checkpoints, ``torchrun`` ranks and
torch threads by phase; its player restores checkpoints checked the same way."""

from __future__ import annotations

from rl_games.algos_torch.a2c_continuous import A2CAgent
from rl_games.algos_torch.players import PpoPlayerContinuous

from epo_isaac.host.multirank import RanksMixin
from epo_isaac.host.players import CheckedRestoreMixin
from epo_isaac.host.resume import ResumableAgentMixin
from epo_isaac.host.threads import PhaseThreadsMixin


class PPOAgent(PhaseThreadsMixin, RanksMixin, ResumableAgentMixin, A2CAgent):
    """Stock rl_games continuous A2C (the PPO baseline) with atomic, checked checkpoints and exact resume
    (:class:`~epo_isaac.host.resume.ResumableAgentMixin`), ``torchrun`` ranks (:mod:`epo_isaac.host.multirank`)
    and torch threads by phase (:mod:`epo_isaac.host.threads`)."""

    def train_epoch(self):
        with self.update_phase():
            return super().train_epoch()

    def play_steps(self):
        with self.rollout_phase():
            return super().play_steps()


class PPOPlayer(CheckedRestoreMixin, PpoPlayerContinuous):
    """rl_games' continuous player for ``train=PPO`` checkpoints, with the checked ``restore``."""
