"""Kuka iiwa7 + Allegro hand as MJCF fragments: kinematics (§3.1–3.2), inertia (§3.3), primitive collision
shapes sized from the collision-mesh bounding boxes (§3.4), task points (§3.5) and PD drives (§2.4).

Quaternions here are MuJoCo's (w, x, y, z). URDF origin rpy = fixed-axis roll, pitch, yaw: R = Rz·Ry·Rx.
Spec: docs/spec/allegro_kuka.md.
"""

from __future__ import annotations

import numpy as np

# Hand joint armature (kg·m²): Isaac Gym uses 0, but a 0.35 N·m clamped drive on ~1e-5 kg·m² finger links has no
# implicit damping while the clamp is active and chatters at a 1/120 s step in MuJoCo. Measured with the joint speed
# limits on (python -m bench.armature): every value from 0 to 1e-3 stays finite in contact-rich rollouts, but at
# <= 1e-4 a finger step never settles (a limit cycle at the speed limit) and 3e-4 to 7e-4 overshoot 6-15 %; 1e-3 is
# the smallest that settles without overshoot (90 % of a 1.2 rad step in 0.35 s), as the overdamped PD should.
HAND_ARMATURE = 1e-3
ROBOT_BITS = (2, 1)  # contype, conaffinity: the robot touches static geoms and the object, never itself
NO_CONTACT = (0, 0)
ARM_RGBA, HAND_RGBA = "0.92 0.55 0.1 1", "0.15 0.15 0.15 1"


# ---------------------------------------------------------------------------------------- maths
def axis_quat(axis, angle: float) -> np.ndarray:
    """Quaternion (w, x, y, z) of a rotation by ``angle`` rad about unit ``axis``."""
    return np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * np.asarray(axis, dtype=float)])


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a ⊗ b, (w, x, y, z)."""
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


def rpy_quat(rpy) -> np.ndarray:
    """URDF rpy (rad) → quaternion (w, x, y, z) of R = Rz(yaw)·Ry(pitch)·Rx(roll)."""
    r, p, y = rpy
    return quat_mul(quat_mul(axis_quat((0, 0, 1), y), axis_quat((0, 1, 0), p)), axis_quat((1, 0, 0), r))


def yaw_quat(yaw: float) -> np.ndarray:
    return axis_quat((0, 0, 1), yaw)


def quat_mat(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def fmt(v) -> str:
    return " ".join(f"{float(x):.9g}" for x in np.atleast_1d(v))


def geom_xml(name: str | None, gtype: str, size, pos=(0, 0, 0), quat=None, bits=ROBOT_BITS,
             rgba: str = ARM_RGBA, extra: str = "") -> str:
    """One ``<geom>`` element (size/pos in m; quat (w, x, y, z) or None)."""
    n = f'name="{name}" ' if name else ""
    q = f' quat="{fmt(quat)}"' if quat is not None else ""
    return (f'<geom {n}type="{gtype}" size="{fmt(size)}" pos="{fmt(pos)}"{q} contype="{bits[0]}" '
            f'conaffinity="{bits[1]}" rgba="{rgba}" {extra}/>')


def capsule(a, b, r: float, rgba: str = ARM_RGBA) -> tuple:
    """Geom arguments of a capsule of radius ``r`` between points ``a`` and ``b`` (link frame)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    length = np.linalg.norm(d)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(z, d / length)
    s = np.linalg.norm(axis)
    quat = axis_quat(axis / s, np.arctan2(s, d[2] / length)) if s > 1e-9 else np.array([1.0, 0, 0, 0])
    return ("capsule", (r, length / 2), (a + b) / 2, quat, ROBOT_BITS, rgba)


def box(centre, half, rgba: str = ARM_RGBA, bits=ROBOT_BITS) -> tuple:
    return ("box", half, centre, None, bits, rgba)


# ---------------------------------------------------------------------------------------- arm (§3.1)
_ARM_LIM = (2.96705972839, 2.09439510239, 2.96705972839, 2.09439510239, 2.96705972839, 2.09439510239,
            3.05432619099)
PI, HPI = 3.14159265359, 1.57079632679
# (joint, child link, origin xyz, origin rpy, |limit|, friction)
ARM_JOINTS = [
    ("iiwa7_joint_1", "iiwa7_link_1", (0, 0, 0.15), (0, 0, 0), _ARM_LIM[0], 0.025),
    ("iiwa7_joint_2", "iiwa7_link_2", (0, 0, 0.19), (HPI, 0, PI), _ARM_LIM[1], 0.025),
    ("iiwa7_joint_3", "iiwa7_link_3", (0, 0.21, 0), (HPI, 0, PI), _ARM_LIM[2], 0.025),
    ("iiwa7_joint_4", "iiwa7_link_4", (0, 0, 0.19), (HPI, 0, 0), _ARM_LIM[3], 0.025),
    ("iiwa7_joint_5", "iiwa7_link_5", (0, 0.21, 0), (-HPI, PI, 0), _ARM_LIM[4], 0.025),
    ("iiwa7_joint_6", "iiwa7_link_6", (0, 0.0607, 0.19), (HPI, 0, 0), _ARM_LIM[5], 0.025),
    ("iiwa7_joint_7", "iiwa7_link_7", (0, 0.081, 0.0607), (-HPI, PI, 0), _ARM_LIM[6], 0.025),
]
# palm_link in the iiwa7_link_7 frame: link_ee at z 0.071, then allegro_mount_joint (§3.1)
PALM_POS = np.array([0.008219, -0.02063, 0.071 + 0.08086])
PALM_QUAT = rpy_quat((0, -1.5708, 0.785398))

# Collision primitives in each link frame, fitted to the §3.4 mesh bounds (+ collision origin offsets).
ARM_GEOMS: dict[str, list[tuple]] = {
    "iiwa7_link_0": [("cylinder", (0.104, 0.079), (-0.0045, 0, 0.079), None, NO_CONTACT, ARM_RGBA)],
    "iiwa7_link_1": [capsule((0, 0, 0.066), (0, 0, 0.19), 0.068)],
    "iiwa7_link_2": [capsule((0, 0, 0.02), (0, 0.116, 0.02), 0.068)],
    "iiwa7_link_3": [capsule((0, 0, 0.032), (0, 0, 0.19), 0.068)],
    "iiwa7_link_4": [capsule((0, 0, 0.02), (0, 0.116, 0.02), 0.068)],
    "iiwa7_link_5": [capsule((0, 0, 0.032), (0, 0, 0.173), 0.068)],
    "iiwa7_link_6": [capsule((0, -0.02, 0.058), (0, 0.025, 0.058), 0.066)],
    "iiwa7_link_7": [box((0.005, 0.0035, 0.035), (0.059, 0.0575, 0.0355)),  # link_7
                     box((0, 0, 0.0825), (0.038, 0.038, 0.0115), HAND_RGBA)],  # allegro_mount
}
PALM_GEOM = box((-0.008, 0.0085, -0.049), (0.05, 0.0585, 0.049), HAND_RGBA)

# (mass kg, COM m, (ixx, iyy, izz, ixy, ixz, iyz) kg·m²) — §3.3
INERTIA = {
    "iiwa7_link_0": (5.0, (-0.1, 0, 0.07), (0.05, 0.06, 0.03, 0, 0, 0)),
    "iiwa7_link_1": (3.4525, (0, -0.03, 0.12), (0.02183, 0.007703, 0.02083, 0, 0, -0.003887)),
    "iiwa7_link_2": (3.4821, (0.0003, 0.059, 0.042), (0.02076, 0.02179, 0.00779, 0, -0.003626, 0)),
    "iiwa7_link_3": (4.05623, (0, 0.03, 0.13), (0.03204, 0.00972, 0.03042, 0, 0, 0.006227)),
    "iiwa7_link_4": (3.4822, (0, 0.067, 0.034), (0.02178, 0.02075, 0.007785, 0, 0, -0.003625)),
    "iiwa7_link_5": (2.1633, (0.0001, 0.021, 0.076), (0.01287, 0.005708, 0.01112, 0, 0, -0.003946)),
    "iiwa7_link_6": (2.3466, (0, 0.0006, 0.0004), (0.006509, 0.006259, 0.004527, 0, 0, 0.00031891)),
    "iiwa7_link_7": (3.129, (0, 0, 0.02), (0.01464, 0.01465, 0.002872, 0.0005912, 0, 0)),
    "iiwa7_link_ee": (0.1, (0, 0, 0.071), (1e-3, 1e-3, 1e-3, 0, 0, 0)),
    "allegro_mount": (0.05, (0, 0, 0.071), (1e-4, 1e-4, 1e-4, 0, 0, 0)),
    "palm_link": (0.4154, tuple(PALM_POS), (1e-4, 1e-4, 1e-4, 0, 0, 0)),  # isotropic: rotation-free
    "link_0": (0.005, (0, 0, 0), (5.1458e-5, 5.1458e-5, 6.125e-5, 0, 0, 0)),
    # Finger links 1–3: the URDF tensors are invalid (§3.3); we keep mass, COM and the diagonal and drop the
    # products of inertia (the diagonals satisfy the triangle inequality; checked in _tensor).
    "link_1": (0.125164, (0.027, 0, 0), (6.39979e-6, 8.88687e-5, 9.13751e-5, 0, 0, 0)),
    "link_2": (0.131691, (0.039, 0, 0), (7.04217e-5, 3.95744e-5, 6.61125e-5, 0, 0, 0)),
    "link_3": (0.0211922, (0.029, 0, 0), (2.93743e-5, 7.21391e-5, 7.59731e-5, 0, 0, 0)),
    "thumb": (0.1, (0, 0, 0), (5.1458e-5, 5.1458e-5, 6.125e-5, 0, 0, 0)),
}


def _tensor(i6) -> np.ndarray:
    ixx, iyy, izz, ixy, ixz, iyz = i6
    t = np.array([[ixx, ixy, ixz], [ixy, iyy, iyz], [ixz, iyz, izz]], dtype=float)
    ev = np.linalg.eigvalsh(t)
    if ev.min() <= 0 or ev.max() > ev.sum() - ev.max() + 1e-12:
        raise ValueError(f"invalid inertia tensor {i6}")
    return t


def _combine(parts: list[str]) -> tuple[float, np.ndarray, np.ndarray]:
    """Merge inertials (fixed-joint collapse) by the parallel-axis theorem; all in the link_7 frame."""
    m = sum(INERTIA[p][0] for p in parts)
    com = sum(INERTIA[p][0] * np.asarray(INERTIA[p][1], float) for p in parts) / m
    t = np.zeros((3, 3))
    for p in parts:
        mi, ci, i6 = INERTIA[p]
        d = np.asarray(ci, float) - com
        t += _tensor(i6) + mi * (d @ d * np.eye(3) - np.outer(d, d))
    return m, com, t


def inertial_xml(link: str) -> str:
    """``<inertial>`` of ``link``; iiwa7_link_7 includes link_ee, allegro_mount and palm_link (collapsed)."""
    if link == "iiwa7_link_7":
        m, com, t = _combine(["iiwa7_link_7", "iiwa7_link_ee", "allegro_mount", "palm_link"])
    else:
        m, c, i6 = INERTIA[link]
        com, t = np.asarray(c, float), _tensor(i6)
    full = (t[0, 0], t[1, 1], t[2, 2], t[0, 1], t[0, 2], t[1, 2])
    return f'<inertial pos="{fmt(com)}" mass="{m:.9g}" fullinertia="{fmt(full)}"/>'


# ---------------------------------------------------------------------------------------- hand (§3.2)
_J0 = 0.558488888889
_J13 = (-0.279244444444, 1.727825)
_FINGER_FRICTION = (0.0523963, 0.0150275, 0.00616359, 0.0227036)
# per finger: joint_0 origin (in palm_link) xyz, rpy
_FINGER_BASE = {
    "index": ((0.0514302, -0.03632, -0.0113), (3.1415, -1.57075, -0.0872638888889)),
    "middle": ((0.0537375, 0.0087771, -0.0113), (3.1415, -1.57075, 0)),
    "ring": ((0.0514302, 0.0538749, -0.0113), (3.1415, -1.57075, 0.0872638888889)),
}
# (origin xyz, rpy, (lower, upper), friction, inertia key, geom) for each finger link 0..3
_FINGER_CHAIN = [
    (None, None, (-_J0, _J0), _FINGER_FRICTION[0], "link_0",
     box((0, 0, -0.0047), (0.0098, 0.0135, 0.011), HAND_RGBA)),
    ((0, 0, 0), (3.1415, -1.57075, 1.57075), _J13, _FINGER_FRICTION[1], "link_1",
     capsule((0.0034, -0.00245, 0), (0.0506, -0.00245, 0), 0.0122, HAND_RGBA)),
    ((0.054, 0, 0), (0, 0, 0), _J13, _FINGER_FRICTION[2], "link_2",
     capsule((0.0059, -0.00245, 0), (0.035, -0.00245, 0), 0.0122, HAND_RGBA)),
    ((0.0384, 0, 0), (0, 0, 0), _J13, _FINGER_FRICTION[3], "link_3",
     capsule((0.0047, -0.00075, 0), (0.026, -0.00075, 0), 0.011, "0.9 0.9 0.9 1")),
]
_THUMB_CHAIN = [
    ((-0.0367482, -0.0081281, -0.0295), (-1.57075, -1.57075, 1.48348611111), (0.279244444444, 1.57075),
     box((0.009, -0.01475, -0.01085), (0.017, 0.02275, 0.02165), HAND_RGBA)),
    ((0.005, 0, 0), (1.57075, 0, 0), (-0.331602777778, 1.15188333333),
     box((0, 0, 0.0507), (0.0135, 0.0098, 0.011), HAND_RGBA)),
    ((0, 0, 0.0554), (3.1415, -1.57075, 0), _J13,
     capsule((0.0034, -0.00245, 0), (0.0455, -0.00245, 0), 0.0122, HAND_RGBA)),
    ((0.0514, 0, 0), (0, 0, 0), (-0.279244444444, 1.76273055556),
     capsule((0.0017, -0.00205, 0), (0.0403, -0.00205, 0), 0.0117, "0.9 0.9 0.9 1")),
]
FINGERTIP_OFFSET = {"index": 0.05, "middle": 0.05, "ring": 0.05, "thumb": 0.06}  # + (0, 0.005, 0), §3.5
FINGER_NAMES = ("index", "middle", "ring", "thumb")
DOF_NAMES = ([f"iiwa7_joint_{i}" for i in range(1, 8)]
             + [f"{f}_joint_{j}" for f in FINGER_NAMES for j in range(4)])


def _finger_links(p: str) -> list[tuple]:
    """(link name, joint name, xyz, rpy, range, friction, inertia key, geom) for every hand link."""
    out = []
    for f in ("index", "middle", "ring"):
        for k, (xyz, rpy, rng, fr, ikey, g) in enumerate(_FINGER_CHAIN):
            if k == 0:
                xyz, rpy = _FINGER_BASE[f]
            out.append((f"{p}{f}_link_{k}", f"{p}{f}_joint_{k}", xyz, rpy, rng, fr, ikey, g))
    for k, (xyz, rpy, rng, g) in enumerate(_THUMB_CHAIN):
        out.append((f"{p}thumb_link_{k}", f"{p}thumb_joint_{k}", xyz, rpy, rng, 0.035, "thumb", g))
    return out


def hand_xml(p: str) -> str:
    """Allegro finger chains (bodies named ``{p}<finger>_link_<k>``, joints ``{p}<finger>_joint_<k>``,
    fingertip sites ``{p}<finger>_tip``) as children of the palm frame."""
    out = []
    for i, (link, joint, xyz, rpy, rng, fr, ikey, g) in enumerate(_finger_links(p)):
        k = i % 4
        out.append(f'<body name="{link}" pos="{fmt(xyz)}" quat="{fmt(rpy_quat(rpy))}" gravcomp="1">')
        out.append(f'<joint name="{joint}" range="{rng[0]:.12g} {rng[1]:.12g}" frictionloss="{fr:.9g}" '
                   f'damping="0" armature="{HAND_ARMATURE}"/>')
        out.append(inertial_xml(ikey))
        out.append(geom_xml(None, *g))
        if k == 3:
            f = link[len(p):].split("_")[0]
            out.append(f'<site name="{p}{f}_tip" pos="{FINGERTIP_OFFSET[f]} 0.005 0" size="0.004" '
                       'rgba="0 0.6 1 1"/>')
            out.append("</body></body></body></body>")
    return "\n".join(out)


def limits() -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper joint limits ``[23]`` rad in spec order (§2.3)."""
    lo = [-x for x in _ARM_LIM] + [r[0] for _ in range(3) for r in [(-_J0, _J0), _J13, _J13, _J13]]
    hi = list(_ARM_LIM) + [r[1] for _ in range(3) for r in [(-_J0, _J0), _J13, _J13, _J13]]
    lo += [c[2][0] for c in _THUMB_CHAIN]
    hi += [c[2][1] for c in _THUMB_CHAIN]
    return np.array(lo), np.array(hi)


def default_pose(two_arms: bool) -> np.ndarray:
    """Default joint positions ``[23]`` rad (§2.3): joint 4 is 1.376 (one arm) or 1.6 (two arms)."""
    q = np.zeros(23)
    q[:7] = (-1.571, 1.571, 0.0, 1.6 if two_arms else 1.376, 0.0, 1.485, 2.358)
    return q


ARM_VEL_LIMIT, HAND_VEL_LIMIT = 10.0, 6.283  # URDF joint velocity limits (rad/s), §2.3


def velocity_limits() -> np.ndarray:
    """Joint speed limits ``[23]`` rad/s in spec order (§2.3): 10 for the arm joints, 6.283 for the hand."""
    return np.array([ARM_VEL_LIMIT] * 7 + [HAND_VEL_LIMIT] * 16)


KP, KV = 40.0, 5.0  # drive stiffness (N·m/rad) and damping (N·m·s/rad), §2.4
ARM_EFFORT, HAND_EFFORT = 300.0, 0.35  # N·m


def actuators_xml(prefixes: list[str]) -> str:
    """Position actuators (kp 40, kv 5, force clamp ±300 / ±0.35), one per DoF, in spec order."""
    out = []
    for p in prefixes:
        for i, j in enumerate(DOF_NAMES):
            eff = ARM_EFFORT if i < 7 else HAND_EFFORT
            out.append(f'<position name="{p}{j}" joint="{p}{j}" kp="{KP}" kv="{KV}" '
                       f'forcerange="{-eff} {eff}"/>')
    return "\n".join(out)
