#!/usr/bin/env python3
"""The project's commands, for a fresh machine with only Python 3.11+.

    python3 tasks.py local [EVENT.json ...]   run the resource locally (no AWS account)
    python3 tasks.py test                     linters, type checks and the whole test suite
    python3 tasks.py test --quick             linters, type checks and the pure tests (seconds)
    python3 tasks.py test --without-mode appmesh
                                              the product without App Mesh (its folder, its
                                              registry line, the SDK's appmesh) and its tests
    python3 tasks.py bench                    benchmarks (figures, not pass/fail)
    python3 tasks.py mutate [MODULE ...]      mutation score of the lifecycle modules (figures,
                                              minutes per module; docs/testing.md)
    python3 tasks.py plan PROPERTIES.json --task-definition TD.json [--full]
                                              what the properties would make (no AWS call)
    python3 tasks.py migrate TEMPLATE_OR_DIR... --out DIR [--parameter STACK.KEY=VALUE]
                                              plan and write a fleet's move off App Mesh
                                              (no AWS call; docs/migration.md)
    python3 tasks.py migrate --check DIR --step N
                                              read the account: may step N start?

Each first makes .venv (once, and again when requirements-dev.txt changes) and installs the
pinned requirements into it, then runs inside it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent
VENV = REPO / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
REQUIREMENTS = [REPO / "requirements-dev.txt", REPO / "handler" / "requirements.txt"]
STAMP = VENV / ".requirements.sha256"


def _digest() -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in REQUIREMENTS)).hexdigest()


def ensure_venv() -> None:
    if STAMP.exists() and STAMP.read_text() == _digest() and PYTHON.exists():
        return
    if not PYTHON.exists():
        print(f"creating {VENV.name} with {sys.executable}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    print("installing the pinned requirements (first run takes a few minutes)", flush=True)
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-r", str(REPO / "requirements-dev.txt")], check=True)
    STAMP.write_text(_digest())


def run(*command: str) -> int:
    print("$", " ".join(command), flush=True)
    return subprocess.run(
        command,
        cwd=REPO,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
    ).returncode


def local(args: list[str]) -> int:
    return run(str(PYTHON), "scripts/local_run.py", *args)


# The quick tier: the pure tests and the fast tier (the lifecycle and both modes on in-memory
# fakes; no emulator, no process started), after the same linters and type checks; mypy is
# incremental, so only its first run on a machine takes long.
QUICK_TESTS = ("tests/unit", "tests/fast")


def test(args: list[str]) -> int:
    if args[:1] == ["--without-mode"]:
        if len(args) < 2:
            print("--without-mode needs a mode's package name, e.g. appmesh")
            return 2
        return run(str(PYTHON), "scripts/without_mode.py", *args[1:])
    quick = "--quick" in args
    args = [a for a in args if a != "--quick"]
    for step in (("ruff", "check", "."), ("ruff", "format", "--check", "."), ("mypy",)):
        code = run(str(BIN / step[0]), *step[1:])
        if code:
            return code
    return run(str(PYTHON), "-m", "pytest", *(QUICK_TESTS if quick else ()), *args)


def bench(args: list[str]) -> int:
    return run(str(PYTHON), "-m", "bench", *args)


# mutmut needs a newer click than aws-sam-cli allows, so it is not installed into .venv: its
# pinned packages go, without dependencies, into .mutation/lib, which only the mutation run puts
# on sys.path ahead of .venv's (scripts/mutate.py).
MUTATION_REQUIREMENTS = REPO / "requirements-mutation.txt"
MUTATION_LIB = REPO / ".mutation" / "lib"
MUTATION_STAMP = MUTATION_LIB / ".requirements.sha256"


def mutate(args: list[str]) -> int:
    digest = hashlib.sha256(MUTATION_REQUIREMENTS.read_bytes()).hexdigest()
    if not (MUTATION_STAMP.exists() and MUTATION_STAMP.read_text() == digest):
        print("installing the pinned mutation-testing requirements", flush=True)
        pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q", "install"]
        target = ["--no-deps", "--upgrade", "--target", str(MUTATION_LIB)]
        subprocess.run([*pip, *target, "-r", str(MUTATION_REQUIREMENTS)], check=True)
        MUTATION_STAMP.write_text(digest)
    return run(str(PYTHON), "scripts/mutate.py", *args)


def plan(args: list[str]) -> int:
    return run(str(PYTHON), "scripts/plan.py", *args)


def migrate(args: list[str]) -> int:
    return run(str(PYTHON), "scripts/migrate.py", *args)


COMMANDS = {
    "local": local,
    "test": test,
    "bench": bench,
    "plan": plan,
    "migrate": migrate,
    "mutate": mutate,
}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        return 2
    ensure_venv()
    return COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
