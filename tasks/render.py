"""Offscreen rendering: MP4 videos of any renderable task, still images of the Allegro-Kuka scene families.

    python -m tasks.render task=AllegroKukaRegrasping [num_steps=300] [out=regrasping.mp4] [seed=0]
    python -m tasks.render stills=docs/images

A random policy; to film a trained one use ``python train.py task=<Name> test=true checkpoint=<.pth>``.
Headless: ``MUJOCO_GL=egl`` (the default set by :mod:`tasks`; Debian packages libegl1 libegl-mesa0
libgl1-mesa-dri) or ``MUJOCO_GL=osmesa`` (libosmesa6).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import imageio.v2 as imageio
import mujoco  # MUJOCO_GL was set by the package (tasks/__init__.py), which always loads first
import numpy as np
import torch

import tasks

Policy = Callable[[torch.Tensor], torch.Tensor]
STILLS = {  # file name -> SceneSpec keyword arguments
    "one_arm": {"num_arms": 1, "goal": "sphere"},
    "throw": {"num_arms": 1, "goal": "sphere", "bucket": True},
    "two_arms": {"num_arms": 2, "goal": "box"},
    "hole": {"num_arms": 2, "goal": "box", "obstacle": "hole"},
    "partition": {"num_arms": 2, "goal": "box", "obstacle": "partition"},
    "barrier": {"num_arms": 2, "goal": "box", "obstacle": "barrier"},
}
VIDEO_FPS = 30


def _camera(two_arms: bool) -> mujoco.MjvCamera:
    cam = mujoco.MjvCamera()
    cam.lookat[:] = (0.0, 0.0, 0.7) if two_arms else (0.0, 0.1, 0.65)
    cam.distance = 3.0 if two_arms else 1.3
    cam.azimuth, cam.elevation = (50.0, -25.0) if two_arms else (60.0, -28.0)
    return cam


class MujocoFrames:
    """Offscreen frames of env ``env`` of a :class:`tasks.sim.mujoco_cpu.MujocoBatchedSim`.

    Call it for an RGB image ``[height, width, 3]`` uint8 of the env's current state.

    Raises:
        TypeError: ``sim`` keeps no host-side MuJoCo data (e.g. the MuJoCo Warp backend).
    """

    def __init__(self, sim: Any, env: int = 0, width: int = 640, height: int = 480, two_arms: bool = False) -> None:
        if not hasattr(sim, "mj_data"):
            raise TypeError(f"{type(sim).__name__} has no host-side MuJoCo data to render; use sim=mujoco")
        self.key = (env, width, height)
        self.sim, self.env = sim, env
        self.renderer = mujoco.Renderer(sim.mj_model(env), height, width)
        self.camera = _camera(two_arms)

    def __call__(self) -> np.ndarray:
        self.renderer.update_scene(self.sim.mj_data(self.env), camera=self.camera)
        return self.renderer.render()

    def close(self) -> None:
        self.renderer.close()


def frame_stride(control_dt: float, fps: int = VIDEO_FPS) -> int:
    """Control steps per video frame: every step at ≤ ``fps`` control rates, else every k-th."""
    return max(1, round(1.0 / (control_dt * fps)))


def expected_frames(num_steps: int, control_dt: float, fps: int = VIDEO_FPS) -> int:
    """Frames :func:`record_video` writes for ``num_steps`` control steps (the initial state is frame 0)."""
    return math.ceil(num_steps / frame_stride(control_dt, fps))


@dataclass
class VideoResult:
    """What :func:`record_video` wrote and saw: ``path``, ``frames`` written, video ``fps``, and per finished
    episode of the filmed env its ``returns`` and ``successes`` (when the task reports them)."""

    path: str
    frames: int
    fps: float
    returns: list[float] = field(default_factory=list)
    successes: list[float] = field(default_factory=list)


def record_video(task: Any, policy: Policy | None, num_steps: int, path: str, env: int = 0,
                 width: int = 640, height: int = 480, fps: int = VIDEO_FPS,
                 on_done: Callable[[torch.Tensor], None] | None = None) -> VideoResult:
    """Reset ``task``, run ``policy`` for ``num_steps`` control steps and write env ``env`` as a video.

    Args:
        task: a :class:`tasks.base.BatchedTask` that can ``render`` (see :func:`tasks.make_viewer`).
        policy: obs ``[N, O]`` → actions ``[N, A]`` (clamped to [-1, 1]); None = uniform random.
        num_steps: control steps. The frame before each k-th step is written, k = :func:`frame_stride`,
            so the video has :func:`expected_frames` frames at ``1 / (k · control_dt)`` fps.
        path: output file (``.mp4`` via imageio-ffmpeg, or ``.gif``); parent folders are created.
        on_done: called with the step's ``done [N]`` bool (e.g. to reset a recurrent policy's state).

    Returns:
        A :class:`VideoResult`. Raises ``NotImplementedError`` if the task cannot render.
    """
    stride = frame_stride(task.control_dt, fps)
    video_fps = 1.0 / (stride * task.control_dt)
    obs = task.reset()
    episode_return = 0.0
    result = VideoResult(path=path, frames=0, fps=video_fps)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with imageio.get_writer(path, fps=video_fps) as writer, torch.no_grad():
        for t in range(num_steps):
            if t % stride == 0:
                writer.append_data(task.render(env, width, height))
                result.frames += 1
            act = torch.rand(task.num_envs, task.num_actions) * 2 - 1 if policy is None else policy(obs)
            obs, reward, done, extras = task.step(act.to(task.device).clamp(-1, 1))
            episode_return += float(reward[env])
            if on_done is not None:
                on_done(done)
            if bool(done[env]):
                result.returns.append(episode_return)
                episode_return = 0.0
                if "successes" in extras:
                    result.successes.append(float(extras["successes"][env]))
    return result


def render_still(spec_kwargs: dict[str, Any], path: str, width: int = 960, height: int = 640,
                 settle_steps: int = 30) -> str:
    """A PNG of one scene family (§2–§4, §9, §10, §13) at the default pose, cube dropped on the table."""
    from tasks.allegro_kuka.scene import SceneSpec, build_scene
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
    frames = MujocoFrames(sim, 0, width, height, two_arms=two)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    imageio.imwrite(path, frames())
    frames.close()
    return path


def _parse(argv: list[str]) -> dict[str, str]:
    out = {}
    for a in argv:
        if "=" not in a:
            raise SystemExit(f"arguments are key=value, got {a!r}; see: python -m tasks.render --help")
        k, v = a.split("=", 1)
        out[k.lstrip("-")] = v
    return out


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return
    args = _parse(argv)
    allowed = {"task", "num_steps", "out", "seed", "width", "height", "stills"}
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise SystemExit(f"unknown argument(s) {unknown}; allowed: {sorted(allowed)}")
    if "stills" in args:
        for name, kw in STILLS.items():
            print(render_still(kw, os.path.join(args["stills"], f"{name}.png")))
        return
    if "task" not in args:
        raise SystemExit("task=<Name> is required (or stills=<dir>); see: python -m tasks.render --help")
    torch.manual_seed(int(args.get("seed", 0)))
    task = tasks.make_viewer(args["task"], seed=int(args.get("seed", 0)))
    out = args.get("out", f"{args['task']}.mp4")
    result = record_video(task, None, int(args.get("num_steps", 300)), out,
                          width=int(args.get("width", 640)), height=int(args.get("height", 480)))
    task.close()
    print(f"{out}: {result.frames} frames at {result.fps:.0f} fps")


if __name__ == "__main__":
    main()
