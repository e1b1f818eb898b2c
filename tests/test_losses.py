"""Unit tests of epo_isaac.epo.losses against hand-computed values and rl_games' own code."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from rl_games.common import common_losses
from rl_games.common.a2c_common import A2CBase

from epo_isaac.epo.losses import (
    bounds_loss,
    entropy_coefs,
    gae,
    gaussian_entropy,
    nstep_returns,
    off_policy_surrogate,
    one_step_targets,
    ppo_surrogate,
    value_loss,
)

# T = 3, N = 1 toy rollout; transition 1 ends its episode.
REWARDS = torch.tensor([[1.0], [2.0], [3.0]])
VALUES = torch.tensor([[0.5], [1.0], [1.5]])
DONES = torch.tensor([[0.0], [1.0], [0.0]])
LAST = torch.tensor([2.0])


def test_gae_hand_computed_with_done_in_middle() -> None:
    # gamma = tau = 0.5
    # t=2: delta = 3 + 0.5*2 - 1.5 = 2.5                        A2 = 2.5
    # t=1: done -> delta = 2 - 1 = 1, no carry                   A1 = 1
    # t=0: delta = 1 + 0.5*1 - 0.5 = 1.0, A0 = 1 + 0.25*1 = 1.25
    adv = gae(REWARDS, VALUES, DONES, LAST, gamma=0.5, tau=0.5)
    torch.testing.assert_close(adv, torch.tensor([[1.25], [1.0], [2.5]]))


def test_gae_accepts_bool_dones() -> None:
    adv = gae(REWARDS, VALUES, DONES.bool(), LAST, gamma=0.5, tau=0.5)
    torch.testing.assert_close(adv, torch.tensor([[1.25], [1.0], [2.5]]))


def test_gae_matches_rl_games_discount_values_after_shift() -> None:
    gen = torch.Generator().manual_seed(0)
    horizon, num_envs, gamma, tau = 7, 5, 0.97, 0.9
    rewards = torch.randn(horizon, num_envs, generator=gen)
    values = torch.randn(horizon, num_envs, generator=gen)
    last = torch.randn(num_envs, generator=gen)
    dones = (torch.rand(horizon, num_envs, generator=gen) < 0.3).float()
    # rl_games: mb_fdones[t] = episode ended before step t; fdones = done of the last step.
    rl_dones = torch.cat([torch.ones(1, num_envs), dones[:-1]], dim=0)
    fake_agent = SimpleNamespace(horizon_length=horizon, gamma=gamma, tau=tau)
    expected = A2CBase.discount_values(
        fake_agent, dones[-1], last.unsqueeze(1), rl_dones, values.unsqueeze(2), rewards.unsqueeze(2)
    ).squeeze(2)
    torch.testing.assert_close(gae(rewards, values, dones, last, gamma, tau), expected)


def test_gae_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="last_values"):
        gae(REWARDS, VALUES, DONES, torch.zeros(2), 0.9, 0.9)


def test_nstep_returns_hand_computed() -> None:
    # n = 2, gamma = 0.5, done at t=1:
    # G0 = 1 + 0.5*2 (episode ends at 1, no bootstrap) = 2;  G1 = 2;  G2 = 3 + 0.5*V_T = 4 (horizon cut)
    got = nstep_returns(REWARDS, VALUES, DONES, LAST, gamma=0.5, n=2)
    torch.testing.assert_close(got, torch.tensor([[2.0], [2.0], [4.0]]))
    # no dones, n = 2: G0 = 1 + 1 + 0.25*1.5 = 2.375; G1 = 2 + 1.5 + 0.25*2 = 4; G2 = 4
    no_done = torch.zeros_like(DONES)
    got = nstep_returns(REWARDS, VALUES, no_done, LAST, gamma=0.5, n=2)
    torch.testing.assert_close(got, torch.tensor([[2.375], [4.0], [4.0]]))
    # no dones, n = 3 (paper option): G0 = 1 + 1 + 0.75 + 0.125*2 = 3
    got = nstep_returns(REWARDS, VALUES, no_done, LAST, gamma=0.5, n=3)
    torch.testing.assert_close(got, torch.tensor([[3.0], [4.0], [4.0]]))


def test_nstep_one_step_equals_one_step_targets() -> None:
    next_values = torch.cat([VALUES[1:], LAST.unsqueeze(0)])
    expected = one_step_targets(REWARDS.flatten(), next_values.flatten(), DONES.flatten(), gamma=0.5)
    got = nstep_returns(REWARDS, VALUES, DONES, LAST, gamma=0.5, n=1)
    torch.testing.assert_close(got.flatten(), expected)


def test_nstep_full_horizon_equals_gae_lambda_one() -> None:
    gen = torch.Generator().manual_seed(1)
    horizon, num_envs = 6, 4
    rewards, values = torch.randn(2, horizon, num_envs, generator=gen)
    last = torch.randn(num_envs, generator=gen)
    dones = (torch.rand(horizon, num_envs, generator=gen) < 0.3).float()
    mc = gae(rewards, values, dones, last, gamma=0.9, tau=1.0) + values
    torch.testing.assert_close(nstep_returns(rewards, values, dones, last, 0.9, n=horizon + 3), mc)


def test_nstep_rejects_n_below_one() -> None:
    with pytest.raises(ValueError, match="n >= 1"):
        nstep_returns(REWARDS, VALUES, DONES, LAST, 0.9, n=0)


def test_one_step_targets() -> None:
    got = one_step_targets(
        torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0]), torch.tensor([False, True]), 0.5
    )
    torch.testing.assert_close(got, torch.tensor([2.5, 2.0]))


def test_ppo_surrogate_both_clip_sides() -> None:
    eps = 0.2
    logp_new = torch.log(torch.tensor([1.5, 0.5, 0.5, 1.5])).requires_grad_()
    logp_old = torch.zeros(4)
    adv = torch.tensor([2.0, -2.0, 2.0, -2.0])
    loss = ppo_surrogate(logp_new, logp_old, adv, eps)
    # rho=1.5,A>0: clipped to 1.2 -> -2.4 | rho=0.5,A<0: clipped to 0.8 -> 1.6
    # rho=0.5,A>0: unclipped -> -1.0      | rho=1.5,A<0: unclipped -> 3.0
    torch.testing.assert_close(loss, torch.tensor([-2.4, 1.6, -1.0, 3.0]))
    loss.sum().backward()
    assert logp_new.grad[0] == 0 and logp_new.grad[1] == 0  # clipped side carries no gradient
    assert logp_new.grad[2] != 0 and logp_new.grad[3] != 0


def test_ppo_surrogate_matches_rl_games_actor_loss() -> None:
    gen = torch.Generator().manual_seed(2)
    logp_new, logp_old, adv = torch.randn(3, 50, generator=gen)
    expected = common_losses.actor_loss(-logp_old, -logp_new, adv, True, 0.1)
    torch.testing.assert_close(ppo_surrogate(logp_new, logp_old, adv, 0.1), expected)


def test_off_policy_plain_vs_mu_scaled() -> None:
    eps = 0.2
    logp_new = torch.log(torch.tensor([1.5, 0.9]))
    logp_behaviour = torch.zeros(2)
    logp_master_old = torch.log(torch.tensor([1.4, 1.4]))  # mu = 1.4 -> mu-scaled range [1.12, 1.68]
    adv = torch.tensor([1.0, -1.0])
    plain = off_policy_surrogate(logp_new, logp_behaviour, logp_master_old, adv, eps, "plain")
    scaled = off_policy_surrogate(logp_new, logp_behaviour, logp_master_old, adv, eps, "mu_scaled")
    # plain: rho=1.5 -> clip 1.2 -> max(-1.5,-1.2) = -1.2 ; rho=0.9 in range -> 0.9
    torch.testing.assert_close(plain, torch.tensor([-1.2, 0.9]))
    # mu_scaled: rho=1.5 in [1.12,1.68] -> -1.5 ; rho=0.9 -> clip 1.12 -> max(0.9, 1.12) = 1.12
    torch.testing.assert_close(scaled, torch.tensor([-1.5, 1.12]))


def test_off_policy_mu_scaled_equals_plain_when_master_is_behaviour() -> None:
    gen = torch.Generator().manual_seed(3)
    logp_new, logp_b, adv = torch.randn(3, 20, generator=gen)
    plain = off_policy_surrogate(logp_new, logp_b, logp_b, adv, 0.1, "plain")
    torch.testing.assert_close(off_policy_surrogate(logp_new, logp_b, logp_b, adv, 0.1, "mu_scaled"), plain)
    torch.testing.assert_close(plain, ppo_surrogate(logp_new, logp_b, adv, 0.1))


def test_off_policy_unknown_clip_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="plain.*mu_scaled"):
        off_policy_surrogate(torch.zeros(1), torch.zeros(1), torch.zeros(1), torch.ones(1), 0.2, "nope")


def test_value_loss_clipped_and_unclipped() -> None:
    new, old, ret = torch.tensor([2.0, 1.5]), torch.tensor([1.0, 1.0]), torch.tensor([1.5, 3.0])
    torch.testing.assert_close(value_loss(new, old, ret, 0.2, clip_value=False), torch.tensor([0.25, 2.25]))
    # clipped predictions are 1.2 and 1.2: max(0.25, 0.09) = 0.25 ; max(2.25, 3.24) = 3.24
    torch.testing.assert_close(value_loss(new, old, ret, 0.2, clip_value=True), torch.tensor([0.25, 3.24]))


def test_value_loss_matches_rl_games() -> None:
    gen = torch.Generator().manual_seed(4)
    new, old, ret = torch.randn(3, 30, 1, generator=gen)
    for clip in (True, False):
        expected = common_losses.default_critic_loss(old, new, 0.2, ret, clip)
        torch.testing.assert_close(value_loss(new, old, ret, 0.2, clip), expected)


def test_bounds_loss() -> None:
    mu = torch.tensor([[1.5, -1.3, 0.5], [0.0, 1.0, -1.1]])
    torch.testing.assert_close(bounds_loss(mu), torch.tensor([0.16 + 0.04, 0.0]))
    torch.testing.assert_close(bounds_loss(mu, bound=1.0), torch.tensor([0.25 + 0.09, 0.01]))


def test_entropy_schedule() -> None:
    torch.testing.assert_close(entropy_coefs(5, 0.01), torch.tensor([0.0, 0.00125, 0.0025, 0.00375, 0.005]))
    torch.testing.assert_close(entropy_coefs(1, 0.01), torch.tensor([0.0]))
    torch.testing.assert_close(entropy_coefs(2, 0.004), torch.tensor([0.0, 0.002]))
    assert math.isclose(float(entropy_coefs(64, 0.005)[-1]), 0.0025, rel_tol=1e-6)
    with pytest.raises(ValueError, match="num_agents"):
        entropy_coefs(0, 0.01)
    with pytest.raises(ValueError, match="scale"):
        entropy_coefs(4, -1.0)


def test_gaussian_entropy_is_rl_games_normal_entropy() -> None:
    """The value rl_games' model logs (``Normal(mu, exp(log_std)).entropy().sum(-1)``), from the log-std alone."""
    log_std = torch.tensor([[0.0, -1.0], [0.5, -2.0], [-0.3, 0.2]])
    normal = torch.distributions.Normal(torch.zeros(3, 2), torch.exp(log_std))
    torch.testing.assert_close(gaussian_entropy(log_std), normal.entropy().sum(-1))
    assert gaussian_entropy(torch.zeros(1, 1)).item() == pytest.approx(0.5 * math.log(2 * math.pi * math.e))
