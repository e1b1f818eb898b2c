"""What both MuJoCo backends (``mujoco_cpu``, ``mujoco_warp``) read from a compiled ``MjModel`` of a scene, said
once: the model itself with the ``sim.contact`` options, the addresses of the scene's joints, actuators and
free bodies, and the element index of a per-world model field."""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from tasks.sim.base import Scene
from tasks.sim.config import ContactConfig

_ELEMENTS = {"geom": "geom", "body": "body", "jnt": "joint", "site": "site", "actuator": "actuator"}


def compile_model(scene: Scene, contact: ContactConfig | None = None) -> mujoco.MjModel:
    """The ``MjModel`` of ``scene.xml`` with the MuJoCo ``<option>`` contact settings ``contact`` (None: the
    :class:`~tasks.sim.config.ContactConfig` defaults); a scene that names its manipulated object's geom
    (``object_geom``) also gets ``contact.object_condim`` and ``contact.torsional_friction`` on it."""
    model = mujoco.MjModel.from_xml_string(scene.xml)
    contact = contact or ContactConfig()
    model.opt.cone = {"pyramidal": mujoco.mjtCone.mjCONE_PYRAMIDAL, "elliptic": mujoco.mjtCone.mjCONE_ELLIPTIC}[
        contact.cone]
    model.opt.impratio = contact.impratio
    model.opt.noslip_iterations = contact.noslip_iterations
    obj = getattr(scene, "object_geom", None)
    if obj is not None:
        g = element_id(model, "geom_condim", obj)
        model.geom_condim[g] = contact.object_condim
        model.geom_friction[g, 1] = contact.torsional_friction
    return model


@dataclass(frozen=True)
class Addresses:
    """Where a scene's names live in a model's arrays.

    Attributes:
        qpos, qvel: ``[D]`` ``qpos`` / ``qvel`` addresses of the actuated joints (``scene.dof_names`` order).
        actuator: ``[D]`` actuator ids of the same joints (each actuator is named as its joint).
        passive_qpos, passive_qvel: ``[P]`` addresses of ``scene.passive_joints``.
        bodies: ``[B]`` body ids of ``scene.body_names``.
        free: tracked body index -> (``qpos``, ``qvel``) address of its free joint, for bodies that have one.
    """

    qpos: np.ndarray
    qvel: np.ndarray
    actuator: np.ndarray
    passive_qpos: np.ndarray
    passive_qvel: np.ndarray
    bodies: np.ndarray
    free: dict[int, tuple[int, int]]


def addresses(model: mujoco.MjModel, scene: Scene) -> Addresses:
    """The :class:`Addresses` of ``scene``'s names in ``model``.

    Raises:
        KeyError: a name the model lacks (MuJoCo's message).
    """
    joints = [model.joint(j).id for j in scene.dof_names]
    passive = [model.joint(j).id for j in getattr(scene, "passive_joints", [])]
    bodies = np.array([model.body(name).id for name in scene.body_names], dtype=np.int64)
    free = {}
    for i, body in enumerate(bodies):
        adr = model.body_jntadr[body]
        if adr >= 0 and model.jnt_type[adr] == mujoco.mjtJoint.mjJNT_FREE:
            free[i] = (int(model.jnt_qposadr[adr]), int(model.jnt_dofadr[adr]))
    return Addresses(
        qpos=model.jnt_qposadr[joints], qvel=model.jnt_dofadr[joints],
        actuator=np.array([model.actuator(j).id for j in scene.dof_names], dtype=np.int64),
        passive_qpos=model.jnt_qposadr[passive], passive_qvel=model.jnt_dofadr[passive], bodies=bodies, free=free)


def element_id(model: mujoco.MjModel, field: str, element: str) -> int:
    """Index of element ``element`` in model field ``field`` (``geom_size`` + ``"object_geom"`` -> its geom id).

    Raises:
        ValueError: the field's prefix is not a known element kind, or the model has no such element.
    """
    kind = _ELEMENTS.get(field.split("_")[0])
    if kind is None:
        raise ValueError(f"world field {field!r}: expected a geom_, body_, jnt_, site_ or actuator_ model field")
    try:
        return int(getattr(model, kind)(element).id)
    except KeyError as err:
        raise ValueError(f"world field {field!r}: the scene has no {kind} named {element!r}") from err
