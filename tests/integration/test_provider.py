"""Custom::MeshedCrystal end to end: CloudFormation events in, HTTPS responses and AWS state out.

Every test drives the real Lambda entry point through the CloudFormation driver (events of the
real shape, every property a string) against moto with App Mesh extended, and asserts on the
body CloudFormation received and on what the emulator holds.
"""

from __future__ import annotations

from typing import Any, cast

import boto3
import pytest

from tests.conftest import ENVOY_IMAGE, load_event
from tests.integration import aws_state
from tests.integration.lifecycle import ok, workshop
from tests.support.cfn_driver import CloudFormation
from tests.support.platform import Platform

NODE = "ecsdemo-crystal"
SERVICE = "ecsdemo-crystal.service.local"
ATTRIBUTES = (
    "TaskDefinitionArn",
    "TaskDefinitionFamily",
    "TaskDefinitionRevision",
    "VirtualNodeArn",
    "VirtualNodeName",
    "VirtualServiceArn",
    "VirtualServiceName",
    "MeshName",
    "MeshArn",
    "EnvoyImage",
    "Mode",
)


def envoy_of(task_definition: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in task_definition["containerDefinitions"] if c["name"] == "envoy")


def env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("environment", [])}


def proxy_properties(task_definition: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in task_definition["proxyConfiguration"]["properties"]}


# -- Create -----------------------------------------------------------------------------------


def test_create_workshop_returns_every_attribute(cfn: CloudFormation, platform: Platform) -> None:
    body = cfn.create("Crystal", workshop(platform))
    data = ok(body)
    assert body["PhysicalResourceId"] == (
        "meshed-crystal:123456789012:ecs-mesh:ecsdemo-crystal:ecsdemo-crystal.service.local"
    )
    assert sorted(data) == sorted(ATTRIBUTES)
    assert all(isinstance(v, str) for v in data.values())
    assert data["VirtualServiceName"] == SERVICE
    assert data["VirtualServiceArn"] == f"{platform.mesh_arn}/virtualService/{SERVICE}"
    assert data["VirtualNodeName"] == NODE
    assert data["VirtualNodeArn"] == f"{platform.mesh_arn}/virtualNode/{NODE}"
    assert data["MeshName"] == "ecs-mesh"
    assert data["MeshArn"] == platform.mesh_arn
    assert data["TaskDefinitionFamily"] == "ecsdemo-crystal-mesh"
    assert data["TaskDefinitionRevision"] == "1"
    assert data["TaskDefinitionArn"] == (
        "arn:aws:ecs:us-east-1:123456789012:task-definition/ecsdemo-crystal-mesh:1"
    )
    assert data["EnvoyImage"] == ENVOY_IMAGE


def test_create_builds_the_workshop_node_and_service(
    cfn: CloudFormation, platform: Platform
) -> None:
    ok(
        cfn.create(
            "Crystal",
            workshop(
                platform, CloudMapAttributes={"ECS_TASK_DEFINITION_FAMILY": "ecsdemo-crystal-mesh"}
            ),
        )
    )
    node = aws_state.node(NODE)
    assert node is not None
    assert node["spec"]["listeners"] == [{"portMapping": {"port": 3000, "protocol": "http"}}]
    assert node["spec"]["serviceDiscovery"] == {
        "awsCloudMap": {
            "namespaceName": "service.local",
            "serviceName": "ecsdemo-crystal",
            "attributes": [{"key": "ECS_TASK_DEFINITION_FAMILY", "value": "ecsdemo-crystal-mesh"}],
        }
    }
    assert node["spec"]["logging"] == {"accessLog": {"file": {"path": "/dev/stdout"}}}
    assert not node["spec"].get("backends")
    service = aws_state.service(SERVICE)
    assert service is not None
    assert service["spec"] == {"provider": {"virtualNode": {"virtualNodeName": NODE}}}


def test_proxied_task_definition_is_exactly_design_section_3(
    cfn: CloudFormation, platform: Platform
) -> None:
    data = ok(cfn.create("Crystal", workshop(platform)))
    proxied, proxied_tags = aws_state.task_definition(data["TaskDefinitionArn"])
    base, _ = aws_state.task_definition(platform.app_task_definition_arn)

    assert proxied["family"] == "ecsdemo-crystal-mesh"
    assert proxied["proxyConfiguration"]["type"] == "APPMESH"
    assert proxied["proxyConfiguration"]["containerName"] == "envoy"
    assert proxy_properties(proxied) == {
        "IgnoredUID": "1337",
        "ProxyIngressPort": "15000",
        "ProxyEgressPort": "15001",
        "AppPorts": "3000",
        "EgressIgnoredIPs": "169.254.170.2,169.254.169.254",
    }
    envoy = envoy_of(proxied)
    assert envoy["image"] == ENVOY_IMAGE
    assert envoy["essential"] is True
    assert envoy["user"] == "1337"
    assert envoy["memoryReservation"] == 128
    assert envoy["ulimits"] == [{"name": "nofile", "softLimit": 15000, "hardLimit": 15000}]
    assert env(envoy) == {
        "APPMESH_RESOURCE_ARN": f"{platform.mesh_arn}/virtualNode/{NODE}",
        "REGION": "us-east-1",
        "ENVOY_LOG_LEVEL": "info",
        "ENABLE_ENVOY_STATS_TAGS": "1",
    }
    assert envoy["healthCheck"] == {
        "command": [
            "CMD-SHELL",
            "curl -s http://localhost:9901/server_info | grep state | grep -q LIVE",
        ],
        "interval": 5,
        "timeout": 2,
        "retries": 3,
        "startPeriod": 10,
    }
    assert envoy["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": "ecsdemo-crystal",
            "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": "/mesh-envoy-container",
        },
    }
    app = next(c for c in proxied["containerDefinitions"] if c["name"] == "crystal")
    assert app["dependsOn"] == [{"containerName": "envoy", "condition": "HEALTHY"}]
    assert [c["name"] for c in proxied["containerDefinitions"]] == ["crystal", "envoy"]
    # Everything else of the application's task definition is kept as it is.
    base_app = base["containerDefinitions"][0]
    assert {k: v for k, v in app.items() if k != "dependsOn"} == base_app
    for key in (
        "taskRoleArn",
        "executionRoleArn",
        "networkMode",
        "cpu",
        "memory",
        "requiresCompatibilities",
    ):
        assert proxied[key] == base[key], key
    assert {t["key"]: t["value"] for t in proxied_tags}["meshed-crystal:logical-id"] == "Crystal"
    # The application's own family never carries Envoy.
    latest_app, _ = aws_state.task_definition(platform.app_family)
    assert latest_app["taskDefinitionArn"] == platform.app_task_definition_arn
    assert "proxyConfiguration" not in latest_app


def test_cloud_map_by_names_and_task_definition_by_family(
    cfn: CloudFormation, platform: Platform
) -> None:
    data = ok(
        cfn.create(
            "Crystal",
            workshop(
                platform,
                CloudMapServiceArn=None,
                CloudMapNamespaceName="service.local",
                CloudMapServiceName="ecsdemo-crystal",
                TaskDefinition="ecsdemo-crystal",
            ),
        )
    )
    assert data["VirtualServiceName"] == SERVICE
    proxied, _ = aws_state.task_definition(data["TaskDefinitionArn"])
    assert proxy_properties(proxied)["AppPorts"] == "3000"


def test_the_shipped_events_drive_create_update_delete(
    cfn: CloudFormation, platform: Platform
) -> None:
    create = load_event("create.json")
    create["ResponseURL"] = cfn.endpoint.response_url(
        create["StackId"], "Crystal", create["RequestId"]
    )
    created = cfn.invoke(create)
    assert ok(created)["VirtualServiceName"] == SERVICE
    update = load_event("update.json")
    update["ResponseURL"] = cfn.endpoint.response_url(
        update["StackId"], "Crystal", update["RequestId"]
    )
    updated = cfn.invoke(update)
    assert ok(updated)["TaskDefinitionRevision"] == "2"
    assert updated["PhysicalResourceId"] == created["PhysicalResourceId"]
    delete = load_event("delete.json")
    delete["ResponseURL"] = cfn.endpoint.response_url(
        delete["StackId"], "Crystal", delete["RequestId"]
    )
    assert cfn.invoke(delete)["Status"] == "SUCCESS"
    assert aws_state.node(NODE) is None
    assert aws_state.service(SERVICE) is None


def test_every_optional_property_reaches_aws(cfn: CloudFormation, platform: Platform) -> None:
    data = ok(
        cfn.create(
            "Crystal",
            workshop(
                platform,
                Family="crystal-proxied",
                AppContainerName="crystal",
                VirtualNodeName="crystal-v1",
                VirtualServiceName="crystal.service.local",
                Listeners=[
                    {
                        "Port": 3000,
                        "Protocol": "http2",
                        "HealthCheck": {
                            "Path": "/health",
                            "IntervalMillis": 6000,
                            "TimeoutMillis": 3000,
                            "HealthyThreshold": 3,
                            "UnhealthyThreshold": 4,
                        },
                        "Timeout": {"PerRequestSeconds": 30, "IdleSeconds": 300},
                    }
                ],
                Backends=["ecsdemo-nodejs.service.local"],
                AccessLogPath="/var/log/envoy.log",
                Proxy={
                    "ProxyIngressPort": 15100,
                    "ProxyEgressPort": 15101,
                    "EgressIgnoredIPs": ["169.254.170.2", "169.254.169.254"],
                    "EgressIgnoredPorts": [22],
                    "IgnoredUID": 1338,
                    "IgnoredGID": 1339,
                },
                Envoy={
                    "Image": "example.com/envoy:v1.29.9.9-prod",
                    "LogLevel": "debug",
                    "Cpu": 64,
                    "MemoryReservation": 256,
                    "StatsTags": False,
                    "LogGroupName": "envoy-logs",
                    "LogStreamPrefix": "envoy",
                    "Environment": {"ENVOY_ADMIN_ACCESS_LOG_FILE": "/tmp/a"},
                },
                XRay={"Enabled": True, "MemoryReservation": 64},
                Tags=[{"Key": "team", "Value": "crystal"}],
            ),
        )
    )
    assert data["VirtualNodeName"] == "crystal-v1"
    assert data["VirtualServiceName"] == "crystal.service.local"
    assert data["TaskDefinitionFamily"] == "crystal-proxied"
    assert data["EnvoyImage"] == "example.com/envoy:v1.29.9.9-prod"
    node = aws_state.node("crystal-v1")
    assert node is not None
    assert node["spec"]["listeners"] == [
        {
            "portMapping": {"port": 3000, "protocol": "http2"},
            "healthCheck": {
                "protocol": "http2",
                "path": "/health",
                "intervalMillis": 6000,
                "timeoutMillis": 3000,
                "healthyThreshold": 3,
                "unhealthyThreshold": 4,
            },
            "timeout": {
                "http2": {
                    "perRequest": {"unit": "s", "value": 30},
                    "idle": {"unit": "s", "value": 300},
                }
            },
        }
    ]
    assert node["spec"]["backends"] == [
        {"virtualService": {"virtualServiceName": "ecsdemo-nodejs.service.local"}}
    ]
    assert node["spec"]["logging"] == {"accessLog": {"file": {"path": "/var/log/envoy.log"}}}
    service = aws_state.service("crystal.service.local")
    assert service is not None
    assert service["spec"]["provider"]["virtualNode"]["virtualNodeName"] == "crystal-v1"
    for arn in (data["VirtualNodeArn"], data["VirtualServiceArn"]):
        assert aws_state.tags(arn)["team"] == "crystal"

    proxied, proxied_tags = aws_state.task_definition(data["TaskDefinitionArn"])
    assert {t["key"]: t["value"] for t in proxied_tags}["team"] == "crystal"
    assert proxy_properties(proxied) == {
        "IgnoredUID": "1338",
        "ProxyIngressPort": "15100",
        "ProxyEgressPort": "15101",
        "AppPorts": "3000",
        "EgressIgnoredIPs": "169.254.170.2,169.254.169.254",
        "EgressIgnoredPorts": "22",
        "IgnoredGID": "1339",
    }
    envoy = envoy_of(proxied)
    assert envoy["image"] == "example.com/envoy:v1.29.9.9-prod"
    assert envoy["user"] == "1338"  # Proxy.IgnoredUID
    assert envoy["cpu"] == 64
    assert envoy["memoryReservation"] == 256
    assert env(envoy) == {
        "APPMESH_RESOURCE_ARN": data["VirtualNodeArn"],
        "REGION": "us-east-1",
        "ENVOY_LOG_LEVEL": "debug",
        "ENABLE_ENVOY_XRAY_TRACING": "1",
        "ENVOY_ADMIN_ACCESS_LOG_FILE": "/tmp/a",
    }
    assert envoy["logConfiguration"]["options"] == {
        "awslogs-group": "envoy-logs",
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": "envoy",
    }
    assert envoy["dependsOn"] == [{"containerName": "xray", "condition": "START"}]
    xray = next(c for c in proxied["containerDefinitions"] if c["name"] == "xray")
    assert xray["image"] == "public.ecr.aws/xray/aws-xray-daemon:3.6.6"
    assert xray["user"] == "1338"
    assert xray["memoryReservation"] == 64
    assert xray["essential"] is True
    assert xray["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": "envoy-logs",
            "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": "/xray-container",
        },
    }


def test_app_ports_default_to_the_listener_ports(cfn: CloudFormation, platform: Platform) -> None:
    # AppPorts and listener ports must be ports the app container maps (docs/reference.md).
    app: dict[str, Any] = dict(cast("list[dict[str, Any]]", INLINE["ContainerDefinitions"])[0])
    app["PortMappings"] = [{"ContainerPort": str(p)} for p in (3000, 9090, 3001)]
    inline = {**INLINE, "ContainerDefinitions": [app]}
    data = ok(
        cfn.create(
            "Crystal",
            workshop(
                platform,
                TaskDefinition=inline,
                Listeners=[{"Port": 3000}, {"Port": 9090, "Protocol": "grpc"}],
            ),
        )
    )
    proxied, _ = aws_state.task_definition(data["TaskDefinitionArn"])
    assert proxy_properties(proxied)["AppPorts"] == "3000,9090"
    explicit = ok(
        cfn.update(
            "Crystal",
            workshop(
                platform,
                TaskDefinition=inline,
                Listeners=[{"Port": 3000}],
                Proxy={"AppPorts": [3000, 3001]},
            ),
        )
    )
    proxied, _ = aws_state.task_definition(explicit["TaskDefinitionArn"])
    assert proxy_properties(proxied)["AppPorts"] == "3000,3001"


def test_empty_access_log_path_means_no_access_log(cfn: CloudFormation, platform: Platform) -> None:
    ok(cfn.create("Crystal", workshop(platform, AccessLogPath="")))
    node = aws_state.node(NODE)
    assert node is not None
    assert not node["spec"].get("logging")


def test_xray_true_adds_the_daemon_with_defaults(cfn: CloudFormation, platform: Platform) -> None:
    data = ok(cfn.create("Crystal", workshop(platform, XRay=True)))
    proxied, _ = aws_state.task_definition(data["TaskDefinitionArn"])
    names = [c["name"] for c in proxied["containerDefinitions"]]
    assert names == ["crystal", "envoy", "xray"]
    xray = proxied["containerDefinitions"][2]
    assert (xray["image"], xray["memoryReservation"]) == (
        "public.ecr.aws/xray/aws-xray-daemon:3.6.6",
        256,
    )
    assert (xray["user"], xray["essential"]) == ("1337", True)
    assert xray["logConfiguration"]["options"] == {
        "awslogs-group": "ecsdemo-crystal",
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": "/xray-container",
    }


def test_mesh_by_arn(cfn: CloudFormation, platform: Platform) -> None:
    data = ok(cfn.create("Crystal", workshop(platform, MeshName=None, MeshArn=platform.mesh_arn)))
    assert data["MeshArn"] == platform.mesh_arn
    assert aws_state.node(NODE) is not None


INLINE = {
    "Family": "crystal-inline",
    "NetworkMode": "awsvpc",
    "RequiresCompatibilities": ["FARGATE"],
    "Cpu": "256",
    "Memory": "512",
    # Envoy needs the task role (App Mesh proxy authorization); awslogs on Fargate the
    # execution role.
    "TaskRoleArn": "arn:aws:iam::123456789012:role/crystal-task",
    "ExecutionRoleArn": "arn:aws:iam::123456789012:role/crystal-execution",
    "ContainerDefinitions": [
        {
            "Name": "crystal",
            "Image": "public.ecr.aws/aws-containers/ecsdemo-crystal:latest",
            "Essential": "true",
            "PortMappings": [{"ContainerPort": "3000", "Protocol": "tcp"}],
            "LogConfiguration": {
                "LogDriver": "awslogs",
                "Options": {
                    "awslogs-group": "ecsdemo-crystal",
                    "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "ecsdemo-crystal",
                },
            },
        }
    ],
    "Tags": [{"Key": "app", "Value": "crystal"}],
}


def test_inline_task_definition(cfn: CloudFormation, platform: Platform) -> None:
    data = ok(cfn.create("Crystal", workshop(platform, TaskDefinition=INLINE)))
    assert data["TaskDefinitionFamily"] == "crystal-inline"
    proxied, proxied_tags = aws_state.task_definition(data["TaskDefinitionArn"])
    assert (proxied["cpu"], proxied["memory"], proxied["networkMode"]) == ("256", "512", "awsvpc")
    app = proxied["containerDefinitions"][0]
    assert app["portMappings"][0]["containerPort"] == 3000
    assert app["essential"] is True
    assert proxy_properties(proxied)["AppPorts"] == "3000"
    assert {t["key"]: t["value"] for t in proxied_tags}["app"] == "crystal"


# -- Update -----------------------------------------------------------------------------------


def test_update_in_place_registers_a_revision_only_when_the_task_definition_changes(
    cfn: CloudFormation, platform: Platform
) -> None:
    first = cfn.create("Crystal", workshop(platform))
    # Backends change only the node: same id, node updated, no new revision.
    backends = cfn.update("Crystal", workshop(platform, Backends=["ecsdemo-nodejs.service.local"]))
    assert backends["PhysicalResourceId"] == first["PhysicalResourceId"]
    assert ok(backends)["TaskDefinitionArn"] == ok(first)["TaskDefinitionArn"]
    node = aws_state.node(NODE)
    assert node is not None
    assert node["spec"]["backends"] == [
        {"virtualService": {"virtualServiceName": "ecsdemo-nodejs.service.local"}}
    ]
    # An Envoy option changes the task definition: one new revision.
    envoy = cfn.update(
        "Crystal",
        workshop(platform, Backends=["ecsdemo-nodejs.service.local"], Envoy={"LogLevel": "debug"}),
    )
    assert envoy["PhysicalResourceId"] == first["PhysicalResourceId"]
    assert ok(envoy)["TaskDefinitionRevision"] == "2"
    proxied, _ = aws_state.task_definition(envoy["Data"]["TaskDefinitionArn"])
    assert env(envoy_of(proxied))["ENVOY_LOG_LEVEL"] == "debug"
    # The revision it replaced stays ACTIVE for rollbacks.
    assert sorted(aws_state.active_revisions("ecsdemo-crystal-mesh")) == sorted(
        [first["Data"]["TaskDefinitionArn"], envoy["Data"]["TaskDefinitionArn"]]
    )


def test_no_op_update_registers_nothing(cfn: CloudFormation, platform: Platform) -> None:
    first = ok(cfn.create("Crystal", workshop(platform)))
    again = ok(cfn.update("Crystal", workshop(platform)))
    assert again == first
    assert aws_state.active_revisions("ecsdemo-crystal-mesh") == [first["TaskDefinitionArn"]]


def test_changing_the_base_task_definition_derives_a_new_revision(
    cfn: CloudFormation, platform: Platform
) -> None:
    first = ok(cfn.create("Crystal", workshop(platform)))
    ecs = boto3.client("ecs")
    base = ecs.describe_task_definition(taskDefinition=platform.app_task_definition_arn)
    definition = base["taskDefinition"]
    revised = ecs.register_task_definition(
        family=definition["family"],
        networkMode="awsvpc",
        cpu="512",
        memory="1024",
        requiresCompatibilities=["FARGATE"],
        taskRoleArn=definition["taskRoleArn"],
        executionRoleArn=definition["executionRoleArn"],
        containerDefinitions=definition["containerDefinitions"],
    )["taskDefinition"]
    second = ok(
        cfn.update("Crystal", workshop(platform, TaskDefinition=revised["taskDefinitionArn"]))
    )
    assert second["TaskDefinitionRevision"] == "2"
    proxied, _ = aws_state.task_definition(second["TaskDefinitionArn"])
    assert (proxied["cpu"], proxied["memory"]) == ("512", "1024")
    assert first["TaskDefinitionArn"] in aws_state.active_revisions("ecsdemo-crystal-mesh")


def test_only_the_current_and_previous_revisions_stay_active(
    cfn: CloudFormation, platform: Platform
) -> None:
    arns = [ok(cfn.create("Crystal", workshop(platform)))["TaskDefinitionArn"]]
    for level in ("debug", "warning", "error"):
        arns.append(
            ok(cfn.update("Crystal", workshop(platform, Envoy={"LogLevel": level})))[
                "TaskDefinitionArn"
            ]
        )
    assert sorted(aws_state.active_revisions("ecsdemo-crystal-mesh")) == sorted(arns[-2:])


def test_replacement_keeps_old_resources_until_cloudformation_deletes_them(
    cfn: CloudFormation, platform: Platform
) -> None:
    first = cfn.create("Crystal", workshop(platform))
    renamed = cfn.update("Crystal", workshop(platform, VirtualNodeName="crystal-v2"))
    assert ok(renamed)["VirtualNodeName"] == "crystal-v2"
    assert renamed["PhysicalResourceId"] != first["PhysicalResourceId"]
    # The Update never removes the old id's node; the service now points at the new node.
    assert aws_state.node_names() == ["crystal-v2", NODE]
    service = aws_state.service(SERVICE)
    assert service is not None
    assert service["spec"]["provider"]["virtualNode"]["virtualNodeName"] == "crystal-v2"
    # CloudFormation's cleanup Delete of the old id removes only what the old id alone used.
    assert cfn.delete("Crystal", physical_id=first["PhysicalResourceId"])["Status"] == "SUCCESS"
    assert aws_state.node_names() == ["crystal-v2"]
    assert aws_state.service_names() == [SERVICE]


# -- Delete -----------------------------------------------------------------------------------


def test_delete_removes_service_node_and_revisions(cfn: CloudFormation, platform: Platform) -> None:
    data = ok(cfn.create("Crystal", workshop(platform)))
    ok(cfn.update("Crystal", workshop(platform, Envoy={"LogLevel": "debug"})))
    assert cfn.delete("Crystal")["Status"] == "SUCCESS"
    assert aws_state.node_names() == []
    assert aws_state.service_names() == []
    assert aws_state.active_revisions(data["TaskDefinitionFamily"]) == []
    # The application's own task definition is not this resource's to remove.
    assert aws_state.active_revisions(platform.app_family) == [platform.app_task_definition_arn]


def test_delete_of_something_already_gone_succeeds(cfn: CloudFormation, platform: Platform) -> None:
    body = cfn.create("Crystal", workshop(platform))
    assert cfn.delete("Crystal")["Status"] == "SUCCESS"
    again = cfn.delete("Crystal", physical_id=body["PhysicalResourceId"], properties={})
    assert again["Status"] == "SUCCESS"


# -- Bad input and missing platform pieces ------------------------------------------------------


def assert_nothing_created(platform: Platform) -> None:
    assert aws_state.node_names() == []
    assert aws_state.service_names() == []
    families = boto3.client("ecs").list_task_definition_families(status="ACTIVE")["families"]
    assert families == [platform.app_family]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"Listeners": [{"Port": "70000"}]}, "Listeners[0].Port: '70000' is not a port (1-65535)"),
        ({"Envoy": {"LogLevel": "loud"}}, "Envoy.LogLevel: 'loud' is not one of"),
        ({"MeshNmae": "x"}, "MeshNmae: unknown property (did you mean MeshName?)"),
        ({"MeshName": "no-such-mesh"}, "MeshName: mesh 'no-such-mesh' does not exist"),
        (
            {
                "CloudMapServiceArn": (
                    "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-doesnotexist"
                )
            },
            "CloudMapServiceArn: Cloud Map service srv-doesnotexist does not exist",
        ),
        (
            {
                "CloudMapServiceArn": None,
                "CloudMapNamespaceName": "nowhere.local",
                "CloudMapServiceName": "x",
            },
            "CloudMapNamespaceName: Cloud Map namespace 'nowhere.local' does not exist",
        ),
        (
            {
                "CloudMapServiceArn": None,
                "CloudMapNamespaceName": "service.local",
                "CloudMapServiceName": "nothing",
            },
            "CloudMapServiceName: namespace 'service.local' has no service 'nothing'",
        ),
        (
            # ecs-mesh exists in the function's region too: it must not be taken for this one.
            {"MeshName": None, "MeshArn": "arn:aws:appmesh:us-west-2:123456789012:mesh/ecs-mesh"},
            "MeshArn: the mesh is in us-west-2, ",
        ),
        ({"TaskDefinition": "no-such-family"}, "TaskDefinition: 'no-such-family' was not found"),
        (
            {"TaskDefinition": {**INLINE, "NetworkMode": "bridge"}},
            "TaskDefinition: network mode is 'bridge'; App Mesh on ECS requires awsvpc",
        ),
        ({"AppContainerName": "nginx"}, "AppContainerName: 'nginx' is not a container"),
        (
            {"Family": "ecsdemo-crystal"},
            "Family: 'ecsdemo-crystal' is the application's own family",
        ),
    ],
)
def test_bad_input_fails_before_any_write(
    cfn: CloudFormation, platform: Platform, changes: dict[str, Any], reason: str
) -> None:
    body = cfn.create("Crystal", workshop(platform, **changes))
    assert body["Status"] == "FAILED"
    assert reason in body["Reason"], body["Reason"]
    assert body["PhysicalResourceId"]
    assert_nothing_created(platform)
    # The Delete CloudFormation sends for the failed Create succeeds and touches nothing.
    assert cfn.delete("Crystal", physical_id=body["PhysicalResourceId"])["Status"] == "SUCCESS"
    assert aws_state.active_revisions(platform.app_family) == [platform.app_task_definition_arn]


def _container(name: str, **extra: Any) -> dict[str, Any]:
    return {"Name": name, "Image": f"example.com/{name}", "Essential": "true", **extra}


@pytest.mark.parametrize(
    ("containers", "reason"),
    [
        (
            [_container("crystal", PortMappings=[{"ContainerPort": "3000"}]), _container("envoy")],
            "TaskDefinition: already has an Envoy container ('envoy')",
        ),
        (
            [
                _container(f"c{i}", PortMappings=[{"ContainerPort": "3000"}] if i == 0 else [])
                for i in range(10)
            ],
            "TaskDefinition: has 10 containers; with the 1 sidecar(s)",
        ),
        (
            [_container("crystal", PortMappings=[{"ContainerPort": "3000"}], Essential="false")],
            "AppContainerName: container 'crystal' is not essential",
        ),
        (
            [
                _container("a", PortMappings=[{"ContainerPort": "3000"}]),
                _container("b", PortMappings=[{"ContainerPort": "4000"}]),
            ],
            "AppContainerName: required: the task definition has 2 containers that map a port",
        ),
    ],
)
def test_base_task_definition_rules(
    cfn: CloudFormation, platform: Platform, containers: list[dict[str, Any]], reason: str
) -> None:
    inline = {**INLINE, "ContainerDefinitions": containers}
    body = cfn.create("Crystal", workshop(platform, TaskDefinition=inline))
    assert body["Status"] == "FAILED"
    assert reason in body["Reason"], body["Reason"]
    assert_nothing_created(platform)


def test_base_with_a_proxy_configuration_is_refused(
    cfn: CloudFormation, platform: Platform
) -> None:
    inline = {
        **INLINE,
        "ProxyConfiguration": {
            "Type": "APPMESH",
            "ContainerName": "crystal",
            "ProxyConfigurationProperties": [{"Name": "AppPorts", "Value": "3000"}],
        },
    }
    body = cfn.create("Crystal", workshop(platform, TaskDefinition=inline))
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("TaskDefinition: already has a proxy configuration"), body[
        "Reason"
    ]


def test_a_mesh_outside_the_allowed_meshes_is_refused_before_any_write(
    cfn: CloudFormation, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meshed_crystal import app
    from meshed_crystal.actions import Provider

    monkeypatch.setattr(
        app, "provider", Provider(environ={"ENVOY_IMAGE": ENVOY_IMAGE, "ALLOWED_MESHES": "a, b"})
    )
    body = cfn.create("Crystal", workshop(platform))
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith(
        "MeshName: mesh 'ecs-mesh' is not one this provider may manage (allowed: a, b;"
    )
    assert_nothing_created(platform)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("*", None), ("", None), ("ecs-mesh", {"ecs-mesh"}), ("a,*", None), (" a , b ", {"a", "b"})],
)
def test_allowed_meshes_setting(setting: str, expected: set[str] | None) -> None:
    from meshed_crystal.modes.appmesh.mode import allowed_meshes

    assert allowed_meshes(setting) == (None if expected is None else frozenset(expected))


def test_unchanged_update_after_the_provider_bumped_envoy_derives_a_new_revision(
    cfn: CloudFormation, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meshed_crystal import app
    from meshed_crystal.actions import Provider

    first = ok(cfn.create("Crystal", workshop(platform)))
    # Same properties, same provider: nothing to derive, the same attributes.
    assert ok(cfn.update("Crystal", workshop(platform))) == first
    # The operator deploys the provider with a newer default Envoy image.
    bumped = "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.99.0-prod"
    monkeypatch.setattr(app, "provider", Provider(environ={"ENVOY_IMAGE": bumped}))
    second = ok(cfn.update("Crystal", workshop(platform)))
    assert second["EnvoyImage"] == bumped
    assert second["TaskDefinitionRevision"] == "2"
    proxied, _ = aws_state.task_definition(second["TaskDefinitionArn"])
    assert envoy_of(proxied)["image"] == bumped
    # And then it is stable again.
    assert ok(cfn.update("Crystal", workshop(platform))) == second
