"""Import Isaac Gym before torch when the command line asks for ``sim=isaacgym``.

Isaac Gym refuses to load once torch is imported ("PyTorch was imported before isaacgym modules"), and
``train.py`` needs torch; so ``train.py`` calls :func:`import_isaacgym_first` before its first torch import.
This module must not import torch (nor anything that does).
"""

from __future__ import annotations

import contextlib
import importlib
import re

# sim=isaacgym, +sim=isaacgym, ++sim=isaacgym, sim=mujoco,isaacgym (a sweep), sim=choice(...)
_SIM_OVERRIDE = re.compile(r"^\+{0,2}sim=(?P<value>.*)$")


def asks_for_isaacgym(argv: list[str]) -> bool:
    """Whether any Hydra override in ``argv`` (``sys.argv[1:]``) selects, or sweeps over, ``sim=isaacgym``."""
    for arg in argv:
        match = _SIM_OVERRIDE.match(arg)
        if match and "isaacgym" in re.split(r"[,()\s\[\]]+", match["value"]):
            return True
    return False


def import_isaacgym_first(argv: list[str]) -> bool:
    """Import ``isaacgym`` now when ``argv`` asks for ``sim=isaacgym``; returns whether it was imported.

    A missing Isaac Gym is not an error here: the task build says how to install it (one line,
    :data:`tasks.sim.BACKENDS`).
    """
    if not asks_for_isaacgym(argv):
        return False
    with contextlib.suppress(ImportError):
        importlib.import_module("isaacgym")
        return True
    return False
