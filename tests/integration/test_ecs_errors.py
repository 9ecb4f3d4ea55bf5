"""ECS's ClientException means "not found" or "not allowed" (its model says both): a missing
permission is a FAILED with a Reason that names it, never a "gone" that reports SUCCESS and
leaks the revisions (issue 13, 1b). The emulator raises ECS's own errors (tests/support/faults.py).
"""

from __future__ import annotations

import pytest

from tests.integration import aws_state
from tests.integration.lifecycle import FAMILY, LOGICAL, NODE, SERVICE, failed, fast, ok, workshop
from tests.support.cfn_driver import CloudFormation
from tests.support.faults import Faults
from tests.support.platform import Platform

ROLE = "arn:aws:sts::123456789012:assumed-role/meshed-crystal-role/meshed-crystal"


def _denied(action: str, resource: str) -> str:
    """IAM's wording of a denial, as ECS relays it in a ClientException."""
    return (
        f"User: {ROLE} is not authorized to perform: ecs:{action} on resource: {resource} "
        "because no identity-based policy allows the ecs:" + action + " action"
    )


# -- Delete: DeregisterTaskDefinition ---------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ClientException", _denied("DeregisterTaskDefinition", "*")),
        ("AccessDeniedException", "User is not authorized to perform this action."),
    ],
    ids=["ClientException not authorized", "AccessDeniedException"],
)
def test_a_delete_denied_deregistration_fails_naming_the_permission(
    cfn: CloudFormation, platform: Platform, faults: Faults, code: str, message: str
) -> None:
    # Given a resource, and a provider role without ecs:DeregisterTaskDefinition
    created = ok(fast(cfn).create(LOGICAL, workshop(platform)))
    faults.fail("ecs", "DeregisterTaskDefinition", code, message)
    # When CloudFormation deletes it
    body = cfn.delete(LOGICAL)
    # Then the Delete fails, naming the permission to grant, and does not report SUCCESS
    reason = failed(body)
    assert "ecs:DeregisterTaskDefinition" in reason
    assert "lacks" in reason
    assert faults.injected == [("ecs", "DeregisterTaskDefinition", code)]
    assert body["PhysicalResourceId"] == cfn.physical_id(LOGICAL)
    # And the revision it could not deregister is still ACTIVE (nothing was silently leaked)
    assert aws_state.active_revisions(FAMILY) == [created["TaskDefinitionArn"]]


@pytest.mark.parametrize(
    "message",
    [
        "The specified task definition does not exist.",
        "Unable to describe task definition.",
        "Revision is missing.",
    ],
)
def test_a_delete_whose_revision_is_already_gone_succeeds(
    cfn: CloudFormation, platform: Platform, faults: Faults, message: str
) -> None:
    # Given a resource whose revision ECS no longer knows (answered as real ECS does)
    ok(fast(cfn).create(LOGICAL, workshop(platform)))
    faults.fail("ecs", "DeregisterTaskDefinition", "ClientException", message)
    # When CloudFormation deletes it, it succeeds and the mesh resources are gone
    ok(cfn.delete(LOGICAL))
    assert faults.injected == [("ecs", "DeregisterTaskDefinition", "ClientException")]
    assert aws_state.node_names() == []
    assert aws_state.service_names() == []


def test_an_unknown_client_exception_on_deregister_is_not_taken_for_gone(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    ok(fast(cfn).create(LOGICAL, workshop(platform)))
    faults.fail("ecs", "DeregisterTaskDefinition", "ClientException", "Something else went wrong.")
    reason = failed(cfn.delete(LOGICAL))
    assert "ECS ClientException deregistering" in reason
    assert "Something else went wrong." in reason


# -- Create: DescribeTaskDefinition -----------------------------------------------------------


def test_a_create_denied_reading_the_base_task_definition_fails_naming_the_permission(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    # Given a provider role without ecs:DescribeTaskDefinition
    faults.fail(
        "ecs",
        "DescribeTaskDefinition",
        "ClientException",
        _denied("DescribeTaskDefinition", "*"),
    )
    # When the stack creates the resource
    reason = failed(fast(cfn).create(LOGICAL, workshop(platform)))
    # Then the Reason names the permission, not a task definition that "was not found"
    assert "ecs:DescribeTaskDefinition" in reason
    assert "was not found" not in reason
    # And nothing was written
    assert faults.writes() == []
    assert aws_state.node_names() == []


def test_a_create_whose_base_task_definition_is_missing_says_it_was_not_found(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    reason = failed(
        fast(cfn).create(LOGICAL, workshop(platform, TaskDefinition="no-such-family:7"))
    )
    assert "TaskDefinition: 'no-such-family:7' was not found" in reason
    assert "Unable to describe task definition." in reason
    assert faults.writes() == []
    assert aws_state.node(NODE) is None
    assert aws_state.service(SERVICE) is None
