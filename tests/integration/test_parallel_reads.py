"""The reads before the first write (and a Delete's deregistrations) run at once, and a Create
learns from one listing that the mesh exists and whether the service name is taken.

Concurrency is proven by the emulator: ``faults.at_once`` holds the first call of each named
operation until all of them have arrived. Made one after the other, the first call waits out
the timeout alone and the barrier breaks.
"""

from __future__ import annotations

import boto3

from tests.integration import aws_state
from tests.integration.lifecycle import FAMILY, LOGICAL, SERVICE, failed, fast, ok, workshop
from tests.support.cfn_driver import CloudFormation
from tests.support.faults import Faults
from tests.support.platform import Platform


def test_a_create_makes_its_independent_reads_at_once(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    # Given the Cloud Map service by id: its lookup must precede the node's read (its name)
    barrier = faults.at_once(
        ("appmesh", "ListVirtualServices"),
        ("servicediscovery", "GetService"),
        ("ecs", "DescribeTaskDefinition"),
    )
    # When the stack creates the resource
    ok(cfn.create(LOGICAL, workshop(platform)))
    # Then the mesh, Cloud Map and the base task definition were read concurrently
    assert not barrier.broken
    assert faults.calls.index(("servicediscovery", "GetNamespace")) < faults.calls.index(
        ("appmesh", "DescribeVirtualNode")
    )


def test_with_names_given_the_node_is_read_at_once_with_the_rest(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    barrier = faults.at_once(
        ("appmesh", "ListVirtualServices"),
        ("servicediscovery", "ListNamespaces"),
        ("ecs", "DescribeTaskDefinition"),
        ("appmesh", "DescribeVirtualNode"),
    )
    props = workshop(
        platform,
        CloudMapServiceArn=None,
        CloudMapNamespaceName="service.local",
        CloudMapServiceName="ecsdemo-crystal",
    )
    ok(cfn.create(LOGICAL, props))
    assert not barrier.broken


def test_an_unchanged_update_reads_node_tags_and_service_at_once(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    ok(cfn.create(LOGICAL, workshop(platform)))
    barrier = faults.at_once(
        ("appmesh", "ListTagsForResource"), ("appmesh", "DescribeVirtualService")
    )
    calls_before = len(faults.calls)
    ok(cfn.update(LOGICAL, workshop(platform)))
    assert not barrier.broken
    assert sorted(op for _, op in faults.calls[calls_before:]) == [
        "DescribeVirtualService",
        "ListTagsForResource",
    ]


def test_a_fresh_create_makes_eight_calls(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    """A cold container's Create: no DescribeMesh, no DescribeVirtualService of a free name."""
    ok(cfn.create(LOGICAL, workshop(platform)))
    assert sorted(faults.calls) == sorted(
        [
            ("appmesh", "ListVirtualServices"),
            ("servicediscovery", "GetService"),
            ("servicediscovery", "GetNamespace"),
            ("ecs", "DescribeTaskDefinition"),
            ("appmesh", "DescribeVirtualNode"),
            ("ecs", "RegisterTaskDefinition"),
            ("appmesh", "CreateVirtualNode"),
            ("appmesh", "CreateVirtualService"),
        ]
    )


def test_a_taken_service_name_on_a_later_page_of_the_listing_is_found(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    # Given a mesh with more virtual services than one page holds (100), the last one named
    # like the resource's service and made by hand
    appmesh = boto3.client("appmesh")
    for index in range(100):
        appmesh.create_virtual_service(
            meshName="ecs-mesh", virtualServiceName=f"filler-{index:03}.service.local", spec={}
        )
    appmesh.create_virtual_service(meshName="ecs-mesh", virtualServiceName=SERVICE, spec={})
    calls_before = len(faults.calls)
    # When the stack creates the resource
    reason = failed(fast(cfn).create(LOGICAL, workshop(platform)))
    # Then the second page told that the name is taken, and nothing was written
    assert f"virtual service {SERVICE} already exists in mesh ecs-mesh" in reason
    made = [operation for _, operation in faults.calls[calls_before:]]
    assert made.count("ListVirtualServices") == 2
    assert all(operation.startswith(("Describe", "List", "Get")) for operation in made)
    assert aws_state.node_names() == []


def test_a_delete_deregisters_its_revisions_at_once(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    # Given a resource with two ACTIVE revisions (an in-place update registered the second)
    ok(cfn.create(LOGICAL, workshop(platform)))
    ok(cfn.update(LOGICAL, workshop(platform, Envoy={"LogLevel": "debug"})))
    barrier = faults.at_once(
        ("ecs", "DeregisterTaskDefinition"), ("ecs", "DeregisterTaskDefinition")
    )
    calls_before = len(faults.calls)
    # When the stack deletes it
    ok(cfn.delete(LOGICAL))
    # Then both revisions were deregistered concurrently, before App Mesh is touched (DESIGN
    # §9: whatever App Mesh then answers, nothing is left in ECS), in at most 8 calls in all
    assert not barrier.broken
    operations = [operation for _, operation in faults.calls[calls_before:]]
    assert operations.count("DeregisterTaskDefinition") == 2
    assert operations.index("DeregisterTaskDefinition") < operations.index("DeleteVirtualNode")
    assert len(operations) <= 8, operations
    assert aws_state.active_revisions(FAMILY) == []
