"""Hydra composition of every config and the errors a user can make."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import ROOT, compose_cfg
from hydra.errors import ConfigCompositionException, MissingConfigException

import tasks
import train
from epo_isaac.config import ConfigError, check_layout, parse_train_config, rl_games_params
from epo_isaac.envs import BatchedTaskVecEnv, NonFiniteError

TRAIN_FILES = sorted(p.stem for p in (ROOT / "cfg" / "train").glob("*.yaml"))
TASK_FILES = sorted(p.stem for p in (ROOT / "cfg" / "task").glob("*.yaml"))


@pytest.mark.parametrize("name", TRAIN_FILES)
def test_every_train_config_composes_and_parses(name: str) -> None:
    cfg = compose_cfg([f"train={name}"])
    tc = parse_train_config(cfg.train)
    assert tc.algo == name.lower()
    params = rl_games_params(tc, name="x", num_envs=int(cfg.task.num_envs), env_name="e", seed=0,
                             device="cpu", train_dir="/tmp", experiment="x", torch_threads=1)
    assert params["params"]["algo"]["name"] == ("a2c_continuous" if name == "PPO" else "epo")


@pytest.mark.parametrize("name", TASK_FILES)
def test_every_task_config_matches_the_registry(name: str) -> None:
    cfg = compose_cfg([f"task={name}"])
    assert cfg.task.name in tasks.TASKS
    assert "ppo" in cfg.train, "task_train/<Task>.yaml missing"


def test_task_picks_its_training_settings() -> None:
    assert compose_cfg(["task=HalfCheetah"]).train.ppo.horizon_length == 128
    assert compose_cfg(["task=Pendulum"]).train.ppo.horizon_length == 64


def test_plain_keys_override_from_the_command_line() -> None:
    cfg = compose_cfg(["train.population.size=16", "train.ga.gate_ratio=0.5", "train.off_policy.weight=0.3"])
    tc = parse_train_config(cfg.train)
    assert (tc.population.size, tc.ga.gate_ratio, tc.off_policy.weight) == (16, 0.5, 0.3)


def test_misspelled_key_is_rejected() -> None:
    with pytest.raises(ConfigCompositionException):  # typed schema: Hydra refuses it
        compose_cfg(["train.ga.gate_rato=0.5"])
    cfg = compose_cfg(["+train.ga.gate_rato=0.5"])  # forced in with '+': our parser refuses it
    with pytest.raises(ConfigError, match="gate_rato"):
        parse_train_config(cfg.train)


def test_bad_choice_lists_valid_ones() -> None:
    with pytest.raises(ConfigError, match="union"):
        parse_train_config(compose_cfg(["train.off_policy.sampling=everything"]).train)


def test_unknown_task_lists_valid_names() -> None:
    with pytest.raises(MissingConfigException, match="Pendulum"):
        compose_cfg(["task=Pendulumm"])
    with pytest.raises(KeyError, match="HalfCheetah"):
        tasks.make("Pendulumm", num_envs=2)


def test_unknown_task_setting_is_rejected() -> None:
    with pytest.raises(TypeError, match="max_episode_steps"):
        tasks.make("Pendulum", num_envs=2, max_episode_step=3)


@pytest.mark.parametrize(("num_envs", "size"), [(10, 4), (16, 0), (16, -2)])
def test_bad_population_layout(num_envs: int, size: int) -> None:
    cfg = compose_cfg([f"train.population.size={size}"])
    with pytest.raises(ConfigError, match="population.size"):
        check_layout(num_envs, parse_train_config(cfg.train))


def test_population_that_does_not_divide_stops_train_py(tmp_path: Path) -> None:
    cfg = compose_cfg(["task.num_envs=10", "train.population.size=4", f"+run_dir={tmp_path}"])
    with pytest.raises(ConfigError, match="multiple of 4"):
        train.run(cfg)


class _NaNTask:
    num_envs, num_obs, num_actions = 4, 3, 1

    def reset(self) -> torch.Tensor:
        return torch.zeros(4, 3)

    def step(self, actions: torch.Tensor):
        obs = torch.zeros(4, 3)
        obs[2, 1] = float("nan")
        return obs, torch.zeros(4), torch.zeros(4, dtype=torch.bool), {}


def test_nan_observation_names_the_env() -> None:
    env = BatchedTaskVecEnv(_NaNTask())
    with pytest.raises(NonFiniteError, match=r"observations in env\(s\) \[2\]"):
        env.step(torch.zeros(4, 1))


def test_paper_preset_matches_the_spec() -> None:
    cfg = compose_cfg(["task=AllegroKukaTwoArmsReorientation", "+preset=paper"])
    tc = parse_train_config(cfg.train)
    assert cfg.task.num_envs == 24576 and tc.population.size == 64
    assert tc.network.lstm_units == 768 and tc.network.units == [768, 512, 256]
    ppo = tc.ppo
    assert (ppo.mini_epochs, ppo.learning_rate, ppo.e_clip, ppo.gamma, ppo.tau) == (2, 1e-4, 0.1, 0.99, 0.95)
    params = rl_games_params(tc, name="x", num_envs=24576, env_name="e", seed=0, device="cpu", train_dir="/tmp",
                             experiment="x", torch_threads=1)
    assert params["params"]["config"]["minibatch_size"] == 4 * 24576
