"""The settings models (pydantic) of the top level and ``train.*``: one bad value per family gives one line naming
the key, the value and what it must be; the models are the one source of the defaults Hydra composes over."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import ROOT, compose_cfg
from omegaconf import OmegaConf

from epo_isaac.cli.run_config import HYDRA_GROUPS, RunConfig, parse_run_config
from epo_isaac.epo import genetic
from epo_isaac.errors import UserError
from epo_isaac.es.config import ESTrainConfig
from epo_isaac.es.optimizer import ESConfig, OpenAIES
from epo_isaac.host.config import TrainConfig, check_layout


def _error(overrides: list[str]) -> str:
    with pytest.raises(UserError) as info:
        parse_run_config(compose_cfg(overrides))
    return str(info.value)


@pytest.mark.parametrize(("overrides", "message"), [
    # top level
    (["seed=-1"], "seed=-1: expected an integer in [0, 4294967295]"),
    (["seed=4294967296"], "seed=4294967296: expected an integer in [0, 4294967295]"),
    (["device=gpu"], "device=gpu: expected auto, cpu, cuda or cuda:<index>"),
    (["max_seconds=-1"], "max_seconds=-1: expected a number >= 0"),
    (["video_steps=0"], "video_steps=0: expected an integer >= 1"),
    (["agent=-1"], "agent=-1: expected an integer >= 0"),
    (["wandb_mode=sometimes"], "wandb_mode=sometimes: expected 'auto', 'online', 'offline' or 'disabled'"),
    # train.ppo
    (["train.ppo.learning_rate=-1"], "train.ppo.learning_rate=-1: expected a number > 0"),
    (["train.ppo.horizon_length=0"], "train.ppo.horizon_length=0: expected an integer >= 1"),
    (["train.ppo.gamma=1.5"], "train.ppo.gamma=1.5: expected a number in (0, 1]"),
    (["train.ppo.mini_epochs=0"], "train.ppo.mini_epochs=0: expected an integer >= 1"),
    (["train.ppo.tau=abc"], "train.ppo.tau=abc: expected a number in [0, 1]"),
    # train.ga
    (["train.ga.frac_replaced=0"], "train.ga.frac_replaced=0: expected a number in (0, 1]"),
    (["train.ga.mutation_std=-0.1"], "train.ga.mutation_std=-0.1: expected a number >= 0"),
    (["train.ga.mode=pbt"], "train.ga.mode=pbt: expected 'paper' or 'official'"),
    # train.population
    (["train.population.size=0"], "train.population.size=0: expected an integer >= 1"),
    (["train.population.latent_dim=0"], "train.population.latent_dim=0: expected an integer >= 1"),
    # train.network
    (["train.network.units=[64,0]"], "train.network.units[1]=0: expected an integer >= 1"),
    (["train.network.activation=gelu"], "train.network.activation=gelu: expected 'elu', 'relu', 'tanh' or 'silu'"),
    # train.off_policy
    (["train.off_policy.ratio=0"], "train.off_policy.ratio=0: expected a number > 0"),
    (["train.off_policy.sampling=all"], "train.off_policy.sampling=all: expected 'union' or 'block'"),
    # train.es (train=ES)
    (["train=ES", "train.es.sigma=0"], "train.es.sigma=0: expected a number > 0"),
    (["train=ES", "train.es.lr_min=1"], "train.es.lr_min=1.0: expected <= learning_rate=0.01"),
    (["train=ES", "+train.es.sigmaa=0.1"], "unknown key train.es.sigmaa (did you mean 'sigma'?); valid keys under "
                                           "train.es: " + ", ".join(sorted(ESTrainConfig.model_fields))),
])
def test_bad_value_is_one_line_naming_key_value_and_range(overrides: list[str], message: str) -> None:
    assert _error(overrides) == message


def test_unknown_top_level_key_names_the_closest() -> None:
    assert _error(["+max_epoch=5"]).startswith("unknown key max_epoch (did you mean 'max_epochs'?); valid keys: ")


def test_misspelled_key_is_one_line() -> None:
    from epo_isaac.cli.console import check_overrides

    with pytest.raises(UserError, match=r"^unknown key train\.vido_interval \(did you mean 'video_interval'\?\)"):
        check_overrides(["train.vido_interval=3"], ROOT / "cfg")


@pytest.mark.parametrize(("overrides", "message"), [
    (["train.network.lstm_units=8", "train.ppo.horizon_length=20", "train.ppo.seq_length=8",
      "train.ppo.minibatch_size=960"],
     "train.ppo.horizon_length must be a multiple of train.ppo.seq_length"),
    (["train.ppo.minibatch_size=100"],
     "minibatch_size=100 does not divide the batch num_envs·horizon_length=3072; set train.ppo.minibatch_size "
     "(or train.ppo.minibatch_envs) to a divisor"),
])
def test_cross_field_constraints_keep_their_messages(overrides: list[str], message: str) -> None:
    rc = parse_run_config(compose_cfg(["task=Pendulum", *overrides]))  # 48 envs, horizon 64
    with pytest.raises(UserError) as info:
        check_layout(int(rc.task["num_envs"]), rc.train)
    assert str(info.value) == message


def test_max_epochs_is_a_shortcut_for_the_algorithms_budget() -> None:
    assert parse_run_config(compose_cfg(["max_epochs=7"])).train.ppo.max_epochs == 7
    assert parse_run_config(compose_cfg(["train=ES", "max_epochs=7"])).train.es.max_iterations == 7
    assert parse_run_config(compose_cfg(["train=ES"])).train.es.max_iterations == ESTrainConfig().max_iterations


def _leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def test_models_are_the_source_of_the_composed_defaults() -> None:
    composed = OmegaConf.to_container(compose_cfg([]), resolve=True)
    top = {k: v for k, v in composed.items() if k not in HYDRA_GROUPS}
    assert top == RunConfig().model_dump(exclude={*HYDRA_GROUPS, "run_dir"})
    assert set(_leaves(composed["train"])) == set(_leaves(TrainConfig().model_dump()))


def test_every_key_overrides_without_plus() -> None:
    defaults = {**_leaves(RunConfig().model_dump(exclude={*HYDRA_GROUPS, "run_dir"})),
                **_leaves(TrainConfig().model_dump(), "train.")}
    overrides = [f"{key}={'null' if v is None else str(v).lower() if isinstance(v, bool) else v}"
                 for key, v in defaults.items()]
    rc = parse_run_config(compose_cfg(overrides))
    assert rc.train == TrainConfig() and rc.seed == RunConfig().seed


@pytest.mark.parametrize("path", sorted((ROOT / "cfg" / "train").glob("*.yaml")), ids=lambda p: p.stem)
def test_train_yamls_hold_only_what_differs(path: Path) -> None:
    own = OmegaConf.to_container(OmegaConf.load(path))
    own.pop("defaults", None)
    same = {k: v for k, v in _leaves(own).items()
            if k != "algo" and v == _leaves(TrainConfig().model_dump()).get(k)}
    assert not same, f"{path.name} repeats the defaults of TrainConfig: {same}"


def test_es_and_genetic_settings_are_declared_once() -> None:
    assert issubclass(ESTrainConfig, ESConfig)
    assert not set(ESTrainConfig.__annotations__) & set(ESConfig.model_fields), "ESTrainConfig re-declares a field"
    assert TrainConfig.model_fields["ga"].annotation is genetic.GeneticConfig  # plan_generation's config


def test_es_checkpoint_keeps_the_optimiser_config_keys() -> None:
    saved = OpenAIES(torch.zeros(3), ESTrainConfig(population_size=4)).state_dict()["config"]
    assert list(saved) == ["population_size", "sigma", "learning_rate", "antithetic", "rank_shaping",
                           "weight_decay", "optimizer", "momentum", "sigma_decay", "sigma_min", "lr_decay", "lr_min"]


@pytest.mark.parametrize(("overrides", "key"), [
    (["seed=-1"], "seed"),
    (["train.ppo.learning_rate=-1"], "train.ppo.learning_rate"),
    (["train=ES", "train.es.sigma=0", "hydra.run.dir={blocked}/run"], "train.es.sigma"),  # Hydra could not make it
])
def test_train_py_stops_before_the_run_folder(tmp_path: Path, overrides: list[str], key: str) -> None:
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env.update(WANDB_MODE="offline", PYTHONWARNINGS="ignore")
    args = [sys.executable, str(ROOT / "train.py"), "task=Pendulum", "task.num_envs=8",
            *(o.format(blocked=blocked) for o in overrides)]
    proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith(f"error: {key}="), lines
    assert not (tmp_path / "runs").exists() and blocked.is_file()
