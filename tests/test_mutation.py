"""Mutation-checked tests (issue 25, ``bench.mutation``): mutmut's mutants of the gate module are killed by its
fast tests at least as often as measured, and a module the bench does not know is one line and exit status 2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

# Measured 2026-12-03 (mutmut 3.8.1, tests/test_gate.py): 134 of 178 gate mutants killed (0.7528), then 159 of 178
# (0.8933, 105 s on one core) once the ratio gate's boundaries and the closed gates' False were tested. The floor
# sits just under it: a change that lowers it (weaker tests, or new gate code no test checks) fails here; raise it
# when tests/test_gate.py kills more. The 19 survivors: error texts, the all-equal short-cut, scipy's non-finite
# fallback, p exactly at the threshold.
GATE_FLOOR = 0.88


@pytest.mark.slow
def test_gate_mutants_are_killed_at_least_as_often_as_measured(tmp_path: Path) -> None:
    pytest.importorskip("mutmut", reason="the [mutation] extra: pip install -e .[mutation]")
    proc = subprocess.run([sys.executable, "-m", "bench.mutation", "--modules", "gate", "--results-dir",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fraction = float(re.search(r"^mutation_gate_killed_fraction=([0-9.]+)$", proc.stdout, re.M)[1])
    assert fraction >= GATE_FLOOR, proc.stdout
    counts = re.search(r"^mutants=(\d+) killed=(\d+) survived=(\d+) timeout=(\d+)", proc.stdout, re.M)
    assert counts and int(counts[1]) > 100  # every function of gate.py was mutated, not a few
    assert re.search(r"^mutation_survivors=\d+$", proc.stdout.splitlines()[-1])
    assert (tmp_path / "mutation_gate.txt").read_text().startswith("== gate: epo_isaac/epo/gate.py")


def test_an_unknown_module_is_one_line_and_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.mutation", "--modules", "gate", "nosuch", "--workdir",
                           str(tmp_path / "work"), "--results-dir", str(tmp_path / "results")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.count("\n") == 1 and "nosuch" in proc.stderr and "gate" in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []
