"""The factories of the eight Allegro-Kuka tasks: one :class:`VariantFactory` per entry of
:data:`tasks.allegro_kuka.config.VARIANTS` (``tasks.TASKS`` points every name at :data:`FACTORIES`).

The heavy task module is imported only when a task is built. ``sim=isaacgym`` (the original IsaacGymEnvs tasks)
is dispatched by :func:`tasks.make` to :mod:`tasks.isaacgymenvs`, not here. Spec: docs/spec/allegro_kuka.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from tasks.allegro_kuka.config import VARIANTS
from tasks.allegro_kuka.scene import DT
from tasks.base import BatchedTask, TaskConfigError
from tasks.sim.config import MujocoConfig, SimConfig, sim_config


class VariantFactory:
    """Builds registered task ``name`` (a :data:`VARIANTS` entry); ``settings_model`` says what it accepts.

    Call it as any task factory (:mod:`tasks.base`): ``num_envs``, ``seed``, ``device``, ``sim`` (validated
    simulator settings, :func:`tasks.sim.sim_config`; a mapping is validated here) and the task's own settings
    (``task.<name>``, groups as mappings: ``rewards={"lifting_bonus": 100.0}``).

    Raises:
        pydantic.ValidationError: a bad setting or simulator setting. TaskConfigError: see :meth:`check_sim`.
    """

    def __init__(self, name: str) -> None:
        self.name, self.variant = name, VARIANTS[name]
        self.__doc__ = self.variant.doc
        self.settings_model: type[BaseModel] = self.variant.settings_model()

    def __call__(self, *, num_envs: int, seed: int = 0, device: str = "cpu",
                 sim: SimConfig | Mapping[str, Any] | None = None, **settings: Any) -> BatchedTask:
        cfg = self.variant.config(settings)
        sim = sim_config(sim)
        self.check_sim(sim)
        from tasks.allegro_kuka.task import AllegroKukaTask

        return AllegroKukaTask(cfg, num_envs=num_envs, seed=seed, device=device, sim=sim)

    def check_sim(self, sim: SimConfig) -> None:
        """Raise :class:`~tasks.base.TaskConfigError` unless ``sim`` is a MuJoCo backend's settings with the
        scene's physics step (``sim.physics_dt`` = 1/120 s)."""
        if not isinstance(sim, MujocoConfig):
            raise TaskConfigError(f"task {self.name} runs on sim=mujoco or sim=mujoco_warp, not sim={sim.backend}")
        if abs(sim.physics_dt - DT) > 1e-9:
            raise TaskConfigError(f"sim.physics_dt={sim.physics_dt}: the Allegro-Kuka scene is built for {DT} s; "
                                  "leave it at its default")


FACTORIES: dict[str, VariantFactory] = {name: VariantFactory(name) for name in VARIANTS}
