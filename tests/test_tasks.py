"""The task registry's user errors (``task.*`` / ``sim.*`` values: pydantic's ValidationError, printed by
``train.py`` as one line; the rest: one-line :class:`tasks.TaskConfigError`), the settings models and their Hydra
defaults, task=Gym and the named Gymnasium tasks Walker2d / BipedalWalker, and a short real training run on
``task=Gym task.env_id=Hopper-v5``."""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from conftest import compose_cfg
from omegaconf import OmegaConf
from pydantic import ValidationError

import tasks
from tasks import TaskConfigError
from tasks.gymnasium import GymnasiumTask

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIM = {"backend": "mujoco", "num_threads": 0, "substeps": 2, "physics_dt": 1 / 120}


def error_of(name: str, num_envs: int = 2, build: bool = False, **kwargs: Any) -> str:
    """The one-line message of the TaskConfigError that ``tasks.check_settings`` (or ``tasks.make``) raises."""
    with pytest.raises(TaskConfigError) as info:
        (tasks.make if build else tasks.check_settings)(name, num_envs=num_envs, **kwargs)
    message = str(info.value)
    assert isinstance(info.value, ValueError) and "\n" not in message
    return message


def invalid(name: str, **kwargs: Any) -> str:
    """The pydantic ValidationError that ``tasks.check_settings`` raises, as the one line ``train.py`` prints."""
    import train

    with pytest.raises(ValidationError) as info:
        tasks.check_settings(name, num_envs=2, **kwargs)
    message = str(train.settings_error(info.value, name, kwargs.get("sim")))
    assert "\n" not in message
    return message


def task_settings(overrides: list[str]) -> tuple[str, int, dict[str, Any], dict[str, Any]]:
    """(name, num_envs, settings, sim) as train.py takes them from the composed config."""
    cfg = compose_cfg(overrides)
    settings = OmegaConf.to_container(cfg.task, resolve=True)
    return settings.pop("name"), settings.pop("num_envs"), settings, OmegaConf.to_container(cfg.sim, resolve=True)


# ------------------------------------------------------------------------------------------------ errors
def test_unknown_task_suggests_the_closest_and_lists_all() -> None:
    message = error_of("Pendulumm")
    assert "unknown task 'Pendulumm' (did you mean 'Pendulum'?)" in message
    assert "HalfCheetah" in message and "Gym" in message
    assert "did you mean 'Walker2d'" in error_of("walker2d")
    assert error_of("Hopper-v5").startswith("unknown task 'Hopper-v5' (did you mean 'Hopper'?); Hopper-v5 is a "
                                            "Gymnasium id: use task=Gym task.env_id=Hopper-v5; valid tasks: ")


def test_unknown_setting_suggests_the_closest() -> None:
    assert invalid("Pendulum", max_episode_step=3) == (
        "unknown key task.max_episode_step (did you mean 'max_episode_steps'?); valid keys under task: "
        "max_episode_steps, render_mode, vectorization_mode")
    assert "(did you mean 'lifting_rew_scale'?)" in invalid("AllegroKukaRegrasping", rewards={"lifting_rew_scal": 1.0})
    assert invalid("AllegroKukaRegrasping", episode_lenght=3).startswith(
        "unknown key task.episode_lenght (did you mean 'episode_length'?)")


@pytest.mark.parametrize(("name", "key", "value", "message"), [
    ("AllegroKukaRegrasping", "episode_length", "abc", "task.episode_length=abc: expected an integer >= 2"),
    ("AllegroKukaRegrasping", "episode_length", 1.5, "task.episode_length=1.5: expected an integer >= 2"),
    ("AllegroKukaRegrasping", "episode_length", True, "task.episode_length=True: expected an integer >= 2"),
    ("AllegroKukaRegrasping", "episode_length", 1, "task.episode_length=1: expected an integer >= 2"),
    ("AllegroKukaRegrasping", "success_tolerance", "tight", "task.success_tolerance=tight: expected a number > 0"),
    ("AllegroKukaRegrasping", "success_tolerance", 0, "task.success_tolerance=0: expected a number > 0"),
    ("AllegroKukaRegrasping", "target_success_tolerance", 0.5,
     "task.target_success_tolerance=0.5: expected <= success_tolerance (0.075)"),
    ("AllegroKukaRegrasping", "actions_moving_average", 1.5,
     "task.actions_moving_average=1.5: expected a number in (0, 1]"),
    ("AllegroKukaRegrasping", "max_consecutive_successes", -1,
     "task.max_consecutive_successes=-1: expected an integer >= 0"),
    ("AllegroKukaRegrasping", "with_sticks", "yes", "task.with_sticks=yes: expected true or false"),
    ("AllegroKukaRegrasping", "force_prob_range", 0.1, "task.force_prob_range=0.1: input should be a valid tuple"),
    ("AllegroKukaRegrasping", "force_prob_range", [0.5, 0.1],
     "task.force_prob_range=[0.5, 0.1]: expected [low, high] with low <= high"),
    ("AllegroKukaRegrasping", "force_prob_range", [0.1, 2], "task.force_prob_range[1]=2: expected a number in (0, 1]"),
    ("AllegroKukaRegrasping", "rewards", {"lifting_bonus": "x"},
     "task.rewards.lifting_bonus=x: expected a number >= 0"),
    ("AllegroKukaRegrasping", "rewards", {"lifting_bonus": -1},
     "task.rewards.lifting_bonus=-1: expected a number >= 0"),
    ("Pendulum", "max_episode_steps", "abc", "task.max_episode_steps=abc: expected an integer >= 1"),
    ("Pendulum", "max_episode_steps", 0, "task.max_episode_steps=0: expected an integer >= 1"),
    ("Pendulum", "vectorization_mode", "fast", "task.vectorization_mode=fast: expected 'sync' or 'async'"),
    ("Gym", "env_id", 3, "task.env_id=3: expected a string"),
])
def test_setting_of_the_wrong_type_or_range(name: str, key: str, value: Any, message: str) -> None:
    settings = {"env_id": "Hopper-v5"} if name == "Gym" else {}
    assert invalid(name, **{**settings, key: value}) == message


@pytest.mark.parametrize(("sim", "message"), [
    ({"num_threads": -1}, "sim.num_threads=-1: expected an integer >= 0"),
    ({"num_threads": "all"}, "sim.num_threads=all: expected an integer >= 0"),
    ({"substeps": 0}, "sim.substeps=0: expected an integer >= 1"),
    ({"physics_dt": 0.0}, "sim.physics_dt=0.0: expected a number > 0"),
    ({"refresh_sensors": "yes"}, "sim.refresh_sensors=yes: expected true or false"),
    ({"contact": {"cone": "round"}}, "sim.contact.cone=round: expected 'pyramidal' or 'elliptic'"),
    ({"contact": {"impratio": 0.5}}, "sim.contact.impratio=0.5: expected a number >= 1"),
    ({"contact": {"noslip_iterations": -1}}, "sim.contact.noslip_iterations=-1: expected an integer >= 0"),
    ({"contact": {"noslip_iterations": 1.5}}, "sim.contact.noslip_iterations=1.5: expected an integer >= 0"),
    ({"num_thread": 2}, "unknown key sim.num_thread (did you mean 'num_threads'?); valid keys under sim: backend, "
                        "contact, num_threads, physics_dt, refresh_sensors, substeps"),
    ({"contact": {"conee": "elliptic"}}, "unknown key sim.contact.conee (did you mean 'cone'?); valid keys under "
                                         "sim.contact: cone, impratio, noslip_iterations, object_condim, "
                                         "torsional_friction"),
    ({"backend": "mujoco_warp", "njmax": 0}, "sim.njmax=0: expected an integer >= 1"),
    ({"backend": "mujoco_warp", "max_overflow_fraction": 2},
     "sim.max_overflow_fraction=2: expected a number in [0, 1]"),
    ({"backend": "mujoco_warp", "nconmax": "many"}, "sim.nconmax=many: expected an integer >= 1"),
])
def test_bad_sim_setting_is_caught_before_building(sim: dict[str, Any], message: str) -> None:
    for name in ("AllegroKukaRegrasping", "Pendulum"):  # checked for a task without a simulator choice too
        assert invalid(name, sim=sim) == message


def test_sim_settings_the_scene_cannot_use() -> None:
    assert error_of("AllegroKukaRegrasping", sim={"physics_dt": 0.01}) == (
        "sim.physics_dt=0.01: the Allegro-Kuka scene is built for 0.008333333333333333 s; leave it at its default")


def test_nested_reward_setting_from_the_command_line() -> None:
    name, num_envs, settings, sim = task_settings(["task=AllegroKukaRegrasping", "task.rewards.lifting_bonus=5"])
    tasks.check_settings(name, num_envs=num_envs, sim=sim, **settings)
    assert settings["rewards"]["lifting_bonus"] == 5


def test_values_of_the_right_type_pass() -> None:
    tasks.check_settings("AllegroKukaRegrasping", episode_length=10, success_tolerance=1,  # int for float
                force_prob_range=[0.01, 0.1], with_sticks=False, sim=DEFAULT_SIM)
    tasks.check_settings("Pendulum", max_episode_steps=None, vectorization_mode="async", sim=DEFAULT_SIM)
    assert error_of("Pendulum", num_envs=0) == "task.num_envs=0: expected an int >= 1"


def test_gymnasium_task_has_no_simulator_choice() -> None:
    for backend in ("isaacgym", "mujoco_warp"):
        assert error_of("Pendulum", sim={**DEFAULT_SIM, "backend": backend}) == (
            f"task Pendulum has no simulator choice (Gymnasium runs its own physics); drop sim={backend}")
    tasks.check_settings("Pendulum", sim=DEFAULT_SIM)  # the default sim config (cfg/sim/mujoco.yaml) is fine
    tasks.check_settings("Pendulum", sim=None)


class _Hidden(importlib.abc.MetaPathFinder):
    """Makes ``import <name>`` fail as if the package were not installed."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname == self.name or fullname.startswith(self.name + "."):
            raise ModuleNotFoundError(f"No module named '{fullname}'", name=fullname)


@pytest.mark.parametrize(("backend", "package"), [("isaacgym", "isaacgym"), ("mujoco_warp", "mujoco_warp")])
def test_missing_simulator_package_is_one_line_with_the_hint_once(backend: str, package: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Also where the package is installed (CI installs mujoco_warp): it is hidden from the import system."""
    for name in [m for m in sys.modules if m.split(".")[0] == package or m == f"tasks.sim.{backend}"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_Hidden(package), *sys.meta_path])
    message = error_of("AllegroKukaRegrasping", sim={**DEFAULT_SIM, "backend": backend})
    assert message.startswith(f"sim={backend} needs a simulator package that is not installed "
                              f"(No module named '{package}')")
    assert message.count("pip install") == 1 and message.endswith("or use sim=mujoco")


def test_unknown_simulator_backend_lists_the_valid_ones() -> None:
    message = error_of("AllegroKukaRegrasping", sim={"backend": "mujoco_wrap"})
    assert message.startswith("unknown simulator backend 'mujoco_wrap' (did you mean 'mujoco_warp'?)")
    assert "isaacgym" in message


def test_gym_needs_a_box_action_env_id() -> None:
    assert error_of("Gym") == error_of("Gym", env_id="") == (
        "task=Gym needs task.env_id=<Gymnasium id with Box actions>, e.g. task.env_id=Hopper-v5")
    discrete = ("Gymnasium env CartPole-v1 has a Discrete action space; "
                "epo_isaac trains continuous (Box) actions only")
    assert error_of("Gym", env_id="CartPole-v1") == discrete  # found before anything is built
    with pytest.raises(TaskConfigError) as info:
        GymnasiumTask("CartPole-v1", 2)
    assert str(info.value) == discrete
    assert error_of("Gym", env_id="Hoper-v5") == (
        "cannot make Gymnasium env Hoper-v5: Environment `Hoper` doesn't exist. Did you mean: `Hopper`?")
    assert error_of("Gym", build=True, env_id="Pendulum-v1", env_kwargs={"bogus": 1}).startswith(
        "task.env_kwargs={'bogus': 1}: Pendulum-v1 rejects them")


# ------------------------------------------------------------------------------------------------ defaults
def hydra_value(value: Any) -> str:
    """``value`` as a Hydra command-line override value."""
    if value is None or isinstance(value, bool):
        return str(value).lower() if value is not None else "null"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, list):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    return repr(value)


def leaves(tree: dict[str, Any], prefix: str) -> list[str]:
    """``prefix.key=value`` for every leaf of ``tree`` (nested dicts expanded)."""
    out = []
    for key, value in tree.items():
        out += leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}={hydra_value(value)}"]
    return out


@pytest.mark.parametrize("name", sorted(tasks.TASKS))
def test_task_yaml_holds_only_name_and_num_envs_and_every_key_overrides_without_plus(name: str) -> None:
    """``cfg/task/<name>.yaml`` pulls its settings from ``task_schema/<name>`` (``tasks.defaults``, registered by
    ``train.register_task_schemas``): the composed config is the typed defaults, and every one of them can be
    overridden as ``task.<key>=v`` (nested: ``task.rewards.<key>=v``) without ``+``."""
    raw = yaml.safe_load((ROOT / "cfg" / "task" / f"{name}.yaml").read_text())
    assert raw == {"defaults": [f"/task_schema/{name}@_here_", "_self_"], "name": name, "num_envs": raw["num_envs"]}
    defaults = tasks.defaults(name)
    assert defaults and defaults == tasks.settings_model(name)().model_dump(mode="json")  # plain data
    cfg = OmegaConf.to_container(compose_cfg([f"task={name}", *leaves(defaults, "task.")]).task)
    assert (cfg.pop("name"), cfg.pop("num_envs")) == (name, raw["num_envs"]) and cfg == defaults


@pytest.mark.parametrize("backend", ["mujoco", "mujoco_warp"])
def test_sim_yaml_holds_only_the_backend_and_every_key_overrides_without_plus(backend: str) -> None:
    raw = yaml.safe_load((ROOT / "cfg" / "sim" / f"{backend}.yaml").read_text())
    assert raw == {"defaults": [f"/sim_schema/{backend}@_here_", "_self_"], "backend": backend}
    defaults = tasks.sim_defaults(backend)
    cfg = OmegaConf.to_container(compose_cfg([f"sim={backend}", *leaves(defaults, "sim.")]).sim)
    assert cfg == defaults == tasks.sim_model({"backend": backend})().model_dump(mode="json")
    assert tasks.sim_model(cfg)(**cfg).backend_options()["nthread"] == 0  # what the backend constructor gets


# ------------------------------------------------------------------------------------------------ tasks
@pytest.mark.parametrize(("name", "settings", "obs", "act"), [
    ("Gym", {"env_id": "Hopper-v5", "env_kwargs": {"ctrl_cost_weight": 0.01}}, 11, 3),
    ("Walker2d", {}, 17, 6),
    ("BipedalWalker", {}, 24, 4),
])
def test_gymnasium_tasks_build_and_step(name: str, settings: dict[str, Any], obs: int, act: int) -> None:
    if name == "BipedalWalker":
        pytest.importorskip("Box2D")
    env = tasks.make(name, num_envs=2, seed=1, sim=DEFAULT_SIM, max_episode_steps=3, **settings)
    try:
        assert (env.num_obs, env.num_actions, env.max_episode_length) == (obs, act, 3)
        assert env.reset().shape == (2, obs)
        for _ in range(3):
            o, r, d, extras = env.step(torch.zeros(2, act))
            assert o.shape == (2, obs) and r.shape == (2,) and torch.isfinite(o).all()
        assert d.all() and extras["time_outs"].dtype == torch.bool  # the 3-step limit ends every episode
    finally:
        env.close()


@pytest.mark.parametrize("overrides", [["task=Gym", "task.env_id=Hopper-v5"], ["task=Walker2d"],
                                       ["task=BipedalWalker"],
                                       ["task=Gym", "task.env_id=Ant-v5", "+task.env_kwargs.ctrl_cost_weight=0.1"]])
def test_task_configs_pass_the_checks(overrides: list[str]) -> None:
    from epo_isaac.host.config import check_layout, parse_train_config

    name, num_envs, settings, sim = task_settings(overrides)
    tasks.check_settings(name, num_envs=num_envs, sim=sim, **settings)
    for algo in ("EPO", "SAPG", "PPO"):  # task_train/<name>.yaml parses; populations and minibatches fit
        check_layout(num_envs, parse_train_config(compose_cfg([*overrides, f"train={algo}"]).train))


# ------------------------------------------------------------------------------------------------ training
def test_gym_task_trains_and_writes_a_checkpoint(tmp_path: Path) -> None:
    import train

    cfg = compose_cfg(["task=Gym", "task.env_id=Hopper-v5", "task.num_envs=8", "max_epochs=2", "torch_threads=1",
                       "train.ppo.horizon_length=16", "train.ppo.mini_epochs=1", f"+run_dir={tmp_path / 'gym'}"])
    summary = train.run(cfg)
    assert [h["epoch"] for h in summary["history"]] == [1, 2]
    assert list(Path(summary["run_dir"], "nn").glob("*.pth")), "no checkpoint written"


def test_train_run_surfaces_the_task_error(tmp_path: Path) -> None:
    import train

    cfg = compose_cfg(["task=Pendulum", "sim=isaacgym", "task.num_envs=8", "max_epochs=1", "torch_threads=1",
                       f"+run_dir={tmp_path / 'bad'}"])
    with pytest.raises(TaskConfigError, match="drop sim=isaacgym"):
        train.run(cfg)


@pytest.mark.parametrize("name", ["Pendulum", "HalfCheetah", "Hopper"])
def test_episode_snapshots_continue_identically(name: str) -> None:
    """A task restored from ``get_state`` steps exactly like the original (episode ends and resets included);
    a fresh task with another seed is overwritten entirely."""
    a, b = tasks.make(name, num_envs=2, seed=1), tasks.make(name, num_envs=2, seed=7)
    try:
        a.reset(), b.reset()
        generator = torch.Generator().manual_seed(0)
        for _ in range(5):
            a.step(torch.rand(2, a.num_actions, generator=generator) * 2 - 1)
        b.set_state(a.get_state())
        assert b.restores_episodes and not a.restores_episodes
        for _ in range(250):  # past Pendulum's 200-step limit; Hopper falls and resets
            actions = torch.rand(2, a.num_actions, generator=generator) * 2 - 1
            for x, y in zip(a.step(actions)[:3], b.step(actions)[:3], strict=True):
                assert torch.equal(x, y)
    finally:
        a.close(), b.close()


def test_tasks_without_snapshots_start_new_episodes() -> None:
    task = tasks.make("LunarLanderContinuous", num_envs=2, seed=1)  # Box2D worlds cannot be captured
    try:
        task.reset()
        state = task.get_state()
        assert state["episodes"] is None
        task.set_state(state)
        assert not task.restores_episodes
    finally:
        task.close()
