"""Hydra composition of every config and the errors a user can make."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import ROOT, compose_cfg
from hydra.errors import ConfigCompositionException, MissingConfigException
from pydantic import ValidationError

import tasks
import train
from epo_isaac.errors import UserError
from epo_isaac.host.config import budget_frames, check_layout, ga_schedule, parse_train_config
from epo_isaac.host.params import rl_games_params
from epo_isaac.host.vecenv import BatchedTaskVecEnv, NonFiniteError

TRAIN_FILES = sorted(p.stem for p in (ROOT / "cfg" / "train").glob("*.yaml"))
TASK_FILES = sorted(p.stem for p in (ROOT / "cfg" / "task").glob("*.yaml"))


@pytest.mark.parametrize("name", TRAIN_FILES)
def test_every_train_config_composes_and_parses(name: str) -> None:
    cfg = compose_cfg([f"train={name}"])
    tc = parse_train_config(cfg.train)
    assert tc.algo == name.lower()
    params = rl_games_params(tc, name="x", num_envs=int(cfg.task.num_envs), env_name="e", seed=0,
                             device="cpu", train_dir="/tmp", experiment="x", torch_threads=1)
    expected = {"PPO": "ppo", "ES": "es"}.get(name, "epo")
    assert params["params"]["algo"]["name"] == expected


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
    with pytest.raises(UserError, match="gate_rato"):
        parse_train_config(cfg.train)


def test_bad_choice_lists_valid_ones() -> None:
    with pytest.raises(UserError, match="union"):
        parse_train_config(compose_cfg(["train.off_policy.sampling=everything"]).train)


def test_unknown_task_lists_valid_names() -> None:
    with pytest.raises(MissingConfigException, match="Pendulum"):
        compose_cfg(["task=Pendulumm"])
    with pytest.raises(tasks.TaskConfigError, match="did you mean 'Pendulum'.*HalfCheetah"):
        tasks.make("Pendulumm", num_envs=2)


def test_unknown_task_setting_is_rejected() -> None:
    with pytest.raises(ValidationError, match="max_episode_step\n.*Extra inputs are not permitted"):
        tasks.make("Pendulum", num_envs=2, max_episode_step=3)


@pytest.mark.parametrize(("num_envs", "size"), [(10, 4), (16, 0), (16, -2)])
def test_bad_population_layout(num_envs: int, size: int) -> None:
    cfg = compose_cfg([f"train.population.size={size}"])
    with pytest.raises(UserError, match="population.size"):
        check_layout(num_envs, parse_train_config(cfg.train))


def test_entropy_bonus_with_a_shared_log_std_is_refused(tmp_path: Path) -> None:
    """Under network.log_std=shared the followers have no log-std of their own, so their entropy bonus (which
    must not move the master's σ, spec §2) would do nothing: refused with one line, nothing written."""
    cfg = compose_cfg(["task=Pendulum", "train.network.log_std=shared", "train.ppo.entropy_scale=0.005",
                       f"+run_dir={tmp_path / 'run'}"])
    with pytest.raises(UserError, match=r"^train\.ppo\.entropy_scale=0\.005 .*train\.network\.log_std=shared"):
        train.run(cfg)
    assert not (tmp_path / "run").exists()
    fine = compose_cfg(["task=Pendulum", "train.network.log_std=shared"])  # no bonus: nothing to refuse
    check_layout(int(fine.task.num_envs), parse_train_config(fine.train))


def test_population_that_does_not_divide_stops_train_py(tmp_path: Path) -> None:
    cfg = compose_cfg(["task.num_envs=10", "train.population.size=4", f"+run_dir={tmp_path}"])
    with pytest.raises(UserError, match="multiple of 4"):
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


@pytest.mark.parametrize("name", TASK_FILES)
def test_every_default_config_gives_at_least_10_generations(name: str) -> None:
    cfg = compose_cfg([f"task={name}"])  # train=EPO, the task's own budget (max_epochs)
    tc = parse_train_config(cfg.train)
    num_envs = int(cfg.task.num_envs)
    warmup, interval, checks = ga_schedule(num_envs, tc)
    budget = budget_frames(num_envs, tc)
    assert checks is not None and checks >= 10, (warmup, interval, budget)
    assert warmup + (checks - 1) * interval <= budget < warmup + checks * interval
    assert warmup >= interval  # the first fitness window (one interval before the first check) starts after 0


def test_paper_preset_keeps_the_official_schedule() -> None:
    cfg = compose_cfg(["task=AllegroKukaTwoArmsReorientation", "+preset=paper"])
    assert ga_schedule(24576, parse_train_config(cfg.train)) == (200_000_000, 20_000_000, 991)


def test_schedule_follows_a_frame_budget() -> None:
    cfg = compose_cfg(["task=HalfCheetah", "train.ppo.max_epochs=-1", "train.ppo.max_frames=600000"])
    warmup, interval, checks = ga_schedule(48, parse_train_config(cfg.train))
    assert (warmup, interval, checks) == (37500, 18750, 31)


@pytest.mark.parametrize(("overrides", "match"), [
    (["train.ga.interval_frames=10000000"], "leaves no generation"),
    (["train.ga.warmup_frames=99999999", "train.ga.interval_frames=1000"], "leaves no generation"),
    (["train.ppo.max_epochs=-1", "train.ppo.max_frames=-1"], "needs a budget"),
])
def test_schedule_without_a_generation_is_a_clear_error(overrides: list[str], match: str) -> None:
    cfg = compose_cfg(["task=Pendulum", *overrides])
    with pytest.raises(UserError, match=match):
        rl_games_params(parse_train_config(cfg.train), name="x", num_envs=48, env_name="e", seed=0,
                        device="cpu", train_dir="/tmp", experiment="x", torch_threads=1)


@pytest.mark.parametrize(("override", "valid"), [
    ("train.ga.fitness=reward", "train.ga.fitness=reward: expected 'return' or 'true_objective'"),
    ("train.ga.gate=tukey", "'kruskal', 'effect_size', 'ratio' or 'off'"),
    ("train.network.log_std=learned", "'per_agent', 'shared' or 'shared_plus_offset'"),
])
def test_unknown_ga_and_log_std_choices_list_valid_ones(override: str, valid: str) -> None:
    with pytest.raises(UserError, match=valid):
        parse_train_config(compose_cfg([override]).train)


@pytest.mark.parametrize(("override", "match"), [
    ("train.ga.gate_pvalue=1.5", r"^train\.ga\.gate_pvalue=1\.5: expected a number in \(0, 1\)$"),
    ("train.ga.gate_pvalue=0", r"^train\.ga\.gate_pvalue=0: expected a number in \(0, 1\)$"),
    ("train.ga.gate_effect_size=0", r"^train\.ga\.gate_effect_size=0: expected a number in \(0, 1\)$"),
    ("train.ga.gate_effect_size=1", r"^train\.ga\.gate_effect_size=1: expected a number in \(0, 1\)$"),
    ("train.ga.gate_ratio=-1", r"^train\.ga\.gate_ratio=-1: expected a number >= 0$"),
    ("train.ga.elite_frac=1", r"^train\.ga\.elite_frac=1: expected a number in \(0, 1\)$"),
    ("train.ga.num_checks=0", r"^train\.ga\.num_checks=0: expected an integer >= 1$"),
])
def test_ga_threshold_out_of_range_is_one_clear_message(override: str, match: str) -> None:
    with pytest.raises(UserError, match=match):
        parse_train_config(compose_cfg([override]).train)
