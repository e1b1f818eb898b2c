"""One rank of ``test_epo_sapg_ppo_on_two_gloo_ranks`` (started by ``torchrun --nproc_per_node=2``).

argv: <tmp dir> <json out>. Rank 0 writes the json with what the test asserts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import compose_cfg  # noqa: E402

import train  # noqa: E402
from bench.launch import rl_games_agent  # noqa: E402

PENDULUM = ["task=Pendulum", "task.num_envs=8", "train.ppo.horizon_length=16", "train.ppo.minibatch_size=64",
            "train.ppo.mini_epochs=2", "torch_threads=1", "seed=4", "multi_gpu=true", "+task.max_episode_steps=16"]
# M = 4 agents (blocks of 2 envs on each rank), GA every epoch after the first, gate off: generations happen
EPO = [*PENDULUM, "train.population.size=4", "train.ga.gate=off", "train.ga.warmup_frames=0",
       "train.ga.interval_frames=1", "train.ppo.save_frequency=2"]


def agent_state(overrides: list[str], tmp: Path, ranks: int) -> dict:
    """Train through rl_games' Runner as train.py does, keeping the agent to compare its state across ranks."""
    cfg = compose_cfg(overrides)
    cfg.train.ppo.max_epochs = 4
    rank = dist.get_rank()
    # different initial weights per rank: rank 0's broadcast must win
    agent, close = rl_games_agent(cfg, train_dir=tmp / f"agent{rank}", experiment="x", torch_seed=100 + rank)
    agent.train()
    close()
    state = {k: v.detach().cpu() for k, v in agent.model.state_dict().items()}
    states = [None] * ranks
    dist.all_gather_object(states, state)
    same = all(torch.equal(states[0][k], s[k]) for s in states for k in state)
    return {"identical": same, "generation": agent.generation, "frame": agent.frame,
            "keys": sorted(k for k in state if any(w in k for w in ("running", "latents", "log_std")))}


def main() -> None:
    tmp, out = Path(sys.argv[1]), Path(sys.argv[2])
    dist.init_process_group("gloo")
    result = {"epo": agent_state(EPO, tmp, dist.get_world_size())}

    first = train.run(compose_cfg([*EPO, "max_epochs=2", f"+run_dir={tmp / 'cli'}"]))
    if dist.get_rank() == 0:
        result["cli_frames"] = first["history"][-1]["frames"]
        result["checkpoint"] = str(sorted((tmp / "cli" / "nn").glob("last_*.pth"))[-1])
    ckpt = [result.get("checkpoint")]
    dist.broadcast_object_list(ckpt, src=0)
    resumed = train.run(compose_cfg([*EPO, "max_epochs=3", f"checkpoint={ckpt[0]}", f"+run_dir={tmp / 'resumed'}"]))
    for algo in ("SAPG", "PPO"):
        layout = ["train.population.size=4"] if algo == "SAPG" else []
        summary = train.run(compose_cfg([*PENDULUM, f"train={algo}", *layout, "max_epochs=2",
                                         f"+run_dir={tmp / algo}"]))
        if dist.get_rank() == 0:
            result[algo] = [h["frames"] for h in summary["history"]]
    if dist.get_rank() == 0:
        result["resumed_epochs"] = [h["epoch"] for h in resumed["history"]]
        out.write_text(json.dumps(result))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
