"""Console progress and task-extras logging for every algorithm (PPO, SAPG, EPO)."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from rl_games.common.algo_observer import AlgoObserver

from epo_isaac.stats import EpochStats


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


class ProgressObserver(AlgoObserver):
    """Prints one line per epoch (frames, fps, master return/successes, mean fitness, GA events)
    and, for agents without their own population stats (stock PPO), logs task extras to TensorBoard."""

    def __init__(self, print_every: int = 1) -> None:
        super().__init__()
        self.print_every = print_every
        self.algo: Any = None
        self.stats: EpochStats | None = None
        self.history: list[dict[str, float]] = []

    def after_init(self, algo: Any) -> None:
        self.algo = algo
        # rl_games calls after_init from inside the agent's __init__, before our agent's own attributes
        # exist: ask the class whether it keeps per-agent statistics (EPOAgent) or not (stock PPO).
        if not getattr(type(algo), "reports_population_stats", False):
            self.stats = EpochStats(algo.num_actors, 1, algo.ppo_device)
        self._last_time = time.perf_counter()
        self._last_frame = 0

    def process_infos(self, infos: dict[str, Any], done_indices: torch.Tensor) -> None:
        if self.stats is None or not isinstance(infos, dict):
            return
        done = torch.zeros(self.algo.num_actors, dtype=torch.bool, device=self.algo.ppo_device)
        done[done_indices.flatten()] = True
        self.stats.update(done, self.algo.current_rewards[:, 0], infos)

    def after_print_stats(self, frame: int, epoch_num: int, total_time: float) -> None:
        algo = self.algo
        if self.stats is not None:
            summary = self.stats.summary()
            for key, value in summary.items():
                algo.writer.add_scalar(key, value, frame)
            self.stats.reset()
        else:
            summary = {k: v for k, v in algo.epoch_summary.items() if not k.startswith("_")}
        now = time.perf_counter()
        seconds = max(now - self._last_time, 1e-9)
        fps = (algo.frame - self._last_frame) / seconds
        self._last_time, self._last_frame = now, algo.frame
        mean_return = None
        if algo.game_rewards.current_size > 0:
            mean_return = float(np.asarray(algo.game_rewards.get_mean()).reshape(-1)[0])
        row = {"epoch": epoch_num, "frames": algo.frame, "fps": fps, "epoch_seconds": seconds,
               "return": float(mean_return) if mean_return is not None else float("nan"), **summary}
        self.history.append(row)
        algo.writer.add_scalar("performance/epoch_fps", fps, frame)
        if epoch_num % self.print_every:
            return
        max_epochs = f"/{algo.max_epochs}" if algo.max_epochs > 0 else ""
        parts = [f"epoch {epoch_num}{max_epochs}", f"frames {algo.frame:,}", f"fps {fps:,.0f}",
                 f"return {_fmt(row['return'])}"]
        if "master/return" in summary:
            parts.append(f"master return {_fmt(summary['master/return'])}")
        if "master/successes" in summary:
            parts.append(f"master successes {_fmt(summary['master/successes'])}")
        if "master/lift_rate" in summary:
            parts.append(f"master lift rate {_fmt(summary['master/lift_rate'])}")
        if "fitness/mean" in summary:
            parts.append(f"mean fitness {_fmt(summary['fitness/mean'])}")
        event = getattr(algo, "epoch_summary", {}).get("_ga_event")
        if event:
            if event["ran"]:
                parts.append(f"GA gen {algo.generation}: replaced {event['replaced']}")
            else:
                parts.append(f"GA skipped ({event['reason']})")
        print(" | ".join(parts), flush=True)


class ObserverGroup(AlgoObserver):
    """Forwards every rl_games observer call to each of ``observers`` in order (the Runner takes one)."""

    def __init__(self, *observers: AlgoObserver) -> None:
        super().__init__()
        self.observers = observers

    def before_init(self, base_name: str, config: dict[str, Any], experiment_name: str) -> None:
        for o in self.observers:
            o.before_init(base_name, config, experiment_name)

    def after_init(self, algo: Any) -> None:
        for o in self.observers:
            o.after_init(algo)

    def process_infos(self, infos: dict[str, Any], done_indices: torch.Tensor) -> None:
        for o in self.observers:
            o.process_infos(infos, done_indices)

    def after_steps(self) -> None:
        for o in self.observers:
            o.after_steps()

    def after_clear_stats(self) -> None:
        for o in self.observers:
            if hasattr(o, "after_clear_stats"):
                o.after_clear_stats()

    def after_print_stats(self, frame: int, epoch_num: int, total_time: float) -> None:
        for o in self.observers:
            o.after_print_stats(frame, epoch_num, total_time)
