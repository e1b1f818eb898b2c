"""EPO, SAPG and PPO on two gloo ranks under ``torchrun`` (CPU), and the pure pieces of the rank sync."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import ROOT, compose_cfg

import train
from bench.launch import launch
from epo_isaac.errors import UserError
from epo_isaac.host.ranks import pooled_moments


def test_pooled_moments_equal_the_moments_of_the_union() -> None:
    torch.manual_seed(0)
    parts = [torch.randn(50, 3) * s + m for s, m in ((1.0, 0.0), (2.0, 1.0), (0.5, -3.0))]
    mean, var = pooled_moments(torch.stack([p.mean(0) for p in parts]),
                               torch.stack([p.var(0, unbiased=False) for p in parts]))
    union = torch.cat(parts)
    torch.testing.assert_close(mean, union.mean(0))
    torch.testing.assert_close(var, union.var(0, unbiased=False))


def test_multi_gpu_without_torchrun_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(UserError, match="multi_gpu=true needs a torchrun launch"):
        train.run(compose_cfg(["task=Pendulum", "multi_gpu=true", f"+run_dir={tmp_path / 'x'}"]))
    assert not (tmp_path / "x").exists()


def test_epo_sapg_ppo_on_two_gloo_ranks(tmp_path: Path) -> None:
    """Parameters, latents, log-stds and normalisers bit-identical on both ranks after GA generations; frames
    count both ranks; a 2-rank checkpoint resumes on 2 ranks and on 1; SAPG and PPO run 2 epochs on 2 ranks."""
    out = tmp_path / "ranks.json"
    proc = launch([str(ROOT / "tests" / "epo_ranks_worker.py"), str(tmp_path), str(out)], ranks=2,
                  env={"OMP_NUM_THREADS": "1"}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(out.read_text())
    epo = result["epo"]
    assert epo["identical"], "the ranks' models differ"
    assert epo["generation"] >= 1 and epo["frame"] == 4 * 8 * 16 * 2
    assert {"a2c_network.latents", "a2c_network.log_std", "a2c_network.log_std_shared", "running_mean_std.running_mean",
            "value_mean_std.running_var"} <= set(epo["keys"])
    assert result["cli_frames"] == 2 * 8 * 16 * 2 and result["resumed_epochs"] == [3]
    assert result["SAPG"] == [256, 512] and result["PPO"] == [256, 512]
    one = train.run(compose_cfg(["task=Pendulum", "task.num_envs=8", "train.ppo.horizon_length=16",
                                 "train.ppo.minibatch_size=64", "train.ppo.mini_epochs=2", "seed=4",
                                 "+task.max_episode_steps=16", "train.population.size=4", "max_epochs=3",
                                 f"checkpoint={result['checkpoint']}", f"+run_dir={tmp_path / 'one'}"]))
    assert [h["epoch"] for h in one["history"]] == [3]
