"""Command-line plumbing of ``train.py``: composing the overrides once before Hydra (one-line errors), routing
console output during a run, and removing the run folder that bad input left behind."""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from epo_isaac.cli.validate import closest
from epo_isaac.errors import UserError


def check_overrides(argv: list[str], cfg_dir: Path) -> DictConfig | None:
    """Compose the config with the command line's overrides once before Hydra does, to turn its multi-line
    composition errors into one line (a misspelled key gets the closest valid one). Sweeps (``-m``) are left
    to Hydra. Returns the composed config (None for a sweep), for the settings' own checks.

    Raises:
        UserError: the overrides do not compose.
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException

    if any(a in ("-m", "--multirun") for a in argv):
        return None
    overrides = [a for a in argv if "=" in a and not a.startswith(("-", "hydra."))]
    choices = [a for a in overrides if a.lstrip("+~").partition("=")[0] in ("task", "train", "sim", "preset")]
    with initialize_config_dir(config_dir=str(cfg_dir.resolve()), version_base="1.3"):
        try:
            return compose(config_name="config", overrides=overrides)
        except HydraException as err:
            text = str(err)
            base = compose(config_name="config", overrides=choices)
    missing = re.match(r"Could not override '([^']+)'", text)
    if not missing:
        raise UserError(" ".join(text.split()))
    key = missing.group(1)
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(base, parent) if parent else base
    valid = sorted(str(k) for k in node) if isinstance(node, DictConfig) else []
    raise UserError(f"unknown key {key}{closest(leaf, valid)}" + (f"; valid keys under {parent}: "
                    f"{', '.join(valid)}" if parent and valid else ""))


@contextlib.contextmanager
def console_and_log(log_path: Path) -> Any:
    """Route output during a run: ``say(line)`` prints to the console and appends to ``log_path``; anything
    else printed to stdout (rl_games' chatter: seeds, shapes, 'saving next best rewards') goes to the log
    only. Yields ``say``."""
    console = sys.stdout
    with open(log_path, "a", buffering=1) as log:
        def say(line: str) -> None:
            print(line, file=console, flush=True)
            print(line, file=log)

        with contextlib.redirect_stdout(log):
            yield say


def remove_unstarted_run_dir(run_dir: Path) -> bool:
    """Delete ``run_dir`` (and its parents up to ``runs/``, when left empty) unless it holds a checkpoint.

    Called when bad input stopped a run before it started, so the mistake leaves nothing behind.
    Returns whether it was removed."""
    if not run_dir.is_dir() or any(run_dir.glob("nn/*.pth")):
        return False
    shutil.rmtree(run_dir, ignore_errors=True)
    parent = run_dir.parent
    for _ in range(3):  # runs/<name>/<date> or runs/multirun/<date>/<job>
        if parent == Path.cwd() or not parent.is_dir() or any(parent.iterdir()):
            break
        parent.rmdir()
        parent = parent.parent
    return True
