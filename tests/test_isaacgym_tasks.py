"""``sim=isaacgym``: our Allegro-Kuka names -> the original IsaacGymEnvs tasks, wrapped in the batched-task contract.

Isaac Gym cannot be installed here, so the wrapper runs against :class:`FakeVecTask`, a double of the upstream
VecTask, injected through the wrapper's upstream-task factory.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import tasks
from tasks.allegro_kuka import upstream
from tasks.allegro_kuka.config import VARIANTS
from tasks.base import TaskConfigError

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM_BACKED = [name for name, v in VARIANTS.items() if v.obstacle is None]
ISAACGYM = {"backend": "isaacgym"}


class FakeVecTask:
    """Test double of IsaacGymEnvs' VecTask; Isaac Gym cannot be installed here (NVIDIA download, Python <= 3.8).

    Mimics what the wrapper relies on: buffers changed in place, ``step`` returning ``(obs_dict, rew_buf,
    reset_buf, extras)`` with ``time_outs`` and ``true_objective``, per-env ``successes`` / ``lifted_object``,
    ``reset_idx`` zeroing them, and envs with ``reset_buf`` set reset at the start of the next step (upstream).
    Env 1 succeeds every step; env 2 falls (done, not a time-out) when ``fall`` is set.
    """

    def __init__(self, cfg: dict[str, Any], num_obs: int = 5, num_actions: int = 3) -> None:
        self.cfg, n = cfg, cfg["env"]["numEnvs"]
        self.num_envs, self.num_obs, self.num_actions = n, num_obs, num_actions
        self.max_episode_length = cfg["env"]["episodeLength"]
        self.obs_buf = torch.zeros(n, num_obs)
        self.rew_buf = torch.zeros(n)
        self.reset_buf = torch.ones(n, dtype=torch.long)
        self.progress_buf = torch.zeros(n, dtype=torch.long)
        self.successes = torch.zeros(n)
        self.lifted_object = torch.zeros(n, dtype=torch.bool)
        self.true_objective = torch.zeros(n)
        self.success_tolerance = cfg["env"]["successTolerance"]
        self.extras: dict[str, Any] = {}
        self.actions: list[torch.Tensor] = []
        self.reset_calls: list[list[int]] = []
        self.fall = False

    def reset_idx(self, env_ids: torch.Tensor) -> None:
        self.reset_calls.append(env_ids.tolist())
        for buf in (self.progress_buf, self.reset_buf, self.successes, self.lifted_object, self.true_objective):
            buf[env_ids] = 0

    def reset(self) -> dict[str, torch.Tensor]:
        return {"obs": self.obs_buf.clone()}

    def step(self, actions: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, dict]:
        self.actions.append(actions.clone())
        if self.reset_buf.any():
            self.reset_idx(self.reset_buf.nonzero().squeeze(-1))
        self.progress_buf += 1
        self.successes[1] += 1
        self.lifted_object[1] = True
        self.true_objective[:] = 0.01 * self.successes
        self.rew_buf[:] = torch.arange(self.num_envs, dtype=torch.float)
        self.obs_buf[:] = self.progress_buf.unsqueeze(-1).float()
        self.reset_buf[:] = (self.progress_buf >= self.max_episode_length - 1).long()
        if self.fall:
            self.reset_buf[2] = 1
        timeout = (self.progress_buf >= self.max_episode_length - 1) & (self.reset_buf != 0)
        self.extras.update(time_outs=timeout, true_objective=self.true_objective,
                           episode_cumulative={"bonus_rew": self.rew_buf.clone(), "hand_delta_penalty": self.rew_buf})
        return {"obs": self.obs_buf}, self.rew_buf, self.reset_buf, self.extras

    def get_env_state(self) -> dict[str, Any]:
        return {"success_tolerance": self.success_tolerance}

    def set_env_state(self, state: dict[str, Any]) -> None:
        self.success_tolerance = state["success_tolerance"]


def fake_task_yaml(task: str, subtask: str) -> dict[str, Any]:
    """The shape of the upstream config: every env key we map, and the interpolations the wrapper resolves."""
    name = "AllegroKukaRegrasping" if task == "AllegroKuka" else "AllegroKukaTwoArmsRegrasping"
    env = {**upstream.env_settings(name, VARIANTS[name].config()), "numEnvs": "${resolve_default:8192,${...num_envs}}"}
    return {"defaults": ["_self_"], "name": task, "physics_engine": "${..physics_engine}", "env": env, "task": {},
            "sim": {"dt": 0.01667, "substeps": 2, "use_gpu_pipeline": '${eq:${...pipeline},"gpu"}',
                    "physx": {"num_subscenes": "${....num_subscenes}", "num_position_iterations": 8}}}


@pytest.fixture
def fake_isaacgym(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeVecTask]]:
    """Fake ``isaacgym`` / ``isaacgymenvs`` modules for the import guard; the double as the upstream task."""
    from tasks.isaacgymenvs import wrapper

    for name in ("isaacgym", "isaacgymenvs"):
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, None)
        monkeypatch.setitem(sys.modules, name, module)
    built: list[FakeVecTask] = []

    def make_vec_task(config: dict[str, Any], *, sim_device: str, rl_device: str) -> FakeVecTask:
        assert (sim_device, rl_device) == ("cpu:0", "cpu")
        built.append(FakeVecTask(config))
        return built[-1]

    monkeypatch.setattr(wrapper, "load_task_yaml", fake_task_yaml)
    monkeypatch.setattr(wrapper, "make_vec_task", make_vec_task)
    yield built
    sys.modules.pop("tasks.isaacgymenvs.guard", None)  # imported under the fakes: not for the next test


def make(name: str = "AllegroKukaRegrasping", num_envs: int = 4, **settings: Any) -> Any:
    return tasks.make(name, num_envs=num_envs, seed=0, device="cpu", sim=ISAACGYM, **settings)


def test_step_passes_the_upstream_buffers_through(fake_isaacgym: list[FakeVecTask]) -> None:
    task = make(episode_length=3)
    vec = fake_isaacgym[0]
    assert (task.num_envs, task.num_obs, task.num_actions, task.max_episode_length) == (4, 5, 3, 3)
    assert task.reset().shape == (4, 5) and vec.reset_calls == [[0, 1, 2, 3]]
    vec.fall = True
    obs, reward, done, extras = task.step(torch.full((4, 3), 2.0))
    assert torch.equal(vec.actions[0], torch.ones(4, 3))  # clamped to [-1, 1]
    assert obs.dtype == reward.dtype == torch.float32 and done.dtype == torch.bool
    assert obs.shape == (4, 5) and reward.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert done.tolist() == [False, False, True, False] and not extras["time_outs"].any()  # env 2 fell
    assert vec.reset_calls[-1] == [2] and vec.progress_buf.tolist() == [1, 1, 0, 1]  # reset_idx of the done env
    assert extras["successes"].tolist() == [0.0, 1.0, 0.0, 0.0] and extras["lifted"].tolist()[1]
    assert extras["true_objective"].tolist() == pytest.approx([0.0, 0.01, 0.0, 0.0])
    assert extras["rewards"].keys() == {"reach_goal_bonus"} and extras["scalars"] == {"success_tolerance": 0.075}

    vec.fall = False
    obs, reward, done, extras = task.step(torch.zeros(4, 3))  # progress 2 = episode_length - 1: a time-out
    assert done.tolist() == extras["time_outs"].tolist() == [True, True, False, True]
    assert extras["successes"].tolist() == [0.0, 2.0, 0.0, 0.0]  # of the ended episode, read before reset_idx
    assert extras["true_objective"][1] == pytest.approx(0.02) and extras["lifted"][1]
    assert vec.reset_calls[-1] == [0, 1, 3] and not vec.reset_buf.any() and not vec.successes[[0, 1, 3]].any()
    assert obs[:, 0].tolist() == [2.0, 2.0, 1.0, 2.0]  # the last observation of the ended episode (upstream)


def test_time_outs_from_progress_when_upstream_has_none(fake_isaacgym: list[FakeVecTask]) -> None:
    task = make(episode_length=2)
    task.reset()
    fake_isaacgym[0].extras.clear()
    fake_isaacgym[0].step = lambda a, s=fake_isaacgym[0].step: (*s(a)[:3], {})  # no extras at all
    _, _, done, extras = task.step(torch.zeros(4, 3))
    assert done.all() and extras["time_outs"].all() and "true_objective" not in extras


def test_reset_envs_state_and_render(fake_isaacgym: list[FakeVecTask]) -> None:
    task = make()
    assert task.reset_envs(torch.tensor([False, True, False, True])).shape == (4, 5)
    assert fake_isaacgym[0].reset_calls == [[1, 3]]
    task.set_state({"success_tolerance": 0.02})
    assert task.get_state() == {"success_tolerance": 0.02}
    with pytest.raises(NotImplementedError, match="sim=mujoco"):
        task.render()
    with pytest.raises(ValueError, match=r"actions must be \[4, 3\]"):
        task.step(torch.zeros(4, 2))


@pytest.mark.parametrize("name", UPSTREAM_BACKED)
def test_settings_map_to_the_upstream_config(fake_isaacgym: list[FakeVecTask], name: str) -> None:
    make(name, num_envs=2, tolerance_curriculum_interval=300, rewards={"lifting_bonus": 100.0})
    cfg, variant = fake_isaacgym[0].cfg, VARIANTS[name]
    assert cfg["name"] == ("AllegroKuka" if variant.num_arms == 1 else "AllegroKukaTwoArms")
    assert "defaults" not in cfg and cfg["physics_engine"] == "physx"
    env = cfg["env"]
    assert (env["subtask"], env["numEnvs"], env["toleranceCurriculumInterval"]) == (variant.subtask, 2, 300)
    assert env["liftingBonus"] == 100.0 and env["forceProbRange"] == [0.001, 0.1]
    assert cfg["sim"]["use_gpu_pipeline"] is False and cfg["sim"]["physx"]["num_subscenes"] == 4
    expected = {"AllegroKukaRegrasping": (300, 30), "AllegroKukaReorientation": (600, 1), "AllegroKukaThrow": (300, 5),
                "AllegroKukaTwoArmsRegrasping": (400, 30), "AllegroKukaTwoArmsReorientation": (600, 1)}[name]
    assert (env["episodeLength"], env["successSteps"]) == expected
    assert ("dofSpeedScale" in env) == (variant.num_arms == 1)


def test_sim_overrides_and_unknown_sim_keys(fake_isaacgym: list[FakeVecTask]) -> None:
    tasks.make("AllegroKukaThrow", num_envs=1, sim={**ISAACGYM, "substeps": 4,
                                                    "physx": {"num_position_iterations": 4}})
    sim = fake_isaacgym[0].cfg["sim"]
    assert (sim["substeps"], sim["physx"]["num_position_iterations"]) == (4, 4)
    with pytest.raises(TaskConfigError, match="sim.physics_dt is not an Isaac Gym sim setting"):
        tasks.make("AllegroKukaThrow", num_envs=1, sim={**ISAACGYM, "physics_dt": 0.01})


def test_vecenv_steps_the_wrapped_double(fake_isaacgym: list[FakeVecTask]) -> None:
    from epo_isaac.host.vecenv import BatchedTaskVecEnv

    env = BatchedTaskVecEnv(make(episode_length=3))
    assert env.reset().shape == (4, 5) and env.get_env_info()["action_space"].shape == (3,)
    for _ in range(2):  # progress 2 = episode_length - 1
        obs, reward, done, infos = env.step(torch.zeros(4, 3))
    assert done.dtype == torch.uint8 and done.all() and infos["time_outs"].all()
    assert env.get_env_state() == {"success_tolerance": 0.075}


@pytest.mark.parametrize("name", [n for n in VARIANTS if n not in UPSTREAM_BACKED])
def test_variants_without_counterpart_fail_in_one_line(name: str) -> None:
    with pytest.raises(TaskConfigError) as err:
        tasks.check_settings(name, sim=ISAACGYM)  # before the import guard: installing would not help
    message = str(err.value)
    assert message.startswith(f"task {name} has no IsaacGymEnvs counterpart") and "\n" not in message
    assert message.endswith("use sim=mujoco or sim=mujoco_warp")


def test_missing_isaacgym_is_one_install_line(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("isaacgym") is not None:
        pytest.skip("isaacgym is installed")
    monkeypatch.chdir(tmp_path)
    for call in (tasks.check_settings, lambda name, sim: tasks.make(name, num_envs=1, sim=sim)):
        with pytest.raises(TaskConfigError) as err:
            call("AllegroKukaRegrasping", sim=ISAACGYM)
        message = str(err.value)
        assert message.startswith("sim=isaacgym needs a simulator package that is not installed "
                                  "(No module named 'isaacgym')") and "\n" not in message
        assert "Isaac Gym is not on PyPI" in message and message.endswith("or use sim=mujoco")
    assert not list(tmp_path.iterdir())  # nothing written


# A double of Isaac Gym's own import check (isaacgym/gymdeps.py): it refuses to load once torch is imported.
FAKE_ISAACGYM_INIT = '''import sys
if "torch" in sys.modules:
    raise ImportError("PyTorch was imported before isaacgym modules.  Please import torch after isaacgym modules.")
'''


def fake_isaacgym_package(root: Path) -> Path:
    (root / "isaacgym").mkdir(parents=True)
    (root / "isaacgym" / "__init__.py").write_text(FAKE_ISAACGYM_INIT)
    return root


def test_isaacgym_after_torch_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The double is live: in this process torch came first, so the guard names the import order."""
    monkeypatch.syspath_prepend(str(fake_isaacgym_package(tmp_path)))
    monkeypatch.delitem(sys.modules, "isaacgym", raising=False)
    monkeypatch.delitem(sys.modules, "tasks.isaacgymenvs.guard", raising=False)
    with pytest.raises(TaskConfigError, match="Isaac Gym must be imported before torch") as err:
        tasks.check_settings("AllegroKukaRegrasping", sim=ISAACGYM)
    assert "\n" not in str(err.value)


def test_train_py_imports_isaacgym_before_torch(tmp_path: Path) -> None:
    """``python train.py sim=isaacgym`` loads Isaac Gym (the double) before torch; then the missing
    IsaacGymEnvs is the one line it prints."""
    env = {**os.environ, "PYTHONPATH": str(fake_isaacgym_package(tmp_path / "fake")), "WANDB_MODE": "offline"}
    (tmp_path / "run").mkdir()
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "task=AllegroKukaRegrasping", "sim=isaacgym",
                           "task.num_envs=8", "max_epochs=1"], cwd=tmp_path / "run", env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "No module named 'isaacgymenvs'" in proc.stderr and "before torch" not in proc.stderr
    assert not list((tmp_path / "run").iterdir())


@pytest.mark.parametrize(("argv", "expected"), [
    (["task=AllegroKukaRegrasping", "sim=isaacgym"], True), (["+sim=isaacgym"], True),
    (["sim=mujoco,isaacgym"], True), (["sim=choice(mujoco, isaacgym)"], True),
    (["sim=mujoco"], False), (["sim=mujoco_warp"], False), (["task=isaacgym"], False), ([], False)])
def test_asks_for_isaacgym(argv: list[str], expected: bool) -> None:
    from epo_isaac.cli.isaacgym_first import asks_for_isaacgym

    assert asks_for_isaacgym(argv) is expected
