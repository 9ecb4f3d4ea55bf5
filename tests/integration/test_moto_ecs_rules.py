"""ECS's RegisterTaskDefinition rules in the emulator (tests/support/moto_ecs_rules.py).

Through boto3 against in-process ``mock_aws``: each rule both ways, accepted and refused with
ECS's error shape (ClientException, HTTP 400). The provider's own checks are not involved.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.support import moto_ecs_rules

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

ROLE = "arn:aws:iam::123456789012:role/r"
GOOD: dict[str, Any] = {
    "family": "crystal",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "executionRoleArn": ROLE,
    "containerDefinitions": [
        {
            "name": "app",
            "image": "public.ecr.aws/aws-containers/ecsdemo-crystal",
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}},
        },
        {"name": "envoy", "image": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod"},
    ],
    "proxyConfiguration": {"type": "APPMESH", "containerName": "envoy", "properties": []},
    "tags": [{"key": "team", "value": "crystal"}],
}


@pytest.fixture
def ecs() -> Iterator[ECSClient]:
    moto_ecs_rules.install()
    with mock_aws():
        yield boto3.client("ecs", region_name="us-east-1")


def changed(**changes: Any) -> dict[str, Any]:
    request = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if value is None:
            request.pop(key, None)
        else:
            request[key] = value
    return request


def container(**changes: Any) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = copy.deepcopy(GOOD["containerDefinitions"])
    containers[0].update(changes)
    return containers


def test_the_good_request_is_accepted(ecs: ECSClient) -> None:
    assert ecs.register_task_definition(**GOOD)["taskDefinition"]["revision"] == 1


@pytest.mark.parametrize(
    ("accepted", "refused", "message"),
    [
        # Fargate task sizes
        ({"cpu": "1 vCPU", "memory": "2 GB"}, {"cpu": "300"}, "Invalid 'cpu' setting for task."),
        ({"cpu": "512", "memory": "4096"}, {"memory": "4096"}, "Invalid 'memory' setting"),
        ({"cpu": "8192", "memory": "20480"}, {"cpu": "8192", "memory": "17408"}, "'memory'"),
        ({"requiresCompatibilities": ["EC2"], "cpu": None}, {"cpu": None}, "'cpu' be defined"),
        ({}, {"memory": None}, "'memory' be defined"),
        ({}, {"networkMode": "bridge"}, "Fargate only supports network mode 'awsvpc'."),
        # awslogs without an execution role
        (
            {"requiresCompatibilities": ["EC2"], "executionRoleArn": None},
            {"executionRoleArn": None},
            "execution role ARN to support log driver awslogs",
        ),
        # names, images, counts
        ({"family": "a" * 255}, {"family": "a" * 256}, "Family must be"),
        ({"family": "crystal_1-x"}, {"family": "crystal.1"}, "Family must be"),
        (
            {"containerDefinitions": container(name="a" * 255)},
            {"containerDefinitions": container(name="app.1")},
            "Container name must be",
        ),
        (
            {"containerDefinitions": container(image="x/y:1@sha256:" + "a" * 64)},
            {"containerDefinitions": container(image="x y")},
            "Invalid image reference",
        ),
        (
            {"containerDefinitions": container(image="a" * 255)},
            {"containerDefinitions": container(image="a" * 256)},
            "Invalid image reference",
        ),
        (
            {"containerDefinitions": container(name="app2")},
            {"containerDefinitions": container(name="envoy")},
            "Duplicate container name 'envoy'",
        ),
        # references between containers
        (
            {
                "containerDefinitions": container(
                    dependsOn=[{"containerName": "envoy", "condition": "HEALTHY"}]
                )
            },
            {
                "containerDefinitions": container(
                    dependsOn=[{"containerName": "nope", "condition": "START"}]
                )
            },
            "depends on container 'nope'",
        ),
        (
            {"proxyConfiguration": {"type": "APPMESH", "containerName": "envoy"}},
            {"proxyConfiguration": {"type": "APPMESH", "containerName": "proxy"}},
            "proxy configuration's container 'proxy'",
        ),
        # tags
        (
            {"tags": [{"key": "k" * 128, "value": "v" * 256}]},
            {"tags": [{"key": "k" * 129, "value": "v"}]},
            "Tag keys must be 1-128",
        ),
        ({}, {"tags": [{"key": "k", "value": "v" * 257}]}, "Tag values must be at most 256"),
        (
            {"tags": [{"key": f"k{i}", "value": ""} for i in range(50)]},
            {"tags": [{"key": f"k{i}", "value": ""} for i in range(51)]},
            "at most 50 tags",
        ),
    ],
)
def test_register_time_rules(
    ecs: ECSClient, accepted: dict[str, Any], refused: dict[str, Any], message: str
) -> None:
    ecs.register_task_definition(**changed(**accepted))
    with pytest.raises(ClientError) as caught:
        ecs.register_task_definition(**changed(**refused))
    error = caught.value.response
    assert error["Error"]["Code"] == "ClientException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message in error["Error"]["Message"]


def test_links_name_containers_and_need_bridge(ecs: ECSClient) -> None:
    bridge = {"networkMode": "bridge", "requiresCompatibilities": ["EC2"], "memory": "512"}
    ecs.register_task_definition(
        **changed(**bridge, containerDefinitions=container(links=["envoy:e"]))
    )
    for refused, message in [
        (changed(**bridge, containerDefinitions=container(links=["nope"])), "links to 'nope'"),
        (changed(containerDefinitions=container(links=["envoy"])), "bridge network mode"),
    ]:
        with pytest.raises(ClientError) as caught:
            ecs.register_task_definition(**refused)
        assert caught.value.response["Error"]["Code"] == "ClientException"
        assert message in caught.value.response["Error"]["Message"]


def test_more_than_ten_containers_are_refused(ecs: ECSClient) -> None:
    ten = [{"name": f"c{i}", "image": "x", "memory": 64} for i in range(10)]
    base = {"networkMode": "awsvpc", "requiresCompatibilities": ["EC2"], "proxyConfiguration": None}
    ecs.register_task_definition(**changed(**base, containerDefinitions=ten))
    with pytest.raises(ClientError) as caught:
        ecs.register_task_definition(
            **changed(**base, containerDefinitions=[*ten, {"name": "c10", "image": "x"}])
        )
    assert "at most 10" in caught.value.response["Error"]["Message"]
