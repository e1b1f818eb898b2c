"""``bench/device_setup.sh dry-run`` (issue 26 item 1): the bundle for the lent GPU machine is built, carried part by
part, installed with no package index into a fresh Python 3.12 venv holding only that machine's own packages, and
``python -m bench.gpu_check --dry-run`` passes in it. Slow (downloads, xz, a cold Warp kernel cache: 10-20 min) and
needs the network and a Python 3.12 (pyenv)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_device_bundle_installs_without_an_index_and_runs_the_dry_check(tmp_path: Path) -> None:
    if shutil.which("xz") is None:
        pytest.skip("needs xz")
    run = subprocess.run(["bash", "bench/device_setup.sh", "dry-run", str(tmp_path / "bundle")], cwd=ROOT,
                         capture_output=True, text=True, timeout=3600)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "[device_setup] dry run passed" in run.stdout and "gpu_train_fps=" in run.stdout
    parts = sorted((tmp_path / "bundle").glob("bundle.tar.part-*"))
    assert 1 <= len(parts) <= 2 and all(p.stat().st_size <= 56 * 2**20 for p in parts)
