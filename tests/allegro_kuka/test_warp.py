"""MuJoCo Warp on Warp's CPU device: the whole task against CPU MuJoCo for every task family, and the
capacity-overflow path. Kernels compile for about a minute on first use, then come from Warp's kernel cache.
The default run (and CI, which installs the ``warp`` extra) checks one family, AllegroKukaRegrasping: about 75 s
with a cold cache on 2 cores, 10 s with a warm one; the other families and the overflow path are ``slow``.
Without the ``warp`` extra these tests are skipped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import tasks
from tasks.base import TaskConfigError

ROOT = Path(__file__).resolve().parents[2]
# one task per scene: one-arm sphere goal, box goal, bucket; two arms without and with an obstacle
FAMILIES = ("AllegroKukaRegrasping", "AllegroKukaReorientation", "AllegroKukaThrow",
            "AllegroKukaTwoArmsRegrasping", "AllegroKukaTwoArmsReorientationBarrier")
STEPS = 50
# Warp is float32, CPU MuJoCo float64. Largest differences measured over the 50 steps on Warp's CPU device
# (objects put flat on the table: see bench.gpu_check.rollout), over the five families: 1.9e-4 rad (two-arm
# regrasping), 1.1e-4 m and rewards 1.7e-3 (throw); the tolerances are 5x or more.
DOF_TOL = 1e-3  # rad, joint positions
POS_TOL = 1e-3  # m, object position
REWARD_TOL = 1e-2  # per env-step reward, |Δr| / (1 + |r|)


@pytest.mark.parametrize("name", [FAMILIES[0], *(pytest.param(f, marks=pytest.mark.slow) for f in FAMILIES[1:])])
def test_warp_task_matches_the_cpu_task(name: str) -> None:
    """Same scene, same seeded actions, 50 control steps: trajectories and rewards within the stated tolerances."""
    pytest.importorskip("mujoco_warp")
    from bench.gpu_check import compare, rollout

    errors = compare(rollout(name, 2, {"backend": "mujoco_warp"}, steps=STEPS),
                     rollout(name, 2, {"backend": "mujoco", "num_threads": 1}, steps=STEPS))
    assert errors["done"] == 1.0 and errors["dof"] < DOF_TOL and errors["obj"] < POS_TOL, errors
    assert errors["reward"] < REWARD_TOL, errors
    print(name, errors)  # pytest -s shows the measured differences


def test_warp_matches_the_cpu_with_the_lightest_and_heaviest_objects() -> None:
    """Issue 26 item 4: the parity rollout (50 steps) with the lightest (5 cm cube, 0.05 kg) and heaviest (15 x 12.5 x
    10 cm, 0.75 kg) objects of the task's distribution, within the same tolerances."""
    pytest.importorskip("mujoco_warp")
    from bench.gpu_check import compare, rollout

    sizes = np.array([[0.05, 0.05, 0.05], [0.15, 0.125, 0.1]])
    errors = compare(rollout("AllegroKukaRegrasping", 2, {"backend": "mujoco_warp"}, steps=STEPS, object_sizes=sizes),
                     rollout("AllegroKukaRegrasping", 2, {"backend": "mujoco", "num_threads": 1}, steps=STEPS,
                             object_sizes=sizes))
    assert errors["done"] == 1.0 and errors["dof"] < DOF_TOL and errors["obj"] < POS_TOL, errors
    assert errors["reward"] < REWARD_TOL, errors
    print(errors)


@pytest.mark.slow
def test_overflow_is_detected_counted_reset_and_stops_the_run() -> None:
    """A 25-row constraint buffer: world 0 (object dropped onto the table, 26-41 rows in contact) overflows,
    world 1 (object held 1 m up, 23-24 rows: joint limits only) does not; overflowed envs end their episode
    and are counted; past max_overflow_fraction the step raises one line naming the settings. Also the one-line
    errors of capacities too small to build the scene and of a CUDA device without a GPU."""
    pytest.importorskip("mujoco_warp")
    import warp as wp

    from tasks.allegro_kuka.scene import SceneSpec, build_scene
    from tasks.sim.mujoco_warp import ContactOverflowError, MujocoWarpBatchedSim

    if not wp.is_cuda_available():
        with pytest.raises(TaskConfigError, match=r"^sim=mujoco_warp on device=cuda: Warp sees no CUDA GPU"):
            MujocoWarpBatchedSim(build_scene(SceneSpec()), 2, device="cuda")
    with pytest.raises(TaskConfigError, match=r"sim\.nconmax=.* / sim\.njmax=1 cannot hold"):
        tasks.make("AllegroKukaRegrasping", num_envs=2, device="cpu", sim={"backend": "mujoco_warp", "njmax": 1})
    sim = {"backend": "mujoco_warp", "njmax": 25, "max_overflow_fraction": 1.0}
    task = tasks.make("AllegroKukaRegrasping", num_envs=2, seed=0, device="cpu", sim=sim, force_scale=0.0)
    task.reset()
    high = torch.tensor([[0.0, 0.0, 1.0]])
    task.sim.reset_free_body(torch.tensor([1]), task.object_body, high, torch.tensor([[0.0, 0, 0, 1]]))
    hits, dones = [], []
    for _ in range(12):
        _, _, done, extras = task.step(torch.zeros(2, task.num_actions))
        hits.append(task.sim.overflow.clone())
        dones.append(done.clone())
    hits_t, dones_t = torch.stack(hits), torch.stack(dones)
    assert hits_t[:, 0].any() and not hits_t[:, 1].any(), hits_t
    assert dones_t[hits_t].all()  # an overflowed env ends its episode (reset like a diverged world)
    count = float(hits_t.sum())
    assert extras["scalars"]["sim/contact_overflows"] == count == task.sim.overflow_worlds
    assert extras["scalars"]["sim/unstable_resets"] >= count
    task.sim.max_overflow_fraction = 0.4  # 1 of 2 worlds is more than 40 %
    with pytest.raises(ContactOverflowError, match=r"in 1/2 worlds .* raise sim\.nconmax .* or sim\.njmax \(now 25\)"):
        for _ in range(30):
            task.step(torch.zeros(2, task.num_actions))
    task.close()


@pytest.mark.slow
def test_gpu_check_dry_run(tmp_path: Path) -> None:
    """``python -m bench.gpu_check --dry-run``: the device check's code path at tiny sizes on Warp's CPU device; its
    log file holds what it printed, and Warp prints no per-module load lines."""
    pytest.importorskip("mujoco_warp")
    log = tmp_path / "gpu_check.log"
    run = subprocess.run([sys.executable, "-m", "bench.gpu_check", "--dry-run", "--log", str(log)], cwd=ROOT,
                         capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "gpu_train_fps=" in log.read_text() and "load on device" not in run.stdout + run.stderr
    names = [line.split("=")[0] for line in run.stdout.splitlines() if "=" in line and " " not in line]
    for key in ("correct_one_arm_max_dof_err", "correct_two_arms_done_match", "one_arm_physics_wps_8",
                "two_arms_physics_wps_8", "two_arms_memory_per_world_kb", "env_steps_per_s", "gpu_train_fps",
                "contact_overflows"):
        assert key in names, run.stdout


@pytest.mark.parametrize("where", ["arm joint", "object"])
def test_a_non_finite_world_is_flagged_reset_and_counted(where: str) -> None:
    """Issue 26 item 3: a NaN velocity forced into world 0 (a capped arm joint, or the object's free joint) flags that
    world only, ends its episode, is counted in ``sim/unstable_resets``, and the reset leaves every observation
    finite. Fails when the divergence flag is dropped (checked). What it cannot show here: on a GPU, ``wp.clamp`` is
    fmin/fmax and turns a NaN into a number (the speed cap now compares instead), while on Warp's CPU device it keeps
    NaN; and MuJoCo Warp's constraint solver spreads a NaN to every DoF of its world within one step, so checking
    only joint velocities (before) also caught both cases here. The check now covers every sensor and ``qpos``."""
    pytest.importorskip("mujoco_warp")
    task = tasks.make("AllegroKukaRegrasping", num_envs=2, device="cpu", sim={"backend": "mujoco_warp"})
    task.reset()
    hold = torch.zeros(2, task.num_actions)
    task.step(hold)
    column = int(task.sim._vadr[3]) if where == "arm joint" else task.sim._free_adr[task.object_body][1]
    task.sim._qvel[0, column] = float("nan")
    obs, _, done, extras = task.step(hold)
    assert task.sim.unstable.tolist() == [True, False] and bool(done[0]) and not bool(done[1])
    assert extras["scalars"]["sim/unstable_resets"] == 1.0
    assert bool(torch.isfinite(obs).all())
    for _ in range(3):
        obs, *_ = task.step(hold)
        assert bool(torch.isfinite(obs).all()) and not bool(task.sim.unstable.any())
    task.close()


def test_per_world_object_masses_give_per_world_derived_constants() -> None:
    """Issue 26 item 4: with the lightest (5 cm cube, 0.05 kg) and heaviest (15 x 12.5 x 10 cm, 0.75 kg) objects of the
    task's distribution in two worlds, MuJoCo Warp's derived constants (subtree masses, inverse weights, actuator
    accelerations) equal CPU MuJoCo's ``set_const`` per world. Before, every world used world 0's."""
    pytest.importorskip("mujoco_warp")
    from tasks.allegro_kuka.registry import FACTORIES
    from tasks.allegro_kuka.task import AllegroKukaTask
    from tasks.sim.config import sim_config
    from tasks.sim.mujoco_warp import DERIVED_FIELDS

    cfg = FACTORIES["AllegroKukaRegrasping"].variant.config({})
    sizes = np.array([[0.05, 0.05, 0.05], [0.15, 0.125, 0.1]])
    warp = AllegroKukaTask(cfg, num_envs=2, sim=sim_config({"backend": "mujoco_warp"}), object_sizes=sizes)
    cpu = AllegroKukaTask(cfg, num_envs=2, sim=sim_config({"backend": "mujoco", "num_threads": 1}),
                          object_sizes=sizes)
    for name in DERIVED_FIELDS:
        device = getattr(warp.sim._m, name).numpy()
        for world in range(2):
            host = getattr(cpu.sim.mj_model(world), name)
            np.testing.assert_allclose(device[world].reshape(host.shape), host, rtol=2e-4, atol=1e-7, err_msg=name)
    body = cpu.scene.body_names[cpu.object_body]
    masses = [cpu.sim.mj_model(w).body(body).subtreemass[0] for w in range(2)]
    assert masses[1] > 10 * masses[0]  # the two worlds do differ
    warp.close()
    cpu.close()


def test_an_overflow_mid_run_keeps_the_run_folder_and_log(tmp_path: Path) -> None:
    """Issue 26 item 6: ``train.py`` on MuJoCo Warp with a 25-row constraint buffer: once the objects land, every
    world overflows and the run stops with one line (exit code 2), before any checkpoint; the run folder and its log,
    with the traceback, are kept. Before, the overflow was treated as bad input and the folder deleted."""
    pytest.importorskip("mujoco_warp")
    import os

    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env.update(WANDB_MODE="offline", PYTHONWARNINGS="ignore")
    args = ["task=AllegroKukaRegrasping", "task.num_envs=2", "train.population.size=2", "train.ppo.horizon_length=8",
            "train.ppo.num_minibatches=1", "train.ppo.mini_epochs=1", "max_epochs=4", "torch_threads=1",
            "device=cpu", "sim=mujoco_warp", "sim.njmax=25", f"hydra.run.dir={run_dir}"]
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    lines = [ln for ln in proc.stderr.splitlines() if not ln.startswith("Warp CUDA warning")]  # Warp's, no GPU here
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("error: MuJoCo Warp dropped contacts or constraints"), lines
    assert f"the run folder {run_dir} is kept" in lines[0]
    log = (run_dir / "train.log").read_text()
    assert "ContactOverflowError" in log and not list(run_dir.glob("nn/*.pth"))


@pytest.mark.parametrize("backend", ["mujoco", "mujoco_warp"])
def test_a_step_with_resets_makes_one_forward_pass(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 26 item 2: the resets of one step (robot, object, goal) share one refresh pass (before: one per reset
    call, 2-3 per step; on MuJoCo Warp each a full ``forward`` over every world, now a position/velocity pass as on
    the CPU). Counted on both backends; a step without resets makes none (the physics step's own is internal)."""
    if backend == "mujoco_warp":
        pytest.importorskip("mujoco_warp")
    task = tasks.make("AllegroKukaRegrasping", num_envs=2, device="cpu", episode_length=3,
                      sim={"backend": backend, "num_threads": 1})
    task.reset()
    calls = []
    if backend == "mujoco":
        inner = task.sim.batch.forward
        monkeypatch.setattr(task.sim.batch, "forward", lambda *a, **k: (calls.append(1), inner(*a, **k))[1])
    else:
        import tasks.sim.mujoco_warp as mw

        for name in ("forward", "kinematics"):  # a full pass, or the reset's sensor refresh
            inner = getattr(mw.mjw, name)
            monkeypatch.setattr(mw.mjw, name, lambda *a, _f=inner, **k: (calls.append(1), _f(*a, **k))[1])
    per_step, after_physics = [], []
    inner_step = task.sim.step
    task.sim.step = lambda: (inner_step(), after_physics.append(task.sim.dof_pos.clone()))[0]
    for _ in range(3):
        calls.clear()
        _, _, done, _ = task.step(torch.zeros(2, task.num_actions))
        per_step.append((bool(done.any()), len(calls)))
        if done.any():
            break
    assert per_step[-1][0] and all(n == int(d) for d, n in per_step), per_step
    # the reset envs' joints are the reset pose, the others' still what the physics step gave them
    torch.testing.assert_close(task.sim.dof_pos[~done], after_physics[-1][~done], rtol=0, atol=0)
    torch.testing.assert_close(task.sim.dof_pos[done], task.prev_targets[done], rtol=0, atol=1e-6)
    if backend == "mujoco_warp":  # the reset worlds' sensors: what a full forward pass gives
        refreshed = task.sim._sd.clone()
        task.sim._forward_all()
        torch.testing.assert_close(task.sim._sd[done], refreshed[done], rtol=1e-5, atol=1e-5)
    task.close()
