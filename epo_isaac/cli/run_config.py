"""Checks of the top-level run config (``cfg/config.yaml``) and one-line messages for schema errors.

``train.*`` has its own schema (:mod:`epo_isaac.host.config`); ``task.*`` settings are checked by the task itself
(``tasks.make``); ``sim.*`` is a Hydra group. Everything here runs before ``train.py`` writes anything.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from epo_isaac.errors import UserError

DEVICES = "auto, cpu, cuda or cuda:<index>"


@dataclass
class RunConfig:
    """The keys of ``cfg/config.yaml`` outside ``task``/``train``/``sim`` (documented there)."""

    seed: int = 42
    device: str = "auto"
    torch_threads: int = 1
    update_threads: int = 0
    test: bool = False
    checkpoint: str = ""
    agent: int = 0
    video_steps: int = 300
    experiment: str = ""
    max_epochs: int | None = None
    multi_gpu: bool = False
    max_seconds: float = 0.0
    debug: bool = False
    wandb_activate: bool = False
    wandb_project: str = "epo_isaac"
    wandb_entity: str | None = None
    wandb_group: str | None = None
    wandb_mode: str = "auto"
    run_dir: str | None = None  # set by tests and scripts that call train.run() without @hydra.main
    task: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    sim: dict[str, Any] = field(default_factory=dict)


def closest(key: str, candidates: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``candidates`` to ``key`` (difflib), or ``""``."""
    match = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def schema_error(err: OmegaConfBaseException, schema: DictConfig, prefix: str = "") -> UserError:
    """One-line :class:`UserError` for an OmegaConf merge error against ``schema``: the full key, what was
    wrong (unknown key + closest valid name, or the value and the expected type), and where keys are listed."""
    full_key = str(getattr(err, "full_key", "") or getattr(err, "key", "") or "?")
    first = str(err).splitlines()[0]
    if isinstance(err, ConfigKeyError) or "not in" in first:
        parent, _, key = full_key.rpartition(".")
        node = OmegaConf.select(schema, parent) if parent else schema
        valid = sorted(str(k) for k in node) if isinstance(node, DictConfig) else []
        return UserError(f"unknown key {prefix}{full_key}{closest(key, valid)}; valid keys"
                         f"{' under ' + prefix + parent if parent else ''}: {', '.join(valid)}")
    return UserError(f"{prefix}{full_key}: {first}")


def check_run_config(cfg: DictConfig) -> None:
    """Type-check the top-level keys and ``task.name``/``task.num_envs``.

    Raises:
        UserError: an unknown top-level key (``+max_epoch=5``) with the closest valid one, a value of the wrong
            type naming its key, a non-positive ``task.num_envs``, or an unknown ``device``.
    """
    schema = OmegaConf.structured(RunConfig)
    values = OmegaConf.to_container(cfg, resolve=False)
    try:
        merged = OmegaConf.merge(schema, values)
    except (ConfigKeyError, ValidationError) as err:
        raise schema_error(err, schema) from None
    task = merged.task
    if not isinstance(task.get("name"), str):
        raise UserError("task.name is missing: choose a task with task=<name> (README 'Tasks')")
    num_envs = task.get("num_envs")
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise UserError(f"task.num_envs={num_envs}: expected a positive integer")
    check_device(str(merged.device))
    if merged.max_seconds < 0:
        raise UserError(f"max_seconds={merged.max_seconds}: expected seconds >= 0 (0: no wall-clock limit)")


def check_device(device: str) -> None:
    """Raise :class:`UserError` unless ``device`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:<index>``."""
    kind, _, index = device.partition(":")
    if device in ("auto", "cpu", "cuda") or (kind == "cuda" and index.isdigit()):
        return
    raise UserError(f"device={device}: expected {DEVICES}")
