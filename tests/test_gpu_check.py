"""``python -m bench.gpu_check`` keeps going past a failed stage. The stages themselves need a GPU (their dry run on
Warp's CPU device is the slow ``tests/allegro_kuka/test_warp.py::test_gpu_check_dry_run``); here they are
replaced by stand-ins that record their calls, one of which raises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import gpu_check


def test_a_failed_stage_is_one_line_and_the_others_still_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[str] = []

    def physics(scene: str, *args: Any) -> None:
        calls.append(f"physics {scene}")
        if scene == "one_arm":
            raise RuntimeError("CUDA error: out of memory\nsecond line")

    monkeypatch.setattr(gpu_check, "OVERFLOWS", [])
    monkeypatch.setattr(gpu_check, "correctness", lambda scene, *a: calls.append(f"correct {scene}"))
    monkeypatch.setattr(gpu_check, "physics", physics)
    monkeypatch.setattr(gpu_check, "train_fps", lambda *a: calls.append("train") or 123.0)
    log = tmp_path / "gpu_check.log"
    with pytest.raises(SystemExit, match=r"1 stage\(s\) failed: physics_one_arm"):
        gpu_check.main(["--log", str(log)])
    assert calls == ["correct one_arm", "correct two_arms", "physics one_arm", "physics two_arms", "train"]
    out = capsys.readouterr()
    lines = [line for line in out.out.splitlines() if "=" in line and not line.startswith("#")]
    assert lines[0] == "physics_one_arm_error=RuntimeError: CUDA error: out of memory"
    assert lines[1:4] == ["train_seconds=120", "gpu_train_fps=123", "contact_overflows=0"]
    assert lines[4].startswith("total_seconds=")
    assert "Traceback" in out.err
    assert log.read_text() == out.out + out.err or set(lines) <= set(log.read_text().splitlines())


def test_stages_share_the_budget(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Each stage gets a deadline from what is left; training is shortened to fit; a stage with less than
    ``MIN_STAGE_SECONDS`` left is skipped (not a failure)."""
    deadlines: dict[str, float] = {}
    clock = [1000.0]
    monkeypatch.setattr(gpu_check.time, "perf_counter", lambda: clock[0])

    def stage(name: str, cost: float):
        def run(*args: Any) -> None:
            deadlines[name] = args[-1] - clock[0] if name.startswith("physics") else 0.0
            clock[0] += cost
        return run

    monkeypatch.setattr(gpu_check, "OVERFLOWS", [])
    monkeypatch.setattr(gpu_check, "correctness", lambda scene, *a: clock.__setitem__(0, clock[0] + 50.0))
    monkeypatch.setattr(gpu_check, "physics", lambda scene, *a: stage(f"physics {scene}", 100.0)(*a))
    budgets: list[float] = []
    monkeypatch.setattr(gpu_check, "train_fps", lambda dry, device, seconds: budgets.append(seconds) or 1.0)
    gpu_check.main(["--budget", "300", "--log", str(tmp_path / "log")])
    out = capsys.readouterr().out
    # 300 s: correctness 2 x 50 s, then physics one arm gets 0.35 x 200 s, two arms 0.5 x 100 s, training what is left
    assert deadlines == {"physics one_arm": pytest.approx(70.0), "physics two_arms": pytest.approx(50.0)}
    assert "train_skipped=budget" in out and not budgets  # 0 s left after two 100 s physics stages
    gpu_check.main(["--budget", "500", "--log", str(tmp_path / "log")])
    assert budgets == [pytest.approx(min(120.0, 0.0 + (500 - 300) - 60.0))]
