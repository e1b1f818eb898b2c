"""MJCF scene of the Allegro-Kuka tasks: Kuka iiwa7 + Allegro hand(s), table, cuboid, goal, bucket, obstacles.

Built from primitive shapes only (spec §2–§4, §9, §10, §13). Public API (stable names for the task code):

* ``SceneSpec(num_arms=1|2, goal="sphere"|"box"|"none", bucket=False,
  obstacle=None|"hole"|"partition"|"barrier", object_size=(0.05, 0.05, 0.05))``
  → ``build_scene(spec) -> SceneInfo`` (``.xml``, names, limits: a :class:`tasks.sim.base.Scene`).
* Index layout, for ``A = num_arms`` (the backends' tensors follow it):
  - DoFs ``[A*23]``: per arm ``iiwa7_joint_1..7, index_joint_0..3, middle.., ring.., thumb_joint_0..3``
    (§2.2), arm 0 then arm 1; MuJoCo names are prefixed ``arm{a}_``.
  - tracked bodies ``[A + 1 + 4A]``: ``palm_body(a) = a`` (iiwa7_link_7), ``OBJECT = A`` (see
    ``SceneInfo.object_body``), ``fingertip_body(a, f) = A + 1 + 4a + f`` (link_3 of index, middle, ring,
    thumb).
  - tracked sites ``[A + 4A]``: ``palm_site(a) = a`` (palm centre, §3.5),
    ``fingertip_site(a, f) = A + 4a + f``.
  - mocap bodies: 0 = goal marker (if any), then the bucket (throw) — see ``SceneInfo.mocap_names``.
* Cuboid families (§4.1): ``cuboid_scales(small, big, sticks)`` and ``assign_objects(num_envs, scales)``.

Units: m, rad, kg. World frame = env frame (the single arm's base at (0, 0.8, 0)). Spec: docs/spec/allegro_kuka.md.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

import numpy as np

from tasks.allegro_kuka import robot

DT = 1.0 / 120.0  # physics step (s); 2 per 60 Hz control step (§1, §14)
SUBSTEPS = 2
TABLE_TOP = 0.53
OBJECT_BASE_SIZE = 0.05  # objectBaseSize (m), §4.1
OBJECT_DENSITY = 400.0  # kg/m³, §4.1
FINGERS = ("index", "middle", "ring", "thumb")
OBSTACLES = (None, "hole", "partition", "barrier")

# Contact filtering (bitmasks; MuJoCo collides a pair when contype_a & conaffinity_b or vice versa):
#   static (table, floor, bucket, walls): type 1, affinity 0  -> hits robot and object
#   robot (both arms + hands):            type 2, affinity 1  -> no robot-robot contact (Isaac filter -1)
#   object:                               type 4, affinity 7  -> hits everything
#   partition board (movable):            type 8, affinity 6  -> hits robot and object, not the table
STATIC, ROBOT, OBJECT_BITS, PARTITION = (1, 0), robot.ROBOT_BITS, (4, 7), (8, 6)

@dataclass(frozen=True)
class SceneSpec:
    """What to put in the scene.

    Attributes:
        num_arms: 1 (narrow table, §2.6) or 2 (wide table, §10).
        goal: goal marker: "sphere" (regrasping/throw, r 0.01875 m), "box" (reorientation, object-sized),
            "none".
        bucket: add the throw task's bucket (mocap, collides with the object; §9).
        obstacle: two-arm obstacle: None, "hole" (§13), "partition" (sliding board), "barrier" (wall, no
            opening).
        object_size: full side lengths (m) of the template cuboid; backends may change it per env.

    The MuJoCo contact options (cone, impratio, no-slip passes) are simulator settings, not the scene's: the
    backend applies ``sim.contact`` (:class:`tasks.sim.config.ContactConfig`) to the compiled model.
    """

    num_arms: int = 1
    goal: str = "sphere"
    bucket: bool = False
    obstacle: str | None = None
    object_size: tuple[float, float, float] = (0.05, 0.05, 0.05)

    def __post_init__(self) -> None:
        if self.num_arms not in (1, 2):
            raise ValueError(f"num_arms must be 1 or 2, got {self.num_arms}")
        if self.goal not in ("sphere", "box", "none"):
            raise ValueError(f"goal must be 'sphere', 'box' or 'none', got {self.goal!r}")
        if self.obstacle not in OBSTACLES:
            raise ValueError(f"obstacle must be one of {OBSTACLES}, got {self.obstacle!r}")
        if self.obstacle is not None and self.num_arms != 2:
            raise ValueError("obstacles exist only in the two-arm scene (§13)")
        if self.bucket and self.num_arms != 1:
            raise ValueError("the bucket (throw task) exists only in the single-arm scene (§9)")


@dataclass
class SceneInfo:
    """A compiled scene and the names/indices the backends and tasks use (see module docstring)."""

    spec: SceneSpec
    xml: str
    dof_names: list[str]  # MuJoCo joint names of the actuated DoFs, spec order
    body_names: list[str]  # tracked bodies
    site_names: list[str]  # tracked sites
    mocap_names: list[str]  # mocap bodies in mocap index order
    object_body: int  # index of the object among the tracked bodies
    object_geom: str = "object_geom"
    goal_geom: str | None = None
    passive_joints: list[str] = field(default_factory=list)  # non-robot hinge/slide joints (partition)
    dof_lower: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [D] rad
    dof_upper: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [D] rad
    default_dof_pos: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [D] rad (§2.3)
    dof_vel_limit: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [D] rad/s (§2.3); 0 = none
    max_contacts: int = 0  # contacts per world a fixed-buffer backend allocates (WARP_CAPACITY)
    max_constraints: int = 0  # constraint rows per world (WARP_CAPACITY)

    @property
    def num_dofs(self) -> int:
        return len(self.dof_names)


# num_arms -> (contacts, constraint rows) per world for MuJoCo Warp's fixed buffers (sim.nconmax / sim.njmax
# override them). Worst case measured on CPU MuJoCo by python -m bench.warp_capacity (8 worlds x 1000 random-action
# steps per task, and bench.grasp's scripted closing-hand grasps): one arm 14 contacts / 69 rows, two arms
# 14 / 90. Chosen: about 2x (one arm) and, for two arms, room for both hands grasping (2 x 14 contacts) x 1.7.
WARP_CAPACITY: dict[int, tuple[int, int]] = {1: (32, 144), 2: (48, 192)}


def palm_body(arm: int) -> int:
    """Tracked-body index of arm ``arm``'s palm (iiwa7_link_7)."""
    return arm


def fingertip_body(num_arms: int, arm: int, finger: int) -> int:
    """Tracked-body index of ``<finger>_link_3`` (finger 0..3 = index, middle, ring, thumb)."""
    return num_arms + 1 + 4 * arm + finger


def palm_site(arm: int) -> int:
    """Tracked-site index of arm ``arm``'s palm centre (§3.5)."""
    return arm


def fingertip_site(num_arms: int, arm: int, finger: int) -> int:
    """Tracked-site index of a fingertip point (§3.5)."""
    return num_arms + 4 * arm + finger


# ---------------------------------------------------------------------------------------- cuboids (§4.1)
_SMALL = (100, 50, 66, 75, 90, 110, 125, 150, 175, 200, 250, 300)
_BIG = (100, 125, 150, 200, 250, 300, 350)
_STICKS = (100, 50, 75, 200, 300, 400, 500, 600)


def _family(scales: tuple[int, ...], vmin: float, vmax: float, no_plates: bool, sticks: bool) -> set:
    out = set()
    for t in itertools.product(sorted(set(scales)), repeat=3):
        vol = t[0] * t[1] * t[2] / 1e6
        if not vmin <= vol <= vmax:
            continue
        a, b, c = sorted(t)
        if no_plates and a * 3 <= b:
            continue
        if sticks and not (c > 3 * a and c > 3 * b):
            continue
        out.add(t)
    return out


def cuboid_scales(small: bool = True, big: bool = True, sticks: bool = True) -> list[tuple[int, int, int]]:
    """Integer percentage scales (sx, sy, sz) of every cuboid, sorted by name then shuffled (seed 42), §4.1.

    The default cube (100, 100, 100) is always included (once). Each family is its own set of files, so the
    9 triples of volume exactly 2.5 that are both small and big cuboids appear twice, as in [GC].
    Side lengths are ``0.05 * s / 100`` m. Counts: all families 947, small only (throw) 654 (spec §4.1).
    """
    named = {("cube", (100, 100, 100))}
    if small:
        small_set = _family(_SMALL, 1.0, 2.5, False, False)
        named |= {("cube" if t == (100, 100, 100) else "small", t) for t in small_set}
    if big:
        named |= {("big", t) for t in _family(_BIG, 2.5, 15.0, True, False)}
    if sticks:
        named |= {("stick", t) for t in _family(_STICKS, 2.5, 6.0, True, True)}
    names = sorted(named, key=lambda nt: f"{nt[0]}_{nt[1][0]}_{nt[1][1]}_{nt[1][2]}")
    random.Random(42).shuffle(names)
    return [t for _, t in names]


def assign_objects(num_envs: int, scales: list[tuple[int, int, int]]) -> np.ndarray:
    """Env i gets object ``i mod len(scales)`` (§4.1). Returns side lengths ``[num_envs, 3]`` (m)."""
    arr = np.asarray(scales, dtype=np.float64) / 100.0 * OBJECT_BASE_SIZE
    return arr[np.arange(num_envs) % len(scales)]


# ---------------------------------------------------------------------------------------- MJCF
_f = robot.fmt
_geom = robot.geom_xml


def _arm_xml(a: int, base_pos, base_yaw: float) -> str:
    """Arm ``a`` (prefix ``arm{a}_``): link_0 welded to the world, links 1–7 + hand (§3)."""
    p = f"arm{a}_"
    q = robot.yaw_quat(base_yaw)
    out = [f'<body name="{p}iiwa7_link_0" pos="{_f(base_pos)}" quat="{_f(q)}">',
           robot.inertial_xml("iiwa7_link_0"), *[_geom(None, *g) for g in robot.ARM_GEOMS["iiwa7_link_0"]]]
    closers = ["</body>"]
    for j, (jname, child, pos, rpy, lim, _fric) in enumerate(robot.ARM_JOINTS):
        extra = ' gravcomp="1"'
        out.append(f'<body name="{p}{child}" pos="{_f(pos)}" quat="{_f(robot.rpy_quat(rpy))}"{extra}>')
        out.append(f'<joint name="{p}{jname}" class="arm" range="{-lim:.11g} {lim:.11g}"/>')
        out.append(robot.inertial_xml(child))
        out += [_geom(None, *g) for g in robot.ARM_GEOMS[child]]
        closers.append("</body>")
        if j == 6:  # collapsed iiwa7_link_ee + allegro_mount + palm_link (fixed joints) -> link_7
            out.append(f'<site name="{p}palm_centre" pos="0 -0.02 0.16" size="0.005" rgba="1 0 0 1"/>')
            out.append(f'<frame pos="{_f(robot.PALM_POS)}" quat="{_f(robot.PALM_QUAT)}">')
            out.append(_geom(f"{p}palm", *robot.PALM_GEOM))
            out.append(robot.hand_xml(p))
            out.append("</frame>")
    out += closers[::-1]
    return "\n".join(out)


def _bucket_xml() -> str:
    """12-sided tapered cup: 12 tilted wall boxes + a floor cylinder (§9); origin at the outside bottom."""
    r_bot, r_top, h = 0.076, 0.1115, 0.198  # mid-wall circumradius at bottom/rim, rim height
    c15 = np.cos(np.pi / 12)
    a_bot, a_top = r_bot * c15, r_top * c15  # apothems
    tilt = np.arctan2(a_top - a_bot, h)
    half_len = 0.5 * np.hypot(h, a_top - a_bot)
    half_w = r_top * np.sin(np.pi / 12) + 0.002
    geoms = []
    for k in range(12):
        phi = 2 * np.pi * k / 12
        rmid = 0.5 * (a_bot + a_top)
        pos = (rmid * np.cos(phi), rmid * np.sin(phi), h / 2)
        # wall box: local x = radial thickness, y = tangential, z = along the slanted wall
        quat = robot.quat_mul(robot.yaw_quat(phi), robot.axis_quat((0, 1, 0), -tilt))
        geoms.append(_geom(None, "box", (0.007, half_w, half_len), pos, quat, STATIC, "0.35 0.55 0.8 1"))
    geoms.append(_geom(None, "cylinder", (0.076, 0.005), (0, 0, 0.005), None, STATIC, "0.35 0.55 0.8 1"))
    return '<body name="bucket" mocap="true" pos="-0.6 -0.2 0.45">\n' + "\n".join(geoms) + "\n</body>"


def _obstacle_xml(kind: str | None) -> str:
    """Two-arm obstacles (§13). Hole: EPO's two boxes; partition: sliding board; barrier: wall, open on +y."""
    wall = "0.55 0.45 0.35 1"
    if kind == "hole":
        return "\n".join([
            _geom("hole_lower", "box", (0.025, 0.2, 0.15), (0, 0, 0.65), None, STATIC, wall),
            _geom("hole_upper", "box", (0.025, 0.2, 0.5), (0, 0, 1.5), None, STATIC, wall)])
    if kind == "partition":
        # 2 cm x 40 cm x 30 cm board standing on the table middle (x = 0), slides along y (range ±0.45 m,
        # damping 2 N·s/m); the object cannot pass until the board is pushed aside.
        return ('<body name="partition" pos="0 0 0.685">'
                '<joint name="partition_slide" type="slide" axis="0 1 0" range="-0.45 0.45" damping="2"/>'
                + _geom("partition_board", "box", (0.01, 0.2, 0.15), (0, 0, 0), None, PARTITION,
                        "0.8 0.6 0.3 1", 'mass="0.5"') + "</body>")
    if kind == "barrier":
        # fixed 5 cm x 30 cm x 90 cm wall on the table middle, y in [-0.2, 0.1], z in [0.53, 1.43]:
        # no opening; the object must go around its +y side (or past the -y table edge).
        return _geom("barrier", "box", (0.025, 0.15, 0.45), (0, -0.05, 0.98), None, STATIC, wall)
    return ""


def scene_xml(spec: SceneSpec) -> str:
    """The MJCF text of ``spec`` (§1–§4, §9, §10, §13)."""
    two = spec.num_arms == 2
    table_half = (0.55 if two else 0.2375, 0.2, 0.15)
    arms = ([_arm_xml(0, (-1.1, 0, 0), np.pi / 2), _arm_xml(1, (1.1, 0, 0), -np.pi / 2)] if two
            else [_arm_xml(0, (0, 0.8, 0), 0.0)])
    half = np.asarray(spec.object_size) / 2
    obj_pos = (0.35, 0, 0.63) if two else (0, 0, 0.63)
    obj_extra = f'density="{OBJECT_DENSITY}"'
    goal = ""
    if spec.goal == "sphere":
        goal = _geom("goal_geom", "sphere", (0.01875,), bits=(0, 0), rgba="0.1 0.9 0.1 0.6")
    elif spec.goal == "box":
        goal = _geom("goal_geom", "box", half, bits=(0, 0), rgba="0.1 0.9 0.1 0.4")
    goal_body = f'<body name="goal" mocap="true" pos="0 0.2 0.9">{goal}</body>' if goal else ""
    sensors = []
    # grouped by kind so that each state tensor is one slice of sensordata (tasks/sim/base.SENSOR_GROUPS)
    for s in ("framepos", "framequat", "framelinvel", "frameangvel"):
        sensors += [f'<{s} objtype="xbody" objname="{name}"/>' for name in _tracked_bodies(spec)]
    sensors += [f'<frame{axis}axis objtype="xbody" objname="{name}"/>'  # rotation matrix columns
                for name in _tracked_bodies(spec) for axis in "xyz"]
    sensors += [f'<framepos objtype="site" objname="{s}"/>' for s in _tracked_sites(spec)]
    sensors += [f'<jointpos joint="{j}"/>' for j in _dof_names(spec)]
    sensors += [f'<jointvel joint="{j}"/>' for j in _dof_names(spec)]
    return f"""<mujoco model="allegro_kuka">
<compiler angle="radian" autolimits="true"/>
<option timestep="{DT:.12g}" integrator="implicitfast" gravity="0 0 -9.81"/>
<visual><global offwidth="1280" offheight="720"/><quality shadowsize="2048"/></visual>
<asset>
<texture name="grid" type="2d" builtin="checker" rgb1="0.25 0.28 0.32" rgb2="0.3 0.33 0.37"
 width="256" height="256"/>
<material name="grid" texture="grid" texrepeat="8 8"/>
<texture name="sky" type="skybox" builtin="gradient" rgb1="0.45 0.6 0.75" rgb2="0.1 0.12 0.15" width="32"
 height="256"/>
</asset>
<default>
<default class="arm"><joint damping="0" armature="0" frictionloss="0.025"/></default>
</default>
<worldbody>
<light pos="0 0 3" dir="0 0 -1" directional="true" diffuse="0.7 0.7 0.7"/>
<light pos="2 -2 3" dir="-1 1 -1.5" diffuse="0.3 0.3 0.3"/>
<geom name="floor" type="plane" size="3 3 0.05" material="grid" contype="1" conaffinity="0"/>
{_geom("table", "box", table_half, (0, 0, 0.38), None, STATIC, "0.6 0.5 0.4 1")}
{_obstacle_xml(spec.obstacle)}
{chr(10).join(arms)}
<body name="object" pos="{_f(obj_pos)}"><freejoint name="object_joint"/>
{_geom("object_geom", "box", half, bits=OBJECT_BITS, rgba="0.9 0.35 0.2 1", extra=obj_extra)}
</body>
{goal_body}
{_bucket_xml() if spec.bucket else ""}
</worldbody>
<actuator>
{robot.actuators_xml([f"arm{a}_" for a in range(spec.num_arms)])}
</actuator>
<sensor>
{chr(10).join(sensors)}
</sensor>
</mujoco>"""


def _dof_names(spec: SceneSpec) -> list[str]:
    return [f"arm{a}_{j}" for a in range(spec.num_arms) for j in robot.DOF_NAMES]


def _tracked_bodies(spec: SceneSpec) -> list[str]:
    arms = range(spec.num_arms)
    return ([f"arm{a}_iiwa7_link_7" for a in arms] + ["object"]
            + [f"arm{a}_{f}_link_3" for a in arms for f in FINGERS])


def _tracked_sites(spec: SceneSpec) -> list[str]:
    arms = range(spec.num_arms)
    return [f"arm{a}_palm_centre" for a in arms] + [f"arm{a}_{f}_tip" for a in arms for f in FINGERS]


def build_scene(spec: SceneSpec | None = None) -> SceneInfo:
    """Describe the scene (MJCF + names; no simulator import). Raises ``ValueError`` on a bad spec."""
    spec = spec or SceneSpec()
    xml = scene_xml(spec)
    default = robot.default_pose(two_arms=spec.num_arms == 2)
    lo, hi = robot.limits()
    mocaps = (["goal"] if spec.goal != "none" else []) + (["bucket"] if spec.bucket else [])
    return SceneInfo(
        spec=spec, xml=xml, dof_names=_dof_names(spec), body_names=_tracked_bodies(spec),
        site_names=_tracked_sites(spec), mocap_names=mocaps, object_body=spec.num_arms,
        goal_geom="goal_geom" if spec.goal != "none" else None,
        passive_joints=["partition_slide"] if spec.obstacle == "partition" else [],
        dof_lower=np.tile(lo, spec.num_arms), dof_upper=np.tile(hi, spec.num_arms),
        default_dof_pos=np.tile(default, spec.num_arms),
        dof_vel_limit=np.tile(robot.velocity_limits(), spec.num_arms),
        max_contacts=WARP_CAPACITY[spec.num_arms][0], max_constraints=WARP_CAPACITY[spec.num_arms][1],
    )
