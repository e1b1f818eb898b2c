"""``python -m bench.exploration``: its statistics on hand-made histories, and its bad input (one line, exit 2,
nothing run or written)."""

from __future__ import annotations

import gzip
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from bench import exploration
from bench.exploration import Spec, bootstrap_diff, check, final_success, frames_to_solve, success_curve


def history(rates: list[float | None], frames_per_epoch: int = 100) -> list[dict]:
    """One row per epoch; None: no master episode finished in that epoch (the key is absent)."""
    return [{"frames": (i + 1) * frames_per_epoch, **({} if r is None else {"master/successes": r})}
            for i, r in enumerate(rates)]


def test_success_curve_averages_the_last_window_of_epochs_with_episodes() -> None:
    w = exploration.WINDOW
    rates = [1.0, None, 0.0, *[0.5] * (w + 2)]
    frames, curve = success_curve(history(rates))
    assert frames.tolist()[:2] == [100, 300]  # the epoch without a finished episode is skipped
    assert curve[0] == 1.0 and curve[1] == 0.5  # fewer than WINDOW epochs so far: their mean
    assert curve[-1] == pytest.approx(0.5)  # the last WINDOW epochs with episodes are all 0.5
    assert curve[w - 1] == pytest.approx((1.0 + 0.0 + (w - 2) * 0.5) / w)


def test_final_success_is_the_mean_over_the_last_quarter_of_the_budget() -> None:
    h = history([0.0] * 75 + [1.0] * 20 + [None] * 3 + [0.5, 0.0])  # 100 epochs of 100 frames, budget 10,000
    assert exploration.FINAL == 0.25
    assert final_success(h, 10_000) == pytest.approx((1.0 * 20 + 0.5 + 0.0) / 22)
    assert math.isnan(final_success(history([None] * 10), 1000))


def test_frames_to_solve_ignores_the_epochs_before_every_env_finished_an_episode() -> None:
    w = exploration.WINDOW
    h = history([1.0] * (2 * w) + [0.0] * w + [1.0] * (2 * w))
    assert frames_to_solve(h, 0.9, settle=0) == 100 * w  # the start reads solved: only successes finished yet
    # after the start: the first full window of the 0/1 tail whose mean is >= 0.9 ends at the ceil(0.9 w)-th 1.0
    assert frames_to_solve(h, 0.9, settle=100 * 2 * w) == 100 * (3 * w + math.ceil(0.9 * w))
    assert frames_to_solve(history([1.0] * w + [0.95] * (3 * w)), 0.99, settle=100 * w) == math.inf


def test_bootstrap_interval_brackets_the_difference_and_excludes_zero_when_separated() -> None:
    diff, low, high = bootstrap_diff([0.9, 0.8, 0.85, 0.95, 0.9], [0.1, 0.2, 0.15, 0.1, 0.05])
    assert diff == pytest.approx(0.88 - 0.12)
    assert 0 < low < diff < high
    diff, low, high = bootstrap_diff([0.1, 0.9, 0.5, 0.2, 0.8], [0.2, 0.7, 0.6, 0.3, 0.6])
    assert low < 0 < high


def test_a_cached_record_made_with_other_settings_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(exploration, "DATA", tmp_path)
    spec = Spec("PPO", 1, 512, 100_000)
    other = Spec("PPO", 1, 512, 200_000)
    with gzip.open(spec.record, "wt") as f:
        json.dump({"settings": other.settings(), "history": []}, f)
    problem = check([spec], fresh=False)
    assert problem is not None and "PPO_seed1.json.gz was made with other settings" in problem
    assert "train.ppo.max_frames=200000 (now 100000)" in problem and "--fresh" in problem
    assert check([spec], fresh=True) is None
    with gzip.open(spec.record, "wt") as f:
        json.dump({"settings": spec.settings(), "history": []}, f)
    assert check([spec], fresh=False) is None


def test_a_ga_setting_invalidates_epo_records_only(tmp_path, monkeypatch) -> None:
    """A changed GA default must not invalidate PPO or SAPG records (no GA runs there), but must an EPO record's."""
    monkeypatch.setattr(exploration, "DATA", tmp_path)
    for variant, refused in (("PPO", False), ("SAPG", False), ("EPO-8", True)):
        spec = Spec(variant, 1, 512, 100_000)
        made = spec.settings()
        made["train"]["ga"]["gate"] = "ratio" if made["train"]["ga"]["gate"] != "ratio" else "off"
        with gzip.open(spec.record, "wt") as f:
            json.dump({"settings": made, "history": []}, f)
        problem = check([spec], fresh=False)
        assert (problem is not None and "train.ga.gate=" in problem) == refused, (variant, problem)


def test_a_population_that_does_not_divide_the_envs_is_one_line_and_exit_2() -> None:
    before = sorted(p.name for p in exploration.DATA.glob("*")) if exploration.DATA.is_dir() else []
    proc = subprocess.run([sys.executable, "-m", "bench.exploration", "--variants", "EPO-64", "--num-envs", "4000",
                           "--seeds", "1"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "EPO-64 at --num-envs 4000" in lines[0] and "does not divide" in lines[0]
    after = sorted(p.name for p in exploration.DATA.glob("*")) if exploration.DATA.is_dir() else []
    assert after == before
    assert not np.any([p.name.startswith("EPO-64_seed1") for p in (ROOT / "bench" / "results").glob("**/*")])
