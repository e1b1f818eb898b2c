"""The checked ``restore`` every player of ours uses (play/eval): a foreign or mismatched checkpoint is one line."""

from __future__ import annotations

from typing import Any

from epo_isaac.host.checkpoint import check_checkpoint, read_checkpoint, run_meta


class CheckedRestoreMixin:
    """``restore`` for an rl_games player (mix in before the player class): the checkpoint is read with
    :func:`read_checkpoint` and checked with :func:`check_checkpoint` (algorithm, task, population layout,
    network; not ``num_envs``: a player runs one env) before the weights and the task state are loaded, so every
    unusable file raises a one-line :class:`~epo_isaac.errors.CheckpointError`."""

    def player_algo(self) -> str:
        return "ppo"

    def checkpoint_meta(self) -> dict[str, Any]:
        """This player's algorithm, task and network sizes (compared with the checkpoint's)."""
        return run_meta(self.player_algo(), self)

    def restore(self, fn: str) -> None:
        state = read_checkpoint(fn)
        check_checkpoint(str(fn), state, self.checkpoint_meta(), self.model.state_dict())
        self.set_weights(state)
        env_state = state.get("env_state")
        if self.env is not None and env_state:
            self.env.set_env_state(env_state)
