"""``Mode: AppMesh`` on the fakes, case by case: what its reads find and how it decides (the
Cloud Map names, the cheap path of a no-op Update and when it repairs instead, tags kept in step),
and what a Delete keeps, hands back or leaves when App Mesh is gone (DESIGN §5, §9).

tests/fast/test_lifecycle_appmesh.py plays the lifecycle's scenarios; this file holds the
mode's own decisions, each from the state that makes it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from meshed_crystal import mode
from meshed_crystal.errors import (
    AwsError,
    MissingResourceError,
    OwnershipError,
    PropertyError,
    ResourceInUseError,
)
from meshed_crystal.identity import TAG_LOGICAL, TAG_STACK
from meshed_crystal.modes.appmesh.errors import AppMeshUnavailableError
from meshed_crystal.modes.appmesh.identity import (
    TAG_ENVOY_IMAGE,
    TAG_FAMILY,
    TAG_HANDED_FROM,
    TAG_REVISIONS,
    TAG_SERVICE,
)
from meshed_crystal.modes.appmesh.mode import APPMESH_UNAVAILABLE

from tests.fast.lifecycle import FAMILY, LOGICAL, NODE, SERVICE, Stack, provider, workshop
from tests.support.fakes import ACCOUNT, FakeAws

pytestmark = pytest.mark.appmesh

MESH_ARN = f"arn:aws:appmesh:us-east-1:{ACCOUNT}:mesh/ecs-mesh"


def arn_of(number: int, family: str = FAMILY) -> str:
    return f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{family}:{number}"


def cloud_map_arn(aws: FakeAws) -> str:
    """The ARN of the workshop's Cloud Map service (ecsdemo-crystal in service.local)."""
    [(_, _, arn)] = aws.cloud_map_services.values()
    return arn


def by_arn(aws: FakeAws, **changes: Any) -> dict[str, Any]:
    """The workshop's properties with the Cloud Map service given by ARN, not by names."""
    return workshop(
        CloudMapNamespaceName=None,
        CloudMapServiceName=None,
        CloudMapServiceArn=cloud_map_arn(aws),
        **changes,
    )


def provider_of(aws: FakeAws, service: str = SERVICE) -> str | None:
    found = aws.service(service)
    assert found is not None
    return found.data["spec"]["provider"]["virtualNode"]["virtualNodeName"]  # type: ignore[no-any-return]


def just_before(aws: FakeAws, call: str, other: Callable[[], object]) -> None:
    """Someone else does ``other`` between this resource's reads and its ``call`` (a race)."""

    def run() -> None:
        other()

    aws.before(call, run)


def warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def infos(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.endswith("appmesh.mode")]


# -- The names, from Cloud Map ----------------------------------------------------------------


def test_a_cloud_map_service_given_by_arn_names_the_node_and_the_service(
    aws: FakeAws, stack: Stack
) -> None:
    result = stack.create(by_arn(aws))
    assert (result.data["VirtualNodeName"], result.data["VirtualServiceName"]) == (NODE, SERVICE)
    node = aws.node(NODE)
    assert node is not None
    discovery = node.data["spec"]["serviceDiscovery"]["awsCloudMap"]
    assert (discovery["namespaceName"], discovery["serviceName"]) == (
        "service.local",
        "ecsdemo-crystal",
    )
    assert "cloudmap.names_by_id" in aws.calls
    assert "cloudmap.check_names" not in aws.calls


@pytest.mark.parametrize(
    ("given", "names"),
    [
        ({"VirtualNodeName": "crystal-node"}, ("crystal-node", SERVICE)),
        ({"VirtualServiceName": "crystal.example"}, (NODE, "crystal.example")),
        (
            {"VirtualNodeName": "crystal-node", "VirtualServiceName": "crystal.example"},
            ("crystal-node", "crystal.example"),
        ),
    ],
)
def test_a_name_not_given_comes_from_the_cloud_map_service_given_by_arn(
    aws: FakeAws, stack: Stack, given: dict[str, str], names: tuple[str, str]
) -> None:
    result = stack.create(by_arn(aws, **given))
    assert (result.data["VirtualNodeName"], result.data["VirtualServiceName"]) == names
    # The node registers in Cloud Map under the service's own names, whatever the node's name
    node = aws.node(names[0])
    assert node is not None
    discovery = node.data["spec"]["serviceDiscovery"]["awsCloudMap"]
    assert (discovery["namespaceName"], discovery["serviceName"]) == (
        "service.local",
        "ecsdemo-crystal",
    )


def test_a_cloud_map_service_that_does_not_exist_is_reported_and_nothing_is_written(
    aws: FakeAws, stack: Stack
) -> None:
    missing = cloud_map_arn(aws).rpartition("/")[0] + "/srv-0000000000000000"
    with pytest.raises(MissingResourceError) as failed:
        stack.create(
            workshop(
                CloudMapNamespaceName=None, CloudMapServiceName=None, CloudMapServiceArn=missing
            )
        )
    assert str(failed.value) == (
        "CloudMapServiceArn: Cloud Map service srv-0000000000000000 does not exist"
    )
    assert aws.writes() == []
    # Nothing was looked up by names that could not be known
    assert "appmesh.describe_node" not in aws.calls


def test_a_missing_mesh_is_reported_before_a_missing_cloud_map_service(
    aws: FakeAws, stack: Stack
) -> None:
    missing = cloud_map_arn(aws).rpartition("/")[0] + "/srv-0000000000000000"
    props = workshop(
        MeshName="no-such-mesh",
        CloudMapNamespaceName=None,
        CloudMapServiceName=None,
        CloudMapServiceArn=missing,
    )
    with pytest.raises(MissingResourceError, match=r"^MeshName: mesh 'no-such-mesh' does not"):
        stack.create(props)
    assert aws.writes() == []


def test_cloud_map_names_are_checked_before_any_write(aws: FakeAws, stack: Stack) -> None:
    with pytest.raises(MissingResourceError) as failed:
        stack.create(workshop(CloudMapServiceName="nope"))
    assert (
        str(failed.value) == "CloudMapServiceName: namespace 'service.local' has no service 'nope'"
    )
    assert aws.writes() == []


# -- Ownership is settled before the first write (DESIGN §5.2) --------------------------------


def test_a_service_name_held_by_something_else_is_refused_and_left_untouched(
    aws: FakeAws, stack: Stack
) -> None:
    spec = {"listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]}
    aws.appmesh.create_node("ecs-mesh", None, "theirs", spec, {})
    theirs = {"provider": {"virtualNode": {"virtualNodeName": "theirs"}}}
    aws.appmesh.create_service("ecs-mesh", None, SERVICE, theirs, {"owner": "team-a"})
    writes = len(aws.writes())
    with pytest.raises(OwnershipError) as refused:
        stack.create(workshop())
    assert str(refused.value).startswith(
        f"virtual service {SERVICE} already exists in mesh ecs-mesh and belongs to a resource "
        "not created by MeshedCrystal;"
    )
    assert aws.writes()[writes:] == []
    assert provider_of(aws) == "theirs"


# -- A no-op Update: the cheap path, or the full one that repairs -----------------------------


def test_a_no_op_update_reads_the_node_and_the_service_only(aws: FakeAws, stack: Stack) -> None:
    created = stack.create(workshop())
    calls = len(aws.calls)
    assert stack.update(workshop(), old=workshop()) == created
    assert sorted(aws.calls[calls:]) == ["appmesh.describe_service", "appmesh.tags"]


def repaired(aws: FakeAws, stack: Stack) -> list[str]:
    """A no-op Update, then the writes it made (the full path's)."""
    writes = len(aws.writes())
    stack.update(workshop(), old=workshop())
    return aws.writes()[writes:]


def test_a_no_op_update_of_a_node_that_lost_its_record_of_revisions_records_them_again(
    aws: FakeAws, stack: Stack
) -> None:
    stack.create(workshop())
    node = aws.node(NODE)
    assert node is not None
    del node.tags[TAG_REVISIONS]
    assert "appmesh.tag" in repaired(aws, stack)
    assert node.tags[TAG_REVISIONS]


def test_a_no_op_update_of_a_node_that_is_not_its_own_any_more_is_refused(
    aws: FakeAws, stack: Stack
) -> None:
    stack.create(workshop())
    node = aws.node(NODE)
    assert node is not None
    node.tags[TAG_LOGICAL] = "Someone"
    with pytest.raises(OwnershipError, match="belongs to resource Someone of stack crystal-stack"):
        stack.update(workshop(), old=workshop())


def test_a_no_op_update_remakes_a_node_removed_by_hand(aws: FakeAws, stack: Stack) -> None:
    created = stack.create(workshop())
    aws.appmesh.delete_service("ecs-mesh", None, SERVICE)
    aws.appmesh.delete_node("ecs-mesh", None, NODE)
    assert repaired(aws, stack)[:1] == ["ecs.register"]  # the node's record was lost with it
    assert aws.node(NODE) is not None
    assert provider_of(aws) == NODE
    assert created.data["TaskDefinitionArn"] == arn_of(1)


def test_a_no_op_update_remakes_a_service_removed_by_hand(aws: FakeAws, stack: Stack) -> None:
    created = stack.create(workshop())
    aws.appmesh.delete_service("ecs-mesh", None, SERVICE)
    writes = len(aws.writes())
    assert stack.update(workshop(), old=workshop()) == created
    assert aws.writes()[writes:] == ["appmesh.create_service"]
    assert provider_of(aws) == NODE


def test_a_no_op_update_points_a_service_moved_by_hand_back_at_its_node(
    aws: FakeAws, stack: Stack
) -> None:
    created = stack.create(workshop())
    spec = {"listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]}
    aws.appmesh.create_node("ecs-mesh", None, "other", spec, {})
    other = {"provider": {"virtualNode": {"virtualNodeName": "other"}}}
    aws.appmesh.update_service("ecs-mesh", None, SERVICE, other)
    writes = len(aws.writes())
    assert stack.update(workshop(), old=workshop()) == created
    assert aws.writes()[writes:][:1] == ["appmesh.update_service"]
    assert provider_of(aws) == NODE
    # And records the node it took the name from
    service = aws.service(SERVICE)
    assert service is not None
    assert service.tags[TAG_HANDED_FROM] == "other"


def test_an_update_puts_back_a_node_spec_changed_by_hand(aws: FakeAws, stack: Stack) -> None:
    stack.create(workshop())
    node = aws.node(NODE)
    assert node is not None
    spec = node.data["spec"]
    by_hand = {"portMapping": {"port": 9999, "protocol": "http"}}
    aws.appmesh.update_node("ecs-mesh", None, NODE, {**spec, "listeners": [by_hand]})
    # The cheap path does not look at the spec; a changed property takes the full path
    writes = len(aws.writes())
    stack.update(workshop(Tags=[{"Key": "team", "Value": "a"}]))
    assert "appmesh.update_node" in aws.writes()[writes:]
    assert node.data["spec"] == spec


# -- Tags kept in step with the template ------------------------------------------------------


def test_user_tags_follow_the_template_and_the_records_stay(aws: FakeAws, stack: Stack) -> None:
    stack.create(workshop(Tags=[{"Key": "team", "Value": "a"}, {"Key": "tier", "Value": "web"}]))
    writes = len(aws.writes())
    stack.update(workshop(Tags=[{"Key": "team", "Value": "b"}]))
    node, service = aws.node(NODE), aws.service(SERVICE)
    assert node is not None
    assert service is not None
    owner = {TAG_STACK: stack.stack_id, TAG_LOGICAL: LOGICAL}
    assert service.tags == {**owner, "team": "b"}
    assert node.tags == {
        **owner,
        "team": "b",
        TAG_FAMILY: FAMILY,
        TAG_REVISIONS: node.tags[TAG_REVISIONS],
        TAG_ENVOY_IMAGE: node.tags[TAG_ENVOY_IMAGE],
        TAG_SERVICE: SERVICE,
    }
    # One tag and one untag call each for the node and the service; nothing else in App Mesh
    assert sorted(w for w in aws.writes()[writes:] if w.startswith("appmesh.")) == [
        "appmesh.tag",
        "appmesh.tag",
        "appmesh.untag",
        "appmesh.untag",
    ]


def test_unchanged_tags_are_not_written_again(aws: FakeAws, stack: Stack) -> None:
    stack.create(workshop(Tags=[{"Key": "team", "Value": "a"}]))
    writes = len(aws.writes())
    # A changed property that changes neither the node nor the tags: only the revision
    stack.update(workshop(Tags=[{"Key": "team", "Value": "a"}], Envoy={"LogLevel": "debug"}))
    assert [w for w in aws.writes()[writes:] if w.startswith("appmesh.")] == ["appmesh.tag"]


# -- Delete: fail closed, and App Mesh gone midway (DESIGN §9) --------------------------------


def test_a_delete_that_cannot_read_the_node_nor_the_stack_fails_touching_nothing(
    aws: FakeAws, stack: Stack
) -> None:
    stack.create(workshop())
    aws.stack_answer = "unknown"
    error = AwsError("App Mesh InternalServerErrorException: try again")
    aws.fail("appmesh.tags", error)
    writes = len(aws.writes())
    with pytest.raises(AwsError) as failed:
        stack.delete(stack.physical_id())
    assert failed.value is error
    assert aws.writes()[writes:] == []
    assert aws.active_revisions(FAMILY) == [arn_of(1)]


def test_a_delete_that_cannot_read_the_node_but_knows_the_stack_fails_after_the_revisions(
    aws: FakeAws, stack: Stack
) -> None:
    stack.create(workshop())
    error = AwsError("App Mesh InternalServerErrorException: try again")
    aws.fail("appmesh.tags", error)
    with pytest.raises(AwsError) as failed:
        stack.delete(stack.physical_id())
    assert failed.value is error
    assert aws.active_revisions(FAMILY) == []
    assert aws.node(NODE) is not None


@pytest.mark.parametrize("setting", ["auto", "false"])
def test_app_mesh_gone_midway_through_a_delete(
    aws: FakeAws,
    setting: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = Stack(aws, provider(aws, retired=setting))
    stack.create(workshop())
    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(mode, "on_notice", [lambda metric, how: seen.append((metric, how))])
    gone = AppMeshUnavailableError("unreachable", "its endpoint cannot be reached")
    aws.fail("appmesh.delete_service", gone)
    if setting == "auto":
        stack.delete()
        assert seen == [(APPMESH_UNAVAILABLE, "unreachable")]
        [warning] = warnings(caplog)
        assert warning.getMessage() == (
            "App Mesh is unavailable (its endpoint cannot be reached); the Delete finished "
            f"without it. May be left in App Mesh: virtual service {SERVICE} and virtual node "
            f"{NODE} of mesh ecs-mesh (owner {ACCOUNT})"
        )
        assert warning.appmesh_unavailable == "unreachable"  # type: ignore[attr-defined]
    else:
        with pytest.raises(AppMeshUnavailableError) as failed:
            stack.delete()
        assert failed.value is gone
        assert seen == []
        assert warnings(caplog) == []
    # The revisions went first; the node and the service stand
    assert aws.active_revisions(FAMILY) == []
    assert aws.node(NODE) is not None
    assert aws.service(SERVICE) is not None


def test_a_delete_of_a_node_that_is_gone_says_so_and_deletes_nothing_in_app_mesh(
    aws: FakeAws, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack.create(workshop())
    aws.appmesh.delete_service("ecs-mesh", None, SERVICE)
    aws.appmesh.delete_node("ecs-mesh", None, NODE)
    calls = len(aws.calls)
    with caplog.at_level(logging.INFO):
        stack.delete()
    assert "the node is gone or not ours; nothing to delete in App Mesh" in infos(caplog)
    assert [c for c in aws.calls[calls:] if c.startswith("appmesh.")] == ["appmesh.tags"]
    assert aws.active_revisions(FAMILY) == []


def test_a_delete_of_a_node_that_is_not_its_own_deletes_nothing_in_app_mesh(
    aws: FakeAws, stack: Stack
) -> None:
    stack.create(workshop())
    node = aws.node(NODE)
    assert node is not None
    node.tags[TAG_STACK] = node.tags[TAG_STACK].replace("crystal-stack", "other-stack")
    stack.delete()
    assert aws.node(NODE) is not None
    assert aws.service(SERVICE) is not None


# -- The mesh: by name in this account, or shared by ARN from another --------------------------

SHARING = "210987654321"


def test_a_mesh_shared_from_another_account_is_used_under_its_owner(aws: FakeAws) -> None:
    shared = aws.add_mesh("shared-mesh", owner=SHARING)
    stack = Stack(aws, provider(aws))
    result = stack.create(workshop(MeshName=None, MeshArn=shared))
    assert result.physical_id == f"meshed-crystal:{SHARING}:shared-mesh:{NODE}:{SERVICE}"
    assert result.data["MeshArn"] == shared
    assert result.data["VirtualNodeArn"] == f"{shared}/virtualNode/{NODE}"
    mesh = aws.meshes[(SHARING, "shared-mesh")]
    assert (sorted(mesh.nodes), sorted(mesh.services)) == ([NODE], [SERVICE])
    # Envoy is told the node's ARN in the owner's mesh
    envoy = aws.revision(arn_of(1)).content["containerDefinitions"][1]
    assert {"name": "APPMESH_RESOURCE_ARN", "value": f"{shared}/virtualNode/{NODE}"} in envoy[
        "environment"
    ]
    # An in-place update knows the mesh from its id; the stack's Delete removes it all
    stack.update(workshop(MeshName=None, MeshArn=shared, Envoy={"LogLevel": "debug"}))
    stack.delete()
    assert (mesh.nodes, mesh.services) == ({}, {})
    assert aws.active_revisions(FAMILY) == []


def test_a_mesh_of_the_same_name_in_this_account_is_not_the_shared_one(aws: FakeAws) -> None:
    shared = aws.add_mesh("ecs-mesh", owner=SHARING)
    stack = Stack(aws, provider(aws))
    stack.create(workshop())
    # The same resource moved to the shared mesh of the same name: a replacement, not in place
    moved = stack.update(workshop(MeshName=None, MeshArn=shared))
    assert moved.physical_id == f"meshed-crystal:{SHARING}:ecs-mesh:{NODE}:{SERVICE}"
    assert sorted(aws.meshes[(SHARING, "ecs-mesh")].nodes) == [NODE]
    assert sorted(aws.meshes[(aws.account, "ecs-mesh")].nodes) == [NODE]


def test_a_create_lists_the_mesh_an_in_place_update_describes_the_service(
    aws: FakeAws, stack: Stack
) -> None:
    stack.create(workshop())
    assert aws.calls.count("appmesh.service_names") == 1
    assert "appmesh.describe_service" not in aws.calls  # the name was not taken
    calls = len(aws.calls)
    stack.update(workshop(Envoy={"LogLevel": "debug"}))
    read = aws.calls[calls:]
    assert "appmesh.service_names" not in read
    assert read.count("appmesh.describe_service") == 1
    assert read.count("appmesh.describe_node") == 1


def test_a_create_in_a_mesh_that_does_not_exist_names_it(aws: FakeAws, stack: Stack) -> None:
    with pytest.raises(MissingResourceError) as failed:
        stack.create(workshop(MeshName="no-such-mesh"))
    assert str(failed.value) == (
        f"MeshName: mesh 'no-such-mesh' does not exist in account {ACCOUNT} (or is not shared "
        "with this account)"
    )
    assert aws.writes() == []


# -- The task definition: described by name, or inline ----------------------------------------

INLINE = {
    "NetworkMode": "awsvpc",
    "RequiresCompatibilities": ["FARGATE"],
    "Cpu": "256",
    "Memory": "512",
    "TaskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/crystal-task",
    "ExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/crystal-execution",
    "ContainerDefinitions": [
        {
            "Name": "crystal",
            "Image": "public.ecr.aws/aws-containers/ecsdemo-crystal:latest",
            "Essential": "true",
            "PortMappings": [{"ContainerPort": "3000", "Protocol": "tcp"}],
        }
    ],
}


@pytest.mark.parametrize(
    ("given", "family"),
    [({"Family": "crystal-inline"}, "crystal-inline"), ({}, f"{NODE}-mesh")],
    ids=["its own family", "no family"],
)
def test_an_inline_task_definition_registers_in_its_own_family_or_the_nodes(
    aws: FakeAws, stack: Stack, given: dict[str, str], family: str
) -> None:
    props = workshop(
        TaskDefinition={**INLINE, **given},
        CloudMapAttributes={"ECS_TASK_DEFINITION_FAMILY": family},
    )
    result = stack.create(props)
    assert (result.data["TaskDefinitionFamily"], result.data["TaskDefinitionArn"]) == (
        family,
        arn_of(1, family),
    )
    assert "ecs.describe" not in aws.calls
    containers = aws.revision(arn_of(1, family)).content["containerDefinitions"]
    assert [c["name"] for c in containers] == ["crystal", "envoy"]


# -- The revision's tags and Envoy's settings --------------------------------------------------


def test_the_revision_carries_the_base_tags_the_users_over_them_and_the_owners(
    aws: FakeAws, stack: Stack
) -> None:
    app = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/ecsdemo-crystal:1"
    aws.revision(app).tags.update({"team": "base", "cost-centre": "42"})
    result = stack.create(workshop(Tags=[{"Key": "team", "Value": "crystal"}]))
    assert aws.revision(result.data["TaskDefinitionArn"]).tags == {
        "cost-centre": "42",
        "team": "crystal",
        TAG_STACK: stack.stack_id,
        TAG_LOGICAL: LOGICAL,
        "meshed-crystal:held-by": f"appmesh/{ACCOUNT}/ecs-mesh/{NODE}",
    }


def test_envoy_is_told_the_region_and_the_node(aws: FakeAws, stack: Stack) -> None:
    stack.create(workshop())
    envoy = aws.revision(arn_of(1)).content["containerDefinitions"][1]
    environment = {e["name"]: e["value"] for e in envoy["environment"]}
    assert environment["REGION"] == "us-east-1"
    assert environment["APPMESH_RESOURCE_ARN"] == f"{MESH_ARN}/virtualNode/{NODE}"


# -- A name taken between the read and the write (DESIGN §5) -----------------------------------


def test_a_service_name_taken_by_another_between_read_and_write_is_refused_and_undone(
    aws: FakeAws, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    theirs = {"provider": {"virtualNode": {"virtualNodeName": NODE}}}
    just_before(
        aws,
        "appmesh.create_service",
        lambda: aws.appmesh.create_service("ecs-mesh", None, SERVICE, theirs, {"owner": "b"}),
    )
    # And the undo of the node fails: left for operators, named in the log
    aws.fail("appmesh.delete_node", AwsError("App Mesh InternalServerErrorException: later"))
    with pytest.raises(OwnershipError) as refused:
        stack.create(workshop())
    assert str(refused.value) == (
        f"virtual service {SERVICE} already exists in mesh ecs-mesh and belongs to a resource "
        "not created by MeshedCrystal; MeshedCrystal does not take over what it did not create: "
        "choose another name (VirtualNodeName / VirtualServiceName) or remove the existing one"
    )
    undone = [r for r in caplog.records if r.getMessage() == "could not undo"]
    assert [getattr(r, "undo", None) for r in undone] == ["delete node"]
    assert aws.active_revisions(FAMILY) == []
    assert aws.calls.count("appmesh.delete_node") == 1


def test_a_node_name_taken_by_another_between_read_and_write_is_refused_and_undone(
    aws: FakeAws, stack: Stack
) -> None:
    spec = {"listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]}
    just_before(
        aws,
        "appmesh.create_node",
        lambda: aws.appmesh.create_node("ecs-mesh", None, NODE, spec, {"owner": "b"}),
    )
    with pytest.raises(OwnershipError) as refused:
        stack.create(workshop())
    assert str(refused.value).startswith(
        f"virtual node {NODE} already exists in mesh ecs-mesh and belongs to a resource not "
        "created by MeshedCrystal;"
    )
    assert aws.active_revisions(FAMILY) == []
    node = aws.node(NODE)
    assert node is not None
    assert node.data["spec"] == spec


# -- Delete: what is kept, handed back, or deleted (DESIGN §5.4) -------------------------------


def app_mesh_calls(aws: FakeAws, since: int) -> list[str]:
    return [c for c in aws.calls[since:] if c.startswith("appmesh.")]


@pytest.mark.parametrize("answer", ["answered", "unknown"])
def test_a_delete_of_a_node_that_is_gone_succeeds_whatever_cloudformation_says(
    aws: FakeAws, stack: Stack, answer: str
) -> None:
    stack.create(workshop())
    aws.appmesh.delete_service("ecs-mesh", None, SERVICE)
    aws.appmesh.delete_node("ecs-mesh", None, NODE)
    aws.stack_answer = answer
    stack.delete()
    assert aws.active_revisions(FAMILY) == []


def test_a_delete_cloudformation_cannot_inform_checks_the_service_then_deletes_both(
    aws: FakeAws, stack: Stack
) -> None:
    stack.create(workshop())
    aws.stack_answer = "unknown"
    calls = len(aws.calls)
    stack.delete()
    # No other node is read: the service was never handed over
    assert app_mesh_calls(aws, calls) == [
        "appmesh.tags",
        "appmesh.describe_service",
        "appmesh.tags",
        "appmesh.delete_service",
        "appmesh.delete_node",
    ]
    assert (aws.node(NODE), aws.service(SERVICE)) == (None, None)


def test_a_delete_cloudformation_cannot_inform_leaves_a_service_that_is_not_its_own(
    aws: FakeAws, stack: Stack
) -> None:
    stack.create(workshop())
    service = aws.service(SERVICE)
    assert service is not None
    service.tags = {"owner": "team-b"}  # someone took the service over
    aws.stack_answer = "unknown"
    # The service still names the node: App Mesh refuses to delete the node under it
    with pytest.raises(ResourceInUseError, match=f"VIRTUAL_SERVICE: \\[{SERVICE}\\]"):
        stack.delete()
    assert aws.service(SERVICE) is not None
    assert aws.calls.count("appmesh.delete_service") == 0


def replaced(aws: FakeAws, stack: Stack, **changes: Any) -> tuple[str, str]:
    """A replacement: (the old id, the new id the stack holds)."""
    old = stack.create(workshop()).physical_id
    new = stack.update(workshop(**changes)).physical_id
    assert new != old
    return old, new


def test_a_cleanup_delete_cloudformation_cannot_inform_keeps_a_service_handed_over(
    aws: FakeAws, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    old, _ = replaced(aws, stack, VirtualNodeName="crystal-v2")
    aws.stack_answer = "unknown"
    with caplog.at_level(logging.INFO):
        stack.delete(old)
    assert "the virtual service is provided by another node; kept" in infos(caplog)
    assert provider_of(aws) == "crystal-v2"
    assert aws.node(NODE) is None


def test_a_failed_replacement_hands_the_service_back_when_cloudformation_cannot_say(
    aws: FakeAws, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = replaced(aws, stack, VirtualNodeName="crystal-v2")
    stack.revert_to(old, workshop())
    aws.stack_answer = "unknown"
    with caplog.at_level(logging.INFO):
        stack.delete(new)
    assert "the virtual service is handed back to the node it came from" in infos(caplog)
    assert provider_of(aws) == NODE
    assert aws.node("crystal-v2") is None


def test_a_service_handed_over_from_a_node_that_is_gone_is_deleted_with_its_node(
    aws: FakeAws, stack: Stack
) -> None:
    old, new = replaced(aws, stack, VirtualNodeName="crystal-v2")
    stack.delete(old)  # the cleanup: the old node is gone, the service records it
    aws.stack_answer = "unknown"
    stack.delete(new)
    assert (aws.node("crystal-v2"), aws.service(SERVICE)) == (None, None)


def test_a_cleanup_delete_cloudformation_cannot_inform_keeps_the_node_the_new_service_uses(
    aws: FakeAws, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    old, _ = replaced(aws, stack, VirtualServiceName="crystal.service.local")
    aws.stack_answer = "unknown"
    with caplog.at_level(logging.INFO):
        stack.delete(old)
    assert "the node serves another id's virtual service; kept" in infos(caplog)
    assert "the node and its revisions belong to the id the stack holds; kept" in infos(caplog)
    assert aws.node(NODE) is not None
    assert aws.service(SERVICE) is None
    assert aws.active_revisions(FAMILY) == [arn_of(1)]


def test_a_cleanup_delete_keeps_the_node_the_stack_id_holds(
    aws: FakeAws, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    old, _ = replaced(aws, stack, VirtualServiceName="crystal.service.local")
    with caplog.at_level(logging.INFO):
        stack.delete(old)
    assert (
        infos(caplog).count("the node and its revisions belong to the id the stack holds; kept")
        == 1
    )
    assert "the node serves another id's virtual service; kept" not in infos(caplog)
    assert aws.node(NODE) is not None
    assert aws.active_revisions(FAMILY) == [arn_of(1)]


def test_only_a_service_of_its_own_keeps_a_shared_node(aws: FakeAws, stack: Stack) -> None:
    _, new = replaced(aws, stack, VirtualServiceName="crystal.service.local")
    service = aws.service(SERVICE)
    assert service is not None
    service.tags = {"owner": "team-b"}  # the old id's service was taken over
    aws.stack_answer = "unknown"
    # The node is not kept for it (its revisions go); App Mesh refuses to delete the node
    with pytest.raises(ResourceInUseError):
        stack.delete(new)
    assert aws.active_revisions(FAMILY) == []
    assert aws.service(SERVICE) is not None
    assert aws.service("crystal.service.local") is None


# -- Delete without App Mesh (DESIGN §9) ------------------------------------------------------


def test_a_delete_with_app_mesh_retired_names_the_setting_in_its_warning(
    aws: FakeAws, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack.create(workshop())
    stack.provider = provider(aws, retired="true")
    stack.delete()
    [warning] = warnings(caplog)
    assert warning.getMessage().startswith(
        "App Mesh is unavailable (the provider's AppMeshRetired is true); the Delete finished "
        "without it."
    )
    assert warning.appmesh_unavailable == "retired"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("changes", "kept"),
    [({"VirtualServiceName": "crystal.service.local"}, True), ({"VirtualNodeName": "v2"}, False)],
    ids=["node shared", "node renamed"],
)
def test_a_cleanup_delete_without_app_mesh_keeps_the_revisions_the_stack_id_runs(
    aws: FakeAws, stack: Stack, changes: dict[str, str], kept: bool
) -> None:
    created = stack.create(workshop())
    replacement = stack.update(workshop(**changes, Envoy={"LogLevel": "debug"}))
    aws.appmesh_gone("unreachable", "its endpoint cannot be reached")
    stack.delete(created.physical_id)
    active = aws.active_revisions(FAMILY)
    assert replacement.data["TaskDefinitionArn"] in active
    # The old id's revision stays only if the stack's id holds its node (and so its revisions)
    assert (created.data["TaskDefinitionArn"] in active) is kept


# -- Everything in a shared mesh is addressed to its owner -------------------------------------
# The workshop's mesh belongs to another account here, and this account has none of that name:
# a call that left the owner out would find nothing, or the wrong mesh.

SHARED_ARN = f"arn:aws:appmesh:us-east-1:{SHARING}:mesh/ecs-mesh"


@pytest.fixture
def shared(aws: FakeAws) -> FakeAws:
    aws.meshes[(SHARING, "ecs-mesh")] = aws.meshes.pop((ACCOUNT, "ecs-mesh"))
    return aws


def in_shared(**changes: Any) -> dict[str, Any]:
    return workshop(MeshName=None, MeshArn=SHARED_ARN, **changes)


def shared_state(aws: FakeAws) -> tuple[list[str], dict[str, str | None]]:
    """The shared mesh's node names, and each virtual service's provider node."""
    mesh = aws.meshes[(SHARING, "ecs-mesh")]
    providers = {
        name: (r.data["spec"].get("provider") or {}).get("virtualNode", {}).get("virtualNodeName")
        for name, r in mesh.services.items()
    }
    return sorted(mesh.nodes), providers


@pytest.mark.parametrize("answer", ["answered", "unknown"])
def test_a_resource_in_a_shared_mesh_from_create_to_delete(
    shared: FakeAws, stack: Stack, answer: str
) -> None:
    aws = shared
    created = stack.create(in_shared())
    assert created.physical_id == f"meshed-crystal:{SHARING}:ecs-mesh:{NODE}:{SERVICE}"
    assert shared_state(aws) == ([NODE], {SERVICE: NODE})
    # A no-op Update takes the cheap path: the node's tags and the service, nothing else
    calls = len(aws.calls)
    assert stack.update(in_shared(), old=in_shared()) == created
    assert sorted(aws.calls[calls:]) == ["appmesh.describe_service", "appmesh.tags"]
    # An Update of the node's spec updates it in place, and nothing else in App Mesh
    writes = len(aws.writes())
    stack.update(in_shared(Backends=["ecsdemo-nodejs.service.local"]))
    assert [w for w in aws.writes()[writes:] if w.startswith("appmesh.")] == ["appmesh.update_node"]
    node = aws.meshes[(SHARING, "ecs-mesh")].nodes[NODE]
    backend = {"virtualService": {"virtualServiceName": "ecsdemo-nodejs.service.local"}}
    assert node.data["spec"]["backends"] == [backend]
    aws.stack_answer = answer
    stack.delete()
    assert shared_state(aws) == ([], {})
    assert aws.active_revisions(FAMILY) == []


@pytest.mark.parametrize("answer", ["answered", "unknown"])
@pytest.mark.parametrize("outcome", ["cleanup of the old id", "failed, delete of the new id"])
def test_a_node_renamed_in_a_shared_mesh(
    shared: FakeAws, stack: Stack, outcome: str, answer: str
) -> None:
    aws = shared
    old = stack.create(in_shared()).physical_id
    new = stack.update(in_shared(VirtualNodeName="crystal-v2")).physical_id
    assert shared_state(aws) == (["crystal-v2", NODE], {SERVICE: "crystal-v2"})
    aws.stack_answer = answer
    if outcome == "cleanup of the old id":
        stack.delete(old)
        assert shared_state(aws) == (["crystal-v2"], {SERVICE: "crystal-v2"})
    else:
        stack.revert_to(old, in_shared())
        stack.delete(new)
        assert shared_state(aws) == ([NODE], {SERVICE: NODE})


@pytest.mark.parametrize("answer", ["answered", "unknown"])
def test_a_service_renamed_in_a_shared_mesh(shared: FakeAws, stack: Stack, answer: str) -> None:
    aws = shared
    old = stack.create(in_shared()).physical_id
    stack.update(in_shared(VirtualServiceName="crystal.service.local"))
    aws.stack_answer = answer
    stack.delete(old)
    assert shared_state(aws) == ([NODE], {"crystal.service.local": NODE})
    assert aws.active_revisions(FAMILY) == [arn_of(1)]


def test_a_create_in_a_shared_mesh_that_loses_a_race_undoes_its_node(
    shared: FakeAws, stack: Stack
) -> None:
    aws = shared
    theirs = {"provider": {"virtualNode": {"virtualNodeName": NODE}}}
    just_before(
        aws,
        "appmesh.create_service",
        lambda: aws.appmesh.create_service("ecs-mesh", SHARING, SERVICE, theirs, {"o": "b"}),
    )
    with pytest.raises(OwnershipError, match=f"^virtual service {SERVICE} already exists"):
        stack.create(in_shared())
    # Undone: their service still names our node, so App Mesh keeps it (the undo is logged)
    assert aws.active_revisions(FAMILY) == []
    assert aws.calls.count("appmesh.delete_node") == 1


def test_one_create_delivered_twice_at_once_in_a_shared_mesh(shared: FakeAws, stack: Stack) -> None:
    aws = shared
    request = stack.request(LOGICAL, in_shared())
    second = provider(aws)
    answers: list[Any] = []
    aws.before("ecs.register", lambda: answers.append(second.create(request)))
    first = stack.send_create(request)
    assert first == answers[0]
    assert shared_state(aws) == ([NODE], {SERVICE: NODE})
    assert aws.active_revisions(FAMILY) == [first.data["TaskDefinitionArn"]]


def test_a_create_redelivered_in_a_shared_mesh_writes_nothing(
    shared: FakeAws, stack: Stack
) -> None:
    aws = shared
    request = stack.request(LOGICAL, in_shared())
    first = stack.send_create(request)
    writes = len(aws.writes())
    assert stack.send_create(request) == first
    assert aws.writes()[writes:] == []


def test_a_failed_create_in_a_shared_mesh_deletes_the_node_it_made(
    shared: FakeAws, stack: Stack
) -> None:
    aws = shared
    aws.fail("appmesh.create_service", AwsError("App Mesh LimitExceededException: too many"))
    with pytest.raises(AwsError):
        stack.create(in_shared())
    assert shared_state(aws) == ([], {})
    assert aws.active_revisions(FAMILY) == []


# -- The provider's settings, as deployed ------------------------------------------------------


def test_a_mesh_outside_the_allowed_meshes_is_refused_before_any_call_to_it(
    aws: FakeAws,
) -> None:
    stack = Stack(aws, provider(aws, ALLOWED_MESHES="other-mesh, more"))
    with pytest.raises(PropertyError) as refused:
        stack.create(workshop())
    assert refused.value.path == "MeshName"
    assert "(allowed: more, other-mesh;" in refused.value.rule
    assert [c for c in aws.calls if c.startswith("appmesh.")] == []
    # An allowed one is made
    allowed = Stack(aws, provider(aws, ALLOWED_MESHES="ecs-mesh"))
    assert allowed.create(workshop()).data["MeshName"] == "ecs-mesh"


def test_with_both_names_given_the_node_is_read_at_once_with_the_cloud_map_lookup(
    aws: FakeAws, stack: Stack
) -> None:
    node_read = threading.Event()
    waited: list[bool] = []
    aws.before("appmesh.describe_node", node_read.set)
    # Cloud Map answers only once the node was read (or after 5 s)
    aws.before("cloudmap.names_by_id", lambda: waited.append(node_read.wait(5)))
    result = stack.create(
        by_arn(aws, VirtualNodeName="crystal-node", VirtualServiceName="crystal.example")
    )
    assert waited == [True]
    assert result.data["VirtualNodeName"] == "crystal-node"
