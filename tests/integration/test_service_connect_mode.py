"""``Mode: ServiceConnect`` (DESIGN §8) through the CloudFormation driver, state read from the
emulator (its ECS knows Service Connect: tests/support/moto_service_connect.py)."""

from __future__ import annotations

import logging
from typing import Any

import boto3
import pytest

from tests.integration import aws_state
from tests.integration.lifecycle import (
    FAMILY,
    LOGICAL,
    NODE,
    SERVICE,
    all_revisions,
    failed,
    fast,
    ok,
    provider_of,
    revision_status,
    workshop,
)
from tests.support.appmesh_gone import AppMeshGone
from tests.support.cfn_driver import CloudFormation
from tests.support.faults import Faults
from tests.support.platform import Platform

SC_FAMILY = "ecsdemo-crystal-sc"


def connected(platform: Platform, **changes: Any) -> dict[str, Any]:
    """The workshop's properties with the one changed line."""
    return workshop(platform, Mode="ServiceConnect", **changes)


def sc_revisions() -> list[str]:
    return aws_state.active_revisions(SC_FAMILY)


def run_ecs_service(platform: Platform, data: dict[str, str], *, name: str = "crystal") -> Any:
    """What the template's AWS::ECS::Service does with the attributes (the emulator checks the
    port name against the task definition and the discovery name against the namespace)."""
    return boto3.client("ecs").create_service(
        cluster=platform.cluster_arn,
        serviceName=name,
        taskDefinition=data["TaskDefinitionArn"],
        desiredCount=1,
        serviceConnectConfiguration={
            "enabled": True,
            "namespace": data["NamespaceArn"],
            "services": [
                {
                    "portName": data["PortName"],
                    "discoveryName": data["DiscoveryName"],
                    "clientAliases": [
                        {
                            "dnsName": data["ClientAliasDnsName"],
                            "port": int(data["ClientAliasPort"]),
                        }
                    ],
                }
            ],
        },
    )["service"]


def test_create_returns_the_wiring_and_registers_an_unmeshed_named_port(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    body = fast(cfn).create(LOGICAL, connected(platform))
    data = ok(body)
    # The attributes of §8, the client alias keeping the name clients called through App Mesh
    assert body["PhysicalResourceId"].startswith("meshed-crystal-sc:123456789012:Crystal:")
    assert data["Mode"] == "ServiceConnect"
    assert data["PortName"] == "crystal-3000"
    assert data["AppProtocol"] == "http"
    assert data["DiscoveryName"] == "ecsdemo-crystal-sc"
    assert data["ClientAliasDnsName"] == SERVICE
    assert data["ClientAliasPort"] == "3000"
    assert data["NamespaceName"] == "service.local"
    assert data["NamespaceArn"].endswith(f"namespace/{platform.namespace_id}")
    assert data["Endpoint"] == f"http://{SERVICE}:3000"
    assert data["VirtualServiceName"] == SERVICE
    assert data["TaskDefinitionFamily"] == SC_FAMILY
    assert "VirtualNodeArn" not in data
    # The revision: the app's own, its served port named, no Envoy, no proxy configuration
    described, tags = aws_state.task_definition(data["TaskDefinitionArn"])
    assert [c["name"] for c in described["containerDefinitions"]] == ["crystal"]
    assert "proxyConfiguration" not in described
    mapping = described["containerDefinitions"][0]["portMappings"][0]
    assert (mapping["name"], mapping.get("appProtocol")) == ("crystal-3000", "http")
    keys = {t["key"] for t in tags}
    owned = {"meshed-crystal:stack-id", "meshed-crystal:logical-id", "meshed-crystal:held-by"}
    assert owned <= keys
    # This mode never calls App Mesh, and makes at most 7 calls
    assert [c for c in faults.calls if c[0] == "appmesh"] == []
    assert len([c for c in faults.calls if c[0] != "cloudformation"]) <= 7, faults.calls
    # And ECS accepts the wiring as the template passes it
    service = run_ecs_service(platform, data)
    deployment = service["deployments"][0]
    assert deployment["serviceConnectConfiguration"]["services"][0]["portName"] == "crystal-3000"


def test_redelivered_create_and_no_op_update_write_nothing(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    props = connected(platform)
    first = fast(cfn).create(LOGICAL, props)
    writes = len(faults.writes())
    again = cfn.create(LOGICAL, props)
    assert again["PhysicalResourceId"] == first["PhysicalResourceId"]
    assert again["Data"] == first["Data"]
    same = cfn.update(LOGICAL, props, old_properties=props)
    assert ok(same) == first["Data"]
    assert faults.writes()[writes:] == []
    assert sc_revisions() == [first["Data"]["TaskDefinitionArn"]]


def test_in_place_updates_keep_two_revisions_and_a_rollback_gets_the_exact_previous_one(
    cfn: CloudFormation, platform: Platform
) -> None:
    one = ok(fast(cfn).create(LOGICAL, connected(platform)))
    # Changes that keep the served port's protocol (ECS cannot change it in place)
    two_props = connected(platform, ServiceConnect={"PortName": "crystal-two"})
    two = ok(cfn.update(LOGICAL, two_props))
    assert two["PortName"] == "crystal-two"
    assert sorted(sc_revisions()) == sorted([one["TaskDefinitionArn"], two["TaskDefinitionArn"]])
    # The rollback CloudFormation sends: the old properties again
    back = ok(cfn.update(LOGICAL, connected(platform), old_properties=two_props))
    assert back["TaskDefinitionArn"] == one["TaskDefinitionArn"]
    # The next change registers a third; the one it replaces (the rolled-back-to) stays, the
    # other goes
    three_props = connected(platform, ServiceConnect={"PortName": "crystal-three"})
    three = ok(cfn.update(LOGICAL, three_props))
    assert sorted(sc_revisions()) == sorted([one["TaskDefinitionArn"], three["TaskDefinitionArn"]])
    assert revision_status(two["TaskDefinitionArn"]) == "INACTIVE"


def test_a_discovery_name_taken_by_the_app_mesh_era_service_is_refused_before_any_write(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    props = connected(platform, ServiceConnect={"DiscoveryName": "ecsdemo-crystal"})
    reason = failed(fast(cfn).create(LOGICAL, props))
    assert "ServiceConnect.DiscoveryName" in reason
    assert "ecsdemo-crystal" in reason
    assert platform.cloud_map_service_id in reason
    assert faults.writes() == []
    assert all_revisions(SC_FAMILY) == []


def test_service_connect_own_discovery_service_is_not_a_collision(
    cfn: CloudFormation, platform: Platform
) -> None:
    # Once the ECS service runs, Service Connect created the discovery name's Cloud Map service
    data = ok(fast(cfn).create(LOGICAL, connected(platform)))
    run_ecs_service(platform, data)
    changed = connected(platform, Tags=[{"Key": "team", "Value": "crystal"}])
    assert ok(cfn.update(LOGICAL, changed))["DiscoveryName"] == data["DiscoveryName"]


@pytest.mark.appmesh
def test_app_mesh_properties_are_inert_and_named_in_one_warning(
    cfn: CloudFormation, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    props = connected(platform, Envoy={"LogLevel": "debug"}, Backends=["x.service.local"])
    ok(fast(cfn).create(LOGICAL, props))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    for name in ("MeshName", "Backends", "Envoy"):
        assert name in message
    assert "HealthCheck" not in message


def test_a_listener_health_check_is_inert_and_named_in_the_warning(
    cfn: CloudFormation, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    # Service Connect has no listener health check: the App Mesh one is dropped, and said so
    props = connected(platform, Listeners=[{"Port": "3000", "HealthCheck": {"Path": "/health"}}])
    ok(fast(cfn).create(LOGICAL, props))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].getMessage().endswith("Listeners[0].HealthCheck")  # after any other
    assert vars(warnings[0])["inert"][-1] == "Listeners[0].HealthCheck"


def test_checks_of_the_mode_before_any_write(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    two_ports = connected(platform, Listeners=[{"Port": "3000"}, {"Port": "3001"}])
    assert "serves one port" in failed(fast(cfn).create(LOGICAL, two_ports))
    bad_name = connected(platform, ServiceConnect={"PortName": "Crystal Port"})
    assert "ServiceConnect.PortName" in failed(cfn.create(LOGICAL, bad_name))
    no_namespace = connected(platform, ServiceConnect={"Namespace": "nope.local"})
    assert "nope.local" in failed(cfn.create(LOGICAL, no_namespace))
    elsewhere = platform.app_task_definition_arn.replace(":us-east-1:", ":us-west-2:")
    other_region = connected(platform, TaskDefinition=elsewhere)
    assert "TaskDefinition: the task definition is in us-west-2" in failed(
        cfn.create(LOGICAL, other_region)
    )
    assert faults.writes() == []


def test_a_delete_deregisters_its_own_revisions_only(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    # Given two resources of this mode, one with two revisions (an update), in other families
    crystal = ok(fast(cfn).create(LOGICAL, connected(platform)))
    updated = ok(cfn.update(LOGICAL, connected(platform, ServiceConnect={"PortName": "two"})))
    other = ok(cfn.create("Other", connected(platform, Family="other-sc")))
    # When the first is deleted
    ok(cfn.delete(LOGICAL))
    # Then its revisions are gone, the other's stay, and nothing but ECS was written
    assert revision_status(crystal["TaskDefinitionArn"]) == "INACTIVE"
    assert revision_status(updated["TaskDefinitionArn"]) == "INACTIVE"
    assert revision_status(other["TaskDefinitionArn"]) == "ACTIVE"
    assert {c[0] for c in faults.writes()} <= {"ecs"}


@pytest.mark.appmesh
def test_works_with_an_sdk_without_app_mesh(
    cfn: CloudFormation, platform: Platform, appmesh_gone: AppMeshGone
) -> None:
    appmesh_gone.no_sdk_service()
    data = ok(fast(cfn).create(LOGICAL, connected(platform)))
    ok(cfn.delete(LOGICAL))
    assert revision_status(data["TaskDefinitionArn"]) == "INACTIVE"


@pytest.mark.appmesh
def test_the_switch_from_app_mesh_then_cleanup_delete_of_the_old_id(
    cfn: CloudFormation, platform: Platform
) -> None:
    # Given the workshop's crystal in App Mesh mode, its ECS service registered in Cloud Map
    meshed = fast(cfn).create(LOGICAL, workshop(platform))
    mesh_data = ok(meshed)
    # When the stack update changes only Mode: a replacement (a new id)
    switched = cfn.update(LOGICAL, connected(platform))
    data = ok(switched)
    assert switched["PhysicalResourceId"] != meshed["PhysicalResourceId"]
    assert data["ClientAliasDnsName"] == mesh_data["VirtualServiceName"]
    # The update removed nothing of App Mesh
    assert provider_of(SERVICE) == NODE
    # CloudFormation updates the ECS service with the new attributes...
    run_ecs_service(platform, data)
    # ...and, the stack update having succeeded, deletes the old id
    ok(cfn.delete(LOGICAL, physical_id=meshed["PhysicalResourceId"]))
    # Then App Mesh's virtual service, node and -mesh revisions are gone, the -sc one runs
    assert aws_state.service_names() == []
    assert aws_state.node_names() == []
    assert aws_state.active_revisions(FAMILY) == []
    assert sc_revisions() == [data["TaskDefinitionArn"]]
    # And the App Mesh era's Cloud Map service still answers DNS clients
    sd = boto3.client("servicediscovery")
    assert sd.get_service(Id=platform.cloud_map_service_id)["Service"]["Name"] == NODE
    # And the stack's Delete later removes the -sc revisions
    ok(cfn.delete(LOGICAL))
    assert sc_revisions() == []


@pytest.mark.appmesh
def test_a_failed_switch_deletes_the_new_id_and_leaves_app_mesh_as_it_was(
    cfn: CloudFormation, platform: Platform
) -> None:
    old_props = workshop(platform)
    meshed = fast(cfn).create(LOGICAL, old_props)
    switched = cfn.update(LOGICAL, connected(platform))
    ok(switched)
    cfn.revert_to(LOGICAL, meshed["PhysicalResourceId"], old_props)
    ok(cfn.delete(LOGICAL, physical_id=switched["PhysicalResourceId"]))
    assert sc_revisions() == []
    assert provider_of(SERVICE) == NODE
    assert aws_state.active_revisions(FAMILY) == [meshed["Data"]["TaskDefinitionArn"]]
    # And switching back works while App Mesh answers: the stack's id as before
    assert ok(cfn.update(LOGICAL, old_props, old_properties=old_props)) == meshed["Data"]
