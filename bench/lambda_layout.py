"""A Lambda-like layout for the cold starts: the runtime's Python and three directories.

Lambda's Python runtime puts the function (``/var/task``), the layers (``/opt/python``) and the
runtime's own boto3 (``/var/runtime``) on ``sys.path``, and nothing else. Measuring a cold start
in the development venv instead would count packages Lambda does not have (awscrt and pyOpenSSL
are pulled in by the dev tools, and boto3/botocore import them when present: about 150 ms on
the floor alone) and would hide the compile cost of the function's own modules.

* ``runtime``: boto3 and botocore at the versions requirements-dev.txt pins, installed by pip
  (so with bytecode, as an installed runtime has).
* ``layer``: Powertools and the X-Ray SDK at the pinned versions, without what the runtime
  already provides (AWS's Powertools layer does not ship boto3 or botocore either).
* ``task``: ``handler/Makefile``'s ``build-Function``, the very recipe ``sam build`` runs.

The interpreter is ``python3.13`` (the function's runtime) when it is on ``PATH``; otherwise
the bench's own, and the report says so. ``PYTHONDONTWRITEBYTECODE`` stands in for the
read-only ``/var/task``: nothing compiled at run time is cached for the next cold start.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.common import HANDLER, REPO, RUNTIME_PROVIDED

PIP_TIMEOUT_S = 600.0
RUNTIME_PACKAGES = ("boto3", "botocore")
LAYER_PACKAGES = ("aws-lambda-powertools", "aws-xray-sdk")


@dataclass(frozen=True)
class Layout:
    python: str
    version: str
    runtime: Path
    layer: Path
    task: Path

    def environment(self) -> dict[str, str]:
        return {
            "PYTHONPATH": f"{self.task}:{self.layer}:{self.runtime}",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
        }


def _pins(names: tuple[str, ...]) -> list[str]:
    text = (REPO / "requirements-dev.txt").read_text()
    pins = []
    for name in names:
        match = re.search(rf"^{re.escape(name)}==(\S+)", text, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"requirements-dev.txt pins no {name}")
        pins.append(f"{name}=={match.group(1)}")
    return pins


def _run(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def build(root: Path) -> Layout:
    python, version = sys.executable, sys.version.split()[0]
    candidate = shutil.which("python3.13")
    if candidate:
        # A pyenv shim is on PATH even when 3.13 is not selected: it must actually run.
        probe = subprocess.run(
            # The interpreter itself, not a shim: pyenv's costs ~0.1 s per start.
            [candidate, "-c", "import sys; print(sys.version.split()[0], sys.executable)"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0:
            version, python = probe.stdout.split()
    runtime, layer, task = root / "runtime", root / "layer", root / "task"
    pip = (python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    _run(*pip, "--target", str(runtime), *_pins(RUNTIME_PACKAGES))
    _run(*pip, "--target", str(layer), *_pins(LAYER_PACKAGES))
    for entry in layer.iterdir():
        top = entry.name.split("-")[0].split(".")[0]
        if top in RUNTIME_PROVIDED or entry.name == "bin":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    task.mkdir()
    _run("make", "-C", str(HANDLER), "build-Function", f"ARTIFACTS_DIR={task}", f"PYTHON={python}")
    return Layout(python, version, runtime, layer, task)
