"""The epoch line's budget, elapsed time and ETA (pure functions and the observer on a fake clock)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from epo_isaac.host.config import checks_within
from epo_isaac.host.observer import (
    ProgressObserver,
    budget_done,
    clock,
    end_summary,
    eta_seconds,
    ga_time_budget_warning,
)


def test_budget_done_takes_the_limit_reached_first() -> None:
    assert budget_done(5, 100, 10, -1) == 0.5
    assert budget_done(5, 900, 10, 1000) == 0.9  # the frame limit comes first
    assert budget_done(20, 0, 10, -1) == 1.0
    assert budget_done(5, 100, -1, -1) is None


def test_eta_counts_this_session_only() -> None:
    assert eta_seconds(10.0, 0.0, 0.25) == pytest.approx(30.0)
    assert eta_seconds(10.0, 0.5, 0.75) == pytest.approx(10.0)  # resumed at half: 10 s per quarter
    assert eta_seconds(0.0, 0.0, 0.1) is None and eta_seconds(5.0, 0.3, 0.3) is None
    assert clock(None) == "–" and clock(75.4) == "01:15" and clock(3723) == "1:02:03"


class _Writer:
    def add_scalar(self, *args: object) -> None:
        pass


class _Agent(SimpleNamespace):
    reports_population_stats = True  # like EPOAgent: the observer keeps no statistics of its own


def _algo(frame: int, max_epochs: int, max_frames: int) -> _Agent:
    rewards = SimpleNamespace(current_size=0)
    return _Agent(num_actors=4, ppo_device="cpu", frame=frame, curr_frames=100, max_epochs=max_epochs,
                           max_frames=max_frames, game_rewards=rewards, writer=_Writer(), epoch_summary={})


def test_observer_line_on_a_fake_clock_after_a_resume() -> None:
    now = [0.0]
    lines: list[str] = []
    observer = ProgressObserver(say=lines.append, clock_fn=lambda: now[0])
    algo = _algo(frame=1000, max_epochs=20, max_frames=-1)  # resumed at epoch 10 of 20
    observer.after_init(algo)
    for epoch in (11, 12):
        now[0] += 2.0
        algo.frame += 100
        observer.after_print_stats(algo.frame, epoch, now[0])
    assert "epoch 12/20" in lines[-1] and "fps 50" in lines[-1]  # 100 frames in 2 s, not 1,100
    assert "elapsed 00:04" in lines[-1] and "ETA 00:16" in lines[-1]  # 8 epochs left at 2 s each
    frames = _algo(frame=0, max_epochs=-1, max_frames=1000)
    observer = ProgressObserver(say=lines.append, clock_fn=lambda: now[0])
    observer.after_init(frames)
    now[0] += 1.0
    frames.frame = 100
    observer.after_print_stats(100, 1, now[0])
    assert "frames 100/1,000" in lines[-1] and "ETA 00:09" in lines[-1]


def test_max_seconds_ends_the_run_after_the_epoch_that_passes_it() -> None:
    now = [0.0]
    lines: list[str] = []
    observer = ProgressObserver(say=lines.append, clock_fn=lambda: now[0], max_seconds=5.0)
    algo = _algo(frame=0, max_epochs=100, max_frames=-1)
    observer.after_init(algo)
    for epoch in (1, 2, 3):
        now[0] += 2.0
        algo.frame += 100
        observer.after_print_stats(algo.frame, epoch, now[0])
        assert algo.max_epochs == (100 if epoch < 3 else 3)  # rl_games stops when epoch_num >= max_epochs
    assert "ETA 00:01" in lines[1]  # the time budget is the limit reached first: 4 of 5 s spent, 1 left
    assert "max_seconds=5 reached after 00:06: last epoch" in lines[-2]
    assert [h["seconds"] for h in observer.history] == [2.0, 4.0, 6.0]


def test_ga_time_budget_warning_names_the_reachable_checks() -> None:
    assert [checks_within(f, 20, 10) for f in (19, 20, 29, 30, 320)] == [0, 1, 1, 2, 31]
    # 30 checks over 320 frames (warmup 20, every 10); at 1 frame/s, 100 s reach 100 frames: 9 checks
    kw = dict(rate=1.0, elapsed=10.0, max_seconds=100.0, frame=10, budget=320, warmup=20, interval=10)
    warning = ga_time_budget_warning(**kw)
    assert warning is not None and "near 100 env steps, after 9 of the 31 GA checks" in warning
    assert warning.endswith("train.ppo.max_frames=100")
    assert ga_time_budget_warning(**{**kw, "rate": 2.0}) is None  # 190 frames: 18 of 31 checks, over half
    assert ga_time_budget_warning(**{**kw, "budget": 90}) is None  # the frame budget ends the run first


def test_observer_warns_once_when_max_seconds_cuts_the_ga_schedule() -> None:
    now = [0.0]
    lines: list[str] = []
    observer = ProgressObserver(say=lines.append, clock_fn=lambda: now[0], max_seconds=1000.0)
    algo = _algo(frame=0, max_epochs=10_000, max_frames=-1)  # 1M frames; 100 frames/s reach 100k in 1000 s
    algo.ga_enabled, algo.ga_warmup, algo.ga_interval = True, 62_500, 31_250  # config.ga_schedule's 31 checks
    observer.after_init(algo)
    for epoch in range(1, 80):
        now[0] += 1.0
        algo.frame += 100
        observer.after_print_stats(algo.frame, epoch, now[0])
    warnings = [line for line in lines if "warning" in line]
    assert len(warnings) == 1 and "near 100,000 env steps, after 2 of the 31 GA checks" in warnings[0]
    assert lines.index(warnings[0]) == 49  # before the line of epoch 50 (min(60 s, 5 % of 1000 s) = 50 s): once


def test_epoch_line_reports_the_logged_keys_in_one_order() -> None:
    lines: list[str] = []
    observer = ProgressObserver(say=lines.append, clock_fn=lambda: 2.0)
    algo = _algo(frame=100, max_epochs=-1, max_frames=-1)
    algo.generation = 3
    algo.epoch_summary = {"fitness/mean": -1.5, "master/lift_rate": 0.25, "master/successes": float("nan"),
                          "es/sigma": 0.0123456, "test/best_return": 9.0, "test/return": 7.125,
                          "master/return": -12.345, "ga/generation": 3.0, "_ga_event": {"ran": True, "replaced": 2}}
    observer.after_init(algo)
    observer.after_print_stats(100, 1, 2.0)
    assert lines[-1].split(" | ")[6:] == ["master return -12.35", "test return 7.12 (best 9.00)", "σ 0.01235",
                                          "master successes –", "master lift rate 0.25", "mean fitness -1.50",
                                          "GA gen 3: replaced 2"]
    algo.epoch_summary = {"master/return": 1.0, "_ga_event": {"ran": False, "reason": "gate closed"}}
    observer.after_print_stats(200, 2, 2.0)
    assert lines[-1].split(" | ")[6:] == ["master return 1.00", "GA skipped (gate closed)"]


def test_end_summary_gives_the_last_and_best_of_each_reported_key(tmp_path: Path) -> None:
    nan = float("nan")
    history = [{"epoch": 1, "frames": 100, "master/return": 3.0, "master/successes": 0.5, "fitness/mean": 1.0},
               {"epoch": 2, "frames": 1200, "master/return": nan, "master/successes": 0.25, "ga/generation": 1.0},
               {"epoch": 3, "frames": 2300, "master/return": 2.0, "test/return": -4.0, "ga/generation": 2.0}]
    videos = [tmp_path / "videos" / "a.mp4", tmp_path / "videos" / "b.mp4"]
    assert end_summary(history, 61.4, tmp_path, videos) == (
        f"[epo_isaac] done: 3 epochs, 2,300 frames in 61 s; last master return 2.00 (best 3.00); last test return "
        f"-4.00 (best -4.00); last master successes 0.25 (best 0.50); GA generations 2; checkpoints in "
        f"{tmp_path / 'nn'}; 2 video(s) in {tmp_path / 'videos'}")
    assert end_summary(history[:1], 1.0, tmp_path, []) == (
        f"[epo_isaac] done: 1 epochs, 100 frames in 1 s; last master return 3.00 (best 3.00); last master "
        f"successes 0.50 (best 0.50); checkpoints in {tmp_path / 'nn'}")
