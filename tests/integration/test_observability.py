"""Powertools metrics (EMF) per request type and outcome; they never break a response."""

from __future__ import annotations

import json
from typing import Any

import pytest
from meshed_crystal import observability, retry

from tests.support.cfn_driver import CloudFormation
from tests.support.faults import Faults
from tests.support.platform import Platform


def emf_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "_aws" in record:
            lines.append(record)
    return lines


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)


def props(platform: Platform, **extra: Any) -> dict[str, Any]:
    return {
        "MeshName": "ecs-mesh",
        "CloudMapServiceArn": platform.cloud_map_service_arn,
        "TaskDefinition": platform.app_task_definition_arn,
        **extra,
    }


def test_each_request_emits_count_and_duration_by_type_and_outcome(
    cfn: CloudFormation, platform: Platform, metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cfn.create("Crystal", props(platform))["Status"] == "SUCCESS"
    assert cfn.update("Crystal", props(platform, Listeners=[{"Port": "0"}]))["Status"] == "FAILED"
    records = emf_lines(capsys.readouterr().out)
    assert [(r["RequestType"], r["Outcome"]) for r in records] == [
        ("Create", "SUCCESS"),
        ("Update", "FAILED"),
    ]
    for record in records:
        assert record["Requests"] == [1.0] or record["Requests"] == 1.0
        assert record["ThrottledRetries"] in (0, 0.0, [0.0])
        names = {m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
        assert names == {"Requests", "Duration", "ThrottledRetries"}
        assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "MeshedCrystal"


def test_retries_are_counted_apart_a_lost_connection_is_not_throttling(
    cfn: CloudFormation,
    platform: Platform,
    faults: Faults,
    metrics_on: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retry, "BASE_DELAY", 0.005)
    # Given a Create whose registration is throttled once and loses its connection twice
    faults.fail("ecs", "RegisterTaskDefinition", "ThrottlingException", "Rate exceeded")
    faults.disconnect("ecs", "DescribeTaskDefinition", "closed", times=2)
    assert cfn.create("Crystal", props(platform))["Status"] == "SUCCESS"
    # Then its metrics count one throttled retry and two retries of a lost connection
    (record,) = emf_lines(capsys.readouterr().out)
    assert record["ThrottledRetries"] in (1, 1.0, [1.0])
    assert record["ConnectionRetries"] in (2, 2.0, [2.0])
    # And the next request, with none, emits no ConnectionRetries at all
    assert cfn.delete("Crystal")["Status"] == "SUCCESS"
    (record,) = emf_lines(capsys.readouterr().out)
    assert "ConnectionRetries" not in record
    assert record["ThrottledRetries"] in (0, 0.0, [0.0])


def test_a_metrics_failure_does_not_touch_the_response(
    cfn: CloudFormation, platform: Platform, metrics_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("metrics backend down")

    monkeypatch.setattr(observability.metrics, "flush_metrics", broken)
    # invoke() fails unless exactly one response arrived and the handler did not raise.
    assert cfn.create("Crystal", props(platform))["Status"] == "SUCCESS"


TRACING_PROBE = """
import sys
from meshed_crystal import app
from meshed_crystal.observability import tracing_enabled
patcher = sys.modules.get("aws_xray_sdk.core.patcher")
patched = "botocore" in getattr(patcher, "_PATCHED_MODULES", ())
print(tracing_enabled(), "aws_xray_sdk.core" in sys.modules, patched,
      hasattr(app.lambda_handler, "__wrapped__"))
"""


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("true", "False False False False"), ("false", "True True True True")],
)
def test_the_xray_sdk_is_loaded_only_when_tracing_is_on(setting: str, expected: str) -> None:
    """Tracing off (the template's default) must not pay the X-Ray SDK's import at cold start."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    handler = Path(observability.__file__).resolve().parents[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")},
        "POWERTOOLS_TRACE_DISABLED": setting,
        "PYTHONPATH": str(handler),
        "AWS_DEFAULT_REGION": "us-east-1",
        # What Lambda sets; outside Lambda the X-Ray SDK's import would build sampling clients.
        "AWS_LAMBDA_FUNCTION_NAME": "meshed-crystal",
        "LAMBDA_TASK_ROOT": str(handler),
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    }
    done = subprocess.run(
        [sys.executable, "-c", TRACING_PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == expected
