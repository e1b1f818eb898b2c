"""Train or play EPO / SAPG / PPO on any registered task.

    python train.py task=AllegroKukaTwoArmsReorientation              # EPO, CPU-sized defaults
    python train.py task=HalfCheetah train=SAPG seed=1
    python train.py task=Pendulum checkpoint=runs/.../nn/last_Pendulum_ep_<N>_rew_<R>.pth  # resume training
    python train.py task=Pendulum test=true checkpoint=...             # play the master, write a video
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epo_isaac.cli.isaacgym_first import import_isaacgym_first

import_isaacgym_first(sys.argv[1:])  # Isaac Gym refuses to load after torch: before any torch import

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from pydantic import ValidationError

from epo_isaac.cli.console import check_overrides, console_and_log, remove_unstarted_run_dir
from epo_isaac.cli.run_config import RunConfig, parse_run_config, register_defaults
from epo_isaac.cli.validate import describe
from epo_isaac.errors import UserError
from epo_isaac.host.ranks import launch_ranks, resolve_device
from epo_isaac.host.session import init_wandb, seed_everything

ENV_NAME = "epo_task"


def register_task_schemas() -> None:
    """Store every task's default settings as Hydra config ``task_schema/<Name>`` and every simulator's as
    ``sim_schema/<backend>`` (:func:`tasks.defaults`, :func:`tasks.sim_defaults`): ``cfg/task/<Name>.yaml`` and
    ``cfg/sim/<backend>.yaml`` start from them (their defaults lists), so each setting can be overridden as
    ``task.x=v`` / ``sim.x=v`` without ``+`` while the yamls hold only what differs."""
    from hydra.core.config_store import ConfigStore

    import tasks

    store = ConfigStore.instance().store
    for name in tasks.TASKS:
        store(group="task_schema", name=name, node=tasks.defaults(name))
    for backend in tasks.BACKEND_NAMES:
        store(group="sim_schema", name=backend, node=tasks.sim_defaults(backend))


register_defaults()
register_task_schemas()
# hydra.run.dir is runs/<experiment, or task_algo>/<date>; resolved by Hydra before main() runs.
OmegaConf.register_new_resolver("run_name", lambda experiment, task, algo: experiment or f"{task}_{algo}",
                                replace=True)






def run_dir_of(cfg: DictConfig) -> Path:
    """The Hydra run folder (or ``cfg.run_dir`` when called without ``@hydra.main``)."""
    if "run_dir" in cfg and cfg.run_dir:
        return Path(cfg.run_dir)
    return Path(HydraConfig.get().runtime.output_dir)




@dataclass(frozen=True)
class Checked:
    """What :func:`check_config` found: the validated settings and where this process runs."""

    config: RunConfig
    device: str
    rank: int
    world_size: int
    sim: dict[str, Any]
    settings: dict[str, Any]
    """The task's own settings (``task.*`` less ``name``/``num_envs``)."""
    checkpoint: str | None


def check_config(cfg: DictConfig) -> Checked:
    """Every check of ``cfg`` that needs no run folder, in one place: the top-level and ``train.*`` settings
    (pydantic, :func:`~epo_isaac.cli.run_config.parse_run_config`), the ranks and device, the task and simulator
    settings (``tasks.check_settings``), the env layout and GA schedule
    (:func:`~epo_isaac.host.config.check_layout`) and the checkpoint path. ``train.py`` runs it before Hydra
    makes the run folder, and :func:`run` again first.

    Raises:
        UserError (and ``tasks.TaskConfigError``): the first problem, as one line.
    """
    import tasks
    from epo_isaac.host.checkpoint import check_checkpoint_path
    from epo_isaac.host.config import check_layout

    rc = parse_run_config(cfg)
    rank, local_rank, world_size = launch_ranks(rc.multi_gpu)
    device = resolve_device(rc.device, local_rank if world_size > 1 else None)
    settings = {k: v for k, v in rc.task.items() if k not in ("name", "num_envs")}
    try:
        tasks.check_settings(rc.task.get("name"), num_envs=rc.task.get("num_envs"), sim=rc.sim, **settings)
    except ValidationError as err:
        raise settings_error(err, rc.task.get("name"), rc.sim) from None
    check_layout(int(rc.task["num_envs"]), rc.train, world_size)
    checkpoint = rc.checkpoint or None
    if checkpoint:
        check_checkpoint_path(checkpoint)
    if rc.test and not checkpoint:
        raise UserError("test=true needs checkpoint=<path to a .pth from runs/*/nn/>")
    if rc.test and world_size > 1:
        raise UserError("test=true plays on one process: drop multi_gpu=true and torchrun")
    return Checked(rc, device, rank, world_size, rc.sim, settings, checkpoint)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Check the whole config, build the task, register it and our agent with rl_games, train or play.

    Nothing is written before every check (:func:`check_config`) has passed. rl_games' own console output goes to
    ``<run_dir>/train.log``; our lines go to the console and the log. Returns a summary.

    Raises:
        UserError (and ``tasks.TaskConfigError``): bad input; ``main`` prints it as one line.
    """
    from rl_games.torch_runner import Runner

    import tasks
    from epo_isaac.host.checkpoint import remove_stale_temp_files
    from epo_isaac.host.observer import ObserverGroup, ProgressObserver, end_summary
    from epo_isaac.host.params import rl_games_params
    from epo_isaac.host.vecenv import register_task
    from epo_isaac.host.video import VideoObserver
    from tasks.render import record_video

    checked = check_config(cfg)
    rc, tc, device, world_size = checked.config, checked.config.train, checked.device, checked.world_size
    sim, settings, checkpoint = checked.sim, checked.settings, checked.checkpoint
    task_name, num_envs = str(rc.task["name"]), int(rc.task["num_envs"])
    threads = rc.torch_threads or max(1, (os.cpu_count() or 1) // world_size)
    torch.set_num_threads(threads)
    run_dir = run_dir_of(cfg).resolve()
    name = rc.experiment or f"{task_name}_{tc.algo}"
    params = rl_games_params(
        tc, name=task_name, num_envs=num_envs, env_name=ENV_NAME, seed=rc.seed,
        device=device, train_dir=str(run_dir.parent), experiment=run_dir.name, torch_threads=threads,
        world_size=world_size,
    )
    params["params"]["config"]["max_seconds"] = rc.max_seconds  # read by ES; the observer ends others
    params["params"]["config"]["update_threads"] = rc.update_threads  # epo_isaac.host.threads
    if checkpoint:
        remove_stale_temp_files(Path(checkpoint).parent)

    def make_viewer() -> Any:
        return tasks.make_viewer(task_name, seed=rc.seed, **settings)

    if checked.rank > 0:  # rank 0 writes the run folder, the log, TensorBoard and checkpoints
        with contextlib.redirect_stdout(open(os.devnull, "w")):  # noqa: SIM115 (closed with the process)
            return train_rank(rc, params, device, checkpoint, checked.rank, run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    resolved["train"] = tc.model_dump()  # as validated: max_epochs= applied
    OmegaConf.save(OmegaConf.create(resolved), run_dir / "config_resolved.yaml")
    with console_and_log(run_dir / "train.log") as say:
        if rc.test:
            return play(rc, params, checkpoint, make_viewer, run_dir, say)
        close_task = register_task(ENV_NAME, lambda: tasks.make(
            task_name, num_envs=num_envs, seed=rc.seed, device=device, sim=sim, **settings))
        wandb_run = init_wandb(rc, run_dir, name) if rc.wandb_activate else None
        observer = ProgressObserver(say=say, max_seconds=0.0 if tc.algo == "es" else rc.max_seconds)
        videos = VideoObserver(make_viewer, record_video, tc.video_interval, rc.video_steps,
                               run_dir / "videos", wandb_run, say=say)
        say(f"[epo_isaac] {name}: task={task_name} num_envs={num_envs} algo={tc.algo} "
            f"device={device} run_dir={run_dir}")
        start = time.perf_counter()
        try:
            train_runner(Runner(ObserverGroup(observer, videos)), params, rc.seed, checkpoint)
        finally:
            close_task()
            if wandb_run is not None:
                wandb_run.finish()
        summary = {"run_dir": str(run_dir), "seconds": time.perf_counter() - start, "history": observer.history}
        if observer.history:
            say(end_summary(observer.history, summary["seconds"], run_dir, videos.paths))
    return summary


def settings_error(err: ValidationError, task: str, sim: dict[str, Any] | None) -> UserError:
    """``err`` (raised by ``tasks.check_settings(task, sim=sim, ...)``) as one line naming the ``task.*`` or
    ``sim.*`` key: the error's title is the name of the model that raised it."""
    import tasks

    sim_model = tasks.sim_model(sim)
    if err.title == sim_model.__name__:
        return UserError(describe(err, sim_model, "sim."))
    return UserError(describe(err, tasks.settings_model(task), "task."))


def train_runner(runner: Any, params: dict[str, Any], seed: int, checkpoint: str | None, rank: int = 0) -> None:
    """Register our algorithms on rl_games' ``runner``, load ``params``, seed everything for ``rank``
    (:func:`~epo_isaac.host.session.seed_everything`) and train (resuming from ``checkpoint`` when given)."""
    import epo_isaac

    epo_isaac.register(runner)
    runner.load(params)
    seed_everything(seed, rank)
    runner.run({"train": True, "play": False, "checkpoint": checkpoint})




def train_rank(rc: RunConfig, params: dict[str, Any], device: str, checkpoint: str | None, rank: int,
               run_dir: Path) -> dict[str, Any]:
    """Rank ``rank`` > 0 of a ``torchrun`` launch: the same run as rank 0 on its own envs (task seed
    ``seed + rank``), writing nothing; its own Hydra folder ``run_dir`` is removed when it holds no log."""
    import tempfile

    from rl_games.torch_runner import Runner

    import tasks
    from epo_isaac.host.vecenv import register_task

    settings = {k: v for k, v in rc.task.items() if k not in ("name", "num_envs")}
    close_task = register_task(ENV_NAME, lambda: tasks.make(
        rc.task["name"], num_envs=int(rc.task["num_envs"]), seed=rc.seed + rank, device=device, sim=rc.sim,
        **settings))
    scratch = tempfile.TemporaryDirectory(prefix=f"epo_isaac_rank{rank}_")  # what rl_games creates on every rank
    params["params"]["config"]["train_dir"] = scratch.name
    try:
        train_runner(Runner(_QuietObserver()), params, rc.seed, checkpoint, rank)
    finally:
        close_task()
        scratch.cleanup()
        if not (run_dir / "train.log").exists():
            remove_unstarted_run_dir(run_dir)
    return {"rank": rank}


class _QuietObserver:
    """The observer of ranks > 0: rank 0 reports progress."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None



def play(cfg: RunConfig, params: dict[str, Any], checkpoint: str, make_viewer: Any, run_dir: Path,
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
    from epo_isaac.cli.validate import closest

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


def wants_traceback(cfg: DictConfig | None) -> bool:
    """``debug=true`` or ``HYDRA_FULL_ERROR=1``: bad input shows its traceback instead of one line."""
    return (cfg is not None and cfg.get("debug") is True) or os.environ.get("HYDRA_FULL_ERROR") == "1"


@hydra.main(version_base="1.3", config_path="cfg", config_name="config")
def main(cfg: DictConfig) -> None:
    """Run ``cfg``; bad input → one line on stderr, exit code 2, no run folder left behind (a setting found wanting
    mid-run, e.g. MuJoCo Warp's contact buffers: exit code 2, run folder and log kept); a task that produced
    NaN/inf mid-run → one line on stderr (envs, epoch, log), exit code 1, run folder kept, traceback in the log."""
    run_dir = run_dir_of(cfg).resolve()
    debug = wants_traceback(cfg)
    from epo_isaac.host.vecenv import NonFiniteError

    try:
        run(cfg)
    except user_errors() as err:
        if debug:
            raise
        log = run_dir / "train.log"
        if getattr(err, "mid_run", False) and log.is_file():  # a setting found wanting mid-run: keep what it wrote
            with open(log, "a") as f:
                traceback.print_exc(file=f)
            print(f"error: {err}; the run folder {run_dir} is kept, traceback in {log}", file=sys.stderr, flush=True)
            sys.exit(2)
        remove_unstarted_run_dir(run_dir)
        print(f"error: {err}", file=sys.stderr, flush=True)
        sys.exit(2)
    except NonFiniteError as err:  # the task diverged mid-run: one line; the traceback goes to the log
        log = run_dir / "train.log"
        if debug or not log.is_file():
            raise
        with open(log, "a") as f:
            traceback.print_exc(file=f)
        print(f"error: {err}; the run folder {run_dir} and its checkpoints are kept, traceback in {log}",
              file=sys.stderr, flush=True)
        sys.exit(1)
    except BaseException:
        if (run_dir / "train.log").is_file():
            print(f"[epo_isaac] run failed; its folder {run_dir} is kept, log: {run_dir / 'train.log'}",
                  file=sys.stderr, flush=True)
        raise


if __name__ == "__main__":
    composed = None
    try:
        check_group_choices(sys.argv[1:])
        composed = check_overrides(sys.argv[1:], Path(__file__).parent / "cfg")
        if composed is not None:  # not a sweep: every setting is checked before Hydra makes the run folder
            check_config(composed)
    except user_errors() as err:
        if wants_traceback(composed):
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    main()
