"""Import guard of ``sim=isaacgym``: importing this module imports ``isaacgym`` and checks ``isaacgymenvs`` is
installed, then exposes the wrapper (:mod:`tasks.isaacgymenvs.wrapper`).

It raises ``ImportError`` when ``isaacgym`` or ``isaacgymenvs`` is missing (:func:`tasks.isaacgymenvs.load` turns
it into one :class:`~tasks.base.TaskConfigError` line with the install hint). Isaac Gym refuses to load once torch
is imported (``train.py`` imports it first when its command line says ``sim=isaacgym``:
:mod:`epo_isaac.cli.isaacgym_first`); that case is one :class:`~tasks.base.TaskConfigError` line too.
"""

from __future__ import annotations

import importlib.util

from tasks.base import TaskConfigError

try:
    import isaacgym  # noqa: F401
except ImportError as err:
    if "imported before isaacgym" not in str(err):
        raise
    raise TaskConfigError("sim=isaacgym: Isaac Gym must be imported before torch and this process imported torch "
                          "first; give sim=isaacgym on train.py's command line (it then imports Isaac Gym first), "
                          "or import isaacgym at the very top of your own script") from err
if importlib.util.find_spec("isaacgymenvs") is None:
    raise ModuleNotFoundError("No module named 'isaacgymenvs'", name="isaacgymenvs")

from tasks.isaacgymenvs.wrapper import IsaacGymEnvsTask, make_allegro_kuka  # noqa: E402

__all__ = ["IsaacGymEnvsTask", "make_allegro_kuka"]
