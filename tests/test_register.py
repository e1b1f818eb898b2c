"""``epo_isaac.register`` adds our builders to a real rl_games Runner and never replaces one it did not add."""

from __future__ import annotations

import pytest
from rl_games.torch_runner import Runner

import epo_isaac
from epo_isaac.epo.agent import EPOAgent
from epo_isaac.ppo.agent import PPOAgent, PPOPlayer


def test_register_keeps_rl_games_own_builders_and_adds_ours() -> None:
    runner = Runner()
    stock_algo = runner.algo_factory._builders["a2c_continuous"]
    stock_player = runner.player_factory._builders["a2c_continuous"]
    epo_isaac.register(runner)
    epo_isaac.register(runner)  # twice on one runner is harmless
    assert runner.algo_factory._builders["a2c_continuous"] is stock_algo
    assert runner.player_factory._builders["a2c_continuous"] is stock_player
    assert runner.algo_factory._builders["ppo"] is PPOAgent
    assert runner.player_factory._builders["ppo"] is PPOPlayer
    assert runner.algo_factory._builders["epo"] is EPOAgent


def test_register_refuses_to_replace_a_foreign_builder() -> None:
    runner = Runner()
    runner.algo_factory.register_builder("epo", lambda **kwargs: None)
    with pytest.raises(RuntimeError, match="already has a builder named 'epo'"):
        epo_isaac.register(runner)
