"""What a user's events name and the workshop platform lacks, made in the emulator.

``python3 tasks.py local my-create.json ...`` plays the user's own service, not the workshop's
crystal: before the events are sent, :func:`provision_for` reads each event's properties with the
function's own parser and creates, in the emulator, what they reference and the resource only
ever *reads* (DESIGN §7): the App Mesh mesh, the Cloud Map namespace and service (by name), a
Service Connect namespace given by name, and the application's task definition given by family,
``family:revision`` or ARN (a minimal application: one container on the listener ports, with the
platform's roles). What exists already is left as it is; what cannot be made is said, with what
to do instead.

Never against AWS: the local run's emulator only (it makes things a real platform would own).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError
from meshed_crystal.modes.appmesh.properties import appmesh as mesh_properties
from meshed_crystal.modes.service_connect.properties import service_connect

from tests.support.platform import Platform

if TYPE_CHECKING:
    import boto3

__all__ = ["MINIMAL_IMAGE", "provision_for"]

# The application container of a provisioned task definition: nothing runs it in the emulator,
# but the function checks its reference as ECS would.
MINIMAL_IMAGE: Final = "public.ecr.aws/docker/library/busybox:stable"
DEFAULT_PORT: Final = 80
# Registering revision N of a new family takes N registrations.
MAX_REVISION: Final = 50
_TASK_DEFINITION_ARN = re.compile(
    r"^arn:aws[\w-]*:ecs:([\w-]+):(\d{12}):task-definition/([A-Za-z0-9_-]+)(?::(\d+))?$"
)
_FAMILY_REVISION = re.compile(r"^([A-Za-z0-9_-]+)(?::(\d+))?$")


def provision_for(
    session: boto3.Session, platform: Platform, events_properties: Iterable[Any]
) -> list[str]:
    """Create what the properties reference and the emulator lacks; one line per thing made
    (``+ ...``) or not made (``! ...``, saying what to do)."""
    from meshed_crystal.errors import PropertyError
    from meshed_crystal.properties import parse_properties

    lines: list[str] = []
    for raw in events_properties:
        try:
            props = parse_properties(raw)
        except PropertyError:
            continue  # the function's own Reason will say what is wrong
        lines += _mesh(session, platform, props)
        lines += _cloud_map(session, platform, props)
        lines += _service_connect_namespace(session, platform, props)
        lines += _task_definition(session, platform, props)
    return lines


def _mesh(session: boto3.Session, platform: Platform, props: Any) -> list[str]:
    if not mesh_properties(props).mesh_name:
        return []  # Service Connect mode without a mesh
    if mesh_properties(props).mesh_owner not in (None, platform.account):
        return [
            f"! mesh {mesh_properties(props).mesh_name} of account "
            f"{mesh_properties(props).mesh_owner} (MeshArn): the emulator has "
            f"one account, {platform.account}; write that account in the ARN to try it here"
        ]
    appmesh = session.client("appmesh")
    try:
        appmesh.describe_mesh(meshName=mesh_properties(props).mesh_name)
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("NotFoundException", "MeshNotFound"):
            raise
        appmesh.create_mesh(meshName=mesh_properties(props).mesh_name)
        return [f"+ App Mesh mesh {mesh_properties(props).mesh_name}"]
    return []


def _namespace_id(session: boto3.Session, name: str) -> str | None:
    sd = session.client("servicediscovery")
    for page in sd.get_paginator("list_namespaces").paginate():
        for namespace in page["Namespaces"]:
            if namespace["Name"] == name:
                return str(namespace["Id"])
    return None


def _cloud_map(session: boto3.Session, platform: Platform, props: Any) -> list[str]:
    sd = session.client("servicediscovery")
    if props.cloud_map_service_id is not None:
        with contextlib.suppress(sd.exceptions.ServiceNotFound):
            sd.get_service(Id=props.cloud_map_service_id)
            return []
        return [
            f"! Cloud Map service {props.cloud_map_service_id} (CloudMapServiceArn) is not in the "
            "emulator, and only Cloud Map knows its names: give CloudMapNamespaceName and "
            "CloudMapServiceName in your local events instead (the run then makes both), or use "
            "the CloudMapServiceArn printed above"
        ]
    namespace, service = props.cloud_map_namespace_name, props.cloud_map_service_name
    if not namespace or not service:
        return []
    lines = []
    namespace_id = _namespace_id(session, namespace)
    if namespace_id is None:
        # Private DNS, as the workshop's service.local: ECS's ServiceRegistries need DNS records.
        # In a VPC of its own: the emulator, like Route 53, refuses a second private zone that
        # conflicts in the platform's VPC.
        vpc = session.client("ec2").create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
        sd.create_private_dns_namespace(Name=namespace, Vpc=vpc)
        namespace_id = _namespace_id(session, namespace)
        assert namespace_id is not None, f"namespace {namespace} was not listed after creation"
        lines.append(f"+ Cloud Map namespace {namespace} (private DNS, {namespace_id})")
    for page in sd.get_paginator("list_services").paginate():
        for listed in page["Services"]:
            if listed["Name"] != service:
                continue
            # moto's ListServices ignores filters and may omit NamespaceId: ask GetService.
            if sd.get_service(Id=listed["Id"])["Service"].get("NamespaceId") == namespace_id:
                return lines
    created = sd.create_service(
        Name=service,
        NamespaceId=namespace_id,
        DnsConfig={
            "NamespaceId": namespace_id,
            "RoutingPolicy": "MULTIVALUE",
            "DnsRecords": [{"Type": "A", "TTL": 10}],
        },
        HealthCheckCustomConfig={"FailureThreshold": 1},
    )["Service"]
    lines.append(f"+ Cloud Map service {service} in {namespace}: {created['Arn']}")
    return lines


def _service_connect_namespace(session: boto3.Session, platform: Platform, props: Any) -> list[str]:
    settings = service_connect(props)
    if props.mode != "ServiceConnect" or settings.namespace is None:
        return []
    sd = session.client("servicediscovery")
    if settings.namespace_is_id:
        with contextlib.suppress(sd.exceptions.NamespaceNotFound):
            sd.get_namespace(Id=settings.namespace)
            return []
        return [
            f"! Service Connect namespace {settings.namespace} (ServiceConnect.Namespace, an ARN) "
            "is not in the emulator: give its name in your local events instead (the run then "
            "makes it)"
        ]
    if _namespace_id(session, settings.namespace) is not None:
        return []
    # An HTTP namespace: what ECS creates for Service Connect when given only a name.
    sd.create_http_namespace(Name=settings.namespace)
    created = _namespace_id(session, settings.namespace)
    return [f"+ Cloud Map namespace {settings.namespace} (HTTP, for Service Connect, {created})"]


def _task_definition(session: boto3.Session, platform: Platform, props: Any) -> list[str]:
    reference = props.task_definition
    if not isinstance(reference, str):
        return []  # inline: nothing to find
    arn = _TASK_DEFINITION_ARN.match(reference)
    plain = _FAMILY_REVISION.match(reference)
    if arn is not None:
        region, account, family, revision = arn.groups()
        if (region, account) != (platform.region, platform.account):
            return [
                f"! task definition {reference}: the emulator is account {platform.account} in "
                f"{platform.region}; write those in the ARN (or give family:revision)"
            ]
    elif plain is not None:
        family, revision = plain.groups()
    else:
        return []
    ecs = session.client("ecs")
    with contextlib.suppress(ecs.exceptions.ClientException):
        ecs.describe_task_definition(taskDefinition=reference)
        return []
    wanted = int(revision or 1)
    if wanted > MAX_REVISION:
        return [
            f"! task definition {reference}: revision {wanted} would take {wanted} "
            f"registrations here; name the family alone (its latest revision) or a revision up "
            f"to {MAX_REVISION}"
        ]
    ports = _ports(props)
    container = props.app_container_name or "app"
    request = _minimal_application(family, container, ports, platform)
    registered = None
    for _ in range(wanted):
        registered = ecs.register_task_definition(**request)["taskDefinition"]
        if int(registered["revision"]) >= wanted:
            break
    assert registered is not None
    why = (
        ""
        if props.listeners or mesh_properties(props).proxy.app_ports
        else " (no listener port in the event)"
    )
    return [
        f"+ task definition {registered['taskDefinitionArn']}: a minimal application, container "
        f"{container} ({MINIMAL_IMAGE}) on port {', '.join(map(str, ports))}{why}, the "
        "platform's task and execution roles"
    ]


def _ports(props: Any) -> list[int]:
    if props.listeners:
        return sorted({listener.port for listener in props.listeners})
    app_ports = mesh_properties(props).proxy.app_ports
    if app_ports:
        return sorted(set(app_ports))
    return [DEFAULT_PORT]


def _minimal_application(
    family: str, container: str, ports: list[int], platform: Platform
) -> dict[str, Any]:
    # awslogs-create-group: ECS makes the log group on the first task, so none is made here.
    log_group = f"/ecs/{family}"
    return {
        "family": family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "taskRoleArn": platform.task_role_arn,
        "executionRoleArn": platform.execution_role_arn,
        "containerDefinitions": [
            {
                "name": container,
                "image": MINIMAL_IMAGE,
                "essential": True,
                "portMappings": [{"containerPort": port, "protocol": "tcp"} for port in ports],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": log_group,
                        "awslogs-region": platform.region,
                        "awslogs-stream-prefix": container,
                        "awslogs-create-group": "true",
                    },
                },
            }
        ],
    }
