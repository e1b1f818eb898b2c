"""Players (play/eval) and the thin PPO subclass used for the baseline."""

from __future__ import annotations

from typing import Any

from rl_games.algos_torch.a2c_continuous import A2CAgent
from rl_games.algos_torch.players import PpoPlayerContinuous

from epo_isaac.checkpoint import atomic_save


class EPOPlayer(PpoPlayerContinuous):
    """rl_games player for ``epo``/``sapg`` checkpoints; acts with the latent of
    ``config["player"]["agent"]`` (default 0, the master)."""

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        agent = int(self.player_config.get("agent", 0))
        num_agents = self.model.a2c_network.num_agents
        if not 0 <= agent < num_agents:
            raise ValueError(f"player agent={agent} is out of range; this policy has agents 0..{num_agents - 1}")
        self.model.a2c_network.default_agent = agent


class PPOAgent(A2CAgent):
    """Stock rl_games continuous A2C (the PPO baseline), only with atomic checkpoint writes."""

    def save(self, fn: str) -> None:
        atomic_save(self.get_full_state_weights(), fn)
