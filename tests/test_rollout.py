"""Off-policy sampling of follower data (spec §3.1) and the env-major row layout."""

from __future__ import annotations

import torch

from epo_isaac.epo.rollout import env_rows, flat, sample_follower_envs, sample_follower_rows


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
