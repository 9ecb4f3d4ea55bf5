"""`python3 tasks.py plan`: what a set of properties would make, without any AWS call; held to
what a real Create makes in the emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from meshed_crystal.adapters import clients

from scripts import plan as plan_script
from tests.integration.lifecycle import LOGICAL, fast, ok, workshop
from tests.support.cfn_driver import CloudFormation
from tests.support.platform import Platform, app_task_definition_input

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
APP_TASK_DEFINITION = EVENTS / "app-task-definition.json"
CLOUD_MAP_SERVICE_ARN = "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-1"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "plan.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
        # No credentials and an endpoint nothing answers: a call would fail loudly.
        env={"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
    )


def test_the_workshop_input_file_is_the_platforms() -> None:
    expected = app_task_definition_input(
        "us-east-1",
        "arn:aws:iam::123456789012:role/ecsdemo-task-role",
        "arn:aws:iam::123456789012:role/ecsdemo-execution-role",
    )
    assert json.loads(APP_TASK_DEFINITION.read_text(encoding="utf-8")) == expected


def test_plan_of_the_workshop_as_a_user_runs_it() -> None:
    done = run(str(EVENTS / "create.json"), "--task-definition", str(APP_TASK_DEFINITION))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.startswith("Mode: AppMesh (no AWS call was made; * marks a placeholder)")
    assert "--- application (app-task-definition.json)" in out
    assert '-  "family": "ecsdemo-crystal",' in out
    assert '+  "family": "ecsdemo-crystal-mesh",' in out
    assert '+      "name": "envoy",' in out
    assert '+    "type": "APPMESH"' in out
    assert "== Virtual node spec ==" in out
    assert '"virtualNodeName": "ecsdemo-crystal"' in out
    assert (
        "TaskDefinitionArn      = arn:aws:ecs:us-east-1:123456789012:task-definition/"
        "ecsdemo-crystal-mesh:1  * the revision ECS assigns" in out
    )
    assert "VirtualServiceName     = ecsdemo-crystal.service.local\n" in out


def test_full_prints_the_whole_derived_task_definition() -> None:
    done = run(str(EVENTS / "create.json"), "--task-definition", str(APP_TASK_DEFINITION), "--full")
    assert done.returncode == 0, done.stderr
    whole = done.stdout.split("==\n", 1)[1].split("\n\n==", 1)[0]
    derived = json.loads(whole)
    assert [c["name"] for c in derived["containerDefinitions"]] == ["crystal", "envoy"]


def test_service_connect_plan() -> None:
    done = run(
        str(EVENTS / "switch-to-service-connect.json"),
        "--task-definition",
        str(APP_TASK_DEFINITION),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.startswith("Mode: ServiceConnect")
    assert '+          "name": "crystal-3000",' in out
    assert "ServiceConnectConfiguration" in out
    assert "namespace/ns-placeholder  * the namespace's id (Cloud Map)" in out
    assert "Endpoint               = http://ecsdemo-crystal.service.local:3000\n" in out
    assert "Inert in ServiceConnect mode (validated, not used): MeshName, Envoy" in out


@pytest.mark.parametrize(
    ("properties", "args", "says"),
    [
        ({"MeshName": "m", "TaskDefinition": "x"}, [], "plan: CloudMapNamespaceName: required"),
        (
            {
                "MeshName": "m",
                "CloudMapNamespaceName": "a",
                "CloudMapServiceName": "b",
                "TaskDefinition": "x",
            },
            [],
            "give its content with --task-definition TD.json",
        ),
        (
            {
                "MeshName": "m",
                "TaskDefinition": "x",
                "CloudMapServiceArn": CLOUD_MAP_SERVICE_ARN,
            },
            ["--task-definition", str(APP_TASK_DEFINITION)],
            "--cloud-map-names NAMESPACE SERVICE",
        ),
    ],
)
def test_what_a_plan_needs_is_said_in_one_line(
    tmp_path: Path, properties: dict[str, Any], args: list[str], says: str
) -> None:
    path = tmp_path / "props.json"
    path.write_text(json.dumps(properties), encoding="utf-8")
    done = run(str(path), *args)
    assert done.returncode == 1
    assert says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("changes", "shorten"),
    [
        ({"VirtualNodeName": "n" * 255, "VirtualServiceName": "s" * 255}, "VirtualNodeName"),
        (
            # An HTTP namespace's name: 1024 characters that JSON escapes (2 bytes each)
            {
                "Mode": "ServiceConnect",
                "ServiceConnect": {
                    "Namespace": "\\" * 1024,
                    "DiscoveryName": "d" * 64,
                    "PortName": "p" * 64,
                    "ClientAlias": {"DnsName": "c" * 121 + ".local"},
                },
            },
            "the Cloud Map namespace's name",
        ),
    ],
    ids=["AppMesh", "ServiceConnect"],
)
def test_plan_refuses_an_answer_over_4096_bytes_as_a_create_does(
    tmp_path: Path, changes: dict[str, Any], shorten: str
) -> None:
    properties = {
        "MeshName": "m" * 255,
        "CloudMapServiceArn": CLOUD_MAP_SERVICE_ARN,
        "TaskDefinition": "x",
        "Family": "f" * 255,
        **changes,
    }
    path = tmp_path / "props.json"
    path.write_text(json.dumps(properties), encoding="utf-8")
    done = run(
        str(path),
        "--task-definition",
        str(APP_TASK_DEFINITION),
        "--cloud-map-names",
        "service.local",
        "ecsdemo-crystal",
        "--logical-id",
        "L" * 255,
    )
    assert done.returncode == 1, done.stdout
    assert "over its 4096-byte limit" in done.stderr
    assert shorten in done.stderr


@pytest.mark.parametrize("mode", ["AppMesh", "ServiceConnect"])
def test_plan_is_what_a_create_makes(
    cfn: CloudFormation, platform: Platform, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    properties = workshop(platform, Mode=mode)
    options = plan_script.Options(
        region=platform.region,
        account=platform.account,
        stack_id=cfn.stack_id,
        logical_id=LOGICAL,
        cloud_map_names=(platform.namespace_name, platform.cloud_map_service_name),
        envoy_image="public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod",
        account_given=True,
    )
    base = app_task_definition_input(
        platform.region, platform.task_role_arn, platform.execution_role_arn
    )

    def no_client(service: str) -> Any:
        raise AssertionError(f"the plan built a {service} client")

    with monkeypatch.context() as patched:
        patched.setattr(clients, "make_client", no_client)
        planned = plan_script.plan(properties, base, options)
    data = ok(fast(cfn).create(LOGICAL, properties))
    placeholders = {k for k in planned.placeholders if k}
    assert set(planned.attributes) == set(data)
    for key, value in planned.attributes.items():
        if key not in placeholders:
            assert value == data[key], key
    registered = boto3_task_definition(data["TaskDefinitionArn"])
    assert [c["name"] for c in registered["containerDefinitions"]] == [
        c["name"] for c in planned.task_definition["containerDefinitions"]
    ]
    assert registered.get("proxyConfiguration", {}).get("type") == (
        planned.task_definition.get("proxyConfiguration", {}).get("type")
    )
    ports = registered["containerDefinitions"][0]["portMappings"]
    assert [m.get("name") for m in ports] == [
        m.get("name") for m in planned.task_definition["containerDefinitions"][0]["portMappings"]
    ]


def boto3_task_definition(arn: str) -> dict[str, Any]:
    return dict(boto3.client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"])


def test_plan_against_the_local_emulators_platform() -> None:
    # The base task definition is read from the emulator's workshop platform, as a Create reads
    # it, instead of a file
    done = run("events/create.json", "--local")
    assert done.returncode == 0, done.stderr
    assert "--- application (read from the local emulator)" in done.stdout
    assert "TaskDefinitionFamily   = ecsdemo-crystal-mesh" in done.stdout
    assert '"image": "public.ecr.aws/appmesh/aws-appmesh-envoy:' in done.stdout
