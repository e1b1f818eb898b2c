"""Same seed, same run across refactors: short seeded Pendulum runs of EPO, SAPG, PPO and ES reproduce the
fingerprints recorded on the code before issue 21's layout move (``tests/behaviour.py``).

On the recording machine the SHA-256 of every checkpoint tensor matched exactly after the move; the assertion
here compares the per-tensor sums with a relative tolerance of 1e-6 (a changed update, GA step, RNG draw or
normaliser moves them by far more), so a CPU with other floating-point kernels does not fail it spuriously.
"""

from __future__ import annotations

import json

import pytest
from behaviour import DATA, RUNS, run_all


@pytest.fixture(scope="module")
def fingerprints(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_all(tmp_path_factory.mktemp("behaviour"))


@pytest.mark.parametrize("algo", list(RUNS))
def test_run_reproduces_the_recorded_fingerprint(fingerprints: dict, algo: str) -> None:
    recorded, now = json.loads(DATA.read_text())[algo], fingerprints[algo]
    assert sorted(now["sums"]) == sorted(recorded["sums"]), "the checkpoint holds other tensors than before"
    for key, (total, magnitude) in recorded["sums"].items():
        assert now["sums"][key] == pytest.approx([total, magnitude], rel=1e-6, abs=1e-9), key
    assert len(now["history"]) == len(recorded["history"])
    for epoch, (a, b) in enumerate(zip(now["history"], recorded["history"], strict=True), 1):
        assert sorted(a) == sorted(b), f"epoch {epoch}: logged keys differ"
        assert a == pytest.approx(b, rel=1e-6), f"epoch {epoch}"
