#!/usr/bin/env python3
"""The project's commands, for a fresh machine with only Python 3.11+.

    python3 tasks.py local [EVENT.json ...]   run the resource locally (no AWS account)
    python3 tasks.py test                     linters, type checks and the whole test suite
                                              (with a python3.13 for `sam build`: PATH or pyenv)
    python3 tasks.py test --quick             linters, type checks and the pure tests (seconds)
    python3 tasks.py test --without-mode appmesh
                                              the product without App Mesh (its folder, its
                                              registry line, the SDK's appmesh) and its tests
    python3 tasks.py lint TEMPLATE...         cfn-lint with the Custom::MeshedCrystal rules
    python3 tasks.py bench                    benchmarks (figures, not pass/fail)
    python3 tasks.py mutate [MODULE ...]      mutation score of the lifecycle modules (figures,
                                              minutes per module; docs/testing.md)
    python3 tasks.py plan PROPERTIES.json --task-definition TD.json [--full]
                                              what the properties would make (no AWS call)
    python3 tasks.py plan TEMPLATE [--logical-id ID] [--parameter KEY=VALUE]
                                   [--with IMPORTED_FROM] [--before OLD_TEMPLATE]
                                              the same from a template; the Update from OLD
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


def run(*command: str, env: dict[str, str] | None = None) -> int:
    print("$", " ".join(command), flush=True)
    base = os.environ if env is None else env
    return subprocess.run(
        command,
        cwd=REPO,
        env={**base, "PATH": f"{BIN}{os.pathsep}{base.get('PATH', '')}"},
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
    if quick:
        return run(str(PYTHON), "-m", "pytest", *QUICK_TESTS, *args)
    env, said = with_python313(dict(os.environ))
    print(said, flush=True)
    return run(str(PYTHON), "-m", "pytest", *args, env=env)


# `sam build` of the python3.13 runtime (tests/integration/test_template.py) needs a python3.13
# that runs. With pyenv, a shim alone is not enough: it fails unless a 3.13 is selected, so one
# installed in pyenv is added to PYENV_VERSION (after the version in use, which stays first).
def _python313_runs(env: dict[str, str]) -> bool:
    try:
        probe = subprocess.run(
            ["python3.13", "--version"], capture_output=True, text=True, env=env, check=False
        )
    except OSError:
        return False
    return probe.returncode == 0 and probe.stdout.startswith("Python 3.13")


def _pyenv(env: dict[str, str], *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["pyenv", *args], capture_output=True, text=True, env=env, check=False
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def with_python313(env: dict[str, str]) -> tuple[dict[str, str], str]:
    """``env`` in which ``python3.13`` runs (if one can be found), and a line that says which."""
    if _python313_runs(env):
        return env, "python3.13: on PATH (the sam build test runs)"
    versions = _pyenv(env, "versions", "--bare")
    found = [v for v in (versions or "").split() if v.startswith("3.13") and v[4:5] in ("", ".")]
    if found:
        chosen = max(found, key=lambda v: [int(p) for p in v.split(".") if p.isdigit()])
        current = env.get("PYENV_VERSION") or _pyenv(env, "version-name") or "system"
        selected = {**env, "PYENV_VERSION": f"{current}:{chosen}"}
        if _python313_runs(selected):
            return selected, (
                f"python3.13: pyenv's {chosen}, selected with "
                f"PYENV_VERSION={selected['PYENV_VERSION']} (the sam build test runs)"
            )
    return env, (
        "python3.13: none found (not on PATH, none installed in pyenv): the sam build test "
        "will skip; install one (e.g. `pyenv install 3.13`) to run it"
    )


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


def lint(args: list[str]) -> int:
    # The rule folder goes last: --append-rules takes every folder that follows it, so the
    # templates (and cfn-lint's own options) come first and no `--` is needed.
    if not [a for a in args if not a.startswith("-")]:
        print("usage: python3 tasks.py lint TEMPLATE... [cfn-lint options]")
        return 2
    return run(str(BIN / "cfn-lint"), *args, "--append-rules", str(REPO / "lint"))


def migrate(args: list[str]) -> int:
    return run(str(PYTHON), "scripts/migrate.py", *args)


COMMANDS = {
    "local": local,
    "test": test,
    "bench": bench,
    "plan": plan,
    "migrate": migrate,
    "mutate": mutate,
    "lint": lint,
}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        return 2
    ensure_venv()
    return COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
