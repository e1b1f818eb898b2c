"""Offscreen rendering of a batched MuJoCo task: an MP4 of one env, or still images of the scene families.

    python -m tasks.render task=AllegroKukaRegrasping [num_steps=300] [out=regrasping.mp4] [checkpoint=actor.pt]
    python -m tasks.render stills=docs/images

Headless: set ``MUJOCO_GL=egl`` (default here when unset; Debian packages libegl1 libegl-mesa0
libgl1-mesa-dri) or ``MUJOCO_GL=osmesa`` (libosmesa6). Without ``checkpoint`` the policy is uniform random in
[-1, 1]; ``checkpoint`` is a TorchScript module mapping observations ``[1, O]`` to actions ``[1, A]``
(``tasks`` never imports the training code, so export the actor with ``torch.jit.script``/``trace``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import imageio.v2 as imageio  # noqa: E402
import mujoco  # noqa: E402
import torch  # noqa: E402

Policy = Callable[[torch.Tensor], torch.Tensor]
STILLS = {  # file name -> SceneSpec keyword arguments
    "one_arm": {"num_arms": 1, "goal": "sphere"},
    "throw": {"num_arms": 1, "goal": "sphere", "bucket": True},
    "two_arms": {"num_arms": 2, "goal": "box"},
    "hole": {"num_arms": 2, "goal": "box", "obstacle": "hole"},
    "partition": {"num_arms": 2, "goal": "box", "obstacle": "partition"},
    "barrier": {"num_arms": 2, "goal": "box", "obstacle": "barrier"},
}


def _camera(two_arms: bool) -> mujoco.MjvCamera:
    cam = mujoco.MjvCamera()
    cam.lookat[:] = (0.0, 0.0, 0.7) if two_arms else (0.0, 0.1, 0.65)
    cam.distance = 3.0 if two_arms else 1.3
    cam.azimuth, cam.elevation = (50.0, -25.0) if two_arms else (60.0, -28.0)
    return cam


def _sim_of(task: Any) -> Any:
    sim = getattr(task, "sim", task)
    if not hasattr(sim, "mj_data"):
        raise TypeError(f"{type(task).__name__} has no MuJoCo CPU simulator to render (needs sim=mujoco_cpu)")
    return sim


def render_rollout(task: Any, policy: Policy | None, num_steps: int, path: str, env: int = 0,
                   width: int = 640, height: int = 480, fps: int = 30) -> str:
    """Run ``policy`` on ``task`` for ``num_steps`` control steps and write env ``env`` as an MP4.

    Args:
        task: a BatchedTask whose ``sim`` is a :class:`tasks.sim.mujoco_cpu.MujocoBatchedSim` (or the sim
            itself, then ``policy`` gives PD targets ``[N, D]`` instead of actions).
        policy: obs ``[N, O]`` → actions ``[N, A]`` in [-1, 1]; None = uniform random.
        num_steps: control steps (60 Hz); every other one is rendered at ``fps`` 30.
        path: output ``.mp4`` (or ``.gif``).

    Returns:
        ``path``. Raises ``TypeError`` if the task has no MuJoCo CPU simulator.
    """
    sim = _sim_of(task)
    is_task = sim is not task
    renderer = mujoco.Renderer(sim.mj_model(env), height, width)
    cam = _camera(len(sim.scene.body_names) > 6)
    obs = task.reset() if is_task else None
    n_act = task.num_actions if is_task else sim.dof_lower.numel()
    stride = max(1, round(1 / (sim.control_dt * fps)))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with imageio.get_writer(path, fps=fps) as writer, torch.no_grad():
        for t in range(num_steps):
            if policy is None:
                act = torch.rand(sim.num_envs, n_act) * 2 - 1
            else:
                act = policy(obs) if is_task else policy(torch.zeros(sim.num_envs, 0))
            if is_task:
                obs, *_ = task.step(act.clamp(-1, 1))
            else:
                lo, hi = sim.dof_lower, sim.dof_upper
                sim.set_dof_targets(lo + (act.clamp(-1, 1) + 1) / 2 * (hi - lo))
                sim.step()
            if t % stride == 0:
                renderer.update_scene(sim.mj_data(env), camera=cam)
                writer.append_data(renderer.render())
    renderer.close()
    return path


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
    renderer = mujoco.Renderer(sim.mj_model(0), height, width)
    renderer.update_scene(sim.mj_data(0), camera=_camera(two))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    imageio.imwrite(path, renderer.render())
    renderer.close()
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
    allowed = {"task", "num_steps", "out", "checkpoint", "seed", "width", "height", "stills"}
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise SystemExit(f"unknown argument(s) {unknown}; allowed: {sorted(allowed)}")
    if "stills" in args:
        for name, kw in STILLS.items():
            print(render_still(kw, os.path.join(args["stills"], f"{name}.png")))
        return
    if "task" not in args:
        raise SystemExit("task=<Name> is required (or stills=<dir>); see: python -m tasks.render --help")
    import tasks

    torch.manual_seed(int(args.get("seed", 0)))
    task = tasks.make(args["task"], num_envs=1, seed=int(args.get("seed", 0)),
                      sim={"backend": "mujoco_cpu", "nthread": 1})
    policy = None
    if "checkpoint" in args:
        module = torch.jit.load(args["checkpoint"], map_location="cpu")
        policy = lambda obs: module(obs)  # noqa: E731
    out = args.get("out", f"{args['task']}.mp4")
    render_rollout(task, policy, int(args.get("num_steps", 300)), out,
                   width=int(args.get("width", 640)), height=int(args.get("height", 480)))
    print(out)


if __name__ == "__main__":
    main()
