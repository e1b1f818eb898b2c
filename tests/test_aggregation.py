"""SAPG's off-policy aggregation (spec §3.1–§3.6): the master's dataset holds the followers' transitions relabelled
with the master's latent, and the master learns from them. Real rl_games agent, real rollout on Pendulum.

The learning tests that would notice a master without the followers' data are slow; these check the dataset and
the gradient directly (issue 25: dropping the relabelled rows passed every test of the default run).
"""

from __future__ import annotations

import pytest
import torch
from conftest import compose_cfg

from bench.launch import rl_games_agent
from epo_isaac.epo import losses
from epo_isaac.epo.rollout import flat

N, T, M = 16, 16, 4
FAST = ["task=Pendulum", f"task.num_envs={N}", "train=SAPG", f"train.population.size={M}",
        f"train.ppo.horizon_length={T}", "train.ppo.minibatch_size=128", "train.ppo.normalize_value=false",
        "torch_threads=1", "seed=5"]


@pytest.fixture(scope="module")
def agent_rollout_data(tmp_path_factory: pytest.TempPathFactory):
    """A SAPG agent (M = 4 agents on 16 envs, union sampling, ratio 1), one rollout and its dataset; the value
    normaliser is off so that the dataset's values are the critic's own outputs."""
    agent, close = rl_games_agent(compose_cfg(FAST), train_dir=tmp_path_factory.mktemp("aggregation"))
    try:
        agent.init_tensors()
        agent.obs = agent.env_reset()
        agent.set_eval()  # as _train_epoch: the rollout and the relabelling leave the normalisers alone
        ro, _ = agent.collect_rollout()
        data = agent.build_dataset(ro)
    finally:
        close()
    return agent, ro, data


def _match_on_rows(data: dict, off: torch.Tensor) -> torch.Tensor:
    """For each off-policy row, the on-policy row with the same observation and action (``[K]``, -1: none)."""
    n_on = N * T
    key_on = torch.cat([data["obs"][:n_on], data["actions"][:n_on]], 1)
    key_off = torch.cat([data["obs"][off], data["actions"][off]], 1)
    same = (key_off[:, None, :] == key_on[None, :, :]).all(-1)  # [K, n_on]
    return torch.where(same.any(1), same.float().argmax(1), torch.full((off.numel(),), -1))


def test_the_master_dataset_holds_every_agents_rows_and_the_followers_rows_as_the_masters(agent_rollout_data) -> None:
    agent, _, data = agent_rollout_data
    n_on = N * T
    follower_rows = (N - N // M) * T
    expected_off = round(agent.off_cfg.ratio * (N // M) * T)  # union sampling: ratio × one block's rows
    assert agent.off_cfg.enabled and agent.off_cfg.sampling == "union" and 0 < expected_off <= follower_rows
    assert data["obs"].shape[0] == n_on + expected_off and data["num_off"] == expected_off
    assert not data["is_off"][:n_on].any() and data["is_off"][n_on:].all()
    off = torch.arange(n_on, n_on + expected_off)
    assert torch.equal(data["agent_ids"][off], torch.zeros(expected_off, dtype=torch.long)), "relabelled as master"
    source = _match_on_rows(data, off)
    assert (source >= 0).all(), "every off-policy row is one of the rollout's transitions"
    assert (data["agent_ids"][source] > 0).all(), "the relabelled rows are the followers' own, never the master's"
    assert source.unique().numel() == expected_off, "no transition is used twice"
    assert torch.equal(data["old_neglogp"][off], data["old_neglogp"][source]), "behaviour log-probs are kept"


def test_relabelled_rows_carry_the_masters_values_targets_and_policy(agent_rollout_data) -> None:
    """V_old(s; φ_0), the 1-step target r + γ·V_old(s′; φ_0)·(1 − d′) (time-outs bootstrapped), and the master's
    old policy on the followers' states (spec §3.2–§3.3), recomputed here from the rollout."""
    agent, ro, data = agent_rollout_data
    n_on = N * T
    off = torch.arange(n_on, data["obs"].shape[0])
    source = _match_on_rows(data, off)
    master = torch.zeros(off.numel(), dtype=torch.long)
    with torch.no_grad():
        now = agent._act(data["obs"][off], master, None)
        nxt = agent._act(flat(ro.next_obs())[source], master, None)
    values, next_values = now["values"][:, 0], nxt["values"][:, 0]
    torch.testing.assert_close(data["values"][off], values)
    assert not torch.allclose(data["values"][off], data["values"][source]), "the followers' own V(s; φ_b) kept"
    rewards = flat(ro.rewards)[source] + agent.gamma * values * flat(ro.time_outs)[source]
    expected = losses.one_step_targets(rewards, next_values, flat(ro.terminals)[source], agent.gamma)
    torch.testing.assert_close(data["returns"][off], expected)
    torch.testing.assert_close(data["mu"][off], now["mus"])
    torch.testing.assert_close(data["sigma"][off], now["sigmas"])
    master_neglogp = agent.model.neglogp(data["actions"][off], now["mus"], now["sigmas"], torch.log(now["sigmas"]))
    torch.testing.assert_close(data["master_neglogp"][off], master_neglogp)


def test_advantages_are_normalised_over_on_and_off_rows_together(agent_rollout_data) -> None:
    """A = returns − values on every row (the value normaliser is off here), then normalised over the whole batch,
    on-policy and relabelled rows together (as the official code)."""
    agent, _, data = agent_rollout_data
    assert agent.normalize_advantage
    raw = data["returns"] - data["values"]
    torch.testing.assert_close(data["advantages"], (raw - raw.mean()) / (raw.std() + 1e-8))
    assert data["advantages"].shape == (data["obs"].shape[0],)


def test_the_master_learns_from_the_relabelled_rows(agent_rollout_data) -> None:
    """A minibatch of relabelled rows alone moves the master's latent and no follower's."""
    agent, _, data = agent_rollout_data
    off = data["is_off"]
    mb = {k: v[off] for k, v in data.items() if isinstance(v, torch.Tensor)}
    agent.set_train()
    agent.model.running_mean_std.eval()  # in train mode the forward would move the observation normaliser
    agent.model.zero_grad(set_to_none=True)
    loss, _ = agent.minibatch_loss(mb)
    loss.backward()
    grad = agent.net.latents.grad
    assert grad[0].abs().sum() > 0, "the followers' data does not reach the master"
    assert torch.equal(grad[1:], torch.zeros_like(grad[1:])), "relabelled rows trained a follower's latent"
