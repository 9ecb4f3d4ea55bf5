"""tasks.py's choice of a python3.13 for `sam build` (as .ci/run relies on it)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import tasks

# A pyenv shim as pyenv makes it: python3.13 runs only when a 3.13 is in PYENV_VERSION.
SHIM = """#!/bin/sh
case ":$PYENV_VERSION:" in
  *:3.13.0:*) echo "Python 3.13.0" ;;
  *) echo "pyenv: python3.13: command not found" >&2; exit 127 ;;
esac
"""
PYENV = """#!/bin/sh
if [ "$1" = versions ]; then printf '3.11.7\\n3.12.1\\n3.13.0\\n3.130.1\\n'; fi
if [ "$1" = version-name ]; then echo 3.11.7; fi
"""


def executable(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def env_with(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYENV_VERSION"}
    env["PATH"] = f"{folder}{os.pathsep}/usr/bin{os.pathsep}/bin"
    return env


def test_a_pyenv_313_is_added_after_the_version_in_use(tmp_path: Path) -> None:
    executable(tmp_path, "python3.13", SHIM)
    executable(tmp_path, "pyenv", PYENV)
    env, said = tasks.with_python313(env_with(tmp_path))
    # 3.130.1 is not a 3.13: only 3.13 and 3.13.N are
    assert env["PYENV_VERSION"] == "3.11.7:3.13.0"
    assert said == (
        "python3.13: pyenv's 3.13.0, selected with PYENV_VERSION=3.11.7:3.13.0 "
        "(the sam build test runs)"
    )


def test_a_given_pyenv_version_stays_first(tmp_path: Path) -> None:
    executable(tmp_path, "python3.13", SHIM)
    executable(tmp_path, "pyenv", PYENV)
    env, _ = tasks.with_python313({**env_with(tmp_path), "PYENV_VERSION": "3.12.1"})
    assert env["PYENV_VERSION"] == "3.12.1:3.13.0"


def test_a_python313_on_path_is_used_as_it_is(tmp_path: Path) -> None:
    executable(tmp_path, "python3.13", "#!/bin/sh\necho 'Python 3.13.1'\n")
    given = env_with(tmp_path)
    env, said = tasks.with_python313(given)
    assert env == given
    assert said == "python3.13: on PATH (the sam build test runs)"


def test_none_found_is_said_in_a_line_of_its_own(tmp_path: Path) -> None:
    executable(tmp_path, "python3.13", SHIM)  # a shim, and no pyenv 3.13 to select
    executable(tmp_path, "pyenv", "#!/bin/sh\nprintf '3.11.7\\n'\n")
    given = env_with(tmp_path)
    env, said = tasks.with_python313(given)
    assert env == given
    assert said.startswith("python3.13: none found (not on PATH, none installed in pyenv)")
    assert "the sam build test will skip" in said
