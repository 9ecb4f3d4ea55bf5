"""Shared vocabulary of the lifecycle scenarios (tests/integration/test_lifecycle*.py)."""

from __future__ import annotations

from typing import Any

import boto3
from meshed_crystal import registry

from tests.integration import aws_state
from tests.support.cfn_driver import CloudFormation
from tests.support.platform import Platform

LOGICAL = "Crystal"
NODE = "ecsdemo-crystal"
SERVICE = "ecsdemo-crystal.service.local"
FAMILY = "ecsdemo-crystal-mesh"
# A lifecycle handler answers synchronously and cancels its timer before returning, so no late
# duplicate can follow; a short grace keeps the suite fast. Tests about late responses wait longer.
GRACE_S = 0.05


def workshop(platform: Platform, **changes: Any) -> dict[str, Any]:
    """The workshop's properties, with ``changes`` applied (``None`` removes a property)."""
    props: dict[str, Any] = {
        "MeshName": "ecs-mesh",
        "CloudMapServiceArn": platform.cloud_map_service_arn,
        "TaskDefinition": platform.app_task_definition_arn,
    }
    if "MeshName" not in registry.property_names():
        del props["MeshName"]  # a build without App Mesh (tasks.py test --without-mode appmesh)
    for key, value in changes.items():
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value
    return props


def ok(body: dict[str, Any]) -> dict[str, str]:
    assert body["Status"] == "SUCCESS", body.get("Reason")
    return dict(body["Data"])


def failed(body: dict[str, Any]) -> str:
    assert body["Status"] == "FAILED", body
    return str(body["Reason"])


def fast(cfn: CloudFormation) -> CloudFormation:
    cfn.grace_s = GRACE_S
    return cfn


def provider_of(service: str, mesh: str = "ecs-mesh") -> str | None:
    found = aws_state.service(service, mesh)
    if found is None:
        return None
    return str(found["spec"]["provider"]["virtualNode"]["virtualNodeName"])


def revision_status(arn: str) -> str:
    described = boto3.client("ecs").describe_task_definition(taskDefinition=arn)
    return str(described["taskDefinition"]["status"])


def all_revisions(family: str = FAMILY) -> list[str]:
    """Every revision ever registered in ``family``, ACTIVE or not."""
    ecs = boto3.client("ecs")
    arns: list[str] = []
    for status in ("ACTIVE", "INACTIVE"):
        listed = ecs.list_task_definitions(familyPrefix=family, status=status)
        arns += [
            a for a in listed["taskDefinitionArns"] if a.split("/")[-1].split(":")[0] == family
        ]
    return sorted(arns)
