"""Isaac Gym backend placeholder: the original simulator of the Allegro-Kuka tasks (PhysX, GPU).

Isaac Gym is not on any package registry (an NVIDIA download for Python <= 3.8), so it cannot be installed
or tested here. Importing this module raises ``ImportError`` when ``isaacgym`` is missing
(:func:`tasks.sim.backend_class` turns it into one :class:`~tasks.base.TaskConfigError` line with the install
hint); with it present, the class still raises ``NotImplementedError`` (no port of the scene to Isaac Gym
assets exists yet).
"""

from __future__ import annotations

from typing import Any

import isaacgym  # noqa: F401  (ImportError when missing: the install hint is in tasks.sim.BACKENDS)


class IsaacGymBatchedSim:  # pragma: no cover - needs Isaac Gym
    """Not implemented: use the original IsaacGymEnvs tasks for Isaac Gym runs."""

    def __init__(self, scene: Any, num_envs: int, **kwargs: Any) -> None:
        raise NotImplementedError(
            "the Isaac Gym backend is a stub: run the original IsaacGymEnvs AllegroKuka tasks instead, "
            "or use sim=mujoco_cpu / sim=mujoco_warp"
        )
