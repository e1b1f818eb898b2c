"""Every benchmark runs one way, ``python -m bench.<name>``: its docstring says so, it imports as a module of the
``bench`` package, and a direct ``python bench/<name>.py`` is one line and exit status 2, not a traceback."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys

import pytest
from conftest import ROOT

SCRIPTS = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if "__main__" in p.read_text())


def test_every_script_is_found() -> None:
    assert {"gpu_check", "scaling", "evolution", "learning", "overhead"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_usage_says_python_m_bench(name: str) -> None:
    doc = ast.get_docstring(ast.parse((ROOT / "bench" / f"{name}.py").read_text()))
    assert f"python -m bench.{name}" in doc
    assert "python bench/" not in doc


@pytest.mark.parametrize("name", SCRIPTS)
def test_imports_as_a_module_of_the_package(name: str) -> None:
    assert callable(importlib.import_module(f"bench.{name}").main)


def test_a_direct_run_is_one_line_and_exit_2() -> None:
    for name in SCRIPTS:
        proc = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), "--help"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert (proc.returncode, proc.stdout) == (2, ""), name
        assert proc.stderr == f"run it from the repository root as: python -m bench.{name}\n"


def test_one_rank_is_this_python_and_more_are_torchrun() -> None:
    from bench.launch import command

    assert command(["-m", "bench.scaling", "--worker"]) == [sys.executable, "-m", "bench.scaling", "--worker"]
    assert command(["w.py", "a"], ranks=3) == [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                               "--nproc_per_node=3", "w.py", "a"]
    with pytest.raises(ValueError, match="ranks=0"):
        command(["w.py"], ranks=0)
