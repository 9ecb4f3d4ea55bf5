"""The lifecycle of a Custom::MeshedCrystal, scenario by scenario (DESIGN §5).

Every scenario goes through the CloudFormation driver: events in the order CloudFormation sends
them, responses read from the HTTPS endpoint, AWS state read from the emulator. Faults are
raised by the emulator itself (tests/support/faults.py), never by mocking the handler's calls.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from meshed_crystal import app

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
    revision_status,
    workshop,
)
from tests.support import moto_cloudformation
from tests.support.cfn_driver import CloudFormation, ResponseEndpoint
from tests.support.faults import Faults
from tests.support.platform import Platform

# -- 1. Redelivery ----------------------------------------------------------------------------


def test_a_redelivered_create_answers_the_same_and_creates_nothing_twice(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    # Given a Create that succeeded
    event = fast(cfn).event("Create", LOGICAL, workshop(platform))
    first = cfn.invoke(event)
    ok(first)
    writes_before = len(faults.writes())
    # When Lambda delivers the very same event again
    bodies = cfn.invoke_raw(event)
    # Then the second response is the first one again
    assert len(bodies) == 2
    assert bodies[1] == first
    # And nothing was written the second time: no node, service or revision
    assert faults.writes()[writes_before:] == []
    assert aws_state.node_names() == [NODE]
    assert aws_state.service_names() == [SERVICE]
    assert all_revisions() == [first["Data"]["TaskDefinitionArn"]]


def test_a_redelivered_update_answers_the_same_and_registers_nothing_twice(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    # Given a stack whose resource was updated in place (a new revision)
    created = ok(fast(cfn).create(LOGICAL, workshop(platform)))
    event = cfn.event("Update", LOGICAL, workshop(platform, Envoy={"LogLevel": "debug"}))
    first = cfn.invoke(event)
    ok(first)
    writes_before = len(faults.writes())
    # When the same Update is delivered again
    bodies = cfn.invoke_raw(event)
    # Then it answers the same and writes nothing
    assert len(bodies) == 2
    assert bodies[1] == first
    assert faults.writes()[writes_before:] == []
    assert all_revisions() == sorted(
        [created["TaskDefinitionArn"], first["Data"]["TaskDefinitionArn"]]
    )


def test_a_redelivered_delete_succeeds_again_and_deletes_nothing_else(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    # Given a deleted resource (and an unrelated node a wrong Delete could harm)
    boto3.client("appmesh").create_virtual_node(
        meshName="ecs-mesh", virtualNodeName="bystander", spec={}
    )
    ok(fast(cfn).create(LOGICAL, workshop(platform)))
    event = cfn.event("Delete", LOGICAL, workshop(platform))
    first = cfn.invoke(event)
    ok(first)
    writes_before = len(faults.writes())
    # When the Delete is delivered again
    bodies = cfn.invoke_raw(event)
    # Then it answers SUCCESS with the same id, and writes nothing
    assert len(bodies) == 2
    assert bodies[1] == first
    assert faults.writes()[writes_before:] == []
    assert aws_state.node_names() == ["bystander"]
    assert aws_state.service_names() == []


# -- 3. Ownership -----------------------------------------------------------------------------


def test_a_node_name_held_by_something_else_is_refused_and_left_untouched(
    cfn: CloudFormation, platform: Platform
) -> None:
    # Given a virtual node named like the resource's, made by someone else
    appmesh = boto3.client("appmesh")
    appmesh.create_virtual_node(
        meshName="ecs-mesh",
        virtualNodeName=NODE,
        spec={"listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]},
        tags=[{"key": "owner", "value": "team-a"}],
    )
    before = aws_state.node(NODE)
    # When the stack creates the resource
    body = fast(cfn).create(LOGICAL, workshop(platform))
    # Then it fails, saying what holds the name
    reason = failed(body)
    assert f"virtual node {NODE} already exists in mesh ecs-mesh" in reason
    assert "belongs to a resource not created by MeshedCrystal" in reason
    assert body["PhysicalResourceId"]
    # And the Delete CloudFormation sends next succeeds and leaves the node as it was
    ok(cfn.delete(LOGICAL, physical_id=body["PhysicalResourceId"]))
    assert aws_state.node(NODE) == before
    assert aws_state.tags(str(before["metadata"]["arn"])) == {"owner": "team-a"}  # type: ignore[index]
    assert aws_state.service_names() == []
    assert all_revisions() == []


def test_a_service_name_held_by_another_stack_is_refused_and_left_untouched(
    cfn: CloudFormation, platform: Platform
) -> None:
    # Given the virtual service name is held by a MeshedCrystal of another stack
    other = (
        "arn:aws:cloudformation:us-east-1:123456789012:stack/other-stack/"
        "0f0f0f0f-0000-4000-8000-000000000000"
    )
    appmesh = boto3.client("appmesh")
    appmesh.create_virtual_node(meshName="ecs-mesh", virtualNodeName="other-node", spec={})
    appmesh.create_virtual_service(
        meshName="ecs-mesh",
        virtualServiceName=SERVICE,
        spec={"provider": {"virtualNode": {"virtualNodeName": "other-node"}}},
        tags=[
            {"key": "meshed-crystal:stack-id", "value": other},
            {"key": "meshed-crystal:logical-id", "value": "Backend"},
        ],
    )
    before = aws_state.service(SERVICE)
    # When this stack creates its resource with the same service name
    body = fast(cfn).create(LOGICAL, workshop(platform))
    # Then it fails, naming the holder, and creates nothing of its own
    reason = failed(body)
    assert f"virtual service {SERVICE} already exists in mesh ecs-mesh" in reason
    assert "belongs to resource Backend of stack other-stack" in reason
    assert aws_state.node_names() == ["other-node"]
    # And the Delete CloudFormation sends next leaves the other stack's service as it was
    ok(cfn.delete(LOGICAL, physical_id=body["PhysicalResourceId"]))
    assert aws_state.service(SERVICE) == before
    assert aws_state.node_names() == ["other-node"]
    assert all_revisions() == []


def test_the_same_logical_id_in_another_stack_is_refused_and_writes_nothing(
    cfn: CloudFormation, platform: Platform, endpoint: ResponseEndpoint, faults: Faults
) -> None:
    # Given this stack's resource exists
    created = ok(fast(cfn).create(LOGICAL, workshop(platform)))
    node_before, service_before = aws_state.node(NODE), aws_state.service(SERVICE)
    # And another stack (another StackId) with a resource of the same logical id and names
    other = CloudFormation(app.lambda_handler, endpoint, stack_name="other-stack", grace_s=0.05)
    writes_before = len(faults.writes())
    with moto_cloudformation.serving(other):
        # When the other stack creates it
        body = other.create(LOGICAL, workshop(platform))
        # Then it is refused, naming the stack that holds the names, and nothing is written
        reason = failed(body)
        assert f"virtual node {NODE} already exists in mesh ecs-mesh" in reason
        assert f"belongs to resource {LOGICAL} of stack crystal-stack" in reason
        assert faults.writes()[writes_before:] == []
        # And the Delete that CloudFormation sends the other stack next removes nothing
        ok(other.delete(LOGICAL, physical_id=body["PhysicalResourceId"]))
    assert faults.writes()[writes_before:] == []
    assert aws_state.node(NODE) == node_before
    assert aws_state.service(SERVICE) == service_before
    assert aws_state.active_revisions(FAMILY) == [created["TaskDefinitionArn"]]


# -- 4. A Create that fails midway ------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "code", "message"),
    [
        ("CreateVirtualNode", "BadRequestException", "The request syntax was malformed."),
        (
            "CreateVirtualService",
            "LimitExceededException",
            "You have exceeded the maximum number of virtual services in mesh ecs-mesh.",
        ),
        ("CreateVirtualService", "ForbiddenException", "You don't have permissions."),
    ],
)
def test_a_create_that_fails_midway_leaves_nothing_behind(
    cfn: CloudFormation,
    platform: Platform,
    faults: Faults,
    operation: str,
    code: str,
    message: str,
) -> None:
    # Given App Mesh refuses one of the Create's later writes
    faults.fail("appmesh", operation, code, message)
    # When the stack creates the resource
    body = fast(cfn).create(LOGICAL, workshop(platform))
    # Then it fails quoting AWS, with the id of what it was creating
    reason = failed(body)
    assert code in reason
    assert message in reason
    assert body["PhysicalResourceId"] == f"meshed-crystal:123456789012:ecs-mesh:{NODE}:{SERVICE}"
    assert faults.injected == [("appmesh", operation, code)]
    # And nothing it made is left: no node, no service, no ACTIVE revision
    assert aws_state.node_names() == []
    assert aws_state.service_names() == []
    assert aws_state.active_revisions(FAMILY) == []
    # And the Delete CloudFormation sends next succeeds
    ok(cfn.delete(LOGICAL, physical_id=body["PhysicalResourceId"]))


# -- 5. In-place update and rollback ----------------------------------------------------------


def test_a_rolled_back_update_returns_exactly_the_previous_revision_and_node(
    cfn: CloudFormation, platform: Platform
) -> None:
    # Given a resource and its node as created
    old = workshop(platform)
    created = ok(fast(cfn).create(LOGICAL, old))
    node_before = aws_state.node(NODE)
    assert node_before is not None
    # When an update changes the task definition and the node, and the stack then rolls back
    # (CloudFormation sends the same Update with the properties swapped)
    new = workshop(platform, Envoy={"LogLevel": "debug"}, Backends=["ecsdemo-nodejs.service.local"])
    updated = ok(cfn.update(LOGICAL, new))
    assert updated["TaskDefinitionArn"] != created["TaskDefinitionArn"]
    rolled_back = cfn.update(LOGICAL, old, old_properties=new)
    # Then the rollback returns exactly the previous ARN, still ACTIVE
    assert ok(rolled_back) == created
    assert revision_status(created["TaskDefinitionArn"]) == "ACTIVE"
    # And the node spec is restored
    node_after = aws_state.node(NODE)
    assert node_after is not None
    assert node_after["spec"] == node_before["spec"]
    # And no revision beyond the two was registered
    assert all_revisions() == sorted([created["TaskDefinitionArn"], updated["TaskDefinitionArn"]])


def test_after_several_updates_only_the_current_and_previous_revisions_are_active(
    cfn: CloudFormation, platform: Platform
) -> None:
    # Given a resource updated three times, each time with a new task definition
    arns = [ok(fast(cfn).create(LOGICAL, workshop(platform)))["TaskDefinitionArn"]]
    for level in ("debug", "warning", "error"):
        arns.append(
            ok(cfn.update(LOGICAL, workshop(platform, Envoy={"LogLevel": level})))[
                "TaskDefinitionArn"
            ]
        )
    # Then only the current and the previous revisions are ACTIVE
    assert sorted(aws_state.active_revisions(FAMILY)) == sorted(arns[-2:])
    # When the last update is rolled back
    back = ok(
        cfn.update(
            LOGICAL,
            workshop(platform, Envoy={"LogLevel": "warning"}),
            old_properties=workshop(platform, Envoy={"LogLevel": "error"}),
        )
    )
    # Then it returns the previous revision, and registers nothing
    assert back["TaskDefinitionArn"] == arns[-2]
    assert len(all_revisions()) == len(arns)
    assert sorted(aws_state.active_revisions(FAMILY)) == sorted(arns[-2:])


@pytest.mark.parametrize("length", [109, 200, 255])
def test_a_long_family_keeps_its_rollback_revision_and_leaks_nothing(
    cfn: CloudFormation, platform: Platform, length: int
) -> None:
    # A Family ECS accepts (up to 255 characters) once overflowed the node's record of its
    # revisions (tag values hold 256): rollbacks lost the previous revision, and old ones stayed
    family = "f" * length

    def props(level: str) -> dict[str, Any]:
        return workshop(platform, Family=family, Envoy={"LogLevel": level})

    arns = [ok(fast(cfn).create(LOGICAL, props("info")))["TaskDefinitionArn"]]
    for level in ("debug", "warning"):
        arns.append(ok(cfn.update(LOGICAL, props(level)))["TaskDefinitionArn"])
    # Only the current and the previous revisions are ACTIVE
    assert sorted(aws_state.active_revisions(family)) == sorted(arns[-2:])
    # A rollback gets exactly the previous revision back, registering nothing
    back = ok(cfn.update(LOGICAL, props("debug"), old_properties=props("warning")))
    assert back["TaskDefinitionArn"] == arns[-2]
    assert len(all_revisions(family)) == len(arns)
    # And the stack's Delete leaves nothing ACTIVE
    ok(cfn.delete(LOGICAL))
    assert aws_state.active_revisions(family) == []
