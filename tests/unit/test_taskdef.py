"""DESIGN §3: the proxied task definition, derived from the application's (taskdef.derive)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from meshed_crystal.errors import PropertyError
from meshed_crystal.modes.appmesh import taskdef
from meshed_crystal.properties import parse_properties

REGION = "us-east-1"
ACCOUNT = "123456789012"
MESH_ARN = f"arn:aws:appmesh:{REGION}:{ACCOUNT}:mesh/ecs-mesh"
NODE_ARN = f"{MESH_ARN}/virtualNode/ecsdemo-crystal"
ENVOY_IMAGE = "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod"

WORKSHOP = {
    "MeshName": "ecs-mesh",
    "CloudMapServiceArn": f"arn:aws:servicediscovery:{REGION}:{ACCOUNT}:service/srv-abc123",
    "TaskDefinition": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/ecsdemo-crystal:3",
}

BASE: dict[str, Any] = {
    "family": "ecsdemo-crystal",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/ecsdemo-crystal-TaskRole",
    "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/ecsdemo-crystal-ExecutionRole",
    "containerDefinitions": [
        {
            "name": "crystal",
            "image": "public.ecr.aws/aws-containers/ecsdemo-crystal",
            "essential": True,
            "portMappings": [{"containerPort": 3000, "protocol": "tcp"}],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "ecsdemo-crystal",
                    "awslogs-region": REGION,
                    "awslogs-stream-prefix": "ecsdemo-crystal",
                },
            },
        }
    ],
}


def derive(base: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    raw = {**WORKSHOP, **changes}
    return taskdef.derive(
        copy.deepcopy(BASE if base is None else base),
        parse_properties(raw),
        family="ecsdemo-crystal-mesh",
        node_arn=NODE_ARN,
        region=REGION,
        default_image=ENVOY_IMAGE,
        tags=[],
    )


def container(request: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in request["containerDefinitions"] if c["name"] == name)
    return found


def env(request: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(request, "envoy")["environment"]}


# -- Proxy.IgnoredUID: Envoy's own traffic is what the proxy rules ignore ---------------------


def test_envoy_and_xray_run_as_the_ignored_uid() -> None:
    request = derive(Proxy={"IgnoredUID": "1338"}, XRay="true")
    proxy = {p["name"]: p["value"] for p in request["proxyConfiguration"]["properties"]}
    assert proxy["IgnoredUID"] == "1338"
    assert container(request, "envoy")["user"] == "1338"
    assert container(request, "xray")["user"] == "1338"


def test_envoy_and_xray_run_as_1337_by_default() -> None:
    request = derive(XRay="true")
    assert container(request, "envoy")["user"] == "1337"
    assert container(request, "xray")["user"] == "1337"


# -- Envoy.LogLevel: the spelling AWS's Envoy configuration variables document ---------------


def test_envoy_log_level_warning_is_sent_as_warn() -> None:
    assert env(derive(Envoy={"LogLevel": "warning"}))["ENVOY_LOG_LEVEL"] == "warn"
    assert env(derive(Envoy={"LogLevel": "warn"}))["ENVOY_LOG_LEVEL"] == "warn"
    assert env(derive())["ENVOY_LOG_LEVEL"] == "info"


# -- Envoy's health check: AWS's documented timing ------------------------------------------


def test_envoy_health_check_uses_aws_documented_timing() -> None:
    assert container(derive(), "envoy")["healthCheck"] == {
        "command": [
            "CMD-SHELL",
            "curl -s http://localhost:9901/server_info | grep state | grep -q LIVE",
        ],
        "interval": 5,
        "timeout": 2,
        "retries": 3,
        "startPeriod": 10,
    }


# -- dependsOn: with the proxy's iptables rules no container has network before Envoy is up ---


def test_every_application_container_depends_on_envoy_healthy() -> None:
    base = copy.deepcopy(BASE)
    base["containerDefinitions"] += [
        {"name": "worker", "image": "worker", "essential": True},
        {
            "name": "migrate",
            "image": "migrate",
            "essential": False,
            "dependsOn": [{"containerName": "worker", "condition": "START"}],
        },
    ]
    request = derive(base)
    healthy = {"containerName": "envoy", "condition": "HEALTHY"}
    assert container(request, "crystal")["dependsOn"] == [healthy]
    assert container(request, "worker")["dependsOn"] == [healthy]
    # A dependency the application already had is kept.
    assert container(request, "migrate")["dependsOn"] == [
        {"containerName": "worker", "condition": "START"},
        healthy,
    ]
    assert "dependsOn" not in container(request, "envoy")


# -- Envoy's awslogs options follow the app container's ---------------------------------------


def with_app_log_options(**options: str) -> dict[str, Any]:
    base = copy.deepcopy(BASE)
    base["containerDefinitions"][0]["logConfiguration"]["options"].update(options)
    return base


def test_envoy_logs_carry_awslogs_create_group_when_the_app_has_it() -> None:
    request = derive(with_app_log_options(**{"awslogs-create-group": "true"}))
    assert container(request, "envoy")["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": "ecsdemo-crystal",
            "awslogs-region": REGION,
            "awslogs-stream-prefix": "/mesh-envoy-container",
            "awslogs-create-group": "true",
        },
    }


def test_envoy_logs_have_no_awslogs_create_group_when_the_app_has_none() -> None:
    options = container(derive(), "envoy")["logConfiguration"]["options"]
    assert "awslogs-create-group" not in options


# -- The X-Ray daemon ---------------------------------------------------------------------------


def test_xray_daemon_is_pinned_from_ecr_public_and_logs_beside_envoy() -> None:
    request = derive(
        with_app_log_options(**{"awslogs-create-group": "true"}),
        XRay="true",
        Proxy={"IgnoredUID": "1338"},
    )
    xray = container(request, "xray")
    envoy_logs = container(request, "envoy")["logConfiguration"]
    assert xray == {
        "name": "xray",
        "image": "public.ecr.aws/xray/aws-xray-daemon:3.6.6",
        "essential": True,
        "user": "1338",
        "memoryReservation": 256,
        "portMappings": [{"containerPort": 2000, "protocol": "udp"}],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                **envoy_logs["options"],
                "awslogs-stream-prefix": "/xray-container",
            },
        },
    }
    assert envoy_logs["options"]["awslogs-stream-prefix"] == "/mesh-envoy-container"
    assert container(request, "envoy")["dependsOn"] == [
        {"containerName": "xray", "condition": "START"}
    ]
    assert env(request)["ENABLE_ENVOY_XRAY_TRACING"] == "1"


def test_xray_daemon_logs_into_envoy_log_group_name() -> None:
    request = derive(XRay={"Enabled": "true"}, Envoy={"LogGroupName": "mesh-logs"})
    assert container(request, "xray")["logConfiguration"]["options"] == {
        "awslogs-group": "mesh-logs",
        "awslogs-region": REGION,
        "awslogs-stream-prefix": "/xray-container",
    }


def test_without_a_log_group_neither_sidecar_has_a_log_driver() -> None:
    base = copy.deepcopy(BASE)
    del base["containerDefinitions"][0]["logConfiguration"]
    request = derive(base, XRay="true")
    assert "logConfiguration" not in container(request, "envoy")
    assert "logConfiguration" not in container(request, "xray")


# -- MeshArn's region is the REGION Envoy is given ---------------------------------------------


def test_a_mesh_arn_in_another_region_is_refused() -> None:
    west = "arn:aws:appmesh:us-west-2:123456789012:mesh/ecs-mesh"
    with pytest.raises(PropertyError) as caught:
        derive(MeshName=None, MeshArn=west)
    assert caught.value.path == "MeshArn"
    assert "us-west-2" in str(caught.value)
    assert REGION in str(caught.value)
    # In the function's region it is the same as MeshName.
    assert derive(MeshName=None, MeshArn=MESH_ARN) == derive()
