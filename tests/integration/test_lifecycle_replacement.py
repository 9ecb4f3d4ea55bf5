"""Replacement (DESIGN §5.4): a new id, the old id's resources removed by CloudFormation's Delete.

Each kind of replacement is played twice: the stack update succeeds (CloudFormation then deletes
the old id), or the stack update fails afterwards (CloudFormation holds the old id again and
deletes the new one). Which id the stack holds is what the emulator's DescribeStackResource
answers, from the driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.integration import aws_state
from tests.integration.lifecycle import (
    LOGICAL,
    NODE,
    SERVICE,
    fast,
    ok,
    provider_of,
    revision_status,
    workshop,
)
from tests.support.cfn_driver import CloudFormation
from tests.support.faults import Faults
from tests.support.platform import Platform

OTHER_MESH = "ecs-mesh-2"


@dataclass(frozen=True)
class Kind:
    """A replacement: the property change, and where the old and new node and service live."""

    changes: dict[str, Any]
    old: tuple[str, str, str]  # mesh, node, service
    new: tuple[str, str, str]


KINDS = {
    "node renamed": Kind(
        {"VirtualNodeName": "crystal-v2"},
        ("ecs-mesh", NODE, SERVICE),
        ("ecs-mesh", "crystal-v2", SERVICE),
    ),
    "service renamed": Kind(
        {"VirtualServiceName": "crystal.service.local"},
        ("ecs-mesh", NODE, SERVICE),
        ("ecs-mesh", NODE, "crystal.service.local"),
    ),
    "mesh moved": Kind(
        {"MeshName": OTHER_MESH}, ("ecs-mesh", NODE, SERVICE), (OTHER_MESH, NODE, SERVICE)
    ),
}


def meshes_state() -> dict[str, tuple[list[str], dict[str, str | None]]]:
    """Per mesh: its node names, and each service's provider node."""
    state = {}
    for mesh in ("ecs-mesh", OTHER_MESH):
        services = aws_state.service_names(mesh)
        state[mesh] = (aws_state.node_names(mesh), {s: provider_of(s, mesh) for s in services})
    return state


def expected(*triples: tuple[str, str, str]) -> dict[str, tuple[list[str], dict[str, str | None]]]:
    state: dict[str, tuple[list[str], dict[str, str | None]]] = {
        "ecs-mesh": ([], {}),
        OTHER_MESH: ([], {}),
    }
    for mesh, node, service in triples:
        nodes, services = state[mesh]
        state[mesh] = (sorted({*nodes, node}), {**services, service: node})
    return state


# How CloudFormation answers the Delete's DescribeStackResource (DESIGN §5.4): the hand-over
# must hold also when it cannot say which id the stack holds (a permissions boundary or SCP that
# denies the call, a failing call; the local run's emulated CloudFormation did not know stacks).
STACK_ANSWERS = {
    "answered": None,
    "denied": (
        "AccessDenied",
        "User: arn:aws:sts::123456789012:assumed-role/fn/x is not authorized to perform: "
        "cloudformation:DescribeStackResource with an explicit deny in a permissions boundary",
    ),
    "failing": ("InternalFailure", "An internal error occurred"),
}


def stack_answers(faults: Faults, answer: str) -> None:
    fault = STACK_ANSWERS[answer]
    if fault is not None:
        faults.fail("cloudformation", "DescribeStackResource", *fault, times=10)


@pytest.fixture
def other_mesh(platform: Platform) -> str:
    boto3.client("appmesh").create_mesh(meshName=OTHER_MESH)
    return OTHER_MESH


@pytest.mark.parametrize("answer", list(STACK_ANSWERS))
@pytest.mark.parametrize("kind", list(KINDS), ids=list(KINDS))
def test_replacement_then_cleanup_delete_of_the_old_id(
    cfn: CloudFormation, platform: Platform, other_mesh: str, faults: Faults, kind: str, answer: str
) -> None:
    k = KINDS[kind]
    # Given a resource, replaced by a stack update
    created = fast(cfn).create(LOGICAL, workshop(platform))
    replaced = cfn.update(LOGICAL, workshop(platform, **k.changes))
    new_data = ok(replaced)
    assert replaced["PhysicalResourceId"] != created["PhysicalResourceId"]
    # The Update itself removed nothing of the old id: both stand, the shared name handed over
    assert set(meshes_state()[k.old[0]][0]) >= {k.old[1]}
    # When the stack update succeeded and CloudFormation deletes the old id
    stack_answers(faults, answer)
    ok(cfn.delete(LOGICAL, physical_id=created["PhysicalResourceId"]))
    fault = STACK_ANSWERS[answer]
    if fault is not None:
        assert ("cloudformation", "DescribeStackResource", fault[0]) in faults.injected
    # Then exactly the new id's node and service stand, the service pointing at the new node
    assert meshes_state() == expected(k.new)
    # And the Delete asked CloudFormation which id the stack holds
    assert ("cloudformation", "DescribeStackResource") in faults.calls
    # And the revision the stack runs is ACTIVE; the old id's one is not
    assert revision_status(new_data["TaskDefinitionArn"]) == "ACTIVE"
    if new_data["TaskDefinitionArn"] != created["Data"]["TaskDefinitionArn"]:
        assert revision_status(created["Data"]["TaskDefinitionArn"]) == "INACTIVE"
    # And the stack's id still works: an in-place update, then the stack's Delete
    ok(cfn.update(LOGICAL, workshop(platform, **k.changes, Envoy={"LogLevel": "debug"})))
    ok(cfn.delete(LOGICAL))
    assert meshes_state() == expected()


@pytest.mark.parametrize("answer", list(STACK_ANSWERS))
@pytest.mark.parametrize("kind", list(KINDS), ids=list(KINDS))
def test_replacement_then_failed_stack_update_deletes_the_new_id(
    cfn: CloudFormation, platform: Platform, other_mesh: str, faults: Faults, kind: str, answer: str
) -> None:
    k = KINDS[kind]
    old_props = workshop(platform)
    # Given a resource, replaced by a stack update
    created = fast(cfn).create(LOGICAL, old_props)
    replaced = cfn.update(LOGICAL, workshop(platform, **k.changes))
    ok(replaced)
    # When the stack update fails later: CloudFormation holds the old id again, and deletes the
    # new one
    cfn.revert_to(LOGICAL, created["PhysicalResourceId"], old_props)
    stack_answers(faults, answer)
    ok(cfn.delete(LOGICAL, physical_id=replaced["PhysicalResourceId"]))
    # Then the old id's node and service stand as before, the service on the old node
    assert meshes_state() == expected(k.old)
    assert revision_status(created["Data"]["TaskDefinitionArn"]) == "ACTIVE"
    # And the stack's id works as before: a no-op update answers as the Create did
    assert ok(cfn.update(LOGICAL, old_props, old_properties=old_props)) == created["Data"]
    ok(cfn.delete(LOGICAL))
    assert meshes_state() == expected()
