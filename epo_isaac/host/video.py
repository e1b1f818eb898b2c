"""Videos of a policy: the master every ``train.video_interval`` epochs during training, and play mode.

The filmed task is a separate one-env copy (:func:`tasks.make_viewer`), so training envs and their episodes
are untouched. This package never imports ``tasks``: ``train.py`` passes in the viewer factory and the
recorder (:func:`tasks.render.record_video`). The policy is the
deterministic Gaussian mean of the current model; it updates no normaliser and draws no random numbers,
so recording a video does not change the training run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from rl_games.common.algo_observer import AlgoObserver


class ModelPolicy:
    """Deterministic actions of an rl_games continuous actor-critic (``algo.model`` or ``player.model``).

    Call with obs ``[N, O]`` → actions ``[N, A]``, the mean clamped to [-1, 1]. Observations go through
    the model's input normaliser in eval mode (the running statistics are not updated).

    Args:
        model: the rl_games model (``ModelA2CContinuousLogStd.Network``) wrapping the network.
        num_envs: N, for the recurrent state of an LSTM network.
        agent: for ``epo_actor_critic`` networks, whose latent acts (None: the network's
            ``default_agent``, the master unless a player changed it).
    """

    def __init__(self, model: Any, num_envs: int, agent: int | None = None) -> None:
        self.model = model
        self.num_envs = num_envs
        self.agent = agent
        self.device = next(model.parameters()).device
        self.states: list[torch.Tensor] | None = None
        self.reset()

    def reset(self) -> None:
        """Zero the recurrent state of every env."""
        default = self.model.get_default_rnn_state() if self.model.is_rnn() else None
        if default is None:
            self.states = None
            return
        self.states = [torch.zeros(s.shape[0], self.num_envs, s.shape[2], device=self.device) for s in default]

    def on_done(self, done: torch.Tensor) -> None:
        """Zero the recurrent state of the envs whose episode ended (``done [N]`` bool)."""
        if self.states is not None and bool(done.any()):
            for s in self.states:
                s[:, done.to(self.device)] = 0.0

    @torch.no_grad()
    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        was_training = self.model.training
        self.model.eval()
        try:
            obs = obs.to(self.device, torch.float32)
            inputs: dict[str, Any] = {"obs": self.model.norm_obs(obs), "rnn_states": self.states}
            if self.agent is not None:
                inputs["agent_ids"] = torch.full((obs.shape[0],), self.agent, dtype=torch.long, device=self.device)
            mu, _, _, states = self.model.a2c_network(inputs)
            if self.states is not None:
                self.states = list(states)
        finally:
            self.model.train(was_training)
        return mu.clamp(-1.0, 1.0)


Recorder = Callable[..., Any]
"""``record(task, policy, num_steps, path, on_done=...)`` → result with ``frames``, ``fps``, ``returns``,
``successes`` (:func:`tasks.render.record_video`)."""


def policy_of(owner: Any, num_envs: int, agent: int | None = None) -> Any:
    """The deterministic policy of a trainer or player: its own ``video_policy(num_envs)`` when it has one
    (``train=ES``), else :class:`ModelPolicy` over its rl_games ``model`` (``agent``'s latent for EPO/SAPG)."""
    if hasattr(owner, "video_policy"):
        return owner.video_policy(num_envs)
    return ModelPolicy(owner.model, num_envs, agent)


def film(task: Any, record_video: Recorder, policy: Any, num_steps: int, path: str | Path) -> Any:
    """Film ``policy`` (obs ``[N, O]`` → actions ``[N, A]``, with ``on_done(done [N])``; :func:`policy_of`) on
    ``task`` (a renderable task, e.g. from :func:`tasks.make_viewer`; the caller closes it) for ``num_steps``
    control steps into ``path`` with ``record_video``. Returns what ``record_video`` returns.

    Raises:
        NotImplementedError: the task has no offscreen renderer.
    """
    return record_video(task, policy, num_steps, str(path), on_done=policy.on_done)


class VideoObserver(AlgoObserver):
    """Every ``interval`` epochs, films the master (agent 0's latent for EPO/SAPG, the policy for PPO, θ for ES) for
    ``num_steps`` control steps into ``<out_dir>/epoch_<n>.mp4`` and logs it to wandb as ``videos/master``.

    A task that cannot render, or filming that fails for any other reason (no EGL, no ffmpeg), disables the videos
    with one warning line; training goes on.
    """

    def __init__(self, make_viewer: Callable[[], Any], record_video: Recorder, interval: int, num_steps: int,
                 out_dir: Path, wandb_run: Any = None, say: Callable[[str], None] = print) -> None:
        super().__init__()
        self.say = say  # where our console lines go (train.py: the console and the run's log)
        self.make_viewer, self.record_video = make_viewer, record_video
        self.interval, self.num_steps = interval, num_steps
        self.out_dir, self.wandb_run = Path(out_dir), wandb_run
        self.algo: Any = None
        self.paths: list[Path] = []

    def after_init(self, algo: Any) -> None:
        self.algo = algo

    def after_print_stats(self, frame: int, epoch_num: int, total_time: float) -> None:
        if self.interval <= 0 or epoch_num % self.interval:
            return
        path = self.out_dir / f"epoch_{epoch_num:06d}.mp4"
        model = getattr(self.algo, "model", None)
        is_epo = model is not None and hasattr(model.a2c_network, "latents")
        task = None
        try:
            task = self.make_viewer()
            policy = policy_of(self.algo, task.num_envs, agent=0 if is_epo else None)
            result = film(task, self.record_video, policy, self.num_steps, path)
        except NotImplementedError as err:
            self.say(f"[epo_isaac] videos disabled: {err}")
            self.interval = 0
            return
        except Exception as err:  # no EGL, no ffmpeg, a renderer that fails: training matters more than a video
            self.say(f"[epo_isaac] warning: videos disabled: filming failed ({type(err).__name__}: {err})")
            self.interval = 0
            return
        finally:
            if task is not None:
                task.close()
        self.paths.append(path)
        self.say(f"[epo_isaac] video of the master: {path} ({result.frames} frames)")
        if self.wandb_run is not None:
            import wandb

            self.wandb_run.log({"videos/master": wandb.Video(str(path), format="mp4"), "videos/frame": frame})
