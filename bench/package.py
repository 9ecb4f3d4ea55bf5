"""Package size of the ``sam build`` artifact, and the cold-import cost of each dependency."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from bench.common import LAMBDA_RUNTIME, REPO, RUNTIME_PROVIDED, median
from bench.lambda_layout import Layout

MIB = 1024 * 1024
SAM_TIMEOUT_S = 600.0
IMPORT_TIMEOUT_S = 60.0
# Imported after boto3 (the floor's own import), each in a fresh interpreter.
MODULES = (
    "crhelper",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.tracing",
    "aws_xray_sdk.core",
    "meshed_crystal.app",
)


def sam_build() -> dict[str, Any]:
    sam = Path(sys.executable).with_name("sam")
    with tempfile.TemporaryDirectory(prefix="bench-sam-") as tmp:
        env = {**os.environ, "PYENV_VERSION": "3.11.7:3.13.0", "SAM_CLI_TELEMETRY": "0"}
        done = subprocess.run(
            [str(sam), "build", "--build-dir", f"{tmp}/build", "--cache-dir", f"{tmp}/cache"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=SAM_TIMEOUT_S,
            check=False,
        )
        if done.returncode:
            return {"error": (done.stdout + done.stderr)[-1500:]}
        return measure_artifact(Path(tmp) / "build" / "Function")


def _top_level(name: str) -> str:
    """The distribution a top-level entry belongs to (``x-1.0.dist-info`` → ``x``)."""
    for suffix in (".dist-info", ".data"):
        if name.endswith(suffix):
            return name.rsplit("-", 2)[0].lower().replace("-", "_")
    return name.removesuffix(".py").lower()


def measure_artifact(root: Path) -> dict[str, Any]:
    sizes: dict[str, int] = {}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                relative = path.relative_to(root)
                top = _top_level(relative.parts[0])
                sizes[top] = sizes.get(top, 0) + path.stat().st_size
                archive.write(path, relative.as_posix())
    buffer_size = buffer.tell()
    total = sum(sizes.values())
    runtime = sum(v for k, v in sizes.items() if k in RUNTIME_PROVIDED)
    # Zipped without the runtime-provided packages.
    lean = io.BytesIO()
    with zipfile.ZipFile(lean, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and _top_level(relative.parts[0]) not in RUNTIME_PROVIDED:
                archive.write(path, relative.as_posix())
    return {
        "unzipped": total,
        "zipped": buffer_size,
        "unzipped_without_runtime": total - runtime,
        "zipped_without_runtime": lean.tell(),
        "by_package": dict(sorted(sizes.items(), key=lambda kv: -kv[1])),
    }


def _env(layout: Layout) -> dict[str, str]:
    """The function's environment in the Lambda-like layout, tracing off (the default)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))},
        **LAMBDA_RUNTIME,
        **layout.environment(),
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def _python(layout: Layout, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter of the layout (no user site), outside the repository."""
    return subprocess.run(
        [layout.python, "-s", *args],
        env=env,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        timeout=IMPORT_TIMEOUT_S,
        check=False,
    )


def import_costs(layout: Layout, reps: int) -> dict[str, float]:
    """Seconds to import each module after boto3 (boto3 alone: after nothing)."""
    env = _env(layout)
    results: dict[str, float] = {}
    for module in ("boto3", *MODULES):
        before = "" if module == "boto3" else "import boto3; "
        code = (
            f"import time; {before}t = time.perf_counter(); import {module}; "
            "print(time.perf_counter() - t)"
        )
        samples = []
        for _ in range(reps):
            done = _python(layout, env, "-c", code)
            if done.returncode:
                break
            samples.append(float(done.stdout.strip().splitlines()[-1]))
        results[module] = median(samples) if samples else float("nan")
    return results


def importtime_top(
    layout: Layout, module: str = "meshed_crystal.app", count: int = 12
) -> list[tuple[str, int]]:
    """``-X importtime``: the modules with the largest cumulative cost that boto3 does not load."""
    env = _env(layout)
    done = _python(layout, env, "-X", "importtime", "-c", f"import boto3; import {module}")
    rows: list[tuple[str, int, int]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        _, cumulative_us, name = line.split("|", 2)
        depth = (len(name) - len(name.lstrip())) // 2
        rows.append((name.strip(), int(cumulative_us), depth))
    boto_seen = _boto3_modules(layout, env)
    # Top-level packages (depth 1 under the statement) that boto3 alone does not import.
    tops = [(n, c) for n, c, d in rows if n.split(".")[0] not in boto_seen or n == module]
    tops = [(n, c) for n, c in tops if "." not in n or n.startswith("meshed_crystal")]
    return sorted(tops, key=lambda r: -r[1])[:count]


def _boto3_modules(layout: Layout, env: dict[str, str]) -> set[str]:
    done = _python(layout, env, "-c", "import sys, boto3; print(' '.join(sys.modules))")
    return {name.split(".")[0] for name in done.stdout.split()}


def have_sam() -> bool:
    return Path(sys.executable).with_name("sam").exists() or shutil.which("sam") is not None
