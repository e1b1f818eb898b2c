"""Videos of any renderable task (:meth:`tasks.base.BatchedTask.render`); no simulator is imported here.

    python -m tasks.render task=AllegroKukaRegrasping [num_steps=300] [out=regrasping.mp4] [seed=0]

A random policy; to film a trained one use ``python train.py task=<Name> test=true checkpoint=<.pth>``.
Frames come from the task (MuJoCo tasks: :mod:`tasks.sim.render`, headless with ``MUJOCO_GL=egl``). Still
images of the Allegro-Kuka scenes: ``python -m tasks.allegro_kuka.render``.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import imageio.v2 as imageio
import torch

import tasks

Policy = Callable[[torch.Tensor], torch.Tensor]
VIDEO_FPS = 30


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
    allowed = {"task", "num_steps", "out", "seed", "width", "height"}
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise SystemExit(f"unknown argument(s) {unknown}; allowed: {sorted(allowed)}")
    if "task" not in args:
        raise SystemExit("task=<Name> is required; see: python -m tasks.render --help")
    torch.manual_seed(int(args.get("seed", 0)))
    task = tasks.make_viewer(args["task"], seed=int(args.get("seed", 0)))
    out = args.get("out", f"{args['task']}.mp4")
    result = record_video(task, None, int(args.get("num_steps", 300)), out,
                          width=int(args.get("width", 640)), height=int(args.get("height", 480)))
    task.close()
    print(f"{out}: {result.frames} frames at {result.fps:.0f} fps")


if __name__ == "__main__":
    main()
