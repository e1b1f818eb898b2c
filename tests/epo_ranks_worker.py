"""One rank of ``test_epo_sapg_ppo_on_two_gloo_ranks`` (started by ``torchrun --nproc_per_node=2``).

argv: <tmp dir> <json out>. Rank 0 writes the json with what the test asserts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from rl_games.common.schedulers import AdaptiveScheduler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import compose_cfg  # noqa: E402

import train  # noqa: E402
from bench.launch import rl_games_agent  # noqa: E402
from epo_isaac.host.multirank import normalizers  # noqa: E402

PENDULUM = ["task=Pendulum", "task.num_envs=8", "train.ppo.horizon_length=16", "train.ppo.minibatch_size=64",
            "train.ppo.mini_epochs=2", "torch_threads=1", "seed=4", "multi_gpu=true", "+task.max_episode_steps=16"]
# M = 4 agents (blocks of 2 envs on each rank), GA every epoch after the first, gate off: generations happen
EPO = [*PENDULUM, "train.population.size=4", "train.ga.gate=off", "train.ga.warmup_frames=0",
       "train.ga.interval_frames=1", "train.ppo.save_frequency=2"]


def adaptive_kls() -> list[float]:
    """Every KL that rl_games' adaptive learning-rate scheduler receives in this process, in order (its
    ``update`` is wrapped once, for the agents built by train.run too)."""
    if not hasattr(AdaptiveScheduler, "kls"):
        update = AdaptiveScheduler.update

        def spy(self, current_lr, entropy_coef, epoch, frames, kl_dist, **kwargs):
            AdaptiveScheduler.kls.append(float(kl_dist))
            return update(self, current_lr, entropy_coef, epoch, frames, kl_dist, **kwargs)

        AdaptiveScheduler.kls, AdaptiveScheduler.update = [], spy
    return AdaptiveScheduler.kls


def gathered(obj):
    """Every rank's ``obj``, in rank order."""
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def spy_normalizer_counts(agent) -> list[tuple[list[float], list[float]]]:
    """(this rank's counts before, the pooled counts after) of every ``sync_normalizers`` call of ``agent``."""
    calls: list[tuple[list[float], list[float]]] = []
    sync = agent.sync_normalizers

    def spy() -> None:
        before = [float(n.count) for n in normalizers(agent.model)]
        sync()
        calls.append((before, [float(n.count) for n in normalizers(agent.model)]))

    agent.sync_normalizers = spy
    return calls


def agent_state(overrides: list[str], tmp: Path, ranks: int) -> dict:
    """Train through rl_games' Runner as train.py does (no re-seeding here: each rank seeds as train.py seeds
    it), keeping the agent to compare its state across ranks, then restore its last checkpoint into a fresh
    agent on every rank."""
    cfg = compose_cfg(overrides)
    cfg.train.ppo.max_epochs = 4
    rank = dist.get_rank()
    kls = adaptive_kls()
    kls.clear()
    agent, close = rl_games_agent(cfg, train_dir=tmp / f"agent{rank}", experiment="x")
    counts = spy_normalizer_counts(agent)
    agent.train()
    close()
    rng, fitness, rows = torch.get_rng_state(), agent.fitness.state_dict(), agent.sample_generator.get_state()
    with torch.no_grad():  # the same model on the same input on every rank: only the action noise differs
        noise = agent._act(torch.zeros(agent.num_actors, *agent.obs_shape), agent.agent_of_env, None)["actions"]
    state = {k: v.detach().cpu() for k, v in agent.model.state_dict().items()}
    states = gathered(state)
    same = all(torch.equal(states[0][k], s[k]) for s in states for k in state)
    noises, all_kls, all_counts = gathered(noise), gathered(list(kls)), gathered(counts)
    ga, sample = gathered(agent.ga_generator.get_state()), gathered(agent.sample_generator.get_state())
    # pooled count = the shared count before the epoch + every rank's rows since: Σ_k c_k − (K − 1)·prior
    prior, counts_ok = [1.0] * len(all_counts[0][0][0]), []
    for epoch in range(len(all_counts[0])):
        local = [sum(c[epoch][0][i] for c in all_counts) for i in range(len(prior))]
        expected = [t - (ranks - 1) * p for t, p in zip(local, prior, strict=True)]
        pooled = all_counts[0][epoch][1]
        counts_ok.append(pooled == expected and all(c[epoch][1] == pooled for c in all_counts))
        prior = pooled

    last = [str(max((tmp / "agent0" / "x" / "nn").glob("last_*.pth"), key=lambda p: p.stat().st_mtime))
            if rank == 0 else None]
    dist.broadcast_object_list(last, src=0)
    fresh, close = rl_games_agent(cfg, train_dir=tmp / f"fresh{rank}", experiment="x", env_name="resumed_task")
    fresh.restore(last[0])
    close()
    restored = fresh.fitness.state_dict()
    own_window = all(torch.equal(restored[k], fitness[k]) for k in ("ids", "values", "periods"))
    windows = gathered((int(fitness["ids"].numel()), int(restored["ids"].numel())))
    return {"identical": same, "generation": agent.generation, "frame": agent.frame,
            "keys": sorted(k for k in state if any(w in k for w in ("running", "latents", "log_std"))),
            "noise_differs": not torch.equal(noises[0], noises[1]),
            "ga_generator_shared": all(torch.equal(ga[0], g) for g in ga),
            "sample_generator_differs": not torch.equal(sample[0], sample[1]),
            "kls": all_kls, "normalizer_counts_ok": counts_ok,
            "resumed_own_rng": all(gathered(torch.equal(torch.get_rng_state(), rng))),
            "resumed_own_rows": all(gathered(torch.equal(fresh.sample_generator.get_state(), rows))),
            "resumed_own_window": all(gathered(own_window)), "windows": windows}


def saved_rank_rngs_differ(checkpoint: str) -> bool:
    """Whether the checkpoint holds one CPU RNG state per rank and they differ."""
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False).get("ranks") or []
    return len(saved) == 2 and not torch.equal(saved[0]["rng"]["torch_rng"], saved[1]["rng"]["torch_rng"])


def main() -> None:
    tmp, out = Path(sys.argv[1]), Path(sys.argv[2])
    dist.init_process_group("gloo")
    # generations after epochs 1 and 3 (256 env steps an epoch): the checkpoint of epoch 4 holds a fitness window
    result = {"epo": agent_state([*EPO[:-2], "train.ga.interval_frames=640", EPO[-1]], tmp, dist.get_world_size())}

    first = train.run(compose_cfg([*EPO, "max_epochs=2", f"+run_dir={tmp / 'cli'}"]))
    if dist.get_rank() == 0:
        result["cli_frames"] = first["history"][-1]["frames"]
        result["checkpoint"] = str(sorted((tmp / "cli" / "nn").glob("last_*.pth"))[-1])
        result["cli_rank_rngs_differ"] = saved_rank_rngs_differ(result["checkpoint"])
    ckpt = [result.get("checkpoint")]
    dist.broadcast_object_list(ckpt, src=0)
    resumed = train.run(compose_cfg([*EPO, "max_epochs=3", f"checkpoint={ckpt[0]}", f"+run_dir={tmp / 'resumed'}"]))
    for algo in ("SAPG", "PPO"):
        layout = ["train.population.size=4"] if algo == "SAPG" else []
        adaptive_kls().clear()
        summary = train.run(compose_cfg([*PENDULUM, f"train={algo}", *layout, "max_epochs=2",
                                         f"+run_dir={tmp / algo}"]))
        kls = gathered(list(adaptive_kls()))
        if dist.get_rank() == 0:
            result[algo] = [h["frames"] for h in summary["history"]]
            result[f"{algo}_kls"] = kls
    if dist.get_rank() == 0:
        result["resumed_epochs"] = [h["epoch"] for h in resumed["history"]]
        out.write_text(json.dumps(result))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
