"""The factories of the eight Allegro-Kuka tasks: one :class:`VariantFactory` per entry of
:data:`tasks.allegro_kuka.config.VARIANTS` (``tasks.TASKS`` points every name at :data:`FACTORIES`).

The heavy task module is imported only when a task is built. Spec: docs/spec/allegro_kuka.md.
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
        from tasks.allegro_kuka.task import AllegroKukaTask

        cfg = self.variant.config(settings, owner=f"task {self.name}")
        return AllegroKukaTask(cfg, num_envs=num_envs, seed=seed, device=device, sim=dict(sim or {}))


FACTORIES: dict[str, VariantFactory] = {name: VariantFactory(name) for name in VARIANTS}
