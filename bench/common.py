"""What the benchmark sections share: environment, events, statistics."""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HANDLER = REPO / "handler"
EVENTS = REPO / "events"
REGION = "us-east-1"
CFN_OWN_KEYS = ("ServiceToken", "ServiceTimeout")
# The function's timeout in template.yaml: what every invocation's context says is left.
TIMEOUT_MS = 600_000


# Variables the Lambda runtime always sets. They matter: outside Lambda, importing
# aws_xray_sdk (Powertools Tracer) builds X-Ray sampling clients (~250 ms); in Lambda it
# does not (~30 ms).
LAMBDA_RUNTIME = {
    "AWS_LAMBDA_FUNCTION_NAME": "meshed-crystal",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "LAMBDA_TASK_ROOT": str(HANDLER),
}


def use_repo_paths() -> None:
    for path in (str(HANDLER), str(REPO)):
        if path not in sys.path:
            sys.path.insert(0, path)


def aws_environment(endpoint_url: str, *, tracing: bool = False) -> dict[str, str]:
    """The environment a function container gets, pointed at the emulator."""
    env = {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # template.yaml's values, except that tracing has no X-Ray daemon here.
        "POWERTOOLS_SERVICE_NAME": "meshed-crystal",
        "POWERTOOLS_METRICS_NAMESPACE": "MeshedCrystal",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
        "ENVOY_IMAGE": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod",
        **LAMBDA_RUNTIME,
    }
    if tracing:
        # What Lambda sets with Tracing: Active; segments go to a UDP port nobody reads.
        env.update(
            {
                "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
                "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
                "_X_AMZN_TRACE_ID": (
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
                ),
            }
        )
    return env


def apply_environment(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.pop("AWS_PROFILE", None)


def event_properties(name: str) -> dict[str, Any]:
    """A saved event's ResourceProperties without CloudFormation's own keys."""
    props = json.loads((EVENTS / name).read_text())["ResourceProperties"]
    return {k: v for k, v in props.items() if k not in CFN_OWN_KEYS}


# The resource's two modes (DESIGN §1 and §8): events/create.json's properties, and the same
# properties switched to Service Connect (the one line a migration adds).
APP_MESH = "App Mesh"
SERVICE_CONNECT = "Service Connect"
MODES = (APP_MESH, SERVICE_CONNECT)


def mode_properties(mode: str, name: str = "create.json") -> dict[str, Any]:
    """A saved event's properties in ``mode``: as saved, or with ``Mode: ServiceConnect``."""
    props = event_properties(name)
    if mode == SERVICE_CONNECT:
        props["Mode"] = "ServiceConnect"
    elif mode != APP_MESH:
        raise ValueError(f"unknown mode {mode!r}")
    return props


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def write_json(path: str, data: Any) -> None:
    Path(path).write_text(json.dumps(data, indent=1))


class Silenced:
    """Send fd 1 (the function's log lines and EMF metrics) to /dev/null meanwhile."""

    def __enter__(self) -> None:
        sys.stdout.flush()
        self._saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)

    def __exit__(self, *_exc: object) -> None:
        sys.stdout.flush()
        os.dup2(self._saved, 1)
        os.close(self._saved)


# Come with the Lambda Python runtime; the size target excludes them.
# (boto3 and its dependencies: the runtime ships them all).
RUNTIME_PROVIDED = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python_dateutil",
    "dateutil",
    "six",
    "urllib3",
)
