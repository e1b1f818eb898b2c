"""Real rl_games runs through ``train.run`` on Pendulum-v1: training, checkpoints, resume, play."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import compose_cfg

import train
from bench.launch import rl_games_agent
from epo_isaac.epo.gate import kruskal_gate
from epo_isaac.errors import UserError
from epo_isaac.host.checkpoint import IncompatibleCheckpointError

FAST = ["task=Pendulum", "task.num_envs=16", "train.ppo.horizon_length=16", "train.ppo.minibatch_size=128",
        "train.ppo.mini_epochs=2", "torch_threads=1"]


def _run(tmp_path: Path, name: str, extra: list[str]) -> dict:
    cfg = compose_cfg(FAST + extra + [f"+run_dir={tmp_path / name}"])
    return train.run(cfg)


def _checkpoint(run_dir: str) -> Path:
    files = sorted(Path(run_dir, "nn").glob("*.pth"), key=lambda p: p.stat().st_mtime)
    assert files, f"no checkpoint in {run_dir}/nn"
    return files[-1]


@pytest.fixture(scope="module")
def epo_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("epo")
    # M = 4, GA every epoch after the first, gate off: generations must happen within 3 epochs.
    return _run(tmp, "epo", ["max_epochs=3", "train.population.size=4", "train.ga.gate=off",
                             "train.ga.warmup_frames=0", "train.ga.interval_frames=1",
                             "+task.max_episode_steps=16"])


def test_epo_trains_writes_checkpoint_events_and_config(epo_run: dict) -> None:
    run_dir = Path(epo_run["run_dir"])
    assert [h["epoch"] for h in epo_run["history"]] == [1, 2, 3]
    assert epo_run["history"][-1]["frames"] == 3 * 16 * 16
    assert list((run_dir / "summaries").glob("events.out.tfevents.*"))
    assert (run_dir / "config_resolved.yaml").read_text().count("gate: 'off'")
    state = torch.load(_checkpoint(str(run_dir)), weights_only=False)
    assert state["epo"]["generation"] >= 1, "the GA never ran although the gate was off"
    assert state["model"]["a2c_network.latents"].shape == (4, 32)


def test_console_and_history_report_the_masters_block(epo_run: dict) -> None:
    rows = [h for h in epo_run["history"] if "master/return" in h]
    assert rows, "no master episode finished"
    for h in rows:  # master = agent 0's block (envs 0-3), not the mean over all 16 envs
        assert h["master/return"] == h["agents/return_0"]
    assert any("agents/return_3" in h for h in epo_run["history"]), "per-agent statistics missing"
    assert epo_run["history"][-1]["ga/generation"] >= 1


def test_checkpoint_restores_latents_and_ga_state_exactly(epo_run: dict, tmp_path: Path) -> None:
    path = _checkpoint(epo_run["run_dir"])
    saved = torch.load(path, weights_only=False)
    cfg = compose_cfg(FAST + ["train.population.size=4", "+task.max_episode_steps=16", "seed=7"])
    agent, close = rl_games_agent(cfg, train_dir=tmp_path, experiment="fresh")
    assert not torch.equal(agent.net.latents.detach(), saved["model"]["a2c_network.latents"])
    agent.restore(str(path))
    assert torch.equal(agent.net.latents.detach(), saved["model"]["a2c_network.latents"])
    assert torch.equal(agent.net.log_std.detach(), saved["model"]["a2c_network.log_std"])
    assert agent.generation == saved["epo"]["generation"]
    assert agent.next_check_frame == saved["epo"]["next_check_frame"]
    assert torch.equal(agent.ga_generator.get_state(), saved["epo"]["ga_generator"])
    fit = agent.fitness.state_dict()
    for key, value in saved["epo"]["fitness"].items():
        assert torch.equal(torch.as_tensor(fit[key]), torch.as_tensor(value)), key
    # the optimizer still optimises the very latent tensor of the network
    assert any(p is agent.net.latents for g in agent.optimizer.param_groups for p in g["params"])
    close()


def test_resume_continues_frames_and_generation(epo_run: dict, tmp_path: Path) -> None:
    path = _checkpoint(epo_run["run_dir"])
    saved = torch.load(path, weights_only=False)
    out = _run(tmp_path, "resumed", ["max_epochs=5", "train.population.size=4", "train.ga.gate=off",
                                     "train.ga.warmup_frames=0", "train.ga.interval_frames=1",
                                     "+task.max_episode_steps=16", f"checkpoint={path}"])
    assert out["history"][0]["epoch"] == saved["epoch"] + 1
    assert out["history"][0]["frames"] == saved["frame"] + 16 * 16
    final = torch.load(_checkpoint(out["run_dir"]), weights_only=False)
    assert final["epo"]["generation"] > saved["epo"]["generation"]


def test_incompatible_checkpoint_is_a_clear_error(epo_run: dict, tmp_path: Path) -> None:
    path = _checkpoint(epo_run["run_dir"])
    with pytest.raises(IncompatibleCheckpointError, match="train.population.size: 4 in the checkpoint vs 8 here"):
        _run(tmp_path, "bad", ["max_epochs=1", "train.population.size=8", f"checkpoint={path}"])


@pytest.mark.parametrize("algo", ["PPO", "SAPG"])
def test_baselines_train(algo: str, tmp_path: Path) -> None:
    out = _run(tmp_path, algo, [f"train={algo}", "max_epochs=2", "task.num_envs=12", "train.ppo.minibatch_size=96"])
    assert len(out["history"]) == 2
    assert list(Path(out["run_dir"], "nn").glob("*.pth"))


def test_play_mode_films_the_master(epo_run: dict, tmp_path: Path) -> None:
    path = _checkpoint(epo_run["run_dir"])
    cfg = compose_cfg(FAST + ["train.population.size=4", "test=true", f"checkpoint={path}", "video_steps=20",
                              "+task.max_episode_steps=16", f"+run_dir={tmp_path / 'play'}"])
    out = train.run(cfg)
    assert out["video_frames"] == 20 and Path(out["video"]).stat().st_size > 0  # Pendulum: 30 Hz, every step
    assert len(out["returns"]) == 1  # one 16-step episode finished within 20 steps


def test_play_without_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="needs checkpoint"):
        _run(tmp_path, "noplay", ["test=true"])


def test_wandb_offline_run_is_written(tmp_path: Path) -> None:
    _run(tmp_path, "wb", ["max_epochs=1", "wandb_activate=true"])
    assert list(tmp_path.rglob("offline-run-*")), "no offline wandb run folder"


def _model_of(run_dir: str) -> dict:
    return torch.load(_checkpoint(run_dir), weights_only=False)["model"]


def test_seed_zero_runs_are_bit_identical(tmp_path: Path) -> None:
    # rl_games seeds nothing for seed=0; train.run seeds torch, numpy, random and the task itself
    a = _run(tmp_path, "s0a", ["seed=0", "max_epochs=3", "train.population.size=4", "train.ga.gate=off"])
    b = _run(tmp_path, "s0b", ["seed=0", "max_epochs=3", "train.population.size=4", "train.ga.gate=off"])
    ma, mb = _model_of(a["run_dir"]), _model_of(b["run_dir"])
    assert ma.keys() == mb.keys()
    for key in ma:
        assert torch.equal(ma[key], mb[key]), key
    c = _run(tmp_path, "s1", ["seed=1", "max_epochs=3", "train.population.size=4", "train.ga.gate=off"])
    assert not torch.equal(_model_of(c["run_dir"])["a2c_network.latents"], ma["a2c_network.latents"])


def test_true_objective_fitness_on_a_task_without_it_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="use train.ga.fitness=return"):
        _run(tmp_path, "to", ["max_epochs=2", "train.ga.fitness=true_objective", "+task.max_episode_steps=8"])


def _agent(tmp_path: Path, overrides: list[str]):
    return rl_games_agent(compose_cfg(FAST + overrides + ["seed=3"]), train_dir=tmp_path, experiment="kl")


def test_adaptive_lr_kl_follows_rl_games_semantics(tmp_path: Path) -> None:
    """Each minibatch's KL is against its rows' stored policy; after the step the rows store the policy the
    minibatch was evaluated with (rl_games' ``dataset.update_mu_sigma``), so mini-epoch k measures the change
    since mini-epoch k−1, not since the rollout."""
    from rl_games.algos_torch import torch_ext

    agent, close = _agent(tmp_path, ["train.population.size=4", "train.ppo.mini_epochs=3",
                                     "train.ppo.minibatch_size=128", "train.ppo.learning_rate=3e-3"])
    try:
        agent.init_tensors()
        agent.obs = agent.env_reset()
        ro, _ = agent.collect_rollout()
        data = agent.build_dataset(ro)
        rollout_mu = data["mu"].clone()
        calls: list[dict] = []
        minibatches, minibatch_loss = agent.minibatches, agent.minibatch_loss

        def spy_minibatches(d):
            for idx, mb in minibatches(d):
                calls.append({"idx": idx.clone(), "stored_mu": mb["mu"].clone(), "stored_sigma": mb["sigma"].clone()})
                yield idx, mb

        def spy_loss(mb):
            loss, info = minibatch_loss(mb)
            calls[-1].update(mu=info["mu"].clone(), sigma=info["sigma"].clone(), kl=info["kl"].item())
            return loss, info

        agent.minibatches, agent.minibatch_loss = spy_minibatches, spy_loss
        agent.update(data)
    finally:
        close()
    per_epoch = len(calls) // 3
    assert per_epoch >= 2 and len(calls) == 3 * per_epoch
    latest = rollout_mu.clone()
    for k, call in enumerate(calls):
        torch.testing.assert_close(call["stored_mu"], latest[call["idx"]])
        expected = torch_ext.policy_kl(call["mu"], call["sigma"], call["stored_mu"], call["stored_sigma"], True)
        assert call["kl"] == pytest.approx(expected.item(), rel=1e-5, abs=1e-10)
        latest[call["idx"]] = call["mu"]
        if k >= per_epoch:  # later mini-epochs no longer compare with the rollout policy
            assert not torch.equal(call["stored_mu"], rollout_mu[call["idx"]])
    torch.testing.assert_close(data["mu"], latest)


@pytest.mark.parametrize("gate", ["default", "kruskal-latched", "kruskal"])
def test_epo_defaults_make_generations_on_pendulum(tmp_path: Path, gate: str) -> None:
    """The default GA (automatic schedule, no gate, fitness = return) runs a generation at every check whose
    followers all have fitness; with ``ga.gate=kruskal`` and ``ga.gate_latch`` every check after the gate first
    opened runs one, and without the latch the gate decides."""
    extra = {"default": [], "kruskal-latched": ["train.ga.gate=kruskal"],
             "kruskal": ["train.ga.gate=kruskal", "train.ga.gate_latch=false"]}[gate]
    cfg = compose_cfg(["task=Pendulum", "max_epochs=30", "seed=1", "torch_threads=1",
                       f"+run_dir={tmp_path / 'defaults'}", *extra])
    history = train.run(cfg)["history"]
    checks = [h for h in history if "ga/ran" in h]
    assert len(checks) >= 10  # a check every epoch after the warm-up (31 in the budget)
    assert history[-1]["ga/generation"] >= 2, [(h["epoch"], h.get("ga/gate_statistic")) for h in checks]
    tested = [h for h in checks if h.get("ga/gate_open") is not None]  # every follower had fitness
    if gate == "default":
        assert cfg.train.ga.gate == "off"
        assert tested and all(h["ga/ran"] == 1.0 and h["ga/gate_open"] == 1.0 for h in tested)
        assert history[-1]["ga/generation"] == len(tested)
    else:
        assert all(0.0 <= h["ga/gate_statistic"] <= 1.0 for h in tested)
    if gate == "kruskal":
        assert all(h["ga/ran"] == h["ga/gate_open"] for h in tested)  # without the latch the gate decides
    if gate == "kruskal-latched":
        first_open = next(i for i, h in enumerate(tested) if h["ga/gate_open"] == 1.0)
        assert all(h["ga/ran"] == 1.0 for h in tested[first_open:]), "every check after the first opening runs"
        assert [h["ga/gate_latched"] for h in tested] == [float(i >= first_open) for i in range(len(tested))]
    assert history[-1]["population/latent_diversity"] > 0.5 * history[0]["population/latent_diversity"]


def test_the_agent_tests_period_aligned_episodes(tmp_path: Path) -> None:
    """The Kruskal–Wallis gate sees each episode minus its period's follower mean (``aligned_episodes``): when the
    whole population improves over the window and the followers differ only in *when* their episodes finished,
    the raw returns differ strongly between blocks (p ≈ 1e-7 here) and the aligned ones not at all."""
    agent, close = _agent(tmp_path, ["train.population.size=4", "train.ga.gate=kruskal",
                                     "train.ga.gate_latch=false"])
    close()
    jitter = [-1.0, 0.0, 1.0, 0.5]
    late = {1: range(5, 10), 2: range(10), 3: range(5)}  # follower b finishes its episodes in these periods
    tracker = agent.fitness
    tracker.reset()
    for period in range(10):
        done = torch.zeros(16, dtype=torch.bool)
        for b, periods in late.items():
            if period in periods:
                done[4 * b: 4 * b + 4] = True  # agent b = envs 4b .. 4b + 3
        tracker.update(done, 100.0 * period + torch.tensor(jitter * 4))
        tracker.next_period()
    raw = kruskal_gate([e for e in tracker.episodes()[1:]], 0.2)
    assert raw.open and raw.statistic < 1e-6
    event = agent.genetic_step(agent.next_check_frame)
    assert event["gate_open"] is False and not event["ran"] and event["gate_statistic"] > 0.9, event


@pytest.mark.parametrize("algo", ["EPO", "PPO"])
def test_update_runs_on_update_threads_and_rollout_on_torch_threads(algo: str, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """torch_threads=1 while the envs step, update_threads=2 for the update (epo_isaac.host.threads)."""
    from rl_games.algos_torch.a2c_continuous import A2CAgent

    from epo_isaac.epo.agent import EPOAgent

    seen: dict[str, set[int]] = {"rollout": set(), "update": set()}
    env_step = A2CAgent.env_step
    update = EPOAgent.update if algo == "EPO" else A2CAgent.train_actor_critic

    def spy_env_step(self, actions):
        seen["rollout"].add(torch.get_num_threads())
        return env_step(self, actions)

    def spy_update(self, *args, **kwargs):
        seen["update"].add(torch.get_num_threads())
        return update(self, *args, **kwargs)

    monkeypatch.setattr(A2CAgent, "env_step", spy_env_step)
    monkeypatch.setattr(EPOAgent if algo == "EPO" else A2CAgent,
                        "update" if algo == "EPO" else "train_actor_critic", spy_update)
    before = torch.get_num_threads()
    _run(tmp_path, algo, [f"train={algo}", "max_epochs=1", "update_threads=2"])
    assert seen == {"rollout": {1}, "update": {2}}
    torch.set_num_threads(before)
