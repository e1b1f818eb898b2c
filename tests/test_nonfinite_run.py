"""A task that produces NaN mid-run (a custom Gymnasium env, as ``task=Gym task.env_id=<module>:<id>``), on the real
command line: one line on stderr naming the envs, the epoch and the log; exit code 1; the run folder, its
checkpoints and the full traceback (in ``train.log``) kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Registered when Gymnasium imports the module named in the id (``nan_env:NaNEnv-v0``). Env i is first reset with
# seed ``seed + i``: with seed=0, envs 2 and 5 return NaN observations from their 40th step on — in epoch 3 of
# 16-step epochs; 10-step episodes end in every epoch, so epochs 1 and 2 write checkpoints.
NAN_ENV = '''
import gymnasium as gym
import numpy as np


class NaNEnv(gym.Env):
    observation_space = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def __init__(self):
        self.steps, self.index = 0, None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self.index = seed
        return np.zeros(3, np.float32), {}

    def step(self, action):
        self.steps += 1
        bad = self.index in (2, 5) and self.steps >= 40
        obs = np.full(3, np.nan if bad else 0.1, np.float32)
        return obs, -float(np.square(action).sum()), False, False, {}


gym.register("NaNEnv-v0", entry_point=NaNEnv, max_episode_steps=10)
'''
RUN = ["task=Gym", "task.env_id=nan_env:NaNEnv-v0", "task.num_envs=8", "train.population.size=4", "seed=0",
       "train.ppo.horizon_length=16", "train.ppo.num_minibatches=2", "train.ppo.mini_epochs=1",
       "train.ppo.save_frequency=1", "max_epochs=5", "torch_threads=1"]


def test_nan_mid_run_is_one_line_and_keeps_the_run(tmp_path: Path) -> None:
    (tmp_path / "nan_env.py").write_text(NAN_ENV)
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env.update(WANDB_MODE="offline", PYTHONWARNINGS="ignore", PYTHONPATH=f"{ROOT}{os.pathsep}{tmp_path}")
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), *RUN, f"hydra.run.dir={run_dir}"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    log = run_dir / "train.log"
    lines = proc.stderr.splitlines()
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in proc.stdout, proc.stderr[-3000:]
    assert lines[0].startswith("error: non-finite observations in env(s) [2, 5] (2 in total) in epoch 3;")
    assert str(log) in lines[0] and str(run_dir) in lines[0]
    assert "epoch 2/5" in proc.stdout and "epoch 3/5" not in proc.stdout
    assert [len(list(run_dir.glob(f"nn/last_*_ep_{e}_*.pth"))) for e in (1, 2)] == [1, 1]
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "NonFiniteError: non-finite observations" in text
