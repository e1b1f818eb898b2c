"""One rank of ``test_two_gloo_ranks_under_torchrun`` (started by ``torchrun --nproc_per_node=2``).

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
from epo_isaac.es.optimizer import ESConfig, OpenAIES  # noqa: E402
from epo_isaac.host.ranks import Ranks  # noqa: E402

FAST = ["task=Pendulum", "task.num_envs=4", "train=ES", "train.es.population_size=8", "+task.max_episode_steps=10",
        "torch_threads=1", "seed=2", "multi_gpu=true", "max_epochs=3", "train.es.test_interval=2"]


def library_equal(ranks: Ranks) -> bool:
    """Each rank scores its half of the population of a quadratic; the gathered update equals one process's."""
    target = torch.linspace(-1.0, 1.0, 6)
    config = ESConfig(population_size=8, sigma=0.1, learning_rate=0.05)
    shared, alone = OpenAIES(torch.zeros(6), config, seed=5), OpenAIES(torch.zeros(6), config, seed=5)
    half = config.population_size // ranks.size
    for _ in range(5):
        mine = shared.ask()[ranks.rank * half:(ranks.rank + 1) * half]
        shared.tell(ranks.all_gather(-(mine - target).square().sum(1)))
        alone.tell(-(alone.ask() - target).square().sum(1))
    return torch.equal(shared.theta, alone.theta)


def main() -> None:
    tmp, out = Path(sys.argv[1]), Path(sys.argv[2])
    dist.init_process_group("gloo")
    ranks = Ranks(dist.get_rank(), dist.get_world_size())
    result = {"library_equal": library_equal(ranks)}

    # train.py's path: one run folder, written by rank 0 only
    train.run(compose_cfg(FAST + [f"+run_dir={tmp / 'cli'}"]))
    result["rank0_checkpoints"] = sorted(p.name for p in (tmp / "cli" / "nn").glob("*.pth"))
    result["run_dirs"] = len(list(tmp.iterdir()))

    # the agent itself, to compare its state across ranks; different init per rank: rank 0's broadcast must win
    cfg = compose_cfg(FAST)
    cfg.train.es.max_iterations = 3
    agent, close = rl_games_agent(cfg, train_dir=tmp / "agent", experiment=f"rank{ranks.rank}",
                                  torch_seed=100 + ranks.rank)
    agent.train()
    close()
    theta = agent.optimizer.theta
    thetas = [torch.empty_like(theta) for _ in range(ranks.size)]
    dist.all_gather(thetas, theta)
    means = [torch.empty_like(agent.normalizer.mean) for _ in range(ranks.size)]
    dist.all_gather(means, agent.normalizer.mean)
    result["theta_equal"] = all(torch.equal(thetas[0], t) for t in thetas)
    result["normalizer_equal"] = all(torch.equal(means[0], m) for m in means)
    result["normalizer_count"] = agent.normalizer.count
    if ranks.is_main:
        out.write_text(json.dumps(result))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
