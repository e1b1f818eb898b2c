"""epo_isaac: Evolutionary Policy Optimization as an rl_games agent.

``register(runner)`` adds algo ``epo`` (EPO and SAPG), its player, the ``epo_actor_critic``
network, OpenAI-ES (algo ``es`` and its player), and the PPO baseline's agent and player (checked, atomic,
exactly resumable checkpoints) to an ``rl_games.torch_runner.Runner``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def register(runner: Any) -> None:
    """Register our algorithm, player and network on ``runner`` (call before ``runner.load``)."""
    from rl_games.algos_torch import model_builder

    from epo_isaac.agent import EPOAgent
    from epo_isaac.es_agent import ESAgent, ESPlayer
    from epo_isaac.networks import EPONetworkBuilder
    from epo_isaac.players import EPOPlayer, PPOAgent, PPOPlayer

    model_builder.register_network("epo_actor_critic", EPONetworkBuilder)
    runner.algo_factory.register_builder("epo", lambda **kwargs: EPOAgent(**kwargs))
    runner.algo_factory.register_builder("a2c_continuous", lambda **kwargs: PPOAgent(**kwargs))
    runner.player_factory.register_builder("epo", lambda **kwargs: EPOPlayer(**kwargs))
    runner.player_factory.register_builder("a2c_continuous", lambda **kwargs: PPOPlayer(**kwargs))
    runner.algo_factory.register_builder("es", lambda **kwargs: ESAgent(**kwargs))
    runner.player_factory.register_builder("es", lambda **kwargs: ESPlayer(**kwargs))
