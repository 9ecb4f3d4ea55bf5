"""Cold start: an event imports only the mode it needs (registry), in a fresh interpreter.

Each case runs the deployed entry point (``meshed_crystal.app``) in a new process against the
in-process emulator holding the workshop platform, sends one Create through the CloudFormation
driver, and lists the package's modules that process imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The child: the emulator and the platform first (they import nothing of the package), then the
# entry point, then one Create of the given mode.
CHILD = """
import json, sys
import boto3
from moto import mock_aws
from tests.support import moto_appmesh, moto_cloudformation, moto_ecs_rules, moto_service_connect
from tests.support.cfn_driver import CloudFormation, ResponseEndpoint
from tests.support.platform import build_workshop_platform

mode = sys.argv[1]
moto_appmesh.install(); moto_service_connect.install(); moto_ecs_rules.install()
with mock_aws(), ResponseEndpoint() as endpoint:
    platform = build_workshop_platform(boto3.Session(region_name="us-east-1"))
    before = sorted(m for m in sys.modules if m.startswith("meshed_crystal"))
    from meshed_crystal import app
    at_import = sorted(m for m in sys.modules if m.startswith("meshed_crystal"))
    props = {
        "CloudMapServiceArn": platform.cloud_map_service_arn,
        "TaskDefinition": platform.app_task_definition_arn,
        "Mode": mode,
    }
    if mode == "AppMesh":
        props["MeshName"] = "ecs-mesh"
    with moto_cloudformation.serving(CloudFormation(app.lambda_handler, endpoint)) as cfn:
        body = cfn.create("Crystal", props)
    after = sorted(m for m in sys.modules if m.startswith("meshed_crystal"))
    print(json.dumps({"status": body["Status"], "before": before, "import": at_import,
                      "event": after}))
"""

APP_MESH_CODE = {
    "meshed_crystal.modes.appmesh.mode",
    "meshed_crystal.modes.appmesh.mesh_spec",
    "meshed_crystal.modes.appmesh.taskdef",
    "meshed_crystal.modes.appmesh.adapter",
    "meshed_crystal.modes.appmesh.properties",  # a resource that gives none of its properties
    "meshed_crystal.adapters.cloudformation",
}
SERVICE_CONNECT_CODE = {"meshed_crystal.modes.service_connect.mode"}


def imported(mode: str) -> dict[str, object]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "handler"), str(REPO)]),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop("AWS_PROFILE", None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_entry_point_imports_no_mode_code() -> None:
    found = imported("ServiceConnect")
    assert found["before"] == []
    at_import = set(found["import"])  # type: ignore[call-overload]
    assert "meshed_crystal.registry" in at_import
    assert not at_import & (APP_MESH_CODE | SERVICE_CONNECT_CODE)


@pytest.mark.parametrize(
    ("mode", "needed", "never"),
    [
        ("ServiceConnect", SERVICE_CONNECT_CODE, APP_MESH_CODE),
        ("AppMesh", APP_MESH_CODE, SERVICE_CONNECT_CODE),
    ],
)
def test_an_event_imports_only_the_mode_it_needs(
    mode: str, needed: set[str], never: set[str]
) -> None:
    found = imported(mode)
    assert found["status"] == "SUCCESS"
    after = set(found["event"])  # type: ignore[call-overload]
    assert needed <= after
    assert not after & never, sorted(after & never)
