"""``train=ES``: OpenAI-ES (Salimans et al. 2017) as an rl_games algorithm (``es``) on any batched task.

One iteration reads top to bottom (:meth:`ESAgent.iteration`):

1. ``ask``: P candidates θ + σ·ε_i (:class:`~epo_isaac.es.optimizer.OpenAIES`; the noise is a function of
   (seed, iteration));
2. rollout: the N envs are split into P blocks of B envs; candidate i acts on block i, all candidates in one
   batched forward (:func:`~epo_isaac.es.policy.population_forward`), whole episodes (:func:`run_episodes`);
3. fitness: mean return of each block's episodes; a member with NaN/inf return is reported by index and left out;
4. ``tell``: centred ranks → gradient estimate → Adam/SGD step with weight decay → σ and lr decay;
5. the observation normaliser absorbs the iteration's observations (it was frozen while the candidates acted);
6. every ``test_interval`` iterations the unperturbed θ plays one episode per env: the test return is logged, the
   best θ is saved, and ``reward_goal`` reached ``consecutive_goal_stopping`` tests in a row ends the run.

On K ranks (``torchrun``, :class:`~epo_isaac.host.ranks.Ranks`) rank r evaluates members [r·P/K, (r+1)·P/K) on its own
envs; ranks exchange only the members' returns (and the normaliser's sums); the noise comes from the shared seed,
so every rank computes the same update.
"""

from __future__ import annotations

import os
import random
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rl_games.algos_torch.torch_ext import AverageMeter
from rl_games.common import vecenv
from torch.utils.tensorboard import SummaryWriter

from epo_isaac.es.config import ESTrainConfig, es_layout
from epo_isaac.es.episodes import Episodes, run_episodes
from epo_isaac.es.optimizer import OpenAIES
from epo_isaac.es.policy import ESPolicy, ObsNormalizer, population_forward
from epo_isaac.host.checkpoint import atomic_save, check_checkpoint, read_checkpoint
from epo_isaac.host.ranks import Ranks


class ThetaPolicy:
    """The unperturbed policy θ as a callable for videos: raw obs ``[N, O]`` → actions ``[N, A]`` in [−1, 1]
    (the normaliser is read, never updated)."""

    def __init__(self, policy: ESPolicy, normalizer: ObsNormalizer | None) -> None:
        self.policy, self.normalizer = policy, normalizer

    @torch.no_grad()
    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        obs = obs.float()
        return self.policy(self.normalizer.normalize(obs) if self.normalizer else obs)

    def on_done(self, done: torch.Tensor) -> None:
        """Stateless policy: nothing to reset."""


def _meta(config: dict[str, Any], num_obs: int, num_actions: int) -> dict[str, Any]:
    return {"algo": "es", "task": str(config.get("name", "")), "obs_dim": num_obs, "num_actions": num_actions,
            "rnn": False}


class ESPlayer:
    """rl_games player for ``train=ES`` checkpoints (``test=true``): θ and the normaliser, checked before loading.

    Args:
        params: the ``params`` dict of :func:`~epo_isaac.es.config.es_params` (``num_actors`` envs, usually 1).
    """

    def __init__(self, params: dict[str, Any]) -> None:
        self.config = params["config"]
        es = ESTrainConfig.model_validate(self.config["es"])
        self.env = vecenv.create_vec_env(self.config["env_name"], self.config["num_actors"])
        task = self.env.task
        self.device = torch.device(self.config["device"])
        self.policy = ESPolicy(task.num_obs, task.num_actions, list(es.units), es.activation).to(self.device)
        self.normalizer = ObsNormalizer(task.num_obs, es.obs_clip, device=self.device) if es.obs_normalization \
            else None
        self.meta = _meta(self.config, task.num_obs, task.num_actions)

    def restore(self, fn: str) -> None:
        """Load θ (and the normaliser) from an ES checkpoint.

        Raises:
            CheckpointError: an unreadable file, or a checkpoint of another algorithm, task or policy size.
        """
        state = read_checkpoint(fn)
        check_checkpoint(str(fn), state, self.meta, self.policy.state_dict())
        self.policy.load_state_dict(state["model"])
        if self.normalizer is not None and state.get("normalizer"):
            self.normalizer.load_state_dict(state["normalizer"])

    def video_policy(self, num_envs: int) -> ThetaPolicy:
        return ThetaPolicy(self.policy, self.normalizer)


class ESAgent:
    """The ``es`` algorithm for rl_games' ``Runner`` (built by ``runner.algo_factory``; ``train()`` runs it).

    Attributes read by the observers (:class:`~epo_isaac.host.observer.ProgressObserver`, ``VideoObserver``):
    ``frame``, ``curr_frames``, ``max_epochs`` (= max_iterations), ``max_frames``, ``epoch_summary``,
    ``game_rewards`` (the last iteration's member returns), ``writer`` and :meth:`video_policy`.
    """

    reports_population_stats = True  # the observer reads epoch_summary instead of per-step task extras
    epoch_word = "iteration"  # what the progress line calls an epoch

    def __init__(self, base_name: str, params: dict[str, Any]) -> None:
        self.config = config = params["config"]
        self.es_cfg = es = ESTrainConfig.model_validate(config["es"])
        self.ranks = Ranks.from_config(config)
        self.seed = int(params.get("seed", 0))
        self.device = torch.device(config["device"])
        self.env = vecenv.create_vec_env(config["env_name"], config["num_actors"])
        task = self.task = self.env.task
        self.num_actors = task.num_envs
        self.members, self.block, self.episodes_per_env = es_layout(task.num_envs, es, self.ranks.size)
        self.first_member = self.ranks.rank * self.members
        self.policy = ESPolicy(task.num_obs, task.num_actions, list(es.units), es.activation).to(self.device)
        self.ranks.broadcast_module(self.policy)
        self.optimizer = OpenAIES(self.policy, es, seed=self.seed, device=self.device)
        self.normalizer = ObsNormalizer(task.num_obs, es.obs_clip, device=self.device) if es.obs_normalization \
            else None
        # a guard against tasks that never end an episode; Allegro-Kuka episodes may run many goals long
        self.max_steps = 100 * self.episodes_per_env * max(int(task.max_episode_length), 1) + 1000
        self.max_epochs, self.max_frames = es.max_iterations, es.max_frames
        self.max_seconds = float(config.get("max_seconds", 0.0))  # top-level max_seconds: this session's budget
        self.epoch_num = self.frame = self.curr_frames = 0
        self.seconds = 0.0  # wall-clock of earlier sessions of this run (resume)
        self.best_test, self.goal_streak, self.last_test = -float("inf"), 0, float("nan")
        self.epoch_summary: dict[str, Any] = {}
        self.game_rewards = AverageMeter(1, self.members * self.ranks.size * es.episodes_per_member
                                         if es.episodes_per_member else task.num_envs * self.ranks.size)
        run_dir = Path(config["train_dir"]) / config["full_experiment_name"]
        self.nn_dir = run_dir / "nn"
        self.writer = SummaryWriter(str(run_dir / "summaries")) if self.ranks.is_main else _NullWriter()
        self.games_to_track, self.ppo_device = 100, self.device  # read by rl_games' DefaultAlgoObserver
        self.observer = config.get("features", {}).get("observer")
        self.say = getattr(self.observer, "say", print)
        if self.observer is not None:
            self.observer.after_init(self)

    # ------------------------------------------------------------------------------------------- evaluation

    def _act(self, candidates: torch.Tensor):
        """Actions of ``candidates [P_local, D]``, candidate i on envs [i·B, (i+1)·B)."""
        policy, normalizer = self.policy, self.normalizer

        def act(obs: torch.Tensor) -> torch.Tensor:
            obs = obs.to(self.device, torch.float32)
            x = normalizer.normalize(obs) if normalizer is not None else obs
            out = population_forward(candidates, x.view(self.members, self.block, -1), policy.shapes,
                                     policy.activation)
            return out.reshape(obs.shape[0], -1)

        return act

    @torch.no_grad()
    def evaluate(self, candidates: torch.Tensor, collect_moments: bool) -> Episodes:
        """Whole episodes of this rank's ``candidates [P_local, D]`` on its envs (:func:`run_episodes`)."""
        return run_episodes(self.task, self._act(candidates.to(self.device)), self.episodes_per_env,
                            self.max_steps, collect_moments=collect_moments)

    def test(self) -> Episodes:
        """One episode per env with the unperturbed θ on every block (the normaliser is not updated)."""
        theta = self.optimizer.theta.to(self.device)
        return self.evaluate(theta.expand(self.members, -1), collect_moments=False)

    # ------------------------------------------------------------------------------------------- one iteration

    def iteration(self) -> dict[str, float]:
        """ask → rollout → fitness → tell → normaliser; returns the logged scalars of the iteration."""
        lo = self.first_member
        candidates = self.optimizer.ask()[lo:lo + self.members]
        episodes = self.evaluate(candidates, collect_moments=self.normalizer is not None)
        local = episodes.returns.view(self.members, -1).mean(dim=1)
        fitness = self.ranks.all_gather(local)
        bad = torch.nonzero(~torch.isfinite(fitness)).flatten().tolist()
        if bad:
            self.say(f"[epo_isaac] ES iteration {self.optimizer.generation}: member(s) {bad[:10]} returned NaN/inf;"
                     " excluded from the update" + (" with their mirrored partners" if self.es_cfg.antithetic else ""))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # reported above, with the member indices
            stats = self.optimizer.tell(fitness)
        self.optimizer.load_into(self.policy)
        if self.normalizer is not None:
            self.normalizer.merge(self.ranks.all_reduce(episodes.obs_moments))
        returns = self.ranks.all_gather(episodes.returns.reshape(-1))
        finite = returns[torch.isfinite(returns)]
        if finite.numel():
            self.game_rewards.clear()
            self.game_rewards.update(finite.view(-1, 1).cpu())
        row = {f"es/{k}": v for k, v in stats.items()
               if k in ("grad_norm", "update_norm", "theta_norm", "sigma", "learning_rate", "excluded")}
        row.update({"population/return_mean": stats["fitness_mean"], "population/return_max": stats["fitness_max"],
                    "population/return_min": stats["fitness_min"], "population/return_std": stats["fitness_std"],
                    "population/episode_length": float(episodes.lengths.float().mean())})
        self.curr_frames = episodes.steps * self.num_actors * self.ranks.size
        return row

    def run_test(self) -> dict[str, float]:
        """Test θ, keep the best weights, count the goal streak; returns the logged test scalars."""
        episodes = self.test()
        self.curr_frames += episodes.steps * self.num_actors * self.ranks.size
        self.last_test = float(self.ranks.all_reduce(episodes.returns.mean().reshape(1)).item() / self.ranks.size)
        successes = float(self.ranks.all_reduce(episodes.successes.mean().reshape(1)).item() / self.ranks.size)
        goal = self.es_cfg.reward_goal
        self.goal_streak = self.goal_streak + 1 if goal is not None and self.last_test >= goal else 0
        if self.last_test > self.best_test:
            self.best_test = self.last_test
            self.save(str(self.nn_dir / self.config["name"]))
        return {"test/return": self.last_test, "test/successes": successes, "test/best_return": self.best_test,
                "test/goal_streak": float(self.goal_streak)}

    def train(self) -> tuple[float, int]:
        """Run iterations until a stopping rule holds; returns (best test return, iterations)."""
        es, start = self.es_cfg, time.perf_counter()
        while not self.should_stop(time.perf_counter() - start):
            row = self.iteration()
            self.epoch_num += 1
            last = self.is_last_iteration(time.perf_counter() - start)
            if last or (es.test_interval and self.epoch_num % es.test_interval == 0):
                row.update(self.run_test())
            self.frame += self.curr_frames
            elapsed = self.seconds + time.perf_counter() - start
            row["performance/env_steps_per_s"] = self.frame / max(elapsed, 1e-9)
            self.epoch_summary = row
            for key, value in row.items():
                self.writer.add_scalar(key, value, self.frame)
            if self.observer is not None:
                self.observer.after_print_stats(self.frame, self.epoch_num, elapsed)
            if self.should_stop(time.perf_counter() - start) or (es.save_frequency and
                                                                 self.epoch_num % es.save_frequency == 0):
                self.save(str(self.nn_dir / f"last_{self.config['name']}_ep_{self.epoch_num}"
                                            f"_rew_{self.last_test:.2f}"))
        self.seconds += time.perf_counter() - start
        self.writer.flush()
        if self.goal_streak >= es.consecutive_goal_stopping:
            self.say(f"[epo_isaac] ES reached reward_goal={es.reward_goal} in {es.consecutive_goal_stopping} "
                     f"consecutive tests at iteration {self.epoch_num}")
        return self.best_test, self.epoch_num

    def is_last_iteration(self, session_seconds: float) -> bool:
        """Whether the budget (iterations, frames, this session's seconds) ends with the current iteration, so
        that it gets a test (the same on every rank: rank 0's clock decides)."""
        return self.ranks.agree(self._spent(session_seconds, self.frame + self.curr_frames))

    def _spent(self, session_seconds: float, frames: int) -> bool:
        return ((self.max_epochs > 0 and self.epoch_num >= self.max_epochs)
                or (self.max_frames > 0 and frames >= self.max_frames)
                or (self.max_seconds > 0 and session_seconds >= self.max_seconds))

    def should_stop(self, session_seconds: float) -> bool:
        """Budget spent or ``reward_goal`` held for ``consecutive_goal_stopping`` tests (decided identically on
        every rank: rank 0's clock decides)."""
        done = self._spent(session_seconds, self.frame) or self.goal_streak >= self.es_cfg.consecutive_goal_stopping
        return self.ranks.agree(done)

    # ------------------------------------------------------------------------------------------- checkpoints

    def video_policy(self, num_envs: int) -> ThetaPolicy:
        """The unperturbed θ (for ``VideoObserver``)."""
        return ThetaPolicy(self.policy, self.normalizer)

    def checkpoint_state(self) -> dict[str, Any]:
        """Everything an exact resume needs: θ (as the policy's weights), the ES optimiser, the normaliser,
        counters, the RNGs and the task state."""
        return {
            "meta": {**_meta(self.config, self.task.num_obs, self.task.num_actions), "num_envs": self.num_actors},
            "model": self.policy.state_dict(),
            "es": self.optimizer.state_dict(),
            "normalizer": self.normalizer.state_dict() if self.normalizer is not None else None,
            "counters": {"epoch": self.epoch_num, "frame": self.frame, "seconds": self.seconds,
                         "best_test": self.best_test, "goal_streak": self.goal_streak, "last_test": self.last_test},
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
            "env_state": self.env.get_env_state(),
        }

    def save(self, fn: str) -> None:
        """Atomic checkpoint ``fn.pth`` (rank 0 only)."""
        if self.ranks.is_main:
            os.makedirs(os.path.dirname(fn), exist_ok=True)
            atomic_save(self.checkpoint_state(), fn)

    def restore(self, fn: str) -> None:
        """Resume from an ES checkpoint exactly where it was saved.

        Raises:
            CheckpointError: an unreadable file, or a checkpoint of another algorithm, task, layout or policy.
        """
        state = read_checkpoint(fn)
        current = {**_meta(self.config, self.task.num_obs, self.task.num_actions), "num_envs": self.num_actors}
        check_checkpoint(str(fn), state, current, self.policy.state_dict())
        self.policy.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["es"])
        if self.normalizer is not None and state.get("normalizer"):
            self.normalizer.load_state_dict(state["normalizer"])
        c = state["counters"]
        self.epoch_num, self.frame, self.seconds = int(c["epoch"]), int(c["frame"]), float(c["seconds"])
        self.best_test, self.goal_streak, self.last_test = float(c["best_test"]), int(c["goal_streak"]), \
            float(c["last_test"])
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])
        self.env.set_env_state(state.get("env_state"))


class _NullWriter:
    """TensorBoard writer of ranks other than 0: logs nothing."""

    def add_scalar(self, *args: Any, **kwargs: Any) -> None:
        pass

    def flush(self) -> None:
        pass
