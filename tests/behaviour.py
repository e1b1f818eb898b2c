"""Fingerprints of short seeded Pendulum runs of every algorithm, for the before/after bit-identity test.

``python tests/behaviour.py record`` writes ``tests/data/behaviour.json`` (done on the code before the layout
move of issue 21); ``tests/test_behaviour.py`` re-runs the same configurations and compares. A fingerprint is
every tensor of the final checkpoint (weights, optimiser, normalisers, RNG states, GA state) reduced to a
float64 sum and absolute sum per key, the per-epoch history (returns, GA events) and a SHA-256 of all tensor bytes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root (train, bench), when run as a script
sys.path.insert(0, str(Path(__file__).parent))
from leaves import leaves  # noqa: E402

COMMON = ["task=Pendulum", "task.num_envs=16", "train.ppo.horizon_length=16", "train.ppo.minibatch_size=128",
          "train.ppo.mini_epochs=2", "torch_threads=1", "update_threads=1", "seed=7", "+task.max_episode_steps=16"]
RUNS: dict[str, list[str]] = {
    "EPO": ["train=EPO", "max_epochs=4", "train.population.size=4", "train.ga.gate=off",
            "train.ga.warmup_frames=0", "train.ga.interval_frames=1"],
    "SAPG": ["train=SAPG", "max_epochs=4", "train.population.size=4"],
    "PPO": ["train=PPO", "max_epochs=4"],
    "ES": ["train=ES", "max_epochs=4", "task.num_envs=8", "train.es.population_size=4"],
}
HISTORY_KEYS = ("epoch", "frames", "master/return", "agents/return_0", "agents/return_1", "ga/generation",
                "ga/gate_open", "test/return", "es/sigma")
DATA = Path(__file__).with_name("data") / "behaviour.json"



def fingerprint(summary: dict[str, Any]) -> dict[str, Any]:
    """The fingerprint of a finished ``train.run``: its last ``last_*.pth`` and its history."""
    nn = Path(summary["run_dir"], "nn")
    last = max(nn.glob("last_*.pth"), key=lambda p: int(p.name.split("_ep_")[1].split("_")[0]))
    tensors = {k: v for k, v in leaves(torch.load(last, weights_only=False)) if isinstance(v, torch.Tensor)}
    digest = hashlib.sha256()
    sums: dict[str, list[float]] = {}
    for key in sorted(tensors):
        t = tensors[key].detach().cpu()
        digest.update(key.encode() + t.reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
        if t.is_floating_point():
            t64 = t.double()
            sums[key] = [float(t64.sum()), float(t64.abs().sum())]
    history = [{k: float(h[k]) for k in HISTORY_KEYS if k in h and h[k] == h[k]} for h in summary["history"]]
    return {"sha256": digest.hexdigest(), "sums": sums, "history": history}


def run_all(tmp: Path) -> dict[str, Any]:
    """Run every configuration of :data:`RUNS` into ``tmp`` and fingerprint it."""
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import compose_cfg

    import train

    out = {}
    for name, extra in RUNS.items():
        cfg = compose_cfg(COMMON + extra + [f"+run_dir={tmp / name}", "train.ppo.save_frequency=1"]
                          if name != "ES" else COMMON + extra + [f"+run_dir={tmp / name}",
                                                                  "train.es.save_frequency=1"])
        out[name] = fingerprint(train.run(cfg))
    return out


if __name__ == "__main__" and sys.argv[1:] == ["record"]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        DATA.parent.mkdir(exist_ok=True)
        DATA.write_text(json.dumps(run_all(Path(tmp)), indent=1) + "\n")
    print(f"wrote {DATA}")
