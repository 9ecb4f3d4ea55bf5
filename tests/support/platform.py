"""The ECS workshop's platform, built in whatever AWS a boto3 session points at.

The "Mesh Crystal Service" chapter starts from a platform that earlier chapters built: the App
Mesh mesh, the Cloud Map namespace and the crystal service's entry in it, the ECS cluster, the task
and execution roles, the log group and the crystal application's own task definition. The
custom resource only ever *reads* these (and registers derived revisions next to them), so the
tests create them up front, in moto (in-process or server mode) or, unchanged, in a real account.

Calling :func:`build_workshop_platform` twice against the same emulator reuses what exists.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    import boto3

__all__ = [
    "APP_CONTAINER",
    "APP_IMAGE",
    "APP_PORT",
    "Platform",
    "build_workshop_platform",
]

MESH_NAME: Final = "ecs-mesh"
NAMESPACE_NAME: Final = "service.local"
CLOUD_MAP_SERVICE_NAME: Final = "ecsdemo-crystal"
CLUSTER_NAME: Final = "container-demo"
TASK_ROLE_NAME: Final = "ecsdemo-task-role"
EXECUTION_ROLE_NAME: Final = "ecsdemo-execution-role"
LOG_GROUP_NAME: Final = "ecsdemo-crystal"
APP_FAMILY: Final = "ecsdemo-crystal"
APP_CONTAINER: Final = "crystal"
APP_IMAGE: Final = "public.ecr.aws/aws-containers/ecsdemo-crystal:latest"
APP_PORT: Final = 3000
VPC_CIDR: Final = "10.0.0.0/16"
VPC_TAG: Final = "ecsdemo-platform"

_ECS_TASKS_TRUST: Final = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass(frozen=True)
class Platform:
    """Names and ARNs of the workshop platform's pieces."""

    mesh_name: str
    mesh_arn: str
    namespace_name: str
    namespace_id: str
    cloud_map_service_name: str
    cloud_map_service_id: str
    cloud_map_service_arn: str
    cluster_arn: str
    task_role_arn: str
    execution_role_arn: str
    log_group_name: str
    app_task_definition_arn: str
    app_family: str
    region: str
    account: str
    vpc_id: str = ""


def build_workshop_platform(session: boto3.Session) -> Platform:
    """Create (or find) the workshop's platform with ``session``'s region and endpoint."""
    region = session.region_name
    if not region:
        raise ValueError("the boto3 session has no region")
    account = str(session.client("sts").get_caller_identity()["Account"])

    # No mesh where the SDK has no App Mesh (tasks.py test --without-mode appmesh).
    has_appmesh = "appmesh" in session.get_available_services()
    mesh_arn = _mesh(session) if has_appmesh else ""
    vpc_id = _vpc(session)
    namespace_id = _namespace(session, vpc_id)
    service_id, service_arn = _cloud_map_service(session, namespace_id)
    cluster_arn = str(
        session.client("ecs").create_cluster(clusterName=CLUSTER_NAME)["cluster"]["clusterArn"]
    )
    task_role_arn = _ecs_tasks_role(session, TASK_ROLE_NAME)
    execution_role_arn = _ecs_tasks_role(session, EXECUTION_ROLE_NAME)
    _log_group(session)
    app_task_definition_arn = _app_task_definition(
        session, region, task_role_arn, execution_role_arn
    )
    return Platform(
        mesh_name=MESH_NAME if has_appmesh else "",
        mesh_arn=mesh_arn,
        namespace_name=NAMESPACE_NAME,
        namespace_id=namespace_id,
        cloud_map_service_name=CLOUD_MAP_SERVICE_NAME,
        cloud_map_service_id=service_id,
        cloud_map_service_arn=service_arn,
        cluster_arn=cluster_arn,
        task_role_arn=task_role_arn,
        execution_role_arn=execution_role_arn,
        log_group_name=LOG_GROUP_NAME,
        app_task_definition_arn=app_task_definition_arn,
        app_family=APP_FAMILY,
        region=region,
        account=account,
        vpc_id=vpc_id,
    )


def _mesh(session: boto3.Session) -> str:
    appmesh = session.client("appmesh")
    try:
        mesh = appmesh.describe_mesh(meshName=MESH_NAME)["mesh"]
    except ClientError as error:
        # Real App Mesh says NotFoundException; moto 5.2 says MeshNotFound.
        if error.response["Error"]["Code"] not in ("NotFoundException", "MeshNotFound"):
            raise
        mesh = appmesh.create_mesh(meshName=MESH_NAME)["mesh"]
    return str(mesh["metadata"]["arn"])


def _vpc(session: boto3.Session) -> str:
    ec2 = session.client("ec2")
    found = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [VPC_TAG]}])["Vpcs"]
    if found:
        return str(found[0]["VpcId"])
    vpc = ec2.create_vpc(
        CidrBlock=VPC_CIDR,
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": VPC_TAG}]}],
    )["Vpc"]
    return str(vpc["VpcId"])


def _find_namespace(session: boto3.Session) -> str | None:
    sd = session.client("servicediscovery")
    for page in sd.get_paginator("list_namespaces").paginate():
        for namespace in page["Namespaces"]:
            if namespace["Name"] == NAMESPACE_NAME:
                return str(namespace["Id"])
    return None


def _namespace(session: boto3.Session, vpc_id: str) -> str:
    existing = _find_namespace(session)
    if existing is not None:
        return existing
    # CreatePrivateDnsNamespace is asynchronous and returns an operation id, not the namespace;
    # moto completes it at once, so the namespace is listed straight away. (Against real AWS
    # this would have to poll GetOperation first; the tests never build the platform there.)
    session.client("servicediscovery").create_private_dns_namespace(
        Name=NAMESPACE_NAME, Vpc=vpc_id, Description="ECS workshop service discovery"
    )
    created = _find_namespace(session)
    if created is None:
        raise RuntimeError(f"namespace {NAMESPACE_NAME} was not listed after creation")
    return created


def _cloud_map_service(session: boto3.Session, namespace_id: str) -> tuple[str, str]:
    sd = session.client("servicediscovery")
    for page in sd.get_paginator("list_services").paginate():
        for service in page["Services"]:
            if service["Name"] != CLOUD_MAP_SERVICE_NAME:
                continue
            # moto's ListServices ignores filters and may omit NamespaceId: check via GetService.
            detail = sd.get_service(Id=service["Id"])["Service"]
            if detail.get("NamespaceId") == namespace_id:
                return str(detail["Id"]), str(detail["Arn"])
    created = sd.create_service(
        Name=CLOUD_MAP_SERVICE_NAME,
        NamespaceId=namespace_id,
        DnsConfig={
            "NamespaceId": namespace_id,
            "RoutingPolicy": "MULTIVALUE",
            "DnsRecords": [{"Type": "A", "TTL": 10}],
        },
        HealthCheckCustomConfig={"FailureThreshold": 1},
    )["Service"]
    return str(created["Id"]), str(created["Arn"])


def _ecs_tasks_role(session: boto3.Session, name: str) -> str:
    iam = session.client("iam")
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(_ECS_TASKS_TRUST)
        )["Role"]
    return str(role["Arn"])


def _log_group(session: boto3.Session) -> None:
    logs = session.client("logs")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=LOG_GROUP_NAME)


def app_task_definition_input(
    region: str, task_role_arn: str, execution_role_arn: str
) -> dict[str, Any]:
    """The crystal application's own ``RegisterTaskDefinition`` input, as the workshop has it."""
    return {
        "family": APP_FAMILY,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "taskRoleArn": task_role_arn,
        "executionRoleArn": execution_role_arn,
        "containerDefinitions": [
            {
                "name": APP_CONTAINER,
                "image": APP_IMAGE,
                "essential": True,
                "portMappings": [{"containerPort": APP_PORT, "protocol": "tcp"}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": LOG_GROUP_NAME,
                        "awslogs-region": region,
                        "awslogs-stream-prefix": APP_FAMILY,
                    },
                },
            }
        ],
    }


def _app_task_definition(
    session: boto3.Session, region: str, task_role_arn: str, execution_role_arn: str
) -> str:
    ecs = session.client("ecs")
    # Reuse the latest ACTIVE revision if there is one, so a second build adds no revision
    # (tests count revisions to prove the resource creates nothing twice).
    # (DescribeTaskDefinition with a bare family answers its latest ACTIVE revision.)
    try:
        latest = ecs.describe_task_definition(taskDefinition=APP_FAMILY)["taskDefinition"]
    except (ecs.exceptions.ClientException, ecs.exceptions.InvalidParameterException):
        latest = None
    if latest is not None and latest.get("status", "ACTIVE") == "ACTIVE":
        return str(latest["taskDefinitionArn"])
    registered = ecs.register_task_definition(
        **app_task_definition_input(region, task_role_arn, execution_role_arn)
    )
    return str(registered["taskDefinition"]["taskDefinitionArn"])
