"""Mutation testing of the core modules (issue 25): how many small changes (mutants) of each module its own fast
unit tests catch, and which ones survive them.

    python -m bench.mutation [--modules gate losses ...] [--workdir DIR] [--jobs 1] [--results-dir bench/results]

For each module of ``MODULES`` (default: all), copies the repository (the files git tracks or would track, so
uncommitted edits are included; the checkout itself is never mutated) to ``<workdir>/<module>`` (default: a
temporary folder, removed afterwards; with ``--workdir`` it is kept, for ``mutmut browse`` there), appends a
``[tool.mutmut]`` table to the copy's pyproject.toml and runs ``mutmut run`` (mutmut 3, ``pip install -e
.[mutation]``) in it. mutmut rewrites every function of the module into its mutants (an operator swapped, a
constant or string changed, an argument dropped, ...) behind a trampoline, records which of the module's tests
run which function, then for each mutant forks a worker (from a fork server: torch is not fork-safe after use)
that runs just those tests: killed = a test failed, timeout = over mutmut's CPU-time limit (30 × (the tests' time
+ 1 s)), survived = every test passed, no_tests = no test runs the function.

mutmut 3 mutates function bodies only: module constants, class bodies (dataclass defaults) and functions with a
decorator other than ``@staticmethod``/``@classmethod`` (e.g. ``@torch.no_grad()``: ``agent.relabel_for_master``)
are not mutated.

Prints per module ``mutants= killed= survived= timeout= no_tests= other= wall_s=`` and every surviving mutant
(``file:line``, its mutmut name, the original line and the mutated one), writes the same to
``<results-dir>/mutation_<module>.txt``; the last lines are ``mutation_<module>_killed_fraction=`` ((killed +
timeout) / mutants) per module and ``mutation_survivors=`` (survived + no_tests over the modules run).
Deterministic: the same mutants, and the tests are seeded. Wall time, one mutant at a time at nice 19 next to a
busy core (2026-12-03, mutmut 3.8.1): checkpoint 1 min, gate 2, rewards 2, kernels 3.5, losses 4.5, rollout 5,
population 5, genetic 10.5, agent 11 (its tests build an SAPG agent per mutant); all nine 45 min.
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python bench/mutation.py``: the package imports below would fail
    print("run it from the repository root as: python -m bench.mutation", file=sys.stderr)
    sys.exit(2)

import argparse
import ast
import fnmatch
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.launch import ROOT


@dataclass(frozen=True)
class Module:
    """A module to mutate: its source path, the pytest arguments that select its fast tests, and (optional) the
    only functions to mutate."""

    source: str
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()


MODULES: dict[str, Module] = {
    "losses": Module("epo_isaac/epo/losses.py", ("tests/test_losses.py",)),
    "genetic": Module("epo_isaac/epo/genetic.py", ("tests/test_genetic.py",)),
    "gate": Module("epo_isaac/epo/gate.py", ("tests/test_gate.py",)),
    "population": Module("epo_isaac/epo/population.py", ("tests/test_population.py",)),
    "rollout": Module("epo_isaac/epo/rollout.py", ("tests/test_rollout.py",)),
    # the SAPG dataset; relabel_for_master has @torch.no_grad(), which mutmut 3 does not mutate
    "agent": Module("epo_isaac/epo/agent.py", ("tests/test_aggregation.py",), ("build_dataset", "relabel_for_master")),
    # the file handling, by the tests that need no training run (read_checkpoint and the check_* functions are
    # tested on checkpoints of tiny training runs: seconds per mutant). pid_running's mutants signal the pids they
    # are given (os.kill(pid, 1)): these tests give only this process's pid and a dead one
    "checkpoint": Module("epo_isaac/host/checkpoint.py",
                         ("tests/test_checkpoint.py", "-k", "stale_temp_files or interrupted_mid_write"),
                         ("checkpoint_path", "atomic_save", "pid_running", "remove_stale_temp_files")),
    "kernels": Module("tasks/allegro_kuka/kernels.py", ("tests/allegro_kuka/test_kernels.py",)),
    "rewards": Module("tasks/allegro_kuka/rewards.py", ("tests/allegro_kuka/test_kernels.py",)),
}
PACKAGES = ("epo_isaac", "tasks")  # mutmut's source_paths: copied into mutants/ and imported from there
STATUS = {"killed": "killed", "caught by type check": "killed", "survived": "survived", "timeout": "timeout",
          "no tests": "no_tests"}  # mutmut's status -> ours; anything else (suspicious, segfault, ...) is "other"
SEPARATOR = "ǁ"  # mutmut's separator of class and method in a mutant name


@dataclass
class Mutant:
    name: str
    status: str
    line: int = 0
    before: str = ""
    after: str = ""


@dataclass
class Outcome:
    module: str
    mutants: list[Mutant] = field(default_factory=list)
    wall_s: float = 0.0

    def count(self, status: str) -> int:
        return sum(m.status == status for m in self.mutants)

    @property
    def survivors(self) -> list[Mutant]:
        return [m for m in self.mutants if m.status in ("survived", "no_tests")]

    @property
    def killed_fraction(self) -> float:
        return (self.count("killed") + self.count("timeout")) / max(len(self.mutants), 1)


def copy_repository(dest: Path) -> None:
    """Copy the files git tracks or would track (not ignored) from the checkout to ``dest``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():  # a tracked file deleted in the working tree is skipped
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def configure(copy: Path, module: Module) -> None:
    """Append the ``[tool.mutmut]`` table for ``module`` to the copy's pyproject.toml."""
    pyproject = copy / "pyproject.toml"
    text = pyproject.read_text()
    if re.search(r"^\[tool\.mutmut\]", text, re.M):
        raise RuntimeError("pyproject.toml already has a [tool.mutmut] table; bench.mutation writes its own")
    also_copy = sorted(p.name for p in copy.iterdir() if p.name not in (*PACKAGES, "tests", "mutants"))
    table = {"source_paths": [f"{p}/" for p in PACKAGES], "only_mutate": [module.source], "also_copy": also_copy,
             "pytest_add_cli_args_test_selection": list(module.tests), "process_isolation": "forkserver",
             "use_git_change_detection": False}
    lines = [f"{key} = {json.dumps(value)}" for key, value in table.items()]  # JSON scalars and lists are TOML
    pyproject.write_text(text.rstrip("\n") + "\n\n[tool.mutmut]\n" + "\n".join(lines) + "\n")


def patterns(module: Module) -> list[str]:
    """mutmut names (fnmatch patterns) of the mutants of ``module.functions``; [] = every mutant."""
    dotted = module.source.removesuffix(".py").replace("/", ".")
    out = []
    for fn in module.functions:
        out += [f"{dotted}.x_{fn}__mutmut_*", f"{dotted}.x{SEPARATOR}*{SEPARATOR}{fn}__mutmut_*"]
    return out


def function_lines(source: Path) -> dict[tuple[str | None, str], tuple[int, int]]:
    """(class or None, function) -> (first line incl. decorators, last line) of the file's top-level functions and
    methods (the ones mutmut mutates)."""
    out: dict[tuple[str | None, str], tuple[int, int]] = {}
    tree = ast.parse(source.read_text())
    for node in tree.body:
        defs = [(None, node)] if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else []
        if isinstance(node, ast.ClassDef):
            defs = [(node.name, n) for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        for cls, fn in defs:
            first = min([fn.lineno] + [d.lineno for d in fn.decorator_list])
            out[(cls, fn.name)] = (first, fn.end_lineno or fn.lineno)
    return out


def locate(mutant: Mutant, diff: str, lines: list[str], spans: dict[tuple[str | None, str], tuple[int, int]]) -> None:
    """Fill ``mutant.line``/``before``/``after`` from mutmut's diff of the function (its line numbers count from
    the function's first line, comments above it included)."""
    key = mutant.name.rpartition(".")[2].partition("__mutmut_")[0]
    cls, fn = (key.split(SEPARATOR)[1:3] if SEPARATOR in key else (None, key.removeprefix("x_")))
    first, last = spans.get((cls, fn), (1, len(lines)))
    estimate, offset = first, 0
    for text in diff.splitlines():
        if hunk := re.match(r"@@ -(\d+)", text):
            offset = int(hunk[1])
        elif text.startswith("-") and not text.startswith("---") and not mutant.before:
            mutant.before = text[1:]
            estimate = first + offset - 1
        elif text.startswith("+") and not text.startswith("+++") and not mutant.after:
            mutant.after = text[1:]
        elif text.startswith(" ") and not mutant.before:
            offset += 1
    same = [i + 1 for i in range(first - 1, min(last, len(lines))) if lines[i] == mutant.before]
    mutant.line = min(same, key=lambda n: abs(n - estimate)) if same else estimate


def run_module(name: str, module: Module, workdir: Path, jobs: int) -> Outcome:
    """Copy the repository to ``workdir/name``, run mutmut there and read its verdicts."""
    from mutmut.stats import status_by_exit_code  # the optional [mutation] extra: imported once a run starts

    start = time.perf_counter()
    copy = workdir / name
    copy.mkdir(parents=True)
    copy_repository(copy)
    configure(copy, module)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "WANDB_MODE": "offline",
           "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    log = copy / "mutmut.log"
    wanted = patterns(module)
    with log.open("w") as out:
        proc = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs), *wanted],
                              cwd=copy, env=env, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").replace("\r", "\n").splitlines()[-30:]
        raise RuntimeError(f"mutmut run failed for {name} (exit {proc.returncode}); log {log}:\n" + "\n".join(tail))
    verdicts = json.loads((copy / "mutants" / f"{module.source}.meta").read_text())["exit_code_by_key"]
    outcome = Outcome(name)
    for key, code in verdicts.items():
        if not wanted or any(fnmatch.fnmatchcase(key, p) for p in wanted):
            outcome.mutants.append(Mutant(key, STATUS.get(status_by_exit_code[code], "other")))
    outcome.mutants.sort(key=lambda m: (m.name.partition("__mutmut_")[0], int(m.name.rpartition("_")[2])))
    source = copy / module.source
    lines, spans = source.read_text().splitlines(), function_lines(source)
    for mutant in outcome.survivors:
        diff = subprocess.run([sys.executable, "-m", "mutmut", "show", mutant.name], cwd=copy, env=env, check=True,
                              capture_output=True, text=True).stdout
        locate(mutant, diff, lines, spans)
    outcome.wall_s = time.perf_counter() - start
    return outcome


def report(outcome: Outcome, module: Module) -> str:
    """The module's block of the output: its counts, then one line per surviving mutant."""
    counts = " ".join(f"{s}={outcome.count(s)}" for s in ("killed", "survived", "timeout", "no_tests", "other"))
    text = [f"== {outcome.module}: {module.source}, tests: {' '.join(module.tests)}",
            f"mutants={len(outcome.mutants)} {counts} wall_s={outcome.wall_s:.0f}"]
    for m in sorted(outcome.survivors, key=lambda m: (m.line, m.name)):
        note = "  (no test runs this function)" if m.status == "no_tests" else ""
        text.append(f"{module.source}:{m.line}  {m.name}{note}\n    - {m.before.strip()}\n    + {m.after.strip()}")
    text += [f"{module.source}: {m.name} other" for m in outcome.mutants if m.status == "other"]
    return "\n".join(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modules", nargs="+", default=list(MODULES), metavar="MODULE",
                        help=f"any of: {' '.join(MODULES)} (default: all)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the copies (with mutmut's results) in DIR/<module>; default: a temporary folder")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at a time (mutmut --max-children)")
    parser.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    unknown = [m for m in args.modules if m not in MODULES]
    taken = [m for m in args.modules if args.workdir is not None and (args.workdir / m).exists()]
    if unknown or taken or args.jobs < 1:
        problem = (f"unknown module(s) {' '.join(unknown)}; choose from {' '.join(MODULES)}" if unknown else
                   f"{args.workdir / taken[0]} exists; pass another --workdir" if taken else "--jobs must be >= 1")
        print(f"bench.mutation: {problem}", file=sys.stderr)
        sys.exit(2)
    if importlib.util.find_spec("mutmut") is None:
        print("bench.mutation: mutmut is not installed; pip install -e .[mutation]", file=sys.stderr)
        sys.exit(2)
    modules = list(dict.fromkeys(args.modules))
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="mutation_") as tmp:
        workdir = args.workdir if args.workdir is not None else Path(tmp)
        for name in modules:
            try:
                outcome = run_module(name, MODULES[name], workdir.resolve(), args.jobs)
            except RuntimeError as exc:
                print(f"bench.mutation: {exc}", file=sys.stderr)
                sys.exit(1)
            block = report(outcome, MODULES[name])
            print(block, flush=True)
            args.results_dir.mkdir(parents=True, exist_ok=True)
            (args.results_dir / f"mutation_{name}.txt").write_text(block + "\n")
            outcomes.append(outcome)
    for outcome in outcomes:
        print(f"mutation_{outcome.module}_killed_fraction={outcome.killed_fraction:.4f}")
    print(f"mutation_survivors={sum(len(o.survivors) for o in outcomes)}")


if __name__ == "__main__":
    main()
