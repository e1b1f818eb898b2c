"""Log-std parameterisations of the latent-conditioned actor-critic (``network.log_std``, spec §2)."""

from __future__ import annotations

import pytest
import torch

from epo_isaac.epo.genetic import Generation
from epo_isaac.epo.networks import EPOActorCritic
from epo_isaac.epo.population import apply_generation


def _net(mode: str, sigma_init: float = -0.5) -> EPOActorCritic:
    torch.manual_seed(0)
    return EPOActorCritic(obs_dim=3, num_actions=2, num_agents=4, latent_dim=5, units=(8,), log_std=mode,
                          sigma_init=sigma_init)


def _forward(net: EPOActorCritic, ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    mu, logstd, value, _ = net({"obs": torch.randn(len(ids), 3), "agent_ids": torch.tensor(ids)})
    return mu, logstd


def test_shared_plus_offset_master_starts_at_the_shared_sigma_and_both_parts_learn() -> None:
    net = _net("shared_plus_offset")
    _, logstd = _forward(net, [0, 1, 2, 3])
    assert torch.equal(logstd, net.log_std_shared.detach().expand(4, 2))  # offsets start at 0
    assert torch.all(net.log_std_shared == -0.5) and torch.all(net.log_std == 0)
    _, logstd = _forward(net, [0, 0, 2])
    (logstd * torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
    torch.testing.assert_close(net.log_std_shared.grad, torch.tensor([9.0, 12.0]))  # every row trains it
    torch.testing.assert_close(net.log_std.grad, torch.tensor([[4.0, 6.0], [0, 0], [5.0, 6.0], [0, 0]]))


def test_shared_is_one_vector_for_every_agent() -> None:
    net = _net("shared")
    assert net.log_std is None
    _, logstd = _forward(net, [0, 3])
    logstd.sum().backward()
    torch.testing.assert_close(net.log_std_shared.grad, torch.full((2,), 2.0))
    assert torch.equal(net.agent_log_std(), net.log_std_shared.detach().expand(4, 2))


def test_per_agent_rows_learn_only_from_their_own_agent() -> None:
    net = _net("per_agent")
    assert net.log_std_shared is None and torch.all(net.log_std == -0.5)
    _, logstd = _forward(net, [1, 1])
    logstd.sum().backward()
    assert net.log_std.grad[1].abs().sum() > 0 and net.log_std.grad[[0, 2, 3]].abs().sum() == 0


@pytest.mark.parametrize(("mode", "trains"), [("per_agent", "log_std"), ("shared", None),
                                              ("shared_plus_offset", "log_std")])
def test_detach_shared_keeps_the_values_and_trains_only_the_agents_own_rows(mode: str, trains: str | None) -> None:
    """What a follower's entropy bonus may train (spec §2): its own row, never σ_shared (the master's too)."""
    net = _net(mode)
    ids = torch.tensor([1, 3, 3])
    own = net.agent_log_std(ids, detach_shared=True)
    assert torch.equal(own, net.agent_log_std(ids))
    if trains is None:
        assert not own.requires_grad
        return
    own.sum().backward()
    assert net.log_std_shared is None or net.log_std_shared.grad is None
    torch.testing.assert_close(getattr(net, trains).grad, torch.tensor([[0, 0], [1.0, 1.0], [0, 0], [2.0, 2.0]]))


@pytest.mark.parametrize("mode", ["per_agent", "shared", "shared_plus_offset"])
def test_a_generation_copies_the_per_agent_part_only(mode: str) -> None:
    net = _net(mode)
    with torch.no_grad():
        if net.log_std is not None:
            net.log_std.copy_(torch.arange(8.0).reshape(4, 2))
    shared_before = None if net.log_std_shared is None else net.log_std_shared.detach().clone()
    optimizer = torch.optim.Adam(net.parameters())
    plan = Generation("ran", "x", torch.tensor([3]), torch.tensor([[1, 2]]), torch.zeros(1, 5))
    apply_generation(net.latents, net.log_std, optimizer, plan)
    if net.log_std is not None:
        assert net.log_std[3].tolist() == [2.0, 3.0]
    if shared_before is not None:
        assert torch.equal(net.log_std_shared.detach(), shared_before)
    assert torch.equal(net.agent_log_std()[3], net.agent_log_std()[1])


def test_unknown_log_std_mode_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="per_agent, shared, shared_plus_offset"):
        _net("learned")
