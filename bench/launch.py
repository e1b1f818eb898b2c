"""Start workers in fresh processes (one, or several ``torchrun`` ranks), and build an rl_games agent the way
``train.py`` does, for the benchmarks and the tests.

It lives in ``bench`` because tests may import benchmark code (``tests/test_gpu_check.py`` already does) while
nothing imports ``tests/``; it imports neither ``train`` nor a task family at import time, so a worker pays only
for what it uses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def command(target: Sequence[str], ranks: int = 1) -> list[str]:
    """The command line that runs ``target`` (``["-m", "bench.<name>", *args]`` or ``[script, *args]``) as
    ``ranks`` processes: this interpreter for one rank, ``torchrun --standalone --nproc_per_node=<ranks>`` (as
    ``python -m torch.distributed.run``, the same interpreter) for more.

    Raises:
        ValueError: ``ranks`` < 1.
    """
    if ranks < 1:
        raise ValueError(f"ranks={ranks}: at least one process")
    if ranks == 1:
        return [sys.executable, *target]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}", *target]


def launch(target: Sequence[str], ranks: int = 1, *, env: Mapping[str, str] | None = None,
           timeout: float | None = None, log: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run :func:`command` from the repository root, with the root first on ``PYTHONPATH`` and ``env`` added to
    this process's environment; stdout and stderr captured as text, or both written to ``log`` when given.
    The caller reads ``returncode`` (nothing raised on failure).

    Raises:
        subprocess.TimeoutExpired: after ``timeout`` seconds (the processes are killed).
    """
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    full_env = {**os.environ, "PYTHONPATH": path, **(env or {})}
    cmd = command(target, ranks)
    if log is None:
        return subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout,
                              check=False)
    with log.open("w") as out:
        return subprocess.run(cmd, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout, check=False)


def rl_games_agent(cfg: Any, *, train_dir: str | Path, experiment: str = "run", env_name: str = "launched_task",
                   torch_seed: int | None = None) -> tuple[Any, Callable[[], None]]:
    """The untrained agent of the composed config ``cfg``, built as ``train.py`` builds it: ``cfg.task`` made on
    the CPU (task seed ``cfg.seed`` + rank) and registered as ``env_name``, the train config's rl_games params
    (1 torch thread, run folder ``train_dir/experiment``), rl_games' ``Runner`` with our algorithms registered,
    the generators seeded for this rank as ``train.py`` seeds them (``seed_everything(cfg.seed, rank)``). In a
    joined ``torch.distributed`` process group it is this rank's agent. ``torch_seed`` re-seeds torch after that,
    before the network is built.

    Returns ``(agent, close)``; ``close()`` closes the task.

    Raises:
        UserError, tasks.TaskConfigError: what ``train.py`` raises for the same config.
    """
    import torch
    import torch.distributed as dist
    from omegaconf import OmegaConf
    from rl_games.torch_runner import Runner

    import epo_isaac
    import tasks
    from epo_isaac.host.config import parse_train_config
    from epo_isaac.host.params import rl_games_params
    from epo_isaac.host.session import seed_everything
    from epo_isaac.host.vecenv import register_task

    rank, world_size = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    tc = parse_train_config(cfg.train)
    num_envs, seed = int(cfg.task.num_envs), int(cfg.seed)
    settings = {k: v for k, v in OmegaConf.to_container(cfg.task, resolve=True).items()
                if k not in ("name", "num_envs")}
    sim = OmegaConf.to_container(cfg.sim, resolve=True)
    params = rl_games_params(tc, name=cfg.task.name, num_envs=num_envs, env_name=env_name, seed=seed,
                             device="cpu", train_dir=str(train_dir), experiment=experiment, torch_threads=1,
                             world_size=world_size)
    close = register_task(env_name, lambda: tasks.make(cfg.task.name, num_envs=num_envs, seed=seed + rank,
                                                       device="cpu", sim=sim, **settings))
    runner = Runner()
    epo_isaac.register(runner)
    runner.load(params)
    seed_everything(seed, rank)
    if torch_seed is not None:
        torch.manual_seed(torch_seed)
    agent = runner.algo_factory.create(params["params"]["algo"]["name"], base_name="run", params=runner.params)
    return agent, close
