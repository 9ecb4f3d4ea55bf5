"""Cold start and peak memory: fresh interpreters, product against floor, interleaved."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench.common import HANDLER, REPO, TIMEOUT_MS, aws_environment, event_properties, median
from bench.emulator import EmulatorProcess

COLD_SCRIPT = REPO / "bench" / "cold.py"
CHILD_TIMEOUT_S = 120.0
PRODUCT = "as deployed: Tracer on"
PRODUCT_NO_TRACER = "Tracer off"


def _child(mode: str, spec: dict[str, Any], env: dict[str, str]) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    try:
        launched = time.monotonic()
        done = subprocess.run(
            [sys.executable, str(COLD_SCRIPT), mode, handle.name],
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


def _fake_credentials() -> dict[str, str]:
    env = aws_environment("")
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }


def run(emulator: EmulatorProcess, create: dict[str, Any], reps: int) -> dict[str, Any]:
    """``create``: the Create's recorded calls and response body (from the latency worker)."""
    import boto3

    from tests.support.cfn_driver import CloudFormation, ResponseEndpoint
    from tests.support.platform import build_workshop_platform

    props = event_properties("create.json")
    variants = {
        PRODUCT: aws_environment(emulator.endpoint_url, tracing=True),
        PRODUCT_NO_TRACER: aws_environment(emulator.endpoint_url),
        "floor": aws_environment(emulator.endpoint_url),
    }
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    with ResponseEndpoint() as endpoint:
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS"))}
        base_env["SSL_CERT_FILE"] = endpoint.ca_file
        credentials = _fake_credentials()
        session = boto3.Session(
            region_name="us-east-1",
            aws_access_key_id=credentials["aws_access_key_id"],
            aws_secret_access_key=credentials["aws_secret_access_key"],
        )
        platform_client_env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
        for rep in range(reps + 1):
            # Rotate the order each repetition: no variant always runs first after a reset.
            order = list(variants.items())
            order = order[rep % len(order) :] + order[: rep % len(order)]
            for name, env in order:
                emulator.reset()
                saved = os.environ.get("AWS_ENDPOINT_URL")
                os.environ.update(platform_client_env)
                try:
                    build_workshop_platform(session)
                finally:
                    if saved is None:
                        os.environ.pop("AWS_ENDPOINT_URL", None)
                    else:
                        os.environ["AWS_ENDPOINT_URL"] = saved
                cfn = CloudFormation(lambda _e, _c: None, endpoint)
                event = cfn.event("Create", "Crystal", props)
                spec = {
                    "handler_path": str(HANDLER),
                    "event": event,
                    "remaining_ms": TIMEOUT_MS,
                    "calls": create["calls"],
                    "body": create["body"],
                }
                sample = _child(
                    "floor" if name == "floor" else "product", spec, {**base_env, **env}
                )
                delivered = endpoint.delivered_for(event["ResponseURL"])
                if len(delivered) != 1 or (
                    name != "floor" and (delivered[0].body or {}).get("Status") != "SUCCESS"
                ):
                    raise RuntimeError(f"cold {name}: no SUCCESS response delivered")
                if rep:  # rep 0 warms the page cache
                    samples[name].append(sample)
    summary: dict[str, Any] = {}
    for name, runs in samples.items():
        summary[name] = {key: median([r[key] for r in runs]) for key in runs[0]}
    summary["reps"] = reps
    return summary
