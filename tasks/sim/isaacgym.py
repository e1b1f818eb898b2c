"""Isaac Gym backend placeholder: the original simulator of the Allegro-Kuka tasks (PhysX, GPU).

Isaac Gym is not on any package registry (an NVIDIA download for Python <= 3.8), so it cannot be installed
or tested here. Importing this module fails with a clear message when ``isaacgym`` is missing; with it
present, the class still raises ``NotImplementedError`` (no port of the scene to Isaac Gym assets exists yet).
"""

from __future__ import annotations

from typing import Any

try:
    import isaacgym  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the machine
    raise ImportError(
        "Isaac Gym is not installed; install it from NVIDIA (https://developer.nvidia.com/isaac-gym, "
        "Python <= 3.8: pip install -e isaacgym/python) or use sim=mujoco_cpu / sim=mujoco_warp"
    ) from e


class IsaacGymBatchedSim:  # pragma: no cover - needs Isaac Gym
    """Not implemented: use the original IsaacGymEnvs tasks for Isaac Gym runs."""

    def __init__(self, scene: Any, num_envs: int, **kwargs: Any) -> None:
        raise NotImplementedError(
            "the Isaac Gym backend is a stub: run the original IsaacGymEnvs AllegroKuka tasks instead, "
            "or use sim=mujoco_cpu / sim=mujoco_warp"
        )
