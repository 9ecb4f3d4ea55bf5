"""Cold start and peak memory: fresh interpreters in a Lambda-like layout, product against floors.

For each mode of the resource (``MODES``: App Mesh with events/create.json's properties, Service
Connect with the same plus ``Mode: ServiceConnect``), four variants, interleaved (order rotated per
repetition), each against a freshly reset emulator with the workshop platform:

* ``PRODUCT``: as deployed by default (``Tracing=PassThrough``): import ``meshed_crystal.app``,
  one Create, the response PUT.
* ``PRODUCT_TRACED``: the same with ``Tracing=Active`` (X-Ray SDK, botocore patched).
* ``FLOOR``: the literal floor: import boto3 and create the clients the Create uses. Nothing else.
* ``FLOOR_CALLS``: that, plus the same AWS calls the product's Create made in that mode (recorded
  from an unmeasured cold run) and the same PUT. The issue's floor "from now on" (the headline
  ratio): what is left above it is the handler's own overhead.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import lambda_layout
from bench.common import MODES, REPO, TIMEOUT_MS, aws_environment, median, mode_properties
from bench.emulator import EmulatorProcess

COLD_SCRIPT = REPO / "bench" / "cold.py"
CHILD_TIMEOUT_S = 120.0
PRODUCT = "as deployed (Tracing=PassThrough)"
PRODUCT_TRACED = "Tracing=Active"
FLOOR = "floor: import boto3 + the Create's clients"
FLOOR_CALLS = "floor + the same calls and PUT"
VARIANTS = (PRODUCT, PRODUCT_TRACED, FLOOR, FLOOR_CALLS)


def _child(
    layout: lambda_layout.Layout, mode: str, spec: dict[str, Any], env: dict[str, str]
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    try:
        launched = time.monotonic()
        done = subprocess.run(
            [layout.python, "-s", str(COLD_SCRIPT), mode, handle.name],
            env=env,
            cwd=tempfile.gettempdir(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=CHILD_TIMEOUT_S,
            check=False,
        )
    finally:
        os.unlink(handle.name)
    lines = [line for line in done.stderr.splitlines() if line.startswith("BENCH ")]
    if done.returncode or not lines:
        raise RuntimeError(f"cold {mode} run failed:\n{done.stderr[-2000:]}")
    result = json.loads(lines[-1][len("BENCH ") :])
    return {
        "total_s": result["ready"] - launched,
        "startup_s": result["started"] - launched,
        "import_s": result["imported"] - result["started"],
        "work_s": result["ready"] - result["imported"],
        "maxrss_mib": result["maxrss_kib"] / 1024,
    }


def run(emulator: EmulatorProcess, layout: lambda_layout.Layout, reps: int) -> dict[str, Any]:
    """Both modes (``MODES``), four variants each; per mode, what :func:`_summary` returns.

    Each repetition runs, for each mode in turn (the order of the modes alternates), the four
    variants back to back (their order rotated), so the per-repetition ratios within a mode
    compare runs made seconds apart.
    """
    import boto3

    from tests.support.cfn_driver import CloudFormation, ResponseEndpoint
    from tests.support.platform import build_workshop_platform

    envs = {
        PRODUCT: aws_environment(emulator.endpoint_url),
        PRODUCT_TRACED: aws_environment(emulator.endpoint_url, tracing=True),
        FLOOR: aws_environment(emulator.endpoint_url),
        FLOOR_CALLS: aws_environment(emulator.endpoint_url),
    }
    samples: dict[str, dict[str, list[dict[str, float]]]] = {
        mode: {name: [] for name in VARIANTS} for mode in MODES
    }
    recorded: dict[str, tuple[list[list[Any]], dict[str, Any]]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-cold-") as root,
        ResponseEndpoint() as endpoint,
    ):
        base_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "POWERTOOLS", "PYTHON", "VIRTUAL_ENV"))
        }
        base_env.update(layout.environment())
        base_env["SSL_CERT_FILE"] = endpoint.ca_file
        credentials = aws_environment("")
        session = boto3.Session(
            region_name="us-east-1",
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        )

        def fresh_event(props: dict[str, Any]) -> dict[str, Any]:
            emulator.reset()
            saved = os.environ.get("AWS_ENDPOINT_URL")
            os.environ["AWS_ENDPOINT_URL"] = emulator.endpoint_url
            try:
                build_workshop_platform(session)
            finally:
                if saved is None:
                    os.environ.pop("AWS_ENDPOINT_URL", None)
                else:
                    os.environ["AWS_ENDPOINT_URL"] = saved
            cfn = CloudFormation(lambda _e, _c: None, endpoint)
            return cfn.event("Create", "Crystal", props)

        def delivered(event: dict[str, Any]) -> dict[str, Any]:
            bodies = endpoint.delivered_for(event["ResponseURL"])
            if len(bodies) != 1:
                raise RuntimeError(f"{len(bodies)} responses delivered, not 1")
            return bodies[0].body or {}

        # Per mode, an unmeasured cold Create that records its calls and answer, for FLOOR_CALLS.
        props = {mode: mode_properties(mode) for mode in MODES}
        for mode in MODES:
            record = Path(root) / "calls.json"
            event = fresh_event(props[mode])
            spec = {"handler_path": str(layout.task), "event": event, "remaining_ms": TIMEOUT_MS}
            env = {**base_env, **envs[PRODUCT]}
            _child(layout, "product", {**spec, "record": str(record)}, env)
            body = delivered(event)
            if body.get("Status") != "SUCCESS":
                raise RuntimeError(f"cold {mode} Create did not succeed: {body.get('Reason')}")
            recorded[mode] = (json.loads(record.read_text()), body)

        for rep in range(reps + 1):
            modes = MODES if rep % 2 == 0 else MODES[::-1]
            for mode in modes:
                calls, body = recorded[mode]
                services = sorted({service for service, _, _ in calls})
                order = list(VARIANTS[rep % len(VARIANTS) :] + VARIANTS[: rep % len(VARIANTS)])
                for name in order:
                    event = fresh_event(props[mode])
                    spec = {
                        "handler_path": str(layout.task),
                        "event": event,
                        "remaining_ms": TIMEOUT_MS,
                        "services": services,
                        "calls": calls if name == FLOOR_CALLS else [],
                        "put": name == FLOOR_CALLS,
                        "body": body,
                    }
                    kind = "floor" if name in (FLOOR, FLOOR_CALLS) else "product"
                    sample = _child(layout, kind, spec, {**base_env, **envs[name]})
                    answers = endpoint.delivered_for(event["ResponseURL"])
                    expected = 0 if name == FLOOR else 1
                    if len(answers) != expected or (
                        kind == "product" and (answers[0].body or {}).get("Status") != "SUCCESS"
                    ):
                        raise RuntimeError(
                            f"cold {mode} {name}: not the one SUCCESS response expected"
                        )
                    if rep:  # rep 0 warms the page cache
                        samples[mode][name].append(sample)
    return {
        "reps": reps,
        "python": layout.version,
        "modes": {mode: _summary(samples[mode], recorded[mode][0], props[mode]) for mode in MODES},
    }


def _summary(
    samples: dict[str, list[dict[str, float]]], calls: list[list[Any]], props: dict[str, Any]
) -> dict[str, Any]:
    """Per variant the medians of each figure; the raw totals (ms) per repetition; the calls."""
    summary: dict[str, Any] = {}
    for name, runs in samples.items():
        summary[name] = {key: median([r[key] for r in runs]) for key in runs[0]}
    summary["samples_ms"] = {
        name: [round(r["total_s"] * 1000) for r in runs] for name, runs in samples.items()
    }
    summary["calls"] = [operation for _, operation, _ in calls]
    summary["services"] = sorted({service for service, _, _ in calls})
    summary["properties"] = props
    return summary
