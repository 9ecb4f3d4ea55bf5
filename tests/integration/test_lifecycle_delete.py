"""Delete (DESIGN §5.5): from the physical id alone; ids it never issued and resources already
gone are SUCCESS with no AWS write; resources others still use are refused, naming the holder."""

from __future__ import annotations

from collections.abc import Callable

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
    workshop,
)
from tests.support.cfn_driver import CloudFormation
from tests.support.faults import Faults
from tests.support.platform import Platform

# -- 7. Ids it never issued -------------------------------------------------------------------

NEVER_ISSUED = {
    # crhelper's generated id: <stack name>_<logical id>_<8 random characters>
    "crhelper": "crystal-stack_Crystal_1A2B3C4D",
    # ids CloudFormation makes up when a Create answered none (or never answered)
    "cloudformation": "crystal-stack-Crystal-1TX2Y3Z4ABCDE",
    "request id": "6f1d8c52-8a3e-4a62-9d4e-6a0c1d2e3f40",
    # garbage, including near misses of the real shape
    "garbage": "not an id at all",
    "truncated": "meshed-crystal:123456789012:ecs-mesh",
    "bad account": "meshed-crystal:12345:ecs-mesh:ecsdemo-crystal:ecsdemo-crystal.service.local",
    "extra field": f"meshed-crystal:123456789012:ecs-mesh:{NODE}:{SERVICE}:more",
    "long": "x" * 1024,
}


@pytest.mark.parametrize("physical_id", list(NEVER_ISSUED.values()), ids=list(NEVER_ISSUED))
def test_delete_of_an_id_it_never_issued_succeeds_without_touching_aws(
    cfn: CloudFormation, platform: Platform, faults: Faults, physical_id: str
) -> None:
    # Given the stack's resource exists (what a careless Delete could remove)
    created = ok(fast(cfn).create(LOGICAL, workshop(platform)))
    assert faults.calls, "the emulator records the Create's calls"
    calls_before = len(faults.calls)
    # When CloudFormation deletes an id this resource never issued, twice
    first = cfn.delete(LOGICAL, physical_id=physical_id)
    second = cfn.delete(LOGICAL, physical_id=physical_id)
    # Then both succeed, echoing the id, and no AWS call at all was made
    for body in (first, second):
        ok(body)
        assert body["PhysicalResourceId"] == physical_id
    assert faults.calls[calls_before:] == []
    # And the stack's resource stands as it was
    assert aws_state.node_names() == [NODE]
    assert provider_of(SERVICE) == NODE
    assert aws_state.active_revisions(FAMILY) == [created["TaskDefinitionArn"]]


def test_a_second_delete_succeeds_with_no_write(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    # Given a resource CloudFormation deleted
    ok(fast(cfn).create(LOGICAL, workshop(platform)))
    physical_id = cfn.physical_id(LOGICAL)
    ok(cfn.delete(LOGICAL))
    writes_before = len(faults.writes())
    # When CloudFormation deletes it again (a new request, e.g. a retried stack delete)
    again = cfn.delete(LOGICAL, physical_id=physical_id, properties=workshop(platform))
    # Then it succeeds and writes nothing
    ok(again)
    assert faults.writes()[writes_before:] == []


def test_delete_after_the_mesh_itself_is_gone_succeeds(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    # Given a resource whose service, node and then mesh an operator removed by hand
    created = ok(fast(cfn).create(LOGICAL, workshop(platform)))
    appmesh = boto3.client("appmesh")
    appmesh.delete_virtual_service(meshName="ecs-mesh", virtualServiceName=SERVICE)
    appmesh.delete_virtual_node(meshName="ecs-mesh", virtualNodeName=NODE)
    appmesh.delete_mesh(meshName="ecs-mesh")
    writes_before = len(faults.writes())
    # When CloudFormation deletes the resource
    body = cfn.delete(LOGICAL)
    # Then it succeeds, writing nothing to App Mesh; its revision, found from ECS alone (the
    # node that recorded it is gone), is deregistered rather than left ACTIVE forever
    ok(body)
    assert faults.writes()[writes_before:] == [("ecs", "DeregisterTaskDefinition")]
    assert aws_state.active_revisions(FAMILY) == []
    assert created["TaskDefinitionArn"] in all_revisions()


# -- 8. Held resources ------------------------------------------------------------------------


def _backend_node() -> Callable[[], object]:
    appmesh = boto3.client("appmesh")
    appmesh.create_virtual_node(
        meshName="ecs-mesh",
        virtualNodeName="ecsdemo-frontend",
        spec={"backends": [{"virtualService": {"virtualServiceName": SERVICE}}]},
    )
    return lambda: appmesh.delete_virtual_node(
        meshName="ecs-mesh", virtualNodeName="ecsdemo-frontend"
    )


def _gateway_route() -> Callable[[], object]:
    appmesh = boto3.client("appmesh")
    appmesh.create_virtual_gateway(
        meshName="ecs-mesh",
        virtualGatewayName="ingress",
        spec={"listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]},
    )
    appmesh.create_gateway_route(
        meshName="ecs-mesh",
        virtualGatewayName="ingress",
        gatewayRouteName="to-crystal",
        spec={
            "httpRoute": {
                "match": {"prefix": "/crystal"},
                "action": {"target": {"virtualService": {"virtualServiceName": SERVICE}}},
            }
        },
    )
    return lambda: appmesh.delete_gateway_route(
        meshName="ecs-mesh", virtualGatewayName="ingress", gatewayRouteName="to-crystal"
    )


HOLDERS = {
    "backend of another node": (_backend_node, "VIRTUAL_NODE: [ecsdemo-frontend]"),
    "gateway route target": (_gateway_route, "GATEWAY_ROUTE: [ingress/to-crystal]"),
}


@pytest.mark.parametrize("holder", list(HOLDERS), ids=list(HOLDERS))
def test_delete_of_a_service_still_in_use_fails_naming_the_holder_then_succeeds(
    cfn: CloudFormation, platform: Platform, holder: str
) -> None:
    make_holder, named = HOLDERS[holder]
    # Given the resource's virtual service is used by another mesh resource
    created = ok(fast(cfn).create(LOGICAL, workshop(platform)))
    remove_holder = make_holder()
    # When CloudFormation deletes the resource
    body = cfn.delete(LOGICAL)
    # Then it fails, and the Reason says what holds the service
    reason = failed(body)
    assert f"virtual service {SERVICE}" in reason
    assert "in use" in reason
    assert named in reason
    assert body["PhysicalResourceId"] == cfn.physical_id(LOGICAL)
    # And service and node stand; the revision is deregistered already (DESIGN §9: the
    # revisions go first, whatever App Mesh answers, so a stack that retains the resource after
    # this failure leaks nothing in ECS; the running tasks keep running)
    assert provider_of(SERVICE) == NODE
    assert NODE in aws_state.node_names()
    assert aws_state.active_revisions(FAMILY) == []
    assert created["TaskDefinitionArn"] in all_revisions()
    # When the holder is gone and CloudFormation retries the Delete
    remove_holder()
    ok(cfn.delete(LOGICAL))
    # Then everything of the resource is gone
    assert aws_state.service_names() == []
    assert NODE not in aws_state.node_names()
    assert aws_state.active_revisions(FAMILY) == []
