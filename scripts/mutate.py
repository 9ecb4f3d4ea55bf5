"""The mutation score of the lifecycle modules (docs/testing.md, "Mutation score").

    python3 tasks.py mutate [MODULE ...] [--max-children N] [--time-limit S] [--survivors]

For each module (all of MODULES when none is named) this lays out ``.mutation/<module>/`` the
way mutmut 3 expects a project: the package under ``src/`` (mutmut names a mutant after the
file's path less ``src/``, and the tests import ``meshed_crystal``, not ``handler.meshed_crystal``),
the tests, the events, and a pyproject.toml with the pytest settings and a ``[tool.mutmut]`` that
mutates that one module and runs the tests listed for it in MODULES. mutmut then runs each
mutant against the tests that call the mutated function, and this prints one row per module:
mutants, killed, survived, timeout, no tests, and the score, (killed + timeout) / checked.

``--survivors`` writes each surviving mutant's diff to ``.mutation/<module>/survivors.txt``.
``--time-limit`` stops a module's run after that many seconds; its row is then partial (the
mutants not reached are counted as "not checked" and left out of the score), and ``--resume``
goes on from there.

Not part of ``tasks.py test`` or CI: a run takes minutes per module. mutmut and its own
dependencies come from requirements-mutation.txt (``tasks.py mutate`` installs them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIB = REPO / ".mutation" / "lib"
# Where the per-module copies go (another directory lets two runs proceed side by side).
WORK = REPO / os.environ.get("MUTATION_DIR", ".mutation")
PACKAGE = "meshed_crystal"

# The tests that exercise each module: what every mutant of it is run against (mutmut narrows
# this further, per mutated function, to the tests that called it in a clean run).
_LIFECYCLE = [
    "tests/integration/test_lifecycle.py",
    "tests/integration/test_lifecycle_delete.py",
    "tests/integration/test_lifecycle_replacement.py",
    "tests/integration/test_provider.py",
]
MODULES: dict[str, list[str]] = {
    "identity": ["tests/unit/test_identity.py", *_LIFECYCLE],
    "retry": [
        "tests/unit/test_retry.py",
        "tests/integration/test_lifecycle_throttling.py",
        "tests/integration/test_transient_errors.py",
        "tests/integration/test_ecs_throttle.py",
        # Not test_lifecycle_appmesh_gone.py: it exercises the suspect path too, but its 46
        # tests take a minute and more per surviving mutant on a 2-core machine.
    ],
    "logs": [
        "tests/unit/test_logs.py",
        "tests/integration/test_lifecycle_logs.py",
    ],
    "protocol": [
        "tests/unit/test_protocol.py",
        "tests/integration/test_lifecycle_protocol.py",
        "tests/integration/test_response_put.py",
        # Not test_cfn_driver.py nor test_lifecycle_logs.py: they call the protocol too, but
        # they hold the test driver and the logs to account, and cost minutes per survivor.
    ],
    # The lifecycle, the contract between it and the modes, and both modes: against the fast
    # tier (tests/fast: the lifecycle and both modes on in-memory fakes of the ports, held to
    # the emulator by tests/integration/test_port_contract.py), seconds per mutant.
    "actions": ["tests/fast"],
    "mode": ["tests/fast", "tests/unit/test_mode.py"],
    "modes/appmesh/mode": ["tests/fast", "tests/unit/test_appmesh_mode_rules.py"],
    "modes/service_connect/mode": ["tests/fast", "tests/unit/test_service_connect_rules.py"],
}
# Copied beside the package and the tests: what the selected tests read.
ALSO_COPY = ["events", "lint", "template.yaml"]

# mutmut's exit codes (mutmut.stats.status_by_exit_code), grouped for the table.
KILLED = {1, 3, 37}
SURVIVED = {0}
NO_TESTS = {5, 33}
TIMEOUT = {24, -24, 152, 255, 36}
NOT_CHECKED = {None, 2, 34}

# mutmut runs pytest several times in one process (stats, clean run, then a fork per mutant): a
# logging handler made at import in the first session holds that session's captured stdout,
# closed by the next. This plugin, loaded in the staged runs only, points such handlers at the
# current stdout.
PLUGIN = "mutation_plugin"
PLUGIN_SOURCE = '''"""Loaded by scripts/mutate.py in its mutmut runs only."""

import logging
import sys


def pytest_sessionstart(session):
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    for lg in loggers:
        for handler in lg.handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and getattr(stream, "closed", False):
                handler.stream = sys.stdout
'''

_RUN_MUTMUT = "import sys; from mutmut.__main__ import cli; sys.exit(cli())"


def _ignore(_directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n in ("__pycache__", ".pytest_cache") or n.endswith(".pyc")]


def _pyproject(module: str, tests: list[str]) -> str:
    pytest_config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]
    ini = dict(pytest_config["ini_options"])
    ini["pythonpath"] = ["src", "."]
    ini.pop("testpaths", None)
    mutmut = {
        "source_paths": ["src"],
        "only_mutate": [f"src/{PACKAGE}/{module}.py"],
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-W", "ignore", "-p", PLUGIN],
        "also_copy": [*ALSO_COPY, f"{PLUGIN}.py"],
        # No git here; the run is made from scratch each time.
        "use_git_change_detection": False,
        # Forking each mutant's test run straight from the process that ran the clean suite
        # (mutmut's default) inherits moto's and crhelper's threads, and the children hang; a
        # fork server that has only collected the tests is clean.
        "process_isolation": "forkserver",
    }
    lines = ["[tool.pytest.ini_options]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in ini.items()]
    lines += ["", "[tool.mutmut]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in mutmut.items()]
    return "\n".join(lines) + "\n"


def stage(module: str) -> Path:
    """A fresh .mutation/<module>/ holding what mutmut copies into its mutants/ directory."""
    root = WORK / module
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    shutil.copytree(REPO / "handler" / PACKAGE, root / "src" / PACKAGE, ignore=_ignore)
    shutil.copytree(REPO / "tests", root / "tests", ignore=_ignore)
    for name in ALSO_COPY:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=_ignore)
        else:
            shutil.copy2(source, root / name)
    (root / f"{PLUGIN}.py").write_text(PLUGIN_SOURCE)
    tests = [t for t in MODULES[module] if (REPO / t).exists()]
    (root / "pyproject.toml").write_text(_pyproject(module, tests))
    return root


def run_mutmut(root: Path, args: list[str], *, time_limit: float, log: Path) -> bool:
    """mutmut ARGS in ROOT with its output in LOG; False if stopped at the time limit."""
    env = {**os.environ, "PYTHONPATH": str(LIB)}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", _RUN_MUTMUT, *args],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            process.wait(timeout=time_limit)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            return False
    return True


def results(root: Path, module: str) -> dict[str, int | None]:
    meta = root / "mutants" / "src" / PACKAGE / f"{module}.py.meta"
    if not meta.exists():
        return {}
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    return codes


def tally(codes: dict[str, int | None]) -> Counter[str]:
    counts: Counter[str] = Counter(mutants=len(codes))
    for code in codes.values():
        if code in KILLED:
            counts["killed"] += 1
        elif code in SURVIVED:
            counts["survived"] += 1
        elif code in TIMEOUT:
            counts["timeout"] += 1
        elif code in NO_TESTS:
            counts["no tests"] += 1
        elif code in NOT_CHECKED:
            counts["not checked"] += 1
        else:
            counts["suspicious"] += 1
    return counts


def score(counts: Counter[str]) -> float:
    checked = counts["mutants"] - counts["not checked"]
    return 100.0 * (counts["killed"] + counts["timeout"]) / checked if checked else 0.0


COLUMNS = ("mutants", "killed", "survived", "timeout", "no tests", "not checked", "suspicious")


def table(rows: dict[str, tuple[Counter[str], float, bool]]) -> str:
    head = ["module", *COLUMNS, "score", "minutes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for module, (counts, minutes, whole) in rows.items():
        cells = [f"{module}.py" + ("" if whole else " (partial)")]
        cells += [str(counts[c]) for c in COLUMNS]
        cells += [f"{score(counts):.1f} %", f"{minutes:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_survivors(root: Path, module: str, codes: dict[str, int | None]) -> Path:
    out = root / "survivors.txt"
    names = sorted(k for k, v in codes.items() if v in SURVIVED | NO_TESTS)
    with out.open("w") as text:
        for name in names:
            shown = root / "show.log"
            run_mutmut(root, ["show", name], time_limit=120, log=shown)
            text.write(shown.read_text() + "\n")
    print(f"{len(names)} surviving mutants of {module}.py: {out.relative_to(REPO)}", flush=True)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(MODULES))
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--time-limit", type=float, default=15 * 60, help="seconds per module")
    parser.add_argument("--survivors", action="store_true", help="write survivors' diffs")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="go on with a partial run's copy (mutants it checked keep their results)",
    )
    options = parser.parse_args(argv)
    unknown = [m for m in options.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    if not (LIB / "mutmut").is_dir():
        print("mutmut is not installed: run `python3 tasks.py mutate`", file=sys.stderr)
        return 2
    rows: dict[str, tuple[Counter[str], float, bool]] = {}
    modules = options.modules or list(MODULES)
    # Each module's copy is made before any run starts: the runs measure the tree as it was
    # when the command was given, however long they take.
    roots = {
        module: WORK / module
        if options.resume and (WORK / module / "mutants").is_dir()
        else stage(module)
        for module in modules
    }
    for module, root in roots.items():
        print(f"mutating {module}.py against {' '.join(MODULES[module])}", flush=True)
        start = time.monotonic()
        whole = run_mutmut(
            root,
            ["run", "--max-children", str(options.max_children)],
            time_limit=options.time_limit,
            log=root / "mutmut.log",
        )
        minutes = (time.monotonic() - start) / 60
        codes = results(root, module)
        if not codes:
            print(f"mutmut produced no results for {module}.py; see {root / 'mutmut.log'}")
        rows[module] = (tally(codes), minutes, whole)
        print(table({module: rows[module]}).splitlines()[-1], flush=True)
        if options.survivors and codes:
            write_survivors(root, module, codes)
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
