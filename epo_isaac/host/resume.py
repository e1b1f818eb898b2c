"""What an exact resume needs beyond rl_games' checkpoint: learning rate, entropy coefficient, RNG, episode
meters and the in-progress episodes, as a mixin for rl_games A2C agents (EPO/SAPG and the PPO baseline)."""

from __future__ import annotations

from typing import Any

import torch

from epo_isaac.host.checkpoint import atomic_save, check_checkpoint, read_checkpoint, run_meta

METERS = ("game_rewards", "game_shaped_rewards", "game_lengths")


def _clone(value: Any) -> Any:
    """Detached copies of the tensors in ``value`` (a tensor, or a list/tuple/dict of them)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clone(v) for v in value]
    return value


def meter_state(meter: Any) -> dict[str, Any]:
    """State of an rl_games ``AverageMeter`` (its ``mean`` buffer and its ``current_size``, which is no buffer)."""
    return {"mean": meter.mean.detach().clone(), "current_size": int(meter.current_size)}


def load_meter_state(meter: Any, state: dict[str, Any]) -> None:
    """Restore :func:`meter_state` into ``meter`` (on ``meter``'s device)."""
    meter.mean = state["mean"].to(meter.mean.device).clone()
    meter.current_size = int(state["current_size"])


def rng_state(device: torch.device | str) -> dict[str, torch.Tensor]:
    """This process's torch RNG states: ``torch_rng`` (CPU) and, on a CUDA ``device``, ``cuda_rng`` (that
    device's generator)."""
    state = {"torch_rng": torch.get_rng_state()}
    if torch.device(device).type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(device)
    return state


def load_rng_state(state: dict[str, Any], device: torch.device | str) -> None:
    """Restore :func:`rng_state`'s ``torch_rng`` and, on a CUDA ``device``, ``cuda_rng``; a generator whose state
    is absent (or None) keeps its own."""
    if state.get("torch_rng") is not None:
        torch.set_rng_state(state["torch_rng"].cpu())
    if torch.device(device).type == "cuda" and state.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(state["cuda_rng"].cpu(), device)


def resume_state(agent: Any) -> dict[str, Any]:
    """What an rl_games A2C ``agent`` needs beyond rl_games' own checkpoint to continue exactly.

    Returns ``last_lr`` and ``entropy_coef`` (rl_games restarts both from the config), the torch CPU RNG (and the
    CUDA one on a CUDA device), the episode meters (``game_rewards`` etc.: the logged mean return over the last
    episodes) and ``episodes``: the in-progress episodes as the agent sees them — ``obs`` (``{"obs": [N, O]}``),
    ``dones [N]``, ``current_rewards [N, 1]``, ``current_shaped_rewards [N, 1]``, ``current_lengths [N]``,
    ``rnn_states`` (list of ``[layers, N, H]`` or None); None before the first rollout.
    """
    rng = rng_state(agent.ppo_device)
    state: dict[str, Any] = {
        "last_lr": float(agent.last_lr),
        "entropy_coef": float(agent.entropy_coef),
        "torch_rng": rng.pop("torch_rng"),
        "meters": {name: meter_state(getattr(agent, name)) for name in METERS},
        "episodes": None,
        **rng,  # cuda_rng on a CUDA device
    }
    if getattr(agent, "obs", None) is not None and hasattr(agent, "current_rewards"):
        state["episodes"] = _clone({
            "obs": agent.obs, "dones": agent.dones, "current_rewards": agent.current_rewards,
            "current_shaped_rewards": agent.current_shaped_rewards, "current_lengths": agent.current_lengths,
            "rnn_states": agent.rnn_states if agent.is_rnn else None,
        })
    return state


def task_restores_episodes(vec_env: Any) -> bool:
    """Whether the task behind ``vec_env`` declares ``restores_episodes = True``: its ``get_state()`` holds the
    in-progress episodes (simulator state, per-env step counters, RNG) and ``set_state()`` puts them back, so a
    resumed run may continue them instead of resetting every env."""
    return bool(getattr(getattr(vec_env, "task", None), "restores_episodes", False))


def _to(value: Any, device: torch.device | str) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: _to(v, device) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to(v, device) for v in value]
    return value


class ResumableAgentMixin:
    """Checkpoints of an rl_games A2C agent (mix in before ``A2CAgent``): atomic writes, checked reads, exact
    resume.

    ``restore`` reads with :func:`read_checkpoint` and checks with :func:`check_checkpoint` before anything is
    loaded. ``get_full_state_weights`` adds ``meta`` and ``resume`` (:func:`resume_state`);
    ``set_full_state_weights`` restores them: learning rate (also into the optimizer), entropy coefficient, RNG,
    meters. The in-progress episodes are continued only when the task restores its own episodes
    (:func:`task_restores_episodes`): rl_games' ``train()`` resets every env after the restore, so
    :meth:`env_reset` hands back the saved observations (and the saved episode counters) instead, once.
    """

    checkpoint_algo = "ppo"
    _pending_episodes: dict[str, Any] | None = None

    def checkpoint_meta(self) -> dict[str, Any]:
        """Algorithm, task and layout of this run (compared by :func:`check_checkpoint` on restore)."""
        return {**run_meta(self.checkpoint_algo, self), "num_envs": int(self.num_actors)}

    def save(self, fn: str) -> None:
        atomic_save(self.get_full_state_weights(), fn)

    def restore(self, fn: str, set_epoch: bool = True) -> None:
        """Load checkpoint ``fn`` (raises :class:`CheckpointError` in one line for any unusable file)."""
        state = read_checkpoint(fn)
        check_checkpoint(str(fn), state, self.checkpoint_meta(), self.model.state_dict())
        self.set_full_state_weights(state, set_epoch=set_epoch)

    def get_full_state_weights(self) -> dict[str, Any]:
        state = super().get_full_state_weights()
        state["meta"] = self.checkpoint_meta()
        state["resume"] = resume_state(self)
        return state

    def set_full_state_weights(self, weights: dict[str, Any], set_epoch: bool = True) -> None:
        super().set_full_state_weights(weights, set_epoch=set_epoch)
        resume = weights.get("resume")
        if resume:
            self._load_resume_state(resume)

    def _load_resume_state(self, resume: dict[str, Any]) -> None:
        self.last_lr = float(resume["last_lr"])
        self.update_lr(self.last_lr)
        self.entropy_coef = float(resume["entropy_coef"])
        load_rng_state(resume, self.ppo_device)
        for name in METERS:
            load_meter_state(getattr(self, name), resume["meters"][name])
        episodes = resume.get("episodes")
        self._pending_episodes = episodes if episodes and task_restores_episodes(self.vec_env) else None

    def env_reset(self) -> dict[str, Any]:
        """rl_games' reset, or, right after a restore whose task restored its episodes, the saved observations
        with the saved per-env episode state (``train()`` calls this after ``init_tensors``)."""
        episodes, self._pending_episodes = self._pending_episodes, None
        if episodes is None:
            return super().env_reset()
        e = _to(episodes, self.ppo_device)
        self.dones = e["dones"]
        self.current_rewards, self.current_shaped_rewards = e["current_rewards"], e["current_shaped_rewards"]
        self.current_lengths = e["current_lengths"]
        if self.is_rnn and e["rnn_states"] is not None:
            self.rnn_states = list(e["rnn_states"])
        return self.obs_to_tensors(e["obs"])
