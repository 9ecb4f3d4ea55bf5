"""Reading the emulator's state the way an operator would, with plain boto3 calls."""

from __future__ import annotations

from typing import Any

import boto3

MESH = "ecs-mesh"


def node(name: str, mesh: str = MESH) -> dict[str, Any] | None:
    client = boto3.client("appmesh")
    try:
        return dict(
            client.describe_virtual_node(meshName=mesh, virtualNodeName=name)["virtualNode"]
        )
    except client.exceptions.NotFoundException:
        return None


def service(name: str, mesh: str = MESH) -> dict[str, Any] | None:
    client = boto3.client("appmesh")
    try:
        return dict(
            client.describe_virtual_service(meshName=mesh, virtualServiceName=name)[
                "virtualService"
            ]
        )
    except client.exceptions.NotFoundException:
        return None


def tags(arn: str) -> dict[str, str]:
    response = boto3.client("appmesh").list_tags_for_resource(resourceArn=arn)
    return {t["key"]: t["value"] for t in response["tags"]}


def node_names(mesh: str = MESH) -> list[str]:
    response = boto3.client("appmesh").list_virtual_nodes(meshName=mesh)
    return sorted(n["virtualNodeName"] for n in response["virtualNodes"])


def service_names(mesh: str = MESH) -> list[str]:
    response = boto3.client("appmesh").list_virtual_services(meshName=mesh)
    return sorted(s["virtualServiceName"] for s in response["virtualServices"])


def task_definition(arn: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
    response = boto3.client("ecs").describe_task_definition(taskDefinition=arn, include=["TAGS"])
    tags = [{"key": t["key"], "value": t["value"]} for t in response.get("tags", [])]
    return dict(response["taskDefinition"]), tags


def active_revisions(family: str) -> list[str]:
    response = boto3.client("ecs").list_task_definitions(familyPrefix=family, status="ACTIVE")
    return [
        a for a in response["taskDefinitionArns"] if a.split("/")[-1].rsplit(":", 1)[0] == family
    ]
