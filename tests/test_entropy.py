"""The followers' entropy bonus trains only what is theirs, never the master's σ (spec §2; issue 24, item 4).

SAPG's master has no entropy bonus; followers have c_b > 0 (``losses.entropy_coefs``). Under
``network.log_std=shared_plus_offset`` the master acts with σ_0 = σ_shared + δ_0, so a follower's entropy gradient
must reach its own offset δ_b and not σ_shared. The official SAPG code (jayeshs999/sapg, rl_games
``network_builder.py``, ``fixed_sigma: coef_cond``) keeps one log-std row per block, so there the bonus of block b
can only move row b.
"""

from __future__ import annotations

import pytest
import torch
from conftest import compose_cfg

from bench.launch import rl_games_agent

FAST = ["task=Pendulum", "task.num_envs=16", "train.ppo.horizon_length=16", "train.ppo.minibatch_size=128",
        "train.population.size=4", "train.ppo.entropy_scale=0.3", "torch_threads=1", "seed=3"]


@pytest.fixture(scope="module")
def agent_and_minibatch(tmp_path_factory: pytest.TempPathFactory):
    """An untrained EPO agent (M = 4, entropy scale 0.3, shared_plus_offset) and one minibatch of its rollout."""
    agent, close = rl_games_agent(compose_cfg(FAST), train_dir=tmp_path_factory.mktemp("entropy"))
    try:
        agent.init_tensors()
        agent.obs = agent.env_reset()
        ro, _ = agent.collect_rollout()
        data = agent.build_dataset(ro)
    finally:
        close()
    agent.set_train()
    agent.model.running_mean_std.eval()  # in train mode each forward would move the observation normaliser
    _, mb = next(agent.minibatches(data))
    return agent, mb


def _sigma_grads(agent, mb: dict, coefs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of the minibatch loss w.r.t. (σ_shared ``[A]``, the offsets δ ``[M, A]``) under ``coefs``."""
    agent.entropy_coefs = coefs
    agent.model.zero_grad(set_to_none=True)
    loss, _ = agent.minibatch_loss(mb)
    loss.backward()
    net = agent.net
    return net.log_std_shared.grad.clone(), net.log_std.grad.clone()


def test_followers_entropy_reaches_their_own_offsets_never_the_shared_sigma(agent_and_minibatch) -> None:
    """With zero advantages σ is moved by the entropy part alone: none of it reaches σ_shared, and follower b's
    offset gets d(−mean_i c_{b_i}·H_i)/dδ_b = −c_b·n_b/R per action (H = Σ_a log σ_a + const, R rows)."""
    agent, mb = agent_and_minibatch
    assert agent.net.log_std_mode == "shared_plus_offset"
    coefs = agent.entropy_coefs.clone()
    assert coefs[0] == 0 and (coefs[1:] > 0).all()
    quiet = {**mb, "advantages": torch.zeros_like(mb["advantages"])}
    shared, offsets = _sigma_grads(agent, quiet, coefs)
    agent.entropy_coefs = coefs
    assert torch.equal(shared, torch.zeros_like(shared)), f"the followers' entropy moved σ_shared: {shared}"
    counts = torch.bincount(mb["agent_ids"], minlength=4).float()
    assert (counts[1:] > 0).all()
    expected = (-coefs * counts / mb["agent_ids"].numel())[:, None].expand_as(offsets)
    torch.testing.assert_close(offsets, expected)
    assert torch.equal(offsets[0], torch.zeros_like(offsets[0]))  # the master's own offset: no bonus


def test_policy_gradient_still_trains_the_shared_sigma(agent_and_minibatch) -> None:
    """With real advantages σ_shared's gradient is non-zero and the same with or without the entropy bonus."""
    agent, mb = agent_and_minibatch
    coefs = agent.entropy_coefs.clone()
    with_bonus, _ = _sigma_grads(agent, mb, coefs)
    without, _ = _sigma_grads(agent, mb, torch.zeros_like(coefs))
    agent.entropy_coefs = coefs
    assert with_bonus.abs().sum() > 0
    assert torch.equal(with_bonus, without)
