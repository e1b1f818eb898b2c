"""Checkpoint files: atomic writes, stale temp-file cleanup, one checked reader and compatibility checks (the
agent state an exact resume needs is in :mod:`epo_isaac.host.resume`).

Every problem with a checkpoint the user passed raises :class:`~epo_isaac.errors.CheckpointError` with a one-line
message naming the problem and what to pass instead (``train.py`` prints it without a traceback).

Layout of a checkpoint written by our agents (rl_games' keys plus ours):
  ``model``, ``optimizer``, ``epoch``, ``frame``, ``last_mean_rewards``, ``env_state`` (rl_games);
  ``meta`` (:meth:`epo_isaac.host.resume.ResumableAgentMixin.checkpoint_meta`: algo, task, layout); ``resume``
  (:func:`epo_isaac.host.resume.resume_state`);
  ``epo`` (EPO/SAPG only: GA and fitness state, see ``EPOAgent.get_full_state_weights``).
Older checkpoints (``meta`` under ``epo``, or none for PPO; no ``resume``) still load.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from epo_isaac.errors import CheckpointError

PASS_HINT = "pass a .pth written by train.py (runs/<run>/nn/*.pth)"
TEMP_FILE = re.compile(r"\.pth\.tmp(\d+)$")  # atomic_save's temp name: <checkpoint>.pth.tmp<pid>
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since PyTorch 1.6
PICKLE_MAGIC = b"\x80"  # the legacy torch.save format starts with a pickle protocol opcode
# meta key -> the override that sets it (the name a user passes to change it)
LAYOUT_OVERRIDES = {"num_agents": "train.population.size", "latent_dim": "train.population.latent_dim",
                    "num_envs": "task.num_envs", "rnn": "train.network.lstm_units"}
TRAIN_CONFIG = {"epo": "EPO", "sapg": "SAPG", "ppo": "PPO", "es": "ES"}


class IncompatibleCheckpointError(CheckpointError, ValueError):
    """The checkpoint was written by another algorithm, for another task, or with another layout."""


# ------------------------------------------------------------------------------------------------ writing
def checkpoint_path(fn: str) -> str:
    """rl_games' naming: ``fn`` with ``.pth`` appended unless present."""
    return fn if fn.endswith(".pth") else fn + ".pth"


def atomic_save(state: dict[str, Any], fn: str) -> str:
    """Write ``state`` to ``fn(.pth)`` via the temp file ``<path>.tmp<pid>`` + ``os.replace``, so a run killed
    mid-write leaves the previous checkpoint intact; then delete temp files of dead processes in that folder
    (:func:`remove_stale_temp_files`). A failed write removes its own temp file and re-raises. Returns the final
    path."""
    path = checkpoint_path(fn)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    remove_stale_temp_files(Path(path).parent)
    return path


def pid_running(pid: int) -> bool:
    """Whether process ``pid`` exists (``os.kill(pid, 0)``; this process counts; another user's counts too)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process; a number beyond any pid
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(directory: str | os.PathLike[str]) -> list[Path]:
    """Delete ``*.pth.tmp<pid>`` files in ``directory`` (not below it) whose process ``pid`` is not running.

    They are what :func:`atomic_save` leaves when its process is killed mid-write (as large as a checkpoint).
    Processes are looked up on this machine only: keep run folders of concurrent runs on other hosts apart.
    Returns the deleted paths (empty when ``directory`` does not exist)."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted(folder.glob("*.pth.tmp*")):
        match = TEMP_FILE.search(path.name)
        if match and path.is_file() and not pid_running(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


# ------------------------------------------------------------------------------------------------ reading
def _one_line(text: str, limit: int = 160) -> str:
    """``text`` on one line (whitespace collapsed), cut to ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _newest_checkpoint_below(folder: Path) -> Path | None:
    """The most recently written ``*.pth`` in ``folder`` or its ``nn/`` subfolder, if any."""
    found = [p for pattern in ("*.pth", "nn/*.pth") for p in folder.glob(pattern) if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _unreadable_message(path: Path, head: bytes, error: BaseException) -> str:
    """Why ``torch.load`` failed on ``path``, told from its first bytes ``head`` and the error."""
    reason = _one_line(f"{type(error).__name__}: {error}", 100)
    if isinstance(error, ImportError | AttributeError):  # unpickling names a module/class this install lacks
        return (f"checkpoint {path} was written with other library versions ({reason}); load it where it was "
                f"written, or {PASS_HINT}")
    if head.startswith(ZIP_MAGIC) or head.startswith(PICKLE_MAGIC):
        return f"checkpoint {path} is truncated or corrupt (PyTorch cannot read it: {reason}); {PASS_HINT}"
    return f"checkpoint {path} is not a PyTorch file (it starts with {head[:12]!r}); {PASS_HINT}"


def _strip_compile_prefix(model: dict[str, Any]) -> dict[str, Any]:
    """Model keys without ``torch.compile``'s ``_orig_mod.`` prefix (rl_games strips it when loading)."""
    prefix = "_orig_mod."
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in model.items()}


def check_checkpoint_path(path: str | os.PathLike[str]) -> Path:
    """Cheap checks of a checkpoint path before anything is loaded or written; returns it as a ``Path``.

    Raises:
        CheckpointError: ``path`` does not exist, is a folder (the message names the newest ``.pth`` in it), or
            is empty. One line.
    """
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"checkpoint {p} does not exist; {PASS_HINT}")
    if p.is_dir():
        newest = _newest_checkpoint_below(p)
        hint = f"pass a .pth file in it, e.g. {newest}" if newest else PASS_HINT
        raise CheckpointError(f"checkpoint {p} is a folder, not a file; {hint}")
    if p.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {p} is empty (0 bytes; was its run killed while saving?); {PASS_HINT}")
    return p


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint written by ``train.py`` (any algorithm) and check that it is one.

    Tensors stay on the device they were saved from (as rl_games loads them), except on a machine without CUDA,
    where every tensor is mapped to the CPU. Unlike rl_games' loader it does not retry (and sleep) on errors.

    Returns:
        The checkpoint dict; its ``model`` (a state dict) has no ``torch.compile`` prefix.

    Raises:
        CheckpointError: what :func:`check_checkpoint_path` finds, a truncated/corrupt file, not a PyTorch
            file, or something other than a train.py checkpoint (no ``model`` state dict). One line.
    """
    p = check_checkpoint_path(path)
    map_location = None if torch.cuda.is_available() else "cpu"
    try:
        state = torch.load(p, map_location=map_location, weights_only=False)
    except Exception as e:  # noqa: BLE001 - every reader error means: not a readable checkpoint
        with open(p, "rb") as f:
            head = f.read(16)
        raise CheckpointError(_unreadable_message(p, head, e)) from e
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        what = f"a dict with keys {sorted(map(str, state))[:6]}" if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"checkpoint {p} is a PyTorch file but not a train.py checkpoint (it holds {what}, "
                              f"no 'model' weights); {PASS_HINT}")
    state["model"] = _strip_compile_prefix(state["model"])
    return state


# ------------------------------------------------------------------------------------------------ checks
def run_meta(algo: str, runner: Any) -> dict[str, Any]:
    """``algo``, task name, obs/action sizes and LSTM flag of an rl_games agent or player (the ``meta`` a
    checkpoint stores and :func:`check_checkpoint` compares)."""
    return {"algo": algo, "task": str(runner.config.get("name", "")), "obs_dim": int(runner.obs_shape[0]),
            "num_actions": int(runner.actions_num), "rnn": bool(runner.is_rnn)}


def population_meta(net: Any) -> dict[str, int]:
    """``num_agents`` and ``latent_dim`` of an EPO/SAPG network (``EPOActorCritic``)."""
    return {"num_agents": int(net.num_agents), "latent_dim": int(net.latents.shape[1])}


def model_dims(model: dict[str, Any]) -> dict[str, int]:
    """``obs_dim`` / ``num_actions`` read off a model state dict, where its keys show them: the input
    normaliser ``running_mean_std.running_mean [O]`` and the action head ``a2c_network.mu.weight [A, H]``
    (both networks, PPO's and EPO's, have them)."""
    dims = {}
    rms = model.get("running_mean_std.running_mean")
    if isinstance(rms, torch.Tensor) and rms.dim() == 1:
        dims["obs_dim"] = int(rms.shape[0])
    mu = model.get("a2c_network.mu.weight")
    if isinstance(mu, torch.Tensor) and mu.dim() == 2:
        dims["num_actions"] = int(mu.shape[0])
    return dims


def saved_meta(state: dict[str, Any]) -> dict[str, Any]:
    """What the checkpoint says about itself: ``state["meta"]`` (current), ``state["epo"]["meta"]`` (EPO/SAPG
    before the task was recorded) or, for older PPO checkpoints, ``{"algo": "ppo"}``; ``obs_dim`` /
    ``num_actions`` are taken from the weights when the meta lacks them (:func:`model_dims`)."""
    meta = state.get("meta") or (state.get("epo") or {}).get("meta")
    if not meta:
        meta = {"algo": "epo" if "epo" in state else "ppo"}
    return {**model_dims(state["model"]), **meta}


def _config_name(algo: str) -> str:
    return TRAIN_CONFIG.get(algo, algo)


def _family(algo: str) -> str:
    """Algorithms whose checkpoints load into each other share a family (EPO and SAPG share the network)."""
    return "epo" if algo in ("epo", "sapg") else algo


def _dims(meta: dict[str, Any]) -> str:
    n = meta.get("num_actions")
    return f"obs dim {meta.get('obs_dim', '?')}, {n} action{'' if n == 1 else 's'}"


def check_algorithm(path: str, saved: dict[str, Any], current: dict[str, Any]) -> None:
    """Raise :class:`IncompatibleCheckpointError` when the checkpoint's algorithm family differs from this run's
    (PPO, ES, and EPO/SAPG, which share the network, so each loads the other's checkpoints)."""
    old, new = saved["algo"], current["algo"]
    if _family(old) != _family(new):
        others = {"ppo": "a train=PPO run", "es": "a train=ES run"}.get(new, "a train=EPO or train=SAPG run")
        raise IncompatibleCheckpointError(
            f"checkpoint {path} was written by train={_config_name(old)}, this run is train={_config_name(new)}; "
            f"pass train={_config_name(old)}, or a checkpoint of {others}")


def check_task(path: str, saved: dict[str, Any], current: dict[str, Any]) -> None:
    """Raise :class:`IncompatibleCheckpointError` when the checkpoint's task (its name, where recorded, or its
    observation/action sizes) differs from this run's."""
    task = current.get("task", "?")
    if "task" in saved and saved["task"] != task:
        raise IncompatibleCheckpointError(
            f"checkpoint {path} is for task {saved['task']} ({_dims(saved)}), this run is task {task} "
            f"({_dims(current)}); pass task={saved['task']}, or a checkpoint of a {task} run")
    if any(k in saved and k in current and saved[k] != current[k] for k in ("obs_dim", "num_actions")):
        raise IncompatibleCheckpointError(  # an older checkpoint, or task=Gym with another task.env_id
            f"checkpoint {path} was trained on another task ({_dims(saved)}; this run's task {task} has "
            f"{_dims(current)}); pass the task (and task settings) it was trained on, or a checkpoint of this task")


def _layout_difference(key: str, old: Any, new: Any) -> tuple[str, str | None]:
    """(what differs, the override that restores the checkpoint's value, if one does) for a layout key."""
    name = LAYOUT_OVERRIDES[key]
    if key == "rnn":
        size = lambda rnn: "> 0" if rnn else "0"
        return f"{name}: {size(old)} in the checkpoint vs {size(new)} here", None if old else f"{name}=0"
    return f"{name}: {old} in the checkpoint vs {new} here", f"{name}={old}"


def check_compatible(saved: dict[str, Any], current: dict[str, Any], path: str = "checkpoint") -> None:
    """Raise :class:`IncompatibleCheckpointError` listing every layout setting (population size, latent size,
    number of envs, LSTM) that differs, with the overrides to pass. Only keys in both metas are compared (older
    checkpoints lack some; play mode leaves out ``num_envs``)."""
    diffs = [_layout_difference(k, saved[k], current[k]) for k in LAYOUT_OVERRIDES
             if k in saved and k in current and saved[k] != current[k]]
    if diffs:
        fixes = " ".join(fix for _, fix in diffs if fix)
        raise IncompatibleCheckpointError(
            f"checkpoint {path} was trained with another layout ({', '.join(what for what, _ in diffs)}); pass "
            + (f"{fixes} (the settings it was trained with)" if fixes else "the settings it was trained with")
            + ", or a checkpoint of a run with these settings")


def _shape(value: Any) -> list[int] | None:
    return list(value.shape) if isinstance(value, torch.Tensor) else None


def check_weights(path: str, saved: dict[str, Any], current: dict[str, Any]) -> None:
    """Raise :class:`IncompatibleCheckpointError` unless the model state dicts ``saved`` and ``current`` have
    the same keys and shapes (what ``load_state_dict`` needs), naming the first difference in one line."""
    missing = [k for k in current if k not in saved]
    unexpected = [k for k in saved if k not in current]
    shapes = [k for k in current if k in saved and _shape(saved[k]) != _shape(current[k])]
    if not (missing or unexpected or shapes):
        return
    if shapes:
        k = shapes[0]
        first = f"{k} is {_shape(saved[k])} in the checkpoint vs {_shape(current[k])} here"
    else:
        first = f"{'missing' if missing else 'unexpected'} {(missing or unexpected)[0]}"
    count = len(missing) + len(unexpected) + len(shapes)
    raise IncompatibleCheckpointError(
        f"checkpoint {path} holds another network ({first}; {count} tensor(s) differ); pass the "
        "train.network / train.population settings it was trained with, or a checkpoint of a run with these")


def check_checkpoint(path: str, state: dict[str, Any], current: dict[str, Any],
                     model: dict[str, Any]) -> None:
    """Every compatibility check, in order: algorithm, task, layout, network weights.

    Args:
        path: the checkpoint's path (for the message).
        state: :func:`read_checkpoint`'s dict.
        current: this run's meta (``algo`` and ``task`` required; ``obs_dim``, ``num_actions`` and the
            :data:`LAYOUT_OVERRIDES` keys compared where present).
        model: this run's ``model.state_dict()``.

    Raises:
        IncompatibleCheckpointError: the first problem found, one line.
    """
    saved = saved_meta(state)
    check_algorithm(path, saved, current)
    check_task(path, saved, current)
    check_compatible(saved, current, path)
    check_weights(path, state["model"], model)
