"""Off-policy sampling of follower data (spec §3.1) and the env-major row layout."""

from __future__ import annotations

import torch

from epo_isaac.epo.rollout import Rollout, env_rows, flat, replay_rnn, sample_follower_envs, sample_follower_rows


def test_flat_is_env_major() -> None:
    x = torch.arange(6).reshape(3, 2)  # [T=3, N=2]
    assert flat(x).tolist() == [0, 2, 4, 1, 3, 5]


def test_env_rows_are_the_flat_rows_of_those_envs() -> None:
    x = torch.arange(12).view(3, 4)  # [T=3, N=4], value = 4·t + env
    rows = env_rows(torch.tensor([2, 0]), 3)
    assert rows.tolist() == [6, 7, 8, 0, 1, 2]
    assert flat(x)[rows].tolist() == [2, 6, 10, 0, 4, 8]


def test_union_rows_are_followers_only_and_sized_by_ratio() -> None:
    g = torch.Generator().manual_seed(0)
    rows = sample_follower_rows(num_envs=8, num_agents=4, horizon=5, mode="union", ratio=1.0, generator=g)
    assert rows.numel() == 2 * 5  # |D_master| = B·T = 10
    assert rows.min() >= 2 * 5 and rows.max() < 8 * 5
    assert rows.unique().numel() == rows.numel()


def test_block_rows_are_whole_follower_blocks() -> None:
    g = torch.Generator().manual_seed(1)
    rows = sample_follower_rows(num_envs=8, num_agents=4, horizon=5, mode="block", ratio=2.0, generator=g)
    envs = (rows // 5).unique()
    blocks = (envs // 2).unique()
    assert blocks.numel() == 2 and 0 not in blocks.tolist()
    assert rows.numel() == 2 * 2 * 5


def test_single_agent_has_no_followers() -> None:
    g = torch.Generator().manual_seed(0)
    assert sample_follower_envs(8, 1, "union", 1.0, g).numel() == 0


def test_replay_rnn_starts_from_the_stored_state_and_resets_at_episode_starts() -> None:
    """A fake recurrent policy whose state counts the steps it has taken and whose value is that count: the replay
    of env 1 (stored state 5 at t = 0, an episode starting at t = 2) reads 5, 6, 0, 1 and then 2 after the
    horizon, as the master (agent id 0)."""
    T, N, L = 4, 3, 2
    ro = Rollout.allocate(T, N, 1, 1, torch.device("cpu"))
    ro.obs[:, :, 0] = torch.arange(T * N, dtype=torch.float32).view(T, N)
    ro.starts[2, 1] = 1.0
    ro.finish(torch.full((N, 1), 99.0), torch.zeros(N), torch.zeros(N))
    ro.rnn_states = [torch.arange(N * T // L, dtype=torch.float32).view(1, N * T // L, 1) + 10.0]  # [1, N·T/L, 1]
    ro.rnn_states[0][0, 2] = 5.0  # sequence (env 1, t = 0): index 1 · T/L, env-major

    def act(obs: torch.Tensor, ids: torch.Tensor, states: list[torch.Tensor]) -> dict:
        assert ids.tolist() == [0]
        h = states[0]
        return {"values": h[0].clone(), "mus": obs.clone(), "sigmas": h[0].clone(), "rnn_states": [h + 1.0]}

    values, next_values, mus, sigmas, rnn = replay_rnn(act, ro, torch.tensor([1]), L)
    assert values.tolist() == [5.0, 6.0, 0.0, 1.0]
    assert next_values.tolist() == [6.0, 0.0, 1.0, 2.0]
    assert mus[:, 0].tolist() == [1.0, 4.0, 7.0, 10.0]  # obs of env 1 at t = 0..3
    assert [r.tolist() for r in rnn] == [[[[5.0], [0.0]]]]  # the states at t = 0 and t = 2 (after the reset)


def test_allocate_finish_and_next_obs_by_hand() -> None:
    """Shapes of a fresh rollout; ``terminals[t] = starts[t + 1]`` and the last done; ``next_obs`` is the obs one
    step later, then the obs after the horizon."""
    T, N, D, A = 3, 2, 4, 5  # D: observation size
    ro = Rollout.allocate(T, N, D, A, torch.device("cpu"))
    assert (ro.obs.shape, ro.actions.shape, ro.mus.shape, ro.sigmas.shape) == ((T, N, D), (T, N, A), (T, N, A),
                                                                               (T, N, A))
    assert all(x.shape == (T, N) for x in (ro.neglogp, ro.values, ro.starts, ro.terminals, ro.rewards, ro.time_outs))
    assert (ro.last_obs.shape, ro.last_values.shape) == ((N, D), (N,))
    ro.obs[:] = torch.arange(T, dtype=torch.float32)[:, None, None]  # obs at step t: t everywhere
    ro.starts[1, 0] = 1.0  # env 0's episode ended at transition 0
    ro.finish(torch.full((N, D), 7.0), torch.tensor([0.5, -0.5]), torch.tensor([False, True]))
    assert ro.terminals.tolist() == [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]
    assert ro.last_values.tolist() == [0.5, -0.5]
    assert ro.next_obs()[:, 0, 0].tolist() == [1.0, 2.0, 7.0]


def test_union_envs_are_whole_follower_envs_sized_by_ratio_and_seeded() -> None:
    """The LSTM's union sampling: round(ratio·B) follower envs, sorted and distinct; the same generator state gives
    the same envs, another seed other envs."""
    envs = sample_follower_envs(16, 4, "union", 1.0, torch.Generator().manual_seed(3))
    assert envs.numel() == 4 and envs.min() >= 4 and envs.max() < 16
    assert torch.equal(envs, envs.sort().values) and envs.unique().numel() == 4
    assert torch.equal(envs, sample_follower_envs(16, 4, "union", 1.0, torch.Generator().manual_seed(3)))
    draws = {tuple(sample_follower_envs(16, 4, "union", 1.0, torch.Generator().manual_seed(s)).tolist())
             for s in range(5)}
    assert len(draws) > 1
    assert sample_follower_envs(16, 4, "union", 0.5, torch.Generator().manual_seed(3)).numel() == 2
    assert sample_follower_envs(16, 4, "union", 100.0, torch.Generator().manual_seed(3)).numel() == 12  # capped
