"""Task definitions between CloudFormation's shape and the ECS API (meshed_crystal.ecs.model)."""

from __future__ import annotations

import copy
import datetime
import importlib.util
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.validate import ParamValidator
from meshed_crystal.ecs import model as ecs_model
from meshed_crystal.ecs.model import (
    CFN_ALIASES,
    DESCRIBED_TASK_DEFINITION,
    REGISTER_REQUEST,
    canonical,
    cfn_member_name,
    cfn_task_definition_to_api,
    coerce_api_value,
    digest,
    register_request_from_described,
)
from meshed_crystal.errors import PropertyError

ACCOUNT = "123456789012"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecsdemo-crystal-ExecutionRole"
TASK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecsdemo-crystal-TaskRole"
CRYSTAL_IMAGE = "public.ecr.aws/aws-containers/ecsdemo-crystal"


def _register_errors(request: Mapping[str, Any]) -> str:
    """botocore's own client-side validation of RegisterTaskDefinition kwargs ("" when valid)."""
    shape = ecs_model.service_model().operation_model("RegisterTaskDefinition").input_shape
    assert shape is not None
    report = ParamValidator().validate(dict(request), shape)
    return str(report.generate_report())


def _convert_error(value: Mapping[str, Any]) -> str:
    with pytest.raises(PropertyError) as caught:
        cfn_task_definition_to_api(value)
    return str(caught.value)


def _one_container(**container: Any) -> dict[str, Any]:
    """A CloudFormation TaskDefinition body around one container's properties."""
    return {"Family": "f", "ContainerDefinitions": [{"Name": "app", "Image": "i", **container}]}


def _converted_container(**container: Any) -> dict[str, Any]:
    converted: dict[str, Any] = cfn_task_definition_to_api(_one_container(**container))
    first: dict[str, Any] = converted["containerDefinitions"][0]
    return first


# --- the workshop's crystal task definition -------------------------------------------------

# The ECS workshop's crystal backend as a template author writes it inline, after CloudFormation
# has turned every scalar into a string.
CRYSTAL_CFN: dict[str, Any] = {
    "Family": "ecsdemo-crystal",
    "NetworkMode": "awsvpc",
    "RequiresCompatibilities": ["EC2", "FARGATE"],
    "Cpu": "256",
    "Memory": "512",
    "ExecutionRoleArn": EXECUTION_ROLE,
    "TaskRoleArn": TASK_ROLE,
    "ContainerDefinitions": [
        {
            "Name": "crystal-app",
            "Image": CRYSTAL_IMAGE,
            "Essential": "true",
            "MemoryReservation": "512",
            "PortMappings": [{"ContainerPort": "3000", "Protocol": "tcp"}],
            "Environment": [{"Name": "REGION", "Value": "us-west-2"}],
            "LogConfiguration": {
                "LogDriver": "awslogs",
                "Options": {
                    "awslogs-group": "ecsworkshop-crystal",
                    "awslogs-region": "us-west-2",
                    "awslogs-stream-prefix": "/crystal-container",
                },
            },
        }
    ],
    "Tags": [{"Key": "app", "Value": "ecsdemo-crystal"}],
}

CRYSTAL_API: dict[str, Any] = {
    "family": "ecsdemo-crystal",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["EC2", "FARGATE"],
    "cpu": "256",
    "memory": "512",
    "executionRoleArn": EXECUTION_ROLE,
    "taskRoleArn": TASK_ROLE,
    "containerDefinitions": [
        {
            "name": "crystal-app",
            "image": CRYSTAL_IMAGE,
            "essential": True,
            "memoryReservation": 512,
            "portMappings": [{"containerPort": 3000, "protocol": "tcp"}],
            "environment": [{"name": "REGION", "value": "us-west-2"}],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "ecsworkshop-crystal",
                    "awslogs-region": "us-west-2",
                    "awslogs-stream-prefix": "/crystal-container",
                },
            },
        }
    ],
    "tags": [{"key": "app", "value": "ecsdemo-crystal"}],
}


def test_workshop_crystal_definition_converts_to_the_exact_api_request() -> None:
    converted = cfn_task_definition_to_api(CRYSTAL_CFN)

    assert converted == CRYSTAL_API
    # Equality alone would not see 512 vs "512" if both sides were wrong the same way.
    container = converted["containerDefinitions"][0]
    assert type(container["memoryReservation"]) is int
    assert type(container["essential"]) is bool
    assert _register_errors(converted) == ""


def test_conversion_does_not_change_its_input() -> None:
    given = copy.deepcopy(CRYSTAL_CFN)

    cfn_task_definition_to_api(given)

    assert given == CRYSTAL_CFN


# --- scalars --------------------------------------------------------------------------------


def test_nested_integers_and_booleans_are_coerced() -> None:
    container = _converted_container(
        Essential="false",
        ReadonlyRootFilesystem="TRUE",
        MemoryReservation="128",
        PortMappings=[{"ContainerPort": "3000", "HostPort": "3000"}],
        Ulimits=[{"Name": "nofile", "SoftLimit": "15000", "HardLimit": "15000"}],
        HealthCheck={
            "Command": ["CMD-SHELL", "curl -s http://localhost:9901/server_info"],
            "Interval": "5",
            "Timeout": "10",
            "Retries": "10",
        },
    )

    assert container == {
        "name": "app",
        "image": "i",
        "essential": False,
        "readonlyRootFilesystem": True,
        "memoryReservation": 128,
        "portMappings": [{"containerPort": 3000, "hostPort": 3000}],
        "ulimits": [{"name": "nofile", "softLimit": 15000, "hardLimit": 15000}],
        "healthCheck": {
            "command": ["CMD-SHELL", "curl -s http://localhost:9901/server_info"],
            "interval": 5,
            "timeout": 10,
            "retries": 10,
        },
    }
    assert type(container["ulimits"][0]["softLimit"]) is int


def test_real_json_scalars_give_the_same_request_as_strings() -> None:
    as_strings = _converted_container(
        Essential="true", MemoryReservation="128", PortMappings=[{"ContainerPort": "80"}]
    )
    as_json = _converted_container(
        Essential=True, MemoryReservation=128, PortMappings=[{"ContainerPort": 80}]
    )

    assert (
        as_json
        == as_strings
        == {
            "name": "app",
            "image": "i",
            "essential": True,
            "memoryReservation": 128,
            "portMappings": [{"containerPort": 80}],
        }
    )


def test_string_members_take_numbers_and_booleans_as_cloudformation_would_write_them() -> None:
    converted = cfn_task_definition_to_api(
        {
            "Family": "f",
            "Cpu": 256,
            "ContainerDefinitions": [
                {
                    "Name": "app",
                    "Environment": [
                        {"Name": "DEBUG", "Value": True},
                        {"Name": "RATIO", "Value": 0.5},
                    ],
                },
            ],
        }
    )

    assert converted["cpu"] == "256"
    assert converted["containerDefinitions"][0]["environment"] == [
        {"name": "DEBUG", "value": "true"},
        {"name": "RATIO", "value": "0.5"},
    ]


def test_a_null_member_counts_as_absent() -> None:
    assert _converted_container(Cpu=None) == {"name": "app", "image": "i"}


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("abc", "'abc' is not an integer"),
        ("3.5", "'3.5' is not an integer"),
        ("", "'' is not an integer"),
        (" 3", "' 3' is not an integer"),
        ("1_000", "'1_000' is not an integer"),
        (3.5, "3.5 is not an integer"),
        (True, "true is not an integer"),
        ([3], "a list is not an integer"),
        ("2147483648", "'2147483648' is above the maximum 2147483647"),
    ],
)
def test_bad_integers_are_refused_with_their_path(value: Any, rule: str) -> None:
    error = _convert_error(_one_container(PortMappings=[{}, {"ContainerPort": value}]))

    assert error == f"TaskDefinition.ContainerDefinitions[0].PortMappings[1].ContainerPort: {rule}"


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("0", "'0' is below the minimum 1"),
        ("101", "'101' is above the maximum 100"),
    ],
)
def test_integer_bounds_come_from_the_model(value: str, rule: str) -> None:
    # NvidiaMpsAllocation.MaxComputePercent is one of the integers the model bounds (1-100).
    requirement = {
        "Type": "GPU",
        "Value": "1",
        "SharingStrategy": {"NvidiaMps": {"Memory": "1", "MaxComputePercent": value}},
    }
    error = _convert_error(_one_container(ResourceRequirements=[requirement]))

    path = "TaskDefinition.ContainerDefinitions[0].ResourceRequirements[0]"
    assert error == f"{path}.SharingStrategy.NvidiaMps.MaxComputePercent: {rule}"


@pytest.mark.parametrize("value", ["yes", "1", "", "t", 1])
def test_bad_booleans_are_refused_with_their_path(value: Any) -> None:
    error = _convert_error(_one_container(Essential=value))

    expected = f"{value!r} is not a boolean (true or false)"
    assert error == f"TaskDefinition.ContainerDefinitions[0].Essential: {expected}"


# --- enums ----------------------------------------------------------------------------------


def test_enum_values_from_the_model_are_accepted() -> None:
    converted = cfn_task_definition_to_api(
        {
            "NetworkMode": "awsvpc",
            "PidMode": "task",
            "IpcMode": "none",
            "RuntimePlatform": {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
            "ContainerDefinitions": [
                {"Name": "app", "DependsOn": [{"ContainerName": "envoy", "Condition": "HEALTHY"}]}
            ],
        }
    )

    assert converted["networkMode"] == "awsvpc"
    assert converted["runtimePlatform"] == {
        "cpuArchitecture": "ARM64",
        "operatingSystemFamily": "LINUX",
    }
    assert converted["containerDefinitions"][0]["dependsOn"] == [
        {"containerName": "envoy", "condition": "HEALTHY"}
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"NetworkMode": "AWSVPC"},
            "TaskDefinition.NetworkMode: 'AWSVPC' is not one of bridge, host, awsvpc, none"
            " (did you mean awsvpc?)",
        ),
        (
            {"NetworkMode": "overlay"},
            "TaskDefinition.NetworkMode: 'overlay' is not one of bridge, host, awsvpc, none",
        ),
        (
            {"RequiresCompatibilities": ["FARGATE", "LAMBDA"]},
            "TaskDefinition.RequiresCompatibilities[1]: 'LAMBDA' is not one of"
            " EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES",
        ),
        (
            {"ProxyConfiguration": {"Type": "appmesh", "ContainerName": "envoy"}},
            "TaskDefinition.ProxyConfiguration.Type: 'appmesh' is not one of APPMESH"
            " (did you mean APPMESH?)",
        ),
    ],
)
def test_enum_values_outside_the_model_are_refused(body: dict[str, Any], message: str) -> None:
    assert _convert_error({"ContainerDefinitions": [], **body}) == message


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"Familly": "f", "ContainerDefinitions": []},
            "TaskDefinition.Familly: unknown property (did you mean Family?)",
        ),
        (
            _one_container(PortMapings=[{"ContainerPort": "3000"}]),
            "TaskDefinition.ContainerDefinitions[0].PortMapings: unknown property"
            " (did you mean PortMappings?)",
        ),
        (
            _one_container(Ulimits=[{"Name": "nofile", "SoftLimt": "1", "HardLimit": "1"}]),
            "TaskDefinition.ContainerDefinitions[0].Ulimits[0].SoftLimt: unknown property"
            " (did you mean SoftLimit?)",
        ),
        (
            {"ProxyConfiguration": {"ContainerName": "envoy", "ProxyProperties": []}},
            "TaskDefinition.ProxyConfiguration.ProxyProperties: unknown property"
            " (did you mean ProxyConfigurationProperties?)",
        ),
        (
            {"Banana": "yes", "ContainerDefinitions": []},
            "TaskDefinition.Banana: unknown property",
        ),
        (
            # Read-only in CloudFormation: a return value, never an input.
            {"TaskDefinitionArn": "arn", "ContainerDefinitions": []},
            "TaskDefinition.TaskDefinitionArn: is read-only: ECS sets it when it registers a"
            " revision",
        ),
    ],
)
def test_unknown_keys_name_their_path_and_the_closest_name(
    body: dict[str, Any], message: str
) -> None:
    assert _convert_error(body) == message


def test_keys_match_case_insensitively_but_not_twice() -> None:
    assert cfn_task_definition_to_api({"family": "f", "CONTAINERDEFINITIONS": []}) == {
        "family": "f",
        "containerDefinitions": [],
    }
    error = _convert_error({"Cpu": "256", "cpu": "512", "ContainerDefinitions": []})
    assert error == "TaskDefinition.cpu: duplicate of Cpu"


def test_the_path_argument_prefixes_every_error() -> None:
    with pytest.raises(PropertyError) as caught:
        cfn_task_definition_to_api({"Cpu": [], "ContainerDefinitions": []}, path="Props.TD")

    assert caught.value.path == "Props.TD.Cpu"
    assert caught.value.rule == "a list is not a string"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"ContainerDefinitions": "crystal"}, "ContainerDefinitions: 'crystal' is not a list"),
        ({"ContainerDefinitions": {"Name": "a"}}, "ContainerDefinitions: an object is not a list"),
        ({"ContainerDefinitions": ["app"]}, "ContainerDefinitions[0]: 'app' is not an object"),
        (
            _one_container(LogConfiguration="awslogs"),
            "ContainerDefinitions[0].LogConfiguration: 'awslogs' is not an object",
        ),
        (
            _one_container(DockerLabels=[{"Key": "a", "Value": "b"}]),
            "ContainerDefinitions[0].DockerLabels: a list is not an object",
        ),
        (
            _one_container(DockerLabels={"team": {"name": "x"}}),
            "ContainerDefinitions[0].DockerLabels.team: an object is not a string",
        ),
        ({"Family": ["f"], "ContainerDefinitions": []}, "Family: a list is not a string"),
    ],
)
def test_wrong_container_types_name_the_path_and_the_expected_type(
    body: dict[str, Any], message: str
) -> None:
    assert _convert_error(body) == f"TaskDefinition.{message}"


def test_the_whole_property_must_be_an_object() -> None:
    assert _convert_error(cast("dict[str, Any]", "my-family:3")) == (
        "TaskDefinition: 'my-family:3' is not an object"
    )


def test_required_members_are_named_as_cloudformation_spells_them() -> None:
    error = _convert_error(_one_container(Ulimits=[{"Name": "nofile", "SoftLimit": "1"}]))
    path = "TaskDefinition.ContainerDefinitions[0].Ulimits[0]"
    assert error == f"{path}: missing required property HardLimit"

    error = _convert_error({"Family": "f"})
    assert error == "TaskDefinition: missing required property ContainerDefinitions"


def test_family_may_be_left_to_the_resource() -> None:
    # AWS::ECS::TaskDefinition does not require Family; the resource's own Family fills it in.
    assert cfn_task_definition_to_api({"ContainerDefinitions": []}) == {"containerDefinitions": []}


def test_tag_key_length_comes_from_the_model() -> None:
    error = _convert_error({"ContainerDefinitions": [], "Tags": [{"Key": "", "Value": "v"}]})

    assert error == "TaskDefinition.Tags[0].Key: must be at least 1 characters long"


# --- aliases and user keys -------------------------------------------------------------------


def test_proxy_configuration_properties_is_the_apis_properties() -> None:
    converted = cfn_task_definition_to_api(
        {
            "ContainerDefinitions": [],
            "ProxyConfiguration": {
                "Type": "APPMESH",
                "ContainerName": "envoy",
                "ProxyConfigurationProperties": [
                    {"Name": "AppPorts", "Value": "3000"},
                    {"Name": "IgnoredUID", "Value": "1337"},
                ],
            },
        }
    )

    # The values stay strings: ECS's KeyValuePair.value is a string, even for ports.
    assert converted["proxyConfiguration"] == {
        "type": "APPMESH",
        "containerName": "envoy",
        "properties": [
            {"name": "AppPorts", "value": "3000"},
            {"name": "IgnoredUID", "value": "1337"},
        ],
    }


def test_names_that_differ_only_in_case_need_no_alias() -> None:
    converted = cfn_task_definition_to_api(
        {
            "ContainerDefinitions": [],
            "Tags": [{"Key": "team", "Value": "mesh"}],
            "EnableFaultInjection": "true",
            "EphemeralStorage": {"SizeInGiB": "30"},
            "Volumes": [
                {
                    "Name": "efs",
                    "EFSVolumeConfiguration": {
                        "FilesystemId": "fs-1234",
                        "TransitEncryption": "ENABLED",
                        "AuthorizationConfig": {"IAM": "ENABLED", "AccessPointId": "fsap-1"},
                    },
                }
            ],
        }
    )

    assert converted["tags"] == [{"key": "team", "value": "mesh"}]
    assert converted["enableFaultInjection"] is True
    assert converted["ephemeralStorage"] == {"sizeInGiB": 30}
    assert converted["volumes"] == [
        {
            "name": "efs",
            "efsVolumeConfiguration": {
                "fileSystemId": "fs-1234",
                "transitEncryption": "ENABLED",
                "authorizationConfig": {"iam": "ENABLED", "accessPointId": "fsap-1"},
            },
        }
    ]


def test_user_keys_of_maps_are_kept_as_written() -> None:
    converted = cfn_task_definition_to_api(
        {
            "ContainerDefinitions": [
                {
                    "Name": "app",
                    "DockerLabels": {"com.example.Team": "mesh", "Version": 2},
                    "LogConfiguration": {
                        "LogDriver": "awsfirelens",
                        "Options": {"Name": "cloudwatch", "log_group_name": "crystal"},
                    },
                    "FirelensConfiguration": {
                        "Type": "fluentbit",
                        "Options": {"enable-ecs-log-metadata": "true"},
                    },
                }
            ],
            "Volumes": [
                {
                    "Name": "data",
                    "DockerVolumeConfiguration": {
                        "Driver": "rexray/ebs",
                        "DriverOpts": {"VolumeType": "gp3", "Size": "5"},
                        "Labels": {"Owner": "crystal"},
                    },
                }
            ],
        }
    )

    container = converted["containerDefinitions"][0]
    assert container["dockerLabels"] == {"com.example.Team": "mesh", "Version": "2"}
    assert container["logConfiguration"]["options"] == {
        "Name": "cloudwatch",
        "log_group_name": "crystal",
    }
    assert container["firelensConfiguration"]["options"] == {"enable-ecs-log-metadata": "true"}
    assert converted["volumes"][0]["dockerVolumeConfiguration"] == {
        "driver": "rexray/ebs",
        "driverOpts": {"VolumeType": "gp3", "Size": "5"},
        "labels": {"Owner": "crystal"},
    }


# --- camelCase values -----------------------------------------------------------------------


def test_coerce_api_value_types_a_request_built_from_strings() -> None:
    request = {
        "family": "f",
        "containerDefinitions": [
            {"name": "envoy", "user": 1337, "memoryReservation": "128", "essential": "true"}
        ],
    }

    assert coerce_api_value(request) == {
        "family": "f",
        "containerDefinitions": [
            {"name": "envoy", "user": "1337", "memoryReservation": 128, "essential": True}
        ],
    }


def test_coerce_api_value_takes_nested_shapes_and_a_path() -> None:
    assert coerce_api_value({"containerPort": "3000"}, "PortMapping") == {"containerPort": 3000}

    with pytest.raises(PropertyError) as caught:
        coerce_api_value({"name": "a", "portMapings": []}, "ContainerDefinition", "containers[0]")
    assert str(caught.value) == (
        "containers[0].portMapings: unknown property (did you mean portMappings?)"
    )


def test_coerce_api_value_wants_exact_api_names() -> None:
    with pytest.raises(PropertyError) as caught:
        coerce_api_value({"Family": "f", "containerDefinitions": []})

    assert str(caught.value) == "Family: unknown property (did you mean family?)"


def test_coerce_api_value_passes_enum_values_on() -> None:
    # ECS (not botocore's possibly older list) judges enum values that code or ECS produced.
    coerced = coerce_api_value({"family": "f", "containerDefinitions": [], "networkMode": "nat"})

    assert coerced["networkMode"] == "nat"


# --- described task definitions --------------------------------------------------------------

REGISTERED_AT = datetime.datetime(2025, 3, 1, 12, 0, tzinfo=datetime.UTC)

# DescribeTaskDefinition(include=["TAGS"]) for the crystal definition, as ECS answers it: the
# registered members plus read-only ones and the defaults ECS fills in.
DESCRIBED: dict[str, Any] = {
    "taskDefinitionArn": f"arn:aws:ecs:us-west-2:{ACCOUNT}:task-definition/ecsdemo-crystal:7",
    "containerDefinitions": [
        {
            "name": "crystal-app",
            "image": CRYSTAL_IMAGE,
            "cpu": 0,
            "memoryReservation": 512,
            "portMappings": [{"containerPort": 3000, "hostPort": 3000, "protocol": "tcp"}],
            "essential": True,
            "environment": [{"name": "REGION", "value": "us-west-2"}],
            "mountPoints": [],
            "volumesFrom": [],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "ecsworkshop-crystal",
                    "awslogs-region": "us-west-2",
                    "awslogs-stream-prefix": "/crystal-container",
                },
                "secretOptions": [],
            },
            "systemControls": [],
        }
    ],
    "family": "ecsdemo-crystal",
    "taskRoleArn": TASK_ROLE,
    "executionRoleArn": EXECUTION_ROLE,
    "networkMode": "awsvpc",
    "revision": 7,
    "volumes": [],
    "status": "ACTIVE",
    "requiresAttributes": [
        {"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"},
        {"name": "ecs.capability.execution-role-awslogs"},
        {"name": "com.amazonaws.ecs.capability.task-iam-role"},
        {"name": "ecs.capability.task-eni"},
    ],
    "placementConstraints": [],
    "compatibilities": ["EC2", "FARGATE"],
    "requiresCompatibilities": ["EC2", "FARGATE"],
    "cpu": "256",
    "memory": "512",
    "registeredAt": REGISTERED_AT,
    "registeredBy": f"arn:aws:sts::{ACCOUNT}:assumed-role/cfn-exec/AWSCloudFormation",
}
DESCRIBED_TAGS = [{"key": "app", "value": "ecsdemo-crystal"}]


def test_register_request_from_described_drops_the_read_only_fields() -> None:
    request = register_request_from_described(DESCRIBED, DESCRIBED_TAGS)

    assert request == {
        "containerDefinitions": DESCRIBED["containerDefinitions"],
        "family": "ecsdemo-crystal",
        "taskRoleArn": TASK_ROLE,
        "executionRoleArn": EXECUTION_ROLE,
        "networkMode": "awsvpc",
        "volumes": [],
        "placementConstraints": [],
        "requiresCompatibilities": ["EC2", "FARGATE"],
        "cpu": "256",
        "memory": "512",
        "tags": DESCRIBED_TAGS,
    }
    assert _register_errors(request) == ""


def test_register_request_from_described_copies_what_it_returns() -> None:
    request = register_request_from_described(DESCRIBED, DESCRIBED_TAGS)
    request["containerDefinitions"].append({"name": "envoy"})
    request["tags"][0]["value"] = "changed"

    assert [c["name"] for c in DESCRIBED["containerDefinitions"]] == ["crystal-app"]
    assert DESCRIBED_TAGS == [{"key": "app", "value": "ecsdemo-crystal"}]


@pytest.mark.parametrize("tags", [None, []])
def test_register_request_from_described_sends_no_empty_tags(
    tags: list[dict[str, str]] | None,
) -> None:
    assert "tags" not in register_request_from_described(DESCRIBED, tags)


def test_the_described_and_request_shapes_share_their_member_names() -> None:
    # This is why register_request_from_described needs no renaming: the request's members are
    # the described definition's, plus tags (which DescribeTaskDefinition returns beside it).
    model = ecs_model.service_model()
    request = _structure(model.shape_for(REGISTER_REQUEST))
    described = _structure(model.shape_for(DESCRIBED_TASK_DEFINITION))

    assert set(request.members) - set(described.members) == {"tags"}
    for name in set(request.members) & set(described.members):
        assert request.members[name].name == described.members[name].name, name
    read_only = set(described.members) - set(request.members)
    assert read_only >= {
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
    }


def test_a_described_definition_coerces_against_its_own_shape() -> None:
    coerced = coerce_api_value(DESCRIBED, DESCRIBED_TASK_DEFINITION)

    assert coerced["registeredAt"] == REGISTERED_AT
    assert coerced["revision"] == 7


# --- canonical and digest --------------------------------------------------------------------


def test_a_described_definition_compares_equal_to_the_request_that_registered_it() -> None:
    registered = cfn_task_definition_to_api(CRYSTAL_CFN)
    described_again = register_request_from_described(DESCRIBED, DESCRIBED_TAGS)

    assert registered != described_again  # ECS's defaults and empty lists differ...
    assert canonical(described_again) == canonical(registered)  # ...but mean the same
    assert digest(described_again) == digest(registered)


def test_canonical_is_sorted_compact_json_without_empty_values() -> None:
    request = {
        "family": "f",
        "volumes": [],
        "containerDefinitions": [{"name": "a", "image": "i", "cpu": 0, "environment": []}],
    }

    assert canonical(request) == '{"containerDefinitions":[{"image":"i","name":"a"}],"family":"f"}'


def test_canonical_ignores_key_order_tag_order_and_scalar_spelling() -> None:
    one = {
        "family": "f",
        "cpu": "256",
        "containerDefinitions": [{"name": "a", "memoryReservation": 128}],
        "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}],
    }
    other = {
        "tags": [{"value": "2", "key": "b"}, {"key": "a", "value": "1"}],
        "containerDefinitions": [{"memoryReservation": "128", "name": "a"}],
        "cpu": 256,
        "family": "f",
    }

    assert canonical(one) == canonical(other)
    assert digest(one) == digest(other)


BASE: dict[str, Any] = {
    "family": "f",
    "networkMode": "awsvpc",
    "containerDefinitions": [
        {"name": "a", "image": "i:1", "portMappings": [{"containerPort": 3000}]},
        {"name": "b", "image": "j:1"},
    ],
}


def _changed(**container_a: Any) -> dict[str, Any]:
    changed = copy.deepcopy(BASE)
    changed["containerDefinitions"][0].update(container_a)
    return changed


@pytest.mark.parametrize(
    "changed",
    [
        _changed(image="i:2"),
        _changed(essential=False),
        _changed(cpu=10),
        _changed(portMappings=[{"containerPort": 3000, "hostPort": 3001}]),
        _changed(portMappings=[{"containerPort": 3000, "protocol": "udp"}]),
        _changed(environment=[{"name": "A", "value": ""}]),
        _changed(healthCheck={"command": ["CMD", "true"], "interval": 10}),
        {**BASE, "containerDefinitions": list(reversed(BASE["containerDefinitions"]))},
        {**BASE, "networkMode": "bridge"},
        {**BASE, "tags": [{"key": "a", "value": "1"}]},
    ],
)
def test_a_real_change_changes_canonical_and_digest(changed: dict[str, Any]) -> None:
    assert canonical(changed) != canonical(BASE)
    assert digest(changed) != digest(BASE)


def test_ecs_defaults_do_not_count_as_a_change() -> None:
    with_defaults = _changed(
        cpu=0,
        essential=True,
        portMappings=[{"containerPort": 3000, "hostPort": 3000, "protocol": "tcp"}],
        healthCheck={"command": ["CMD", "true"], "interval": 30, "timeout": 5, "retries": 3},
        mountPoints=[],
    )
    with_health_check = _changed(healthCheck={"command": ["CMD", "true"]})

    assert canonical(with_defaults) == canonical(with_health_check)


def test_a_bridge_host_port_equal_to_the_container_port_is_kept() -> None:
    # In bridge mode an absent host port means a dynamic one, not the container port.
    bridge = {**BASE, "networkMode": "bridge"}
    fixed = {
        **_changed(portMappings=[{"containerPort": 3000, "hostPort": 3000}]),
        "networkMode": "bridge",
    }

    assert canonical(fixed) != canonical(bridge)


def test_digest_is_16_hex_digits_of_the_canonical_sha256() -> None:
    import hashlib

    value = digest(BASE)

    assert len(value) == 16
    assert value == hashlib.sha256(canonical(BASE).encode()).hexdigest()[:16]


def test_canonical_refuses_what_is_not_a_request() -> None:
    with pytest.raises(PropertyError, match=r"^revision: is read-only"):
        canonical({**BASE, "revision": 3})


# --- the model ------------------------------------------------------------------------------


def test_the_model_is_loaded_once() -> None:
    assert ecs_model.service_model() is ecs_model.service_model()


def _structure(shape: Shape | None) -> StructureShape:
    assert isinstance(shape, StructureShape)
    return shape


def _structures(shape: Shape, seen: set[str] | None = None) -> Iterator[StructureShape]:
    seen = set() if seen is None else seen
    if shape.name in seen:
        return
    seen.add(shape.name)
    if isinstance(shape, StructureShape):
        yield shape
        for member in shape.members.values():
            yield from _structures(member, seen)
    elif isinstance(shape, ListShape):
        yield from _structures(shape.member, seen)
    elif isinstance(shape, MapShape):
        yield from _structures(shape.value, seen)


def test_no_two_members_of_a_structure_differ_only_in_case() -> None:
    # Case-insensitive matching would be ambiguous otherwise.
    root = ecs_model.service_model().shape_for(REGISTER_REQUEST)
    for structure in _structures(root):
        lowered = [name.lower() for name in structure.members]
        assert len(lowered) == len(set(lowered)), structure.name


# --- completeness against CloudFormation's schema ---------------------------------------------

# CloudFormation properties of AWS::ECS::TaskDefinition that have no RegisterTaskDefinition
# member, each with the reason.
CFN_SKIPPED: dict[str, str] = {
    "TaskDefinitionArn": "read-only: CloudFormation's return value (Ref), never an input",
}

# The JSON schema type CloudFormation validates a scalar against, for each model scalar type.
_CFN_SCALAR_TYPE = {"string": "string", "integer": "integer", "boolean": "boolean"}


def _cfn_schema() -> dict[str, Any]:
    """AWS::ECS::TaskDefinition's resource schema from cfn-lint's bundled copy (us-east-1)."""
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("cfn-lint (requirements-dev.txt) is needed for the schema test")
    schemas = Path(next(iter(spec.submodule_search_locations))) / "data" / "schemas"
    providers = json.loads((schemas / "providers" / "us-east-1.json").read_text())
    resource = schemas / "resources" / f"{providers['AWS::ECS::TaskDefinition']}.json"
    schema: dict[str, Any] = json.loads(resource.read_text())
    return schema


Lookup = Callable[[str, str], "str | None"]


class _SchemaWalk:
    """Walks the schema's property tree beside the model's shapes, noting what does not fit."""

    def __init__(self, schema: Mapping[str, Any], lookup: Lookup) -> None:
        self.schema = schema
        self.lookup = lookup
        self.mismatches: list[str] = []
        self.skipped: set[str] = set()
        self.aliased: set[tuple[str, str]] = set()
        self.visited: set[str] = set()

    def walk(self, node: Mapping[str, Any], shape: Shape, path: str) -> None:
        node = self._resolve(node)
        if "properties" in node:
            self._structure(node["properties"], shape, path)
        elif "items" in node:
            if not isinstance(shape, ListShape):
                self.mismatches.append(f"{path}: a list in CloudFormation, not in ECS")
                return
            self.walk(node["items"], shape.member, f"{path}[]")
        elif "patternProperties" in node:
            if not (isinstance(shape, MapShape) and shape.value.type_name == "string"):
                self.mismatches.append(f"{path}: a string map in CloudFormation, not in ECS")
        elif node.get("type") != _CFN_SCALAR_TYPE.get(shape.type_name):
            cfn_type, api_type = node.get("type"), shape.type_name
            self.mismatches.append(f"{path}: {cfn_type} in CloudFormation, {api_type} in ECS")

    def _structure(self, properties: Mapping[str, Any], shape: Shape, path: str) -> None:
        if not isinstance(shape, StructureShape):
            self.mismatches.append(f"{path}: an object in CloudFormation, not in ECS")
            return
        for key, child in properties.items():
            child_path = f"{path}.{key}" if path else key
            self.visited.add(child_path)
            if child_path in CFN_SKIPPED:
                self.skipped.add(child_path)
                continue
            member = self.lookup(shape.name, key)
            if member is None:
                self.mismatches.append(f"{child_path}: no member of {shape.name}")
                continue
            if member.lower() != key.lower():
                self.aliased.add((shape.name, key))
            self.walk(child, shape.members[member], child_path)

    def _resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in node:
            node = self.schema["definitions"][node["$ref"].rsplit("/", 1)[-1]]
        return node


def _walk_schema(lookup: Lookup) -> _SchemaWalk:
    schema = _cfn_schema()
    walk = _SchemaWalk(schema, lookup)
    root = ecs_model.service_model().shape_for(REGISTER_REQUEST)
    walk.walk({"properties": schema["properties"]}, root, "")
    return walk


def test_every_cloudformation_property_maps_to_a_model_member() -> None:
    walk = _walk_schema(cfn_member_name)

    assert walk.mismatches == []
    # The walk went through $refs down to the leaves, not just the top level.
    assert {
        "ContainerDefinitions[].PortMappings[].ContainerPort",
        "ContainerDefinitions[].LinuxParameters.Devices[].Permissions",
        "ContainerDefinitions[].DockerLabels",
        "Volumes[].EFSVolumeConfiguration.AuthorizationConfig.IAM",
        "ProxyConfiguration.ProxyConfigurationProperties[].Value",
        "Tags[].Key",
    } <= walk.visited
    assert len(walk.visited) > 150
    # No stale entries: every skip and every alias is still needed by the schema...
    assert walk.skipped == set(CFN_SKIPPED)
    assert walk.aliased == set(CFN_ALIASES)
    # ...and what is skipped is exactly what the schema marks read-only.
    assert {f"/properties/{p}" for p in CFN_SKIPPED} == set(_cfn_schema()["readOnlyProperties"])


def test_the_schema_walk_would_catch_a_missing_alias() -> None:
    def without_aliases(shape_name: str, key: str) -> str | None:
        members = _structure(ecs_model.service_model().shape_for(shape_name)).members
        return next((m for m in members if m.lower() == key.lower()), None)

    walk = _walk_schema(without_aliases)

    assert walk.mismatches == [
        "ProxyConfiguration.ProxyConfigurationProperties: no member of ProxyConfiguration"
    ]
