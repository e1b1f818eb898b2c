"""Cameras and still images of the Allegro-Kuka scene families (spec §2–§4, §9, §10, §13).

    python -m tasks.allegro_kuka.render docs/images     # redraws the docs' pictures

Videos of any task: ``python -m tasks.render`` (:mod:`tasks.render`). Spec: docs/spec/allegro_kuka.md.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import imageio.v2 as imageio
import torch

from tasks.allegro_kuka.scene import SceneSpec, build_scene
from tasks.sim.render import Camera, MujocoFrames

ONE_ARM_CAMERA = Camera(lookat=(0.0, 0.1, 0.65), distance=1.3, azimuth=60.0, elevation=-28.0)
TWO_ARMS_CAMERA = Camera(lookat=(0.0, 0.0, 0.7), distance=3.0, azimuth=50.0, elevation=-25.0)
STILLS = {  # file name -> SceneSpec keyword arguments
    "one_arm": {"num_arms": 1, "goal": "sphere"},
    "throw": {"num_arms": 1, "goal": "sphere", "bucket": True},
    "two_arms": {"num_arms": 2, "goal": "box"},
    "hole": {"num_arms": 2, "goal": "box", "obstacle": "hole"},
    "partition": {"num_arms": 2, "goal": "box", "obstacle": "partition"},
    "barrier": {"num_arms": 2, "goal": "box", "obstacle": "barrier"},
}


def frames(sim: Any, two_arms: bool, env: int = 0, width: int = 640, height: int = 480) -> MujocoFrames:
    """Frames of world ``env`` of ``sim`` from the camera of the one- or two-arm scene.

    Raises:
        TypeError: ``sim`` cannot render (see :class:`tasks.sim.render.MujocoFrames`).
    """
    return MujocoFrames(sim, TWO_ARMS_CAMERA if two_arms else ONE_ARM_CAMERA, env, width, height)


def render_still(spec_kwargs: dict[str, Any], path: str, width: int = 960, height: int = 640,
                 settle_steps: int = 30) -> str:
    """A PNG of one scene family at the default pose, cube dropped on the table; returns ``path``."""
    from tasks.sim.mujoco_cpu import MujocoBatchedSim

    spec = SceneSpec(**spec_kwargs)
    sim = MujocoBatchedSim(build_scene(spec), 1, nthread=1)
    one, ident = torch.tensor([0]), torch.tensor([[0.0, 0.0, 0.0, 1.0]])
    two = spec.num_arms == 2
    goal = torch.tensor([[0.75, 0.2, 0.85]]) if two else torch.tensor([[0.15, 0.2, 0.85]])
    q = torch.tensor([[0.3, 0.2, 0.1, 0.93]])
    sim.set_mocap(one, 0, goal, q / q.norm())
    if spec.bucket:
        sim.set_mocap(one, 1, torch.tensor([[0.45, -0.3, 0.35]]), ident)
    start = torch.tensor([[-0.35, 0.05, 0.63]]) if two else torch.tensor([[-0.12, -0.1, 0.63]])
    sim.reset_free_body(one, sim.scene.object_body, start, ident)
    for _ in range(settle_steps):
        sim.step()
    still = frames(sim, two, 0, width, height)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    imageio.imwrite(path, still())
    still.close()
    return path


def main(argv: list[str] | None = None) -> None:
    """Write every :data:`STILLS` picture as ``<dir>/<name>.png`` (``dir``: the one argument)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        raise SystemExit(__doc__)
    for name, kw in STILLS.items():
        print(render_still(kw, os.path.join(argv[0], f"{name}.png")))


if __name__ == "__main__":
    main()
