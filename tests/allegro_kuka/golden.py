"""Golden rewards of the eight Allegro-Kuka tasks: ``python -m tests.allegro_kuka.golden`` (re)writes
``tests/allegro_kuka/data/golden_rewards.npz``; ``test_golden.py`` checks the current code reproduces it.

Every task is built with :data:`NUM_ENVS` envs, seed :data:`SEED` and the default simulator settings on one
thread, reset, and stepped :data:`STEPS` control steps with seeded uniform random actions in [-1, 1], twice:
with its default settings (``default``), with :data:`EVENTS` (``events``: short episodes and a loose success
tolerance, so that successes and new goals happen within the rollout; on the one-arm regrasping and
reorientation tasks every success restarts the episode's clock, so there no episode ends) and with
:data:`TIMEOUTS` (``timeouts``: short episodes that end by time-out, so every task resets mid-rollout); the
three obstacle tasks also with their object dropped onto the obstacle after the reset (``drop``, :data:`DROPS`).
Saved per task and rollout: ``<name>/<rollout>/rewards`` ``[STEPS, N]`` float32, ``.../dones`` ``[STEPS, N]``
bool, ``.../successes`` ``[STEPS, N]`` float32 (``extras["successes"]``), ``.../obs``
``[STEPS // OBS_EVERY, N, O]`` float32 (every :data:`OBS_EVERY`-th step, to keep the file small); and
``<name>/config``: the task's resolved settings as JSON (nested settings flattened by leaf name).

Regenerate it (and commit it) whenever physics or reward behaviour changes on purpose.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel

import tasks
from tasks.base import BatchedTask

PATH = Path(__file__).resolve().parent / "data" / "golden_rewards.npz"
NAMES = sorted(n for n in tasks.TASKS if n.startswith("AllegroKuka"))
NUM_ENVS, SEED, STEPS, OBS_EVERY = 4, 0, 40, 8
SIM = {"backend": "mujoco", "num_threads": 1}
EVENTS = {"episode_length": 16, "success_steps": 3, "success_tolerance": 0.6, "target_success_tolerance": 0.6}
TIMEOUTS = {"episode_length": 16}  # no loose tolerance: episodes end by time-out at steps 16 and 32
ROLLOUTS = {"default": {}, "events": EVENTS, "timeouts": TIMEOUTS}
# two-arm obstacles: a drop point (m) above each one's top face (height, m), all centred between the arms; the
# "drop" rollout puts every env's object there after the reset, so it lands on the obstacle
DROPS: dict[str, tuple[tuple[float, float, float], float]] = {
    "AllegroKukaTwoArmsReorientationHole": ((0.0, 0.0, 0.9), 0.8),  # lower box: centre z 0.65, half-height 0.15
    "AllegroKukaTwoArmsReorientationPartition": ((0.0, 0.0, 0.95), 0.835),  # board at rest: z 0.685 ± 0.15
    "AllegroKukaTwoArmsReorientationBarrier": ((0.0, -0.05, 1.55), 1.43),  # wall: centre z 0.98, half 0.45
}


def rollouts(name: str) -> dict[str, dict[str, object]]:
    """The rollouts recorded for task ``name``: :data:`ROLLOUTS`, and ``drop`` for the obstacle tasks."""
    return {**ROLLOUTS, **({"drop": {}} if name in DROPS else {})}


def drop_object(env: BatchedTask, pos: tuple[float, float, float]) -> None:
    """Put every env's object at ``pos`` (m, env frame), upright and at rest."""
    n = env.num_envs
    env.sim.reset_free_body(torch.arange(n), env.object_body, torch.tensor([pos] * n),
                            torch.tensor([[0.0, 0.0, 0.0, 1.0]] * n))


def flat_config(cfg: BaseModel) -> dict[str, object]:
    """The settings model ``cfg`` as ``{leaf name: value}`` (nested models flattened, tuples as lists)."""
    out: dict[str, object] = {}
    for name in type(cfg).model_fields:
        value = getattr(cfg, name)
        if isinstance(value, BaseModel):
            out.update(flat_config(value))
        else:
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def rollout(name: str, drop: bool = False, **settings: object) -> tuple[dict[str, np.ndarray], str]:
    """``rewards``, ``dones``, ``successes`` (``[STEPS, NUM_ENVS]``), ``obs`` (every ``OBS_EVERY``-th) of task
    ``name`` built with ``settings`` (see module doc), and its resolved config as JSON."""
    env = tasks.make(name, num_envs=NUM_ENVS, seed=SEED, sim=dict(SIM), **settings)
    config = json.dumps(flat_config(env.cfg), sort_keys=True)
    env.reset()
    if drop:
        drop_object(env, DROPS[name][0])
    g = torch.Generator().manual_seed(SEED)
    out: dict[str, list[np.ndarray]] = {"rewards": [], "dones": [], "successes": [], "obs": []}
    for t in range(STEPS):
        obs, reward, done, extras = env.step(torch.rand(NUM_ENVS, env.num_actions, generator=g) * 2 - 1)
        for key, value in (("rewards", reward), ("dones", done), ("successes", extras["successes"])):
            out[key].append(value.numpy().copy())
        if t % OBS_EVERY == OBS_EVERY - 1:
            out["obs"].append(obs.numpy().copy())
    env.close()
    return {k: np.stack(v) for k, v in out.items()}, config


def main() -> None:
    arrays = {}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:  # MuJoCo may write MUJOCO_LOG.TXT in the working directory
        os.chdir(tmp)
        try:
            for name in NAMES:
                for label, settings in rollouts(name).items():
                    result, config = rollout(name, drop=label == "drop", **settings)
                    arrays.update({f"{name}/{label}/{k}": v for k, v in result.items()})
                    if label == "default":
                        arrays[f"{name}/config"] = np.array(config)
                    print(name, label, "reward sum", float(result["rewards"].sum()), "dones",
                          int(result["dones"].sum()), "successes", float(result["successes"].sum()))
        finally:
            os.chdir(cwd)
    PATH.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(PATH, **arrays)
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()
