"""Console progress and task-extras logging for every algorithm (PPO, SAPG, EPO, ES): the per-epoch line and the
closing summary, both driven by one table of the logged keys they report (:data:`REPORTED`)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rl_games.common.algo_observer import AlgoObserver

from epo_isaac.host.config import checks_within
from epo_isaac.host.stats import EpochStats


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


@dataclass(frozen=True)
class Reported:
    """A logged key (an agent's ``epoch_summary`` / the run history) that the console reports.

    ``epoch``: in the per-epoch line as ``<label> <value>`` (``–`` when NaN), followed by ``(best <value of
    best_key>)`` when ``best_key`` is set. ``end``: in the closing summary, ``"best"`` as ``last <label> <v> (best
    <b>)`` over the epochs that logged a finite value, ``"last"`` as ``<label> <v>`` of the last epoch."""

    key: str
    label: str
    spec: str = ".2f"
    epoch: bool = True
    end: str | None = None
    best_key: str | None = None


# In the order they are printed, in the epoch line and in the summary alike.
REPORTED = (
    Reported("master/return", "master return", end="best"),
    Reported("test/return", "test return", end="best", best_key="test/best_return"),
    Reported("es/sigma", "σ", spec=".4g"),
    Reported("master/successes", "master successes", end="best"),
    Reported("master/lift_rate", "master lift rate", end="best"),
    Reported("fitness/mean", "mean fitness"),
    Reported("ga/generation", "GA generations", spec="d", epoch=False, end="last"),
)


def epoch_parts(summary: dict[str, Any]) -> list[str]:
    """The per-epoch line's pieces for the keys of :data:`REPORTED` that ``summary`` (one epoch's logged values)
    holds."""
    parts = []
    for r in REPORTED:
        if r.epoch and r.key in summary:
            best = f" (best {_fmt(summary[r.best_key], r.spec)})" if r.best_key else ""
            parts.append(f"{r.label} {_fmt(summary[r.key], r.spec)}{best}")
    return parts


def end_summary(history: list[dict[str, Any]], seconds: float, run_dir: Path, videos: list[Path]) -> str:
    """The closing console line: epochs, frames, wall-clock ``seconds``, the keys of :data:`REPORTED` with an
    ``end`` (the last finite value and the best, or the last epoch's value), where the checkpoints
    (``run_dir/nn``) and ``videos`` are."""
    last = history[-1]
    parts = [f"[epo_isaac] done: {last['epoch']} epochs, {last['frames']:,} frames in {seconds:.0f} s"]
    for r in REPORTED:
        if r.end == "best":
            values = [h[r.key] for h in history if r.key in h and h[r.key] == h[r.key]]
            if values:
                parts.append(f"last {r.label} {values[-1]:{r.spec}} (best {max(values):{r.spec}})")
        elif r.end == "last" and r.key in last:
            value = int(last[r.key]) if r.spec == "d" else last[r.key]
            parts.append(f"{r.label} {value:{r.spec}}")
    parts.append(f"checkpoints in {run_dir / 'nn'}")
    if videos:
        parts.append(f"{len(videos)} video(s) in {videos[-1].parent}")
    return "; ".join(parts)


def budget_done(epoch: int, frame: int, max_epochs: int, max_frames: int) -> float | None:
    """Fraction of the run's budget done, in [0, 1]: the larger of epoch/max_epochs and frame/max_frames (a run
    stops at whichever limit comes first); None when neither limit is set (values <= 0)."""
    parts = [epoch / max_epochs if max_epochs > 0 else None, frame / max_frames if max_frames > 0 else None]
    done = [p for p in parts if p is not None]
    return min(1.0, max(done)) if done else None


def eta_seconds(elapsed: float, done_at_start: float, done_now: float) -> float | None:
    """Seconds left at the rate of this session: ``elapsed`` seconds took the budget fraction from
    ``done_at_start`` (> 0 after a resume) to ``done_now``; None before any progress."""
    progress = done_now - done_at_start
    if elapsed <= 0 or progress <= 0:
        return None
    return max(0.0, (1.0 - done_now) * elapsed / progress)


def ga_time_budget_warning(*, rate: float, elapsed: float, max_seconds: float, frame: int, budget: int,
                           warmup: int, interval: int) -> str | None:
    """A warning when ``max_seconds`` will end the run before half of the GA checks that the frame ``budget``
    schedules (``config.ga_schedule`` spreads them over max_epochs / max_frames, not over time); None otherwise.

    ``rate``: env steps per second so far; ``frame``: env steps done, ``elapsed`` s into this session.
    """
    reach = int(frame + rate * max(0.0, max_seconds - elapsed))
    planned, reached = checks_within(budget, warmup, interval), checks_within(reach, warmup, interval)
    if reach >= budget or 2 * reached >= planned:
        return None
    suggest = float(f"{reach:.2g}")
    return (f"[epo_isaac] warning: at {rate:,.0f} env steps/s max_seconds={max_seconds:g} ends the run near "
            f"{reach:,} env steps, after {reached} of the {planned} GA checks scheduled over {budget:,} env steps "
            f"(max_epochs / train.ppo.max_frames); to spread them over the time budget set "
            f"train.ppo.max_frames={suggest:.0f}")


def clock(seconds: float | None) -> str:
    """``h:mm:ss`` (or ``mm:ss`` under an hour); ``–`` for None."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class ProgressObserver(AlgoObserver):
    """Prints one line per epoch (frames, fps, master return/successes, mean fitness, GA events)
    and, for agents without their own population stats (stock PPO), logs task extras to TensorBoard."""

    def __init__(self, print_every: int = 1, say: Callable[[str], None] = print,
                 clock_fn: Callable[[], float] = time.perf_counter, max_seconds: float = 0.0) -> None:
        super().__init__()
        self.print_every = print_every
        self.max_seconds = max_seconds  # wall-clock budget of this session (0: none); ends the run after an epoch
        self.say = say  # where the epoch line goes (train.py: the console and the run's log)
        self.now = clock_fn
        self.algo: Any = None
        self.stats: EpochStats | None = None
        self.history: list[dict[str, float]] = []
        self._ga_checked = False  # the time-budget check of the GA schedule ran (once per session)

    def after_init(self, algo: Any) -> None:
        self.algo = algo
        # rl_games calls after_init from inside the agent's __init__, before our agent's own attributes
        # exist: ask the class whether it keeps per-agent statistics (EPOAgent) or not (stock PPO).
        if not getattr(type(algo), "reports_population_stats", False):
            self.stats = EpochStats(algo.num_actors, 1, algo.ppo_device)
        self._last_time = self.now()
        self._start: tuple[float, float | None] | None = None  # (time, budget done) when this session began

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
        now = self.now()
        seconds = max(now - self._last_time, 1e-9)
        fps = algo.curr_frames / seconds  # this epoch's env steps (a resumed run starts at its saved frame)
        max_epochs, max_frames = int(algo.max_epochs), int(algo.max_frames)
        if self._start is None:
            before = budget_done(epoch_num - 1, algo.frame - algo.curr_frames, max_epochs, max_frames)
            self._start = (self._last_time, before)
            self._start_frame = algo.frame - algo.curr_frames
        self._last_time = now
        done = budget_done(epoch_num, algo.frame, max_epochs, max_frames)
        elapsed = now - self._start[0]
        if self.max_seconds > 0:
            done = max(done or 0.0, min(1.0, elapsed / self.max_seconds))
            if elapsed >= self.max_seconds and (max_epochs <= 0 or epoch_num < max_epochs):
                algo.max_epochs = epoch_num  # rl_games (and ES) end the run after this epoch, with a checkpoint
                self.say(f"[epo_isaac] max_seconds={self.max_seconds:g} reached after {clock(elapsed)}: last epoch")
        self._check_ga_time_budget(algo, elapsed, max_epochs, max_frames)
        eta = eta_seconds(elapsed, self._start[1] or 0.0, done) if done is not None else None
        mean_return = None
        if algo.game_rewards.current_size > 0:
            mean_return = float(np.asarray(algo.game_rewards.get_mean()).reshape(-1)[0])
        row = {"epoch": epoch_num, "frames": algo.frame, "fps": fps, "epoch_seconds": seconds,
               "return": float(mean_return) if mean_return is not None else float("nan"), **summary}
        row["seconds"] = elapsed  # wall-clock since this session started (curves against time)
        self.history.append(row)
        algo.writer.add_scalar("performance/epoch_fps", fps, frame)
        if epoch_num % self.print_every:
            return
        word = getattr(algo, "epoch_word", "epoch")  # ES counts iterations
        parts = [f"{word} {epoch_num}" + (f"/{max_epochs}" if max_epochs > 0 else ""),
                 f"frames {algo.frame:,}" + (f"/{max_frames:,}" if max_frames > 0 else ""), f"fps {fps:,.0f}",
                 f"elapsed {clock(elapsed)}", f"ETA {clock(eta)}", f"return {_fmt(row['return'])}"]
        parts += epoch_parts(summary)
        event = getattr(algo, "epoch_summary", {}).get("_ga_event")
        if event:
            if event["ran"]:
                parts.append(f"GA gen {algo.generation}: replaced {event['replaced']}")
            else:
                parts.append(f"GA skipped ({event['reason']})")
        self.say(" | ".join(parts))

    def _check_ga_time_budget(self, algo: Any, elapsed: float, max_epochs: int, max_frames: int) -> None:
        """Once, after 3 epochs and min(60 s, 5 % of max_seconds): warn when the time budget cuts the GA's
        frame-based schedule short (:func:`ga_time_budget_warning`)."""
        # self.history: this session's earlier epochs (this one is appended after the check)
        if (self._ga_checked or self.max_seconds <= 0 or not getattr(algo, "ga_enabled", False)
                or len(self.history) < 2 or elapsed < min(60.0, 0.05 * self.max_seconds)):
            return
        self._ga_checked = True
        limits = [max_epochs * algo.curr_frames] if max_epochs > 0 else []
        limits += [max_frames] if max_frames > 0 else []
        if not limits:
            return
        warning = ga_time_budget_warning(
            rate=(algo.frame - self._start_frame) / max(elapsed, 1e-9), elapsed=elapsed, max_seconds=self.max_seconds,
            frame=algo.frame, budget=min(limits), warmup=algo.ga_warmup, interval=algo.ga_interval)
        if warning:
            self.say(warning)


class ObserverGroup(AlgoObserver):
    """Forwards every rl_games observer call to each of ``observers`` in order (the Runner takes one)."""

    def __init__(self, *observers: AlgoObserver) -> None:
        super().__init__()
        self.observers = observers
        # where an agent's own console lines go (ES reports excluded members): the first observer's ``say``
        self.say: Callable[[str], None] = next((o.say for o in observers if hasattr(o, "say")), print)

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
