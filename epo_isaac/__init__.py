"""epo_isaac: Evolutionary Policy Optimization as an rl_games agent.

Sub-packages, one job each:

- :mod:`epo_isaac.epo`: EPO and SAPG (agent, losses, genetic algorithm, gate, population layout, network, player);
- :mod:`epo_isaac.es`: OpenAI-ES (ask/tell optimiser, batched policy, episodes, agent, player);
- :mod:`epo_isaac.ppo`: the PPO baseline (rl_games' continuous A2C with our host plumbing);
- :mod:`epo_isaac.host`: what every algorithm shares on rl_games (vecenv adapter, observer, checkpoints and exact
  resume, ``torchrun`` ranks, threads, video, the typed train config);
- :mod:`epo_isaac.cli`: ``train.py``'s command-line plumbing (checks before Hydra, one-line errors).

``LatentGenePool`` (:class:`epo_isaac.epo.gene_pool.LatentGenePool`): the latent table and its genetic algorithm
as a library API, imported on first use; it never imports rl_games.

``register(runner)`` adds algos ``epo`` (EPO and SAPG), ``es`` and ``ppo`` with their players, and the
``epo_actor_critic`` network, to an ``rl_games.torch_runner.Runner``; it never replaces a builder it did not add.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_NETWORKS: set[str] = set()  # networks this package put in rl_games' global registry


def __getattr__(name: str) -> Any:
    # PEP 562: ``from epo_isaac import LatentGenePool`` imports torch only then; ``import epo_isaac`` stays light
    # (train.py imports Isaac Gym before torch, epo_isaac.cli.isaacgym_first).
    if name == "LatentGenePool":
        from epo_isaac.epo.gene_pool import LatentGenePool

        return LatentGenePool
    raise AttributeError(f"module 'epo_isaac' has no attribute {name!r}")


def register(runner: Any) -> None:
    """Register our algorithms, players and network on ``runner`` (call before ``runner.load``).

    Raises:
        RuntimeError: ``runner`` (or rl_games' network registry) already holds another builder under one of our
            names (``epo``, ``es``, ``ppo``, ``epo_actor_critic``); rl_games' own builders are never replaced.
    """
    from rl_games.algos_torch import model_builder

    from epo_isaac.epo.agent import EPOAgent
    from epo_isaac.epo.networks import EPONetworkBuilder
    from epo_isaac.epo.player import EPOPlayer
    from epo_isaac.es.agent import ESAgent, ESPlayer
    from epo_isaac.ppo.agent import PPOAgent, PPOPlayer

    if "epo_actor_critic" in model_builder.NETWORK_REGISTRY and "epo_actor_critic" not in _NETWORKS:
        raise RuntimeError("rl_games already has a network named 'epo_actor_critic' that epo_isaac did not add")
    model_builder.register_network("epo_actor_critic", EPONetworkBuilder)
    _NETWORKS.add("epo_actor_critic")
    for factory, builders in ((runner.algo_factory, {"epo": EPOAgent, "es": ESAgent, "ppo": PPOAgent}),
                              (runner.player_factory, {"epo": EPOPlayer, "es": ESPlayer, "ppo": PPOPlayer})):
        for name, cls in builders.items():
            existing = factory._builders.get(name)
            if existing is not None and existing is not cls:
                raise RuntimeError(f"the rl_games runner already has a builder named {name!r}; epo_isaac does not "
                                   "replace builders it did not add")
            factory.register_builder(name, cls)
