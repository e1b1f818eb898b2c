"""The rl_games player of ``epo``/``sapg`` checkpoints: plays one agent's latent (default the master)."""

from __future__ import annotations

from typing import Any

from rl_games.algos_torch.players import PpoPlayerContinuous

from epo_isaac.errors import UserError
from epo_isaac.host.checkpoint import population_meta
from epo_isaac.host.players import CheckedRestoreMixin


class EPOPlayer(CheckedRestoreMixin, PpoPlayerContinuous):
    """rl_games player for ``epo``/``sapg`` checkpoints; acts with the latent of
    ``config["player"]["agent"]`` (default 0, the master).

    Raises:
        UserError: ``agent`` outside ``0..M-1``.
    """

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        agent = int(self.player_config.get("agent", 0))
        num_agents = self.model.a2c_network.num_agents
        if not 0 <= agent < num_agents:
            raise UserError(f"agent={agent} is out of range; this policy has agents 0..{num_agents - 1} "
                            "(0 = the master)")
        self.model.a2c_network.default_agent = agent

    def player_algo(self) -> str:
        return str(getattr(self.config.get("epo"), "algo", "epo"))

    def checkpoint_meta(self) -> dict[str, Any]:
        return {**super().checkpoint_meta(), **population_meta(self.model.a2c_network)}
