"""``python -m bench.gpu_check`` keeps going past a failed stage. The stages themselves need a GPU (their dry run on
Warp's CPU device is the slow ``tests/allegro_kuka/test_warp.py::test_gpu_check_dry_run``); here they are
replaced by stand-ins that record their calls, one of which raises."""

from __future__ import annotations

from typing import Any

import pytest

from bench import gpu_check


def test_a_failed_stage_is_one_line_and_the_others_still_run(monkeypatch: pytest.MonkeyPatch,
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
    with pytest.raises(SystemExit, match=r"1 stage\(s\) failed: physics_one_arm"):
        gpu_check.main([])
    assert calls == ["correct one_arm", "correct two_arms", "physics one_arm", "physics two_arms", "train"]
    out = capsys.readouterr()
    lines = [line for line in out.out.splitlines() if "=" in line and not line.startswith("#")]
    assert lines[0] == "physics_one_arm_error=RuntimeError: CUDA error: out of memory"
    assert lines[1:3] == ["gpu_train_fps=123", "contact_overflows=0"] and lines[3].startswith("total_seconds=")
    assert "Traceback" in out.err
