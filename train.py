"""Train or play EPO / SAPG / PPO on any registered task.

    python train.py task=AllegroKukaTwoArmsReorientation              # EPO, CPU-sized defaults
    python train.py task=HalfCheetah train=SAPG seed=1
    python train.py task=Pendulum checkpoint=runs/.../nn/last_Pendulum_ep_<N>_rew_<R>.pth  # resume training
    python train.py task=Pendulum test=true checkpoint=...             # play the master, write a video
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from epo_isaac.cli.isaacgym_first import import_isaacgym_first

import_isaacgym_first(sys.argv[1:])  # Isaac Gym refuses to load after torch: before any torch import

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from epo_isaac.cli.console import check_overrides, console_and_log, remove_unstarted_run_dir
from epo_isaac.cli.run_config import check_device, check_run_config
from epo_isaac.errors import UserError
from epo_isaac.host.config import register_schema

ENV_NAME = "epo_task"
register_schema()
# hydra.run.dir is runs/<experiment, or task_algo>/<date>; resolved by Hydra before main() runs.
OmegaConf.register_new_resolver("run_name", lambda experiment, task, algo: experiment or f"{task}_{algo}",
                                replace=True)


def resolve_device(device: str, local_rank: int | None = None) -> str:
    """``auto`` → ``cuda:0`` when a GPU is visible, else ``cpu``; on a ``torchrun`` launch (``local_rank`` given)
    a CUDA device is ``cuda:<local_rank>``, one GPU per rank.

    Raises:
        UserError: an unknown device, a CUDA device on a machine without one, or more ranks than GPUs.
    """
    check_device(device)
    if device == "auto":
        device = "cuda:0" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device={device} but no CUDA GPU is visible; use device=cpu (or auto), or drop "
                        "+preset=paper (it is sized for one GPU)")
    if device.startswith("cuda") and local_rank is not None:
        if local_rank >= torch.cuda.device_count():
            raise UserError(f"rank {local_rank} has no GPU: {torch.cuda.device_count()} visible; start at most that "
                            "many processes per node (--nproc_per_node), or use device=cpu")
        device = f"cuda:{local_rank}"
    return device


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy and torch (CPU and every CUDA device) with ``seed``, 0 included.

    rl_games' Runner seeds only when the seed is truthy, so ``seed=0`` runs were never reproducible; this is
    called right before the agent (network, task, generators) is built."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run_dir_of(cfg: DictConfig) -> Path:
    """The Hydra run folder (or ``cfg.run_dir`` when called without ``@hydra.main``)."""
    if "run_dir" in cfg and cfg.run_dir:
        return Path(cfg.run_dir)
    return Path(HydraConfig.get().runtime.output_dir)


def init_wandb(cfg: DictConfig, run_dir: Path, name: str) -> Any:
    """wandb run mirroring TensorBoard; offline when no API key is configured."""
    import wandb

    mode = cfg.wandb_mode
    if mode == "auto":
        mode = "online" if os.environ.get("WANDB_API_KEY") else "offline"
    # Everything wandb writes stays in the run folder (its defaults are under ~/.cache and ~/.config).
    for var, sub in (("WANDB_DIR", ""), ("WANDB_CACHE_DIR", "wandb/cache"), ("WANDB_CONFIG_DIR", "wandb/config"),
                     ("WANDB_DATA_DIR", "wandb/data"), ("WANDB_ARTIFACT_DIR", "wandb/artifacts")):
        os.environ[var] = str(run_dir / sub)
    return wandb.init(
        project=cfg.wandb_project, entity=cfg.wandb_entity, group=cfg.wandb_group, name=name,
        mode=mode, dir=str(run_dir), sync_tensorboard=True,
        config=OmegaConf.to_container(cfg, resolve=True),
    )


def run(cfg: DictConfig) -> dict[str, Any]:
    """Check the whole config, build the task, register it and our agent with rl_games, train or play.

    Nothing is written before every check has passed. rl_games' own console output goes to
    ``<run_dir>/train.log``; our lines go to the console and the log. Returns a summary.

    Raises:
        UserError (and ``tasks.TaskConfigError``): bad input; ``main`` prints it as one line.
    """
    from rl_games.torch_runner import Runner

    import tasks
    from epo_isaac.host.checkpoint import check_checkpoint_path, remove_stale_temp_files
    from epo_isaac.host.config import parse_train_config, rl_games_params
    from epo_isaac.host.observer import ObserverGroup, ProgressObserver, end_summary
    from epo_isaac.host.vecenv import register_task
    from epo_isaac.host.video import VideoObserver
    from tasks.render import record_video

    check_run_config(cfg)
    if cfg.max_epochs is not None:
        cfg.train.ppo.max_epochs = int(cfg.max_epochs)
        if cfg.train.get("algo") == "es":
            cfg.train.es.max_iterations = int(cfg.max_epochs)
    tc = parse_train_config(cfg.train)
    rank, local_rank, world_size = launch_ranks(bool(cfg.multi_gpu))
    device = resolve_device(cfg.device, local_rank if world_size > 1 else None)
    threads = int(cfg.torch_threads) or max(1, (os.cpu_count() or 1) // world_size)
    torch.set_num_threads(threads)
    run_dir = run_dir_of(cfg).resolve()
    name = cfg.experiment or f"{cfg.task.name}_{tc.algo}"
    params = rl_games_params(  # checks the layout and the GA schedule before anything is written
        tc, name=cfg.task.name, num_envs=int(cfg.task.num_envs), env_name=ENV_NAME, seed=int(cfg.seed),
        device=device, train_dir=str(run_dir.parent), experiment=run_dir.name, torch_threads=threads,
        world_size=world_size,
    )
    params["params"]["config"]["max_seconds"] = float(cfg.max_seconds)  # read by ES; the observer ends others
    params["params"]["config"]["update_threads"] = int(cfg.update_threads)  # epo_isaac.host.threads
    settings = {k: v for k, v in OmegaConf.to_container(cfg.task, resolve=True).items()
                if k not in ("name", "num_envs")}
    sim = OmegaConf.to_container(cfg.sim, resolve=True)
    tasks.check_settings(cfg.task.name, sim=sim, **settings)
    checkpoint = str(cfg.checkpoint) if cfg.checkpoint else None
    if checkpoint:
        remove_stale_temp_files(check_checkpoint_path(checkpoint).parent)
    if cfg.test and not checkpoint:
        raise UserError("test=true needs checkpoint=<path to a .pth from runs/*/nn/>")

    def make_viewer() -> Any:
        return tasks.make_viewer(cfg.task.name, seed=int(cfg.seed), **settings)

    if cfg.test and world_size > 1:
        raise UserError("test=true plays on one process: drop multi_gpu=true and torchrun")
    if rank > 0:  # rank 0 writes the run folder, the log, TensorBoard and checkpoints
        with contextlib.redirect_stdout(open(os.devnull, "w")):  # noqa: SIM115 (closed with the process)
            return train_rank(cfg, params, tc, device, sim, settings, checkpoint, rank)
    run_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, run_dir / "config_resolved.yaml", resolve=True)
    with console_and_log(run_dir / "train.log") as say:
        if cfg.test:
            return play(cfg, params, checkpoint, make_viewer, run_dir, say)
        close_task = register_task(ENV_NAME, lambda: tasks.make(
            cfg.task.name, num_envs=int(cfg.task.num_envs), seed=int(cfg.seed), device=device, sim=sim,
            **settings))
        wandb_run = init_wandb(cfg, run_dir, name) if cfg.wandb_activate else None
        observer = ProgressObserver(say=say, max_seconds=0.0 if tc.algo == "es" else float(cfg.max_seconds))
        videos = VideoObserver(make_viewer, record_video, tc.video_interval, int(cfg.video_steps),
                               run_dir / "videos", wandb_run, say=say)
        say(f"[epo_isaac] {name}: task={cfg.task.name} num_envs={cfg.task.num_envs} algo={tc.algo} "
            f"device={device} run_dir={run_dir}")
        start = time.perf_counter()
        try:
            train_runner(Runner(ObserverGroup(observer, videos)), params, int(cfg.seed), checkpoint)
        finally:
            close_task()
            if wandb_run is not None:
                wandb_run.finish()
        summary = {"run_dir": str(run_dir), "seconds": time.perf_counter() - start, "history": observer.history}
        if observer.history:
            say(end_summary(observer.history, summary["seconds"], run_dir, videos.paths))
    return summary


def train_runner(runner: Any, params: dict[str, Any], seed: int, checkpoint: str | None) -> None:
    """Register our algorithms on rl_games' ``runner``, load ``params``, seed everything and train (resuming
    from ``checkpoint`` when given)."""
    import epo_isaac

    epo_isaac.register(runner)
    runner.load(params)
    seed_everything(seed)
    runner.run({"train": True, "play": False, "checkpoint": checkpoint})


def launch_ranks(multi_gpu: bool) -> tuple[int, int, int]:
    """(rank, local rank, world size): (0, 0, 1) without ``multi_gpu``; from ``torchrun`` with it.

    Raises:
        UserError: ``multi_gpu=true`` without ``torchrun``.
    """
    if not multi_gpu:
        return 0, 0, 1
    from epo_isaac.host.ranks import launched_ranks

    return launched_ranks()


def train_rank(cfg: DictConfig, params: dict[str, Any], tc: Any, device: str, sim: dict[str, Any],
               settings: dict[str, Any], checkpoint: str | None, rank: int) -> dict[str, Any]:
    """Rank ``rank`` > 0 of a ``torchrun`` launch: the same run as rank 0 on its own envs (task seed
    ``seed + rank``), writing nothing; its own Hydra folder is removed when it holds no log."""
    import tempfile

    from rl_games.torch_runner import Runner

    import tasks
    from epo_isaac.host.vecenv import register_task

    close_task = register_task(ENV_NAME, lambda: tasks.make(
        cfg.task.name, num_envs=int(cfg.task.num_envs), seed=int(cfg.seed) + rank, device=device, sim=sim,
        **settings))
    scratch = tempfile.TemporaryDirectory(prefix=f"epo_isaac_rank{rank}_")  # what rl_games creates on every rank
    params["params"]["config"]["train_dir"] = scratch.name
    try:
        train_runner(Runner(_QuietObserver()), params, int(cfg.seed), checkpoint)
    finally:
        close_task()
        scratch.cleanup()
        run_dir = run_dir_of(cfg).resolve()
        if not (run_dir / "train.log").exists():
            remove_unstarted_run_dir(run_dir)
    return {"rank": rank}


class _QuietObserver:
    """The observer of ranks > 0: rank 0 reports progress."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def play(cfg: DictConfig, params: dict[str, Any], checkpoint: str, make_viewer: Any, run_dir: Path,
         say: Any = print) -> dict[str, Any]:
    """``test=true``: restore ``checkpoint`` in the rl_games player, film agent ``cfg.agent`` (0 = master)
    acting deterministically on one env for ``cfg.video_steps`` control steps into
    ``<run_dir>/videos/play_agent<k>.mp4``, print the episodes it finished. Returns a summary."""
    from rl_games.torch_runner import Runner

    import epo_isaac
    from epo_isaac.host.vecenv import register_task
    from epo_isaac.host.video import film, policy_of
    from tasks.render import record_video

    close_task = register_task(ENV_NAME, make_viewer)
    config = params["params"]["config"]
    config["num_actors"] = 1
    config["player"].update(agent=int(cfg.agent), use_vecenv=True)
    runner = Runner()
    epo_isaac.register(runner)
    path = run_dir / "videos" / f"play_agent{int(cfg.agent)}.mp4"
    start = time.perf_counter()
    try:
        runner.load(params)
        seed_everything(int(cfg.seed))
        player = runner.create_player()
        player.restore(checkpoint)
        result = film(player.env.task, record_video, policy_of(player, 1), int(cfg.video_steps), path)
    finally:
        close_task()
    episodes = ", ".join(f"{r:.1f}" for r in result.returns) or "none finished"
    say(f"[epo_isaac] played agent {int(cfg.agent)} of {checkpoint} for {cfg.video_steps} steps: "
        f"video {path} ({result.frames} frames at {result.fps:.0f} fps); episode returns: {episodes}"
        + (f"; successes: {result.successes}" if result.successes else ""))
    return {"run_dir": str(run_dir), "seconds": time.perf_counter() - start, "video": str(path),
            "video_frames": result.frames, "returns": result.returns, "successes": result.successes}


def check_group_choices(argv: list[str], cfg_dir: Path = Path(__file__).parent / "cfg") -> None:
    """Check ``task=``/``train=``/``sim=`` choices on the command line before Hydra composes (Hydra's own
    message for a missing choice is a multi-line listing).

    Raises:
        UserError / tasks.TaskConfigError: a choice with no ``cfg/<group>/<choice>.yaml``, with the closest
            valid one (for ``task=``, the task registry's message, which also points Gymnasium ids to task=Gym).
    """
    from epo_isaac.cli.run_config import closest

    for arg in argv:
        group, eq, value = arg.lstrip("+~").partition("=")
        if not eq or group not in ("task", "train", "sim"):
            continue
        valid = sorted(p.stem for p in (cfg_dir / group).glob("*.yaml") if p.stem != "schema")
        for choice in value.split(","):  # --multirun sweeps: task=A,B
            if choice in valid:
                continue
            if group == "task":
                import tasks

                tasks.check_settings(choice)  # raises with the registry's advice
            raise UserError(f"unknown {group}={choice}{closest(choice, valid)}; valid: {', '.join(valid)}")


def user_errors() -> tuple[type[Exception], ...]:
    """Exception types that mean bad input (printed as one line) rather than a bug."""
    from tasks import TaskConfigError

    return UserError, TaskConfigError


@hydra.main(version_base="1.3", config_path="cfg", config_name="config")
def main(cfg: DictConfig) -> None:
    """Run ``cfg``; bad input → one line on stderr, exit code 2, no run folder left behind."""
    run_dir = run_dir_of(cfg).resolve()
    debug = bool(cfg.get("debug")) or os.environ.get("HYDRA_FULL_ERROR") == "1"
    try:
        run(cfg)
    except user_errors() as err:
        if debug:
            raise
        remove_unstarted_run_dir(run_dir)
        print(f"error: {err}", file=sys.stderr, flush=True)
        sys.exit(2)
    except BaseException:
        if (run_dir / "train.log").is_file():
            print(f"[epo_isaac] run failed; its folder {run_dir} is kept, log: {run_dir / 'train.log'}",
                  file=sys.stderr, flush=True)
        raise


if __name__ == "__main__":
    try:
        check_group_choices(sys.argv[1:])
        check_overrides(sys.argv[1:], Path(__file__).parent / "cfg")
    except user_errors() as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    main()
