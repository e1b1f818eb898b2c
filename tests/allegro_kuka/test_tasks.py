"""Smoke and behaviour tests over every registered Allegro-Kuka task (MuJoCo CPU backend)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from conftest import compose_cfg
from omegaconf import OmegaConf
from pydantic import ValidationError

import tasks
from tasks.allegro_kuka import kernels as K
from tasks.allegro_kuka import registry
from tasks.allegro_kuka.config import VARIANTS, Variant, check_variants

pytest.importorskip("mujoco")

NAMES = sorted(n for n in tasks.TASKS if n.startswith("AllegroKuka"))
OBS = {"AllegroKukaRegrasping": 99, "AllegroKukaReorientation": 117, "AllegroKukaThrow": 99,
       "AllegroKukaTwoArmsRegrasping": 169}
CFG_DIR = Path(__file__).resolve().parents[2] / "cfg" / "task"
SIM = {"backend": "mujoco", "num_threads": 1}


@pytest.fixture(autouse=True)
def _log_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MuJoCo appends its warnings to MUJOCO_LOG.TXT in the working directory: keep it out of the repo."""
    monkeypatch.chdir(tmp_path)


def expected_obs(name: str) -> int:
    return OBS.get(name, 196)


def make(name: str, n: int = 16, seed: int = 0, **settings):
    return tasks.make(name, num_envs=n, seed=seed, sim=SIM, **settings)


def hold_actions(env) -> torch.Tensor:
    """Actions whose targets are the default pose (arm increments 0 for one arm)."""
    a = K.unscale(env.default_dof_pos, env.dof_lower, env.dof_upper).clamp(-1, 1)
    a = a.expand(env.num_envs, -1).clone()
    a[:, env.incremental] = 0.0
    return a


def test_all_eight_registered() -> None:
    assert len(NAMES) == 8


@pytest.mark.parametrize("name", NAMES)
def test_random_steps(name: str) -> None:
    env = make(name)
    obs = env.reset()
    assert obs.shape == (16, expected_obs(name)) and env.num_obs == expected_obs(name)
    assert env.num_actions == (46 if "TwoArms" in name else 23)
    g = torch.Generator().manual_seed(0)
    for _ in range(100):
        actions = torch.rand(16, env.num_actions, generator=g) * 2 - 1
        obs, reward, done, extras = env.step(actions)
        assert torch.isfinite(obs).all() and torch.isfinite(reward).all()
    assert obs.shape == (16, expected_obs(name)) and obs.dtype == torch.float32
    assert reward.shape == (16,) and done.dtype == torch.bool
    assert obs.abs().max() <= 10.0
    for key in ("time_outs", "successes", "true_objective", "lifted"):
        assert extras[key].shape == (16,)
    assert "success_tolerance" in extras["scalars"]
    assert torch.allclose(sum(extras["rewards"].values()), reward, atol=1e-4)
    env.close()


@pytest.mark.parametrize("name", ["AllegroKukaReorientation", "AllegroKukaTwoArmsRegrasping"])
def test_same_seed_same_trajectory(name: str) -> None:
    def rollout(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        env = make(name, n=8, seed=seed, episode_length=10)
        obs = [env.reset()]
        rewards = []
        g = torch.Generator().manual_seed(1)
        for _ in range(25):
            o, r, _, _ = env.step(torch.rand(8, env.num_actions, generator=g) * 0.4 - 0.2)
            obs.append(o)
            rewards.append(r)
        return torch.stack(obs), torch.stack(rewards)

    o1, r1 = rollout(3)
    o2, r2 = rollout(3)
    o3, _ = rollout(4)
    assert torch.equal(o1, o2) and torch.equal(r1, r2)
    assert not torch.equal(o1, o3)


def test_unknown_and_bad_settings_fail_loudly() -> None:
    with pytest.raises(ValidationError, match="lifting_rew_scal"):
        make("AllegroKukaRegrasping", lifting_rew_scal=1.0)
    with pytest.raises(ValidationError, match="dof_speed_scale"):  # single-arm only setting
        make("AllegroKukaTwoArmsReorientation", dof_speed_scale=5.0)
    with pytest.raises(ValidationError, match="target_success_tolerance"):
        make("AllegroKukaReorientation", target_success_tolerance=0.5)
    with pytest.raises(ValidationError, match="AllegroKukaThrowSettings\nbogus"):
        registry.FACTORIES["AllegroKukaThrow"](num_envs=2, bogus=1)  # direct factory call: same check


def test_reward_settings_are_a_nested_group() -> None:
    env = make("AllegroKukaRegrasping", n=2, rewards={"lifting_bonus": 5.0})
    assert env.cfg.rewards.lifting_bonus == 5.0 and env.cfg.rewards.reach_goal_bonus == 1000.0
    assert env.cfg.episode_length == 300  # the variant's override survives a user setting
    env.close()


@pytest.mark.parametrize(("overrides", "loc", "kind"), [
    ({"episode_lenght": 3}, ("episode_lenght",), "extra_forbidden"),
    ({"rewards": {"lifting_bonu": 1.0}}, ("rewards", "lifting_bonu"), "extra_forbidden"),
    ({"dof_speed_scale": 5.0}, ("dof_speed_scale",), "extra_forbidden"),  # a one-arm setting in a two-arm variant
    ({"episode_length": "long"}, ("episode_length",), "int_type"),
    ({"fingertip_reset_distance": -1.0}, ("fingertip_reset_distance",), "greater_than_equal"),  # internal: range
])
def test_bad_variant_override_fails_naming_the_variant_and_field(overrides: dict, loc: tuple, kind: str) -> None:
    table = {"AllegroKukaBad": Variant("doc", "reorientation", 2, overrides=overrides)}
    with pytest.raises(ValidationError) as info:
        check_variants(table)
    error = info.value.errors()[0]
    assert info.value.title == "AllegroKukaBadSettings" and (error["loc"], error["type"]) == (loc, kind)


def test_impossible_variant_fails() -> None:
    with pytest.raises(ValidationError, match="no throw subtask"):
        check_variants({"AllegroKukaBad": Variant("doc", "throw", 2)})


@pytest.mark.parametrize("name", NAMES)
def test_hydra_config_equals_the_typed_defaults(name: str) -> None:
    """cfg/task/<Name>.yaml holds only name and num_envs; the rest comes from Hydra's ConfigStore
    (``task_schema/<Name>``, registered by ``train.register_task_schemas``) and equals AllegroKukaConfig +
    VARIANTS[name]: the typed config is the single source of truth."""
    raw = yaml.safe_load((CFG_DIR / f"{name}.yaml").read_text())
    assert sorted(raw) == ["defaults", "name", "num_envs"] and raw["name"] == name
    cfg = OmegaConf.to_container(compose_cfg([f"task={name}"]).task)
    assert cfg.pop("name") == name and cfg.pop("num_envs") > 0
    assert cfg == VARIANTS[name].defaults() == tasks.defaults(name)
    assert VARIANTS[name].config(cfg) == VARIANTS[name].config()  # the composed settings build the defaults


def test_success_resamples_goal_and_zeroes_counters() -> None:
    env = make("AllegroKukaReorientation", n=4)
    env.reset()
    geo = env._geometry()
    env.goal_keypoints[0] = geo["keypoints"][0]  # goal = where the object is: near goal next step
    old_goal = env.goal_pos[0].clone()
    env.progress[0] = 100
    obs, reward, done, extras = env.step(hold_actions(env))
    assert not done[0] and extras["successes"][0] == 1 and env.successes[0] == 1
    assert extras["rewards"]["reach_goal_bonus"][0] == pytest.approx(1000.0)
    assert extras["true_objective"][0] == pytest.approx(0.01)
    assert env.progress[0] == 0 and env.near_goal_steps[0] == 0
    assert not torch.equal(env.goal_pos[0], old_goal)
    # the observation already shows the new goal; its best keypoint distance is the current one
    kp_goal = obs[0, 93:105].view(4, 3)
    assert torch.allclose(kp_goal, env._geometry()["keypoints"][0] - env.goal_keypoints[0], atol=1e-5)
    assert obs[0, 108] == pytest.approx(float(env._geometry()["keypoint_dist"][0]), abs=1e-5)
    assert obs[0, 115] == pytest.approx(float(torch.log(torch.tensor(2.0))))


def test_regrasping_success_puts_object_back() -> None:
    env = make("AllegroKukaRegrasping", n=2, success_steps=1)
    env.reset()
    env.goal_keypoints[0] = env._geometry()["keypoints"][0]
    env.lifted[0] = True
    env.step(hold_actions(env))
    assert env.successes[0] == 1 and not env.lifted[0]
    pos = env.sim.body_pos[0, env.object_body]
    assert abs(float(pos[0])) <= 0.1 + 1e-4 and abs(float(pos[1])) <= 0.1 + 1e-4
    assert float(pos[2]) > 0.5  # back above the table top (0.53)


def test_time_out_reports_ended_episode() -> None:
    env = make("AllegroKukaThrow", n=3, episode_length=5)
    env.reset()
    env.successes[1] = 2.0  # pretend two successes in env 1's episode
    env.lifted[2] = True  # and a lift in env 2's
    for t in range(4):
        _, _, done, extras = env.step(hold_actions(env))
        assert done.all() == (t == 3)
    assert extras["time_outs"].all()
    assert extras["successes"].tolist() == [0.0, 2.0, 0.0]
    assert extras["true_objective"].tolist() == pytest.approx([1.0, 3.0, 1.0])  # throw: successes + 1
    assert extras["lifted"].tolist() == [False, False, True]
    assert env.successes.sum() == 0 and env.prev_episode_successes[1] == 2.0 and (env.progress == 0).all()
    assert not env.lifted.any()


def test_curriculum_and_state_roundtrip() -> None:
    env = make("AllegroKukaRegrasping", n=2, tolerance_curriculum_interval=2)
    env.reset()
    env.prev_episode_successes[:] = 5.0
    for _ in range(2):
        _, _, _, extras = env.step(hold_actions(env))
    assert env.success_tolerance == pytest.approx(0.075 * 0.9)
    assert extras["scalars"]["success_tolerance"] == pytest.approx(0.0675)
    state = env.get_state()
    other = make("AllegroKukaRegrasping", n=2)
    other.set_state(state)
    assert other.get_state() == state


def test_observation_matches_sim_state() -> None:
    env = make("AllegroKukaTwoArmsReorientation", n=2)
    obs = env.reset()
    sim = env.sim
    assert torch.allclose(obs[:, 92:98], sim.site_pos[:, :2].reshape(2, 6), atol=1e-6)  # palm centres
    assert torch.allclose(obs[:, 118:122], sim.body_quat[:, env.object_body], atol=1e-6)
    ft_rel = sim.site_pos[:, 2:10].view(2, 2, 4, 3) - sim.site_pos[:, :2].unsqueeze(2)
    assert torch.allclose(obs[:, 128:152], ft_rel.reshape(2, 24), atol=1e-6)
    assert torch.allclose(obs[:, 188:191], env.object_scales)


def test_step_results_are_not_changed_by_later_steps_or_resets() -> None:
    """The observation buffer is reused and resets zero per-env state: neither may reach returned tensors."""
    env = make("AllegroKukaRegrasping", n=4)
    env.reset()
    env.successes = torch.tensor([1.0, 2.0, 0.0, 0.0])
    env.lifted = torch.tensor([True, True, False, False])
    obs, _, _, extras = env.step(hold_actions(env))
    kept = (obs.clone(), extras["successes"].clone(), extras["lifted"].clone())
    env.reset_envs(torch.tensor([0, 1]))
    env.step(hold_actions(env))
    assert torch.equal(obs, kept[0]) and obs.data_ptr() != env._obs.buf.data_ptr()
    assert torch.equal(extras["successes"], kept[1]) and kept[1][:2].tolist() == [1.0, 2.0]
    assert torch.equal(extras["lifted"], kept[2]) and kept[2][:2].all()
    assert env.successes[:2].eq(0).all() and not env.lifted[:2].any()


def test_step_before_reset_and_bad_actions_are_clear_errors() -> None:
    env = make("AllegroKukaRegrasping", n=2)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(torch.zeros(2, 23))
    env.reset()
    with pytest.raises(ValueError, match=r"\[2, 23\]"):
        env.step(torch.zeros(2, 46))


def test_observed_joint_positions_are_normalised_by_the_limits() -> None:
    env = make("AllegroKukaTwoArmsReorientation", n=3)
    obs = env.reset()
    expected = K.unscale(env.sim.dof_pos, env.dof_lower, env.dof_upper).clamp(-10, 10)
    torch.testing.assert_close(obs[:, :46], expected, atol=1e-5, rtol=0)


def test_env_throughput_bench_smoke() -> None:
    from bench.env_throughput import measure

    r = measure("AllegroKukaThrow", 8, 0.2, "hold", 1)
    assert r["env_sps"] > 0 and r["limit_sps"] > 0 and 0 < r["sim_share"] <= 1


def test_reset_subset_leaves_others() -> None:
    env = make("AllegroKukaTwoArmsRegrasping", n=4)
    env.reset()
    for _ in range(3):
        env.step(hold_actions(env))
    before = env.progress.clone()
    goal_before = env.goal_pos.clone()
    obs = env.reset_envs(torch.tensor([False, True, False, True]))
    assert obs.shape == (4, 169)
    assert env.progress.tolist() == [before[0].item(), 0, before[2].item(), 0]
    assert torch.equal(env.goal_pos[[0, 2]], goal_before[[0, 2]])
    assert not torch.equal(env.goal_pos[[1, 3]], goal_before[[1, 3]])


def test_first_step_after_a_reset_pays_no_progress() -> None:
    """Progress terms compare with the best distance since the reset; the first step sets it (IsaacGymEnvs)."""
    env = make("AllegroKukaRegrasping", n=4, episode_length=4)
    env.reset()
    gen = torch.Generator().manual_seed(0)

    def step():
        return env.step(torch.rand(4, env.num_actions, generator=gen) * 2.0 - 1.0)

    paid = []
    for t in range(8):  # two episodes of 3 steps (done at progress >= episode_length - 1), then more
        _, _, done, extras = step()
        paid.append(extras["rewards"]["distance_delta"].clone())
        assert done.all() == (t in (2, 5))
    assert (paid[0] == 0).all() and (paid[3] == 0).all(), "the first step of an episode paid progress"
    assert any((p != 0).any() for p in paid[1:3] + paid[4:6]), "no progress was ever paid"


def test_diverged_world_is_reset_and_counted() -> None:
    env = make("AllegroKukaRegrasping", n=3, force_scale=0.0)  # no random forces: the task leaves xfrc alone
    env.reset()
    env.step(hold_actions(env))
    goal = env.goal_pos.clone()
    force = torch.zeros(3, 3)
    force[1, 2] = 1e30  # N on env 1's object: MuJoCo finds a huge acceleration and resets that world
    env.sim.set_body_force(env.object_body, force)
    obs, reward, done, extras = env.step(hold_actions(env))
    env.sim.set_body_force(env.object_body, torch.zeros(3, 3))
    assert env.sim.unstable.tolist() == [False, True, False]
    assert done.tolist() == [False, True, False] and not extras["time_outs"].any()
    assert reward[1] == 0.0 and all(term[1] == 0.0 for term in extras["rewards"].values())
    assert extras["scalars"]["sim/unstable_resets"] == 1.0
    assert not torch.equal(env.goal_pos[1], goal[1]) and env.progress[1] == 0  # a new episode
    assert torch.isfinite(obs).all()
    _, _, done, extras = env.step(hold_actions(env))
    assert not done.any() and extras["scalars"]["sim/unstable_resets"] == 1.0
