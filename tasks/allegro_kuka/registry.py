"""The factories of the eight Allegro-Kuka tasks: one :class:`VariantFactory` per entry of
:data:`tasks.allegro_kuka.config.VARIANTS` (``tasks.TASKS`` points every name at :data:`FACTORIES`).

The heavy task module is imported only when a task is built. With ``sim={"backend": "isaacgym"}`` the factory
builds the original IsaacGymEnvs task instead (:mod:`tasks.sim.isaacgym_envs`). Spec: docs/spec/allegro_kuka.md.
"""

from __future__ import annotations

from typing import Any

from tasks.allegro_kuka.config import VARIANTS
from tasks.base import BatchedTask
from tasks.settings import Setting


class VariantFactory:
    """Builds registered task ``name`` (a :data:`VARIANTS` entry); ``settings`` says what it accepts.

    Call it as any task factory (:mod:`tasks.base`): ``num_envs``, ``seed``, ``device``, ``sim`` (backend
    settings, e.g. ``{"backend": "mujoco", "num_threads": 0, "substeps": 2}``) and the task's own settings
    (``task.<name>``, groups as mappings: ``rewards={"lifting_bonus": 100.0}``).

    Raises:
        TaskConfigError: an unknown or mistyped setting. ValueError: an out-of-range setting or simulator
            option.
    """

    def __init__(self, name: str) -> None:
        self.name, self.variant = name, VARIANTS[name]
        self.__doc__ = self.variant.doc
        self.settings: dict[str, Setting] = self.variant.settings()

    def __call__(self, *, num_envs: int, seed: int = 0, device: str = "cpu", sim: dict[str, Any] | None = None,
                 **settings: Any) -> BatchedTask:
        cfg = self.variant.config(settings, owner=f"task {self.name}")
        if (sim or {}).get("backend") == "isaacgym":
            self.check_sim(sim)
            from tasks.sim.isaacgym import make_allegro_kuka

            return make_allegro_kuka(self.name, cfg, num_envs=num_envs, seed=seed, device=device, sim=dict(sim))
        from tasks.allegro_kuka.task import AllegroKukaTask

        return AllegroKukaTask(cfg, num_envs=num_envs, seed=seed, device=device, sim=dict(sim or {}))

    def check_sim(self, sim: dict[str, Any] | None) -> None:
        """Raise :class:`~tasks.base.TaskConfigError` when ``sim=isaacgym`` and this variant has no IsaacGymEnvs
        counterpart (:func:`tasks.allegro_kuka.upstream.counterpart`)."""
        if (sim or {}).get("backend") == "isaacgym":
            from tasks.allegro_kuka.upstream import counterpart

            counterpart(self.name)


FACTORIES: dict[str, VariantFactory] = {name: VariantFactory(name) for name in VARIANTS}
