"""Every ``sim.*`` setting: one pydantic model per simulator choice (``cfg/sim/<choice>.yaml`` holds only
``backend``; the defaults are here, registered with Hydra by ``train.py``).

:func:`sim_config` checks a user's ``sim`` mapping against the model its ``backend`` names (default
:data:`DEFAULT_BACKEND`) before anything is built; a task then hands the validated object whole to
:func:`tasks.sim.make_sim`. No simulator is imported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tasks.base import TaskConfigError, closest
from tasks.settings import SETTINGS

DEFAULT_BACKEND = "mujoco"  # cfg/config.yaml's default sim group
ALIASES = {"mujoco": "mujoco_cpu", "cpu": "mujoco_cpu", "warp": "mujoco_warp"}


class ContactConfig(BaseModel):
    """MuJoCo ``<option>`` contact settings (``sim.contact.<name>``). Defaults chosen by measurement
    (python -m bench.grasp; docs/benchmarks.md "Scripted grasps and contact settings"): pyramidal cones at
    impratio 1 let a held cube creep out of the hand in seconds; elliptic cones alone hold 71-80 % of lifted grasps
    and the creep does not stop; 4 no-slip passes hold 97-100 % and stop it (about 0.8x the raw physics rate)."""

    model_config = SETTINGS

    cone: Literal["pyramidal", "elliptic"] = "elliptic"
    """Friction cone: pyramidal | elliptic."""
    impratio: float = Field(10.0, ge=1)
    """Friction-to-normal impedance ratio (elliptic cones only)."""
    noslip_iterations: int = Field(4, ge=0)
    """Extra no-slip solver passes per step (0: off)."""
    object_condim: Literal[3, 4, 6] = 3
    """Contact dimensionality of the manipulated object's contacts (``geom condim``): 3 sliding friction, 4 + torsional,
    6 + rolling (a contact takes the larger condim of its two geoms)."""
    torsional_friction: float = Field(0.005, ge=0)
    """Torsional friction coefficient (m) of the object's contacts with ``object_condim`` >= 4 (MuJoCo's default)."""


class SimConfig(BaseModel):
    """What every simulator choice has: its ``backend`` name (a subclass per choice narrows it)."""

    model_config = SETTINGS

    backend: str
    """The simulator: mujoco (= mujoco_cpu, cpu), mujoco_warp (= warp) or isaacgym."""

    def backend_options(self) -> dict[str, Any]:
        """The keywords the backend's constructor takes from these settings (:func:`tasks.sim.make_sim`)."""
        return {}


class MujocoConfig(SimConfig):
    """``sim=mujoco``: MuJoCo on CPU, N worlds stepped by MuJoCo's native threads (``tasks/sim/mujoco_cpu.py``)."""

    backend: Literal["mujoco", "mujoco_cpu", "cpu"] = "mujoco"
    """mujoco (aliases: mujoco_cpu, cpu)."""
    num_threads: int = Field(0, ge=0)
    """MuJoCo worker threads (0: one per core)."""
    substeps: int = Field(2, ge=1)
    """Physics steps per control step."""
    physics_dt: float = Field(1.0 / 120.0, gt=0)
    """Physics step (s); a task checks it is the one its scene is built for (Allegro-Kuka: 1/120 s)."""
    refresh_sensors: bool = False
    """True: sensors describe the end of the control step (+1 pass, ~20 % slower on CPU)."""
    contact: ContactConfig = Field(default_factory=ContactConfig)
    """MuJoCo contact settings (``sim.contact.<name>``)."""

    def backend_options(self) -> dict[str, Any]:
        """The backend constructor's keywords (:mod:`tasks.sim.mujoco_cpu`): ``nthread``, ``substeps``,
        ``refresh_sensors``, ``contact``."""
        return {"nthread": self.num_threads, "substeps": self.substeps, "refresh_sensors": self.refresh_sensors,
                "contact": self.contact}


class MujocoWarpConfig(MujocoConfig):
    """``sim=mujoco_warp``: MuJoCo Warp, all worlds on one device (``tasks/sim/mujoco_warp.py``); also its
    fixed contact and constraint buffers."""

    backend: Literal["mujoco_warp", "warp"] = "mujoco_warp"  # type: ignore[assignment]
    """mujoco_warp (alias: warp)."""
    nconmax: int | None = Field(None, ge=1)
    """Contacts per world (one pool of nconmax × num_envs); null: the scene's measured worst case × ~2."""
    njmax: int | None = Field(None, ge=1)
    """Constraint rows per world; null: the scene's measured worst case × ~2."""
    max_overflow_fraction: float = Field(0.01, ge=0, le=1)
    """A step whose buffer overflows hit more than this fraction of the worlds stops the run."""

    def backend_options(self) -> dict[str, Any]:
        """:meth:`MujocoConfig.backend_options` and ``nconmax``, ``njmax``, ``max_overflow_fraction``."""
        return {**super().backend_options(), "nconmax": self.nconmax, "njmax": self.njmax,
                "max_overflow_fraction": self.max_overflow_fraction}


class IsaacGymConfig(SimConfig):
    """``sim=isaacgym``: the original IsaacGymEnvs tasks (:mod:`tasks.isaacgymenvs`), their own sim section
    (dt 1/60, 2 substeps, TGS). Any other key overrides that section (``+sim.substeps=4``,
    ``+sim.physx.num_position_iterations=4``); the installed IsaacGymEnvs config decides which keys exist, so
    they are checked when the task is built (:func:`tasks.allegro_kuka.upstream.task_config`)."""

    model_config = ConfigDict(**{**SETTINGS, "extra": "allow"})

    backend: Literal["isaacgym"] = "isaacgym"
    """isaacgym."""


# canonical backend name -> its settings model
SIM_CONFIGS: dict[str, type[SimConfig]] = {
    "mujoco_cpu": MujocoConfig, "mujoco_warp": MujocoWarpConfig, "isaacgym": IsaacGymConfig}
BACKEND_NAMES = (*SIM_CONFIGS, *ALIASES)  # every name sim.backend (and the sim group) may take


def canonical(backend: str) -> str:
    """The :data:`SIM_CONFIGS` key of ``backend`` or of its alias (``mujoco`` -> ``mujoco_cpu``); unknown names
    come back unchanged."""
    return ALIASES.get(backend, backend)


def sim_model(sim: Mapping[str, Any] | None) -> type[SimConfig]:
    """The settings model of the simulator ``sim["backend"]`` names (default :data:`DEFAULT_BACKEND`).

    Raises:
        TaskConfigError: an unknown backend (the closest and the valid names in the message).
    """
    backend = str((sim or {}).get("backend", DEFAULT_BACKEND))
    if canonical(backend) not in SIM_CONFIGS:
        valid = sorted(SIM_CONFIGS) + sorted(ALIASES)
        raise TaskConfigError(f"unknown simulator backend {backend!r}{closest(backend, valid)}; "
                              f"valid backends: {', '.join(valid)}")
    return SIM_CONFIGS[canonical(backend)]


def sim_defaults(backend: str) -> dict[str, Any]:
    """The default settings of simulator ``backend`` as plain nested data (what ``cfg/sim/<backend>.yaml``
    gets from Hydra's ConfigStore).

    Raises:
        TaskConfigError: an unknown backend.
    """
    from tasks.settings import defaults

    return defaults(sim_model({"backend": backend}))


def sim_config(sim: SimConfig | Mapping[str, Any] | None) -> SimConfig:
    """``sim`` validated (a :class:`SimConfig` comes back as it is; None: the defaults of
    :data:`DEFAULT_BACKEND`).

    Raises:
        TaskConfigError: an unknown backend. pydantic.ValidationError: an unknown key, or a value of the wrong
            type or out of range (naming the field).
    """
    if isinstance(sim, SimConfig):
        return sim
    return sim_model(sim).model_validate(dict(sim or {}))
