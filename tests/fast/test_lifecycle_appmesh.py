"""The lifecycle in ``Mode: AppMesh`` (DESIGN §5, §9) on the fakes, in milliseconds.

The same scenarios as tests/integration/test_lifecycle*.py, through the Provider's constructor
seam: ownership, undo of a failed Create, revision reuse and retention, rollback, the
replacement hand-over, two deliveries of one Create at once, App Mesh gone. The fakes answer as
the adapters do over the real API (held to it by tests/integration/test_port_contract.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from meshed_crystal import actions, appmesh_mode
from meshed_crystal.errors import (
    AppMeshUnavailableError,
    AwsError,
    MeshedCrystalError,
    OwnershipError,
    ResourceInUseError,
    ThrottledError,
)
from meshed_crystal.identity import TAG_HANDED_FROM, TAG_HOLDER, TAG_LOGICAL, TAG_STACK

from tests.fast.lifecycle import (
    ENVOY_IMAGE,
    FAMILY,
    LOGICAL,
    NODE,
    SERVICE,
    Stack,
    provider,
    workshop,
)
from tests.support.fakes import ACCOUNT, FakeAws

REAL_ID = f"meshed-crystal:{ACCOUNT}:ecs-mesh:{NODE}:{SERVICE}"
OTHER_MESH = "ecs-mesh-2"


def arn_of(number: int, family: str = FAMILY) -> str:
    return f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{family}:{number}"


def meshes(aws: FakeAws) -> dict[str, tuple[list[str], dict[str, str | None]]]:
    """Per mesh: its node names, and each virtual service's provider node."""
    state = {}
    for (_, name), mesh in sorted(aws.meshes.items()):
        providers = {
            service: (r.data["spec"].get("provider") or {})
            .get("virtualNode", {})
            .get("virtualNodeName")
            for service, r in mesh.services.items()
        }
        state[name] = (sorted(mesh.nodes), providers)
    return state


# -- Create and its redelivery ----------------------------------------------------------------


def test_create_makes_the_node_the_service_and_one_proxied_revision(
    aws: FakeAws, stack: Stack
) -> None:
    result = stack.create(workshop())
    assert result.physical_id == REAL_ID
    mesh_arn = f"arn:aws:appmesh:us-east-1:{ACCOUNT}:mesh/ecs-mesh"
    assert result.data == {
        "Mode": "AppMesh",
        "TaskDefinitionArn": arn_of(1),
        "TaskDefinitionFamily": FAMILY,
        "TaskDefinitionRevision": "1",
        "VirtualNodeArn": f"{mesh_arn}/virtualNode/{NODE}",
        "VirtualNodeName": NODE,
        "VirtualServiceArn": f"{mesh_arn}/virtualService/{SERVICE}",
        "VirtualServiceName": SERVICE,
        "MeshName": "ecs-mesh",
        "MeshArn": mesh_arn,
        "EnvoyImage": ENVOY_IMAGE,
    }
    assert meshes(aws)["ecs-mesh"] == ([NODE], {SERVICE: NODE})
    owner = {TAG_STACK: stack.stack_id, TAG_LOGICAL: LOGICAL}
    node, service = aws.node(NODE), aws.service(SERVICE)
    assert node is not None
    assert service is not None
    assert owner.items() <= node.tags.items()
    assert owner.items() <= service.tags.items()
    # The revision is the application's plus Envoy, found from ECS alone by its tags
    revision = aws.revision(arn_of(1))
    assert [c["name"] for c in revision.content["containerDefinitions"]] == ["crystal", "envoy"]
    assert revision.content["proxyConfiguration"]["type"] == "APPMESH"
    assert revision.tags[TAG_HOLDER] == f"appmesh/{ACCOUNT}/ecs-mesh/{NODE}"
    assert aws.active_revisions(FAMILY) == [arn_of(1)]


def test_a_redelivered_create_answers_the_same_and_writes_nothing(
    aws: FakeAws, stack: Stack
) -> None:
    request = stack.request(LOGICAL, workshop())
    first = stack.send_create(request)
    writes = len(aws.writes())
    assert stack.send_create(request) == first
    assert aws.writes()[writes:] == []
    assert aws.all_revisions(FAMILY) == [arn_of(1)]


# -- Ownership (DESIGN §5.2) ------------------------------------------------------------------


def test_a_node_name_held_by_something_else_is_refused_and_left_untouched(
    aws: FakeAws, stack: Stack
) -> None:
    spec = {"listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]}
    aws.appmesh.create_node("ecs-mesh", None, NODE, spec, {"owner": "team-a"})
    writes = len(aws.writes())
    with pytest.raises(OwnershipError) as refused:
        stack.create(workshop())
    assert f"virtual node {NODE} already exists in mesh ecs-mesh" in str(refused.value)
    assert "belongs to a resource not created by MeshedCrystal" in str(refused.value)
    # Refused before any write; the Delete CloudFormation sends next removes nothing either
    assert stack.physical_id() == REAL_ID
    stack.delete()
    assert aws.writes()[writes:] == []
    node = aws.node(NODE)
    assert node is not None
    assert node.tags == {"owner": "team-a"}
    assert node.data["spec"] == spec
    assert aws.all_revisions(FAMILY) == []


def test_the_same_logical_id_in_another_stack_is_refused_and_writes_nothing(
    aws: FakeAws, stack: Stack
) -> None:
    created = stack.create(workshop())
    other = Stack(aws, stack.provider, name="other-stack")
    writes = len(aws.writes())
    with pytest.raises(OwnershipError, match="belongs to resource Crystal of stack crystal-stack"):
        other.create(workshop())
    other.delete()
    assert aws.writes()[writes:] == []
    assert meshes(aws)["ecs-mesh"] == ([NODE], {SERVICE: NODE})
    assert aws.active_revisions(FAMILY) == [created.data["TaskDefinitionArn"]]


# -- A Create that fails midway leaves nothing (DESIGN §5.2) -----------------------------------


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ("ecs.register", AwsError("ECS ClientException registering family x: refused")),
        ("appmesh.create_node", AwsError("App Mesh BadRequestException on virtual node: bad")),
        ("appmesh.create_service", AwsError("App Mesh LimitExceededException: too many")),
        ("appmesh.create_service", ThrottledError("CreateVirtualService was throttled")),
    ],
)
def test_a_create_that_fails_midway_leaves_nothing_behind(
    aws: FakeAws, stack: Stack, call: str, error: MeshedCrystalError
) -> None:
    aws.fail(call, error)
    with pytest.raises(type(error)) as failed:
        stack.create(workshop())
    assert failed.value is error
    assert stack.physical_id() == REAL_ID
    assert meshes(aws)["ecs-mesh"] == ([], {})
    assert aws.active_revisions(FAMILY) == []
    stack.delete()


# -- In place: reuse, retention, rollback (DESIGN §5.3) ---------------------------------------


def test_a_no_op_update_registers_nothing_and_answers_as_the_create(
    aws: FakeAws, stack: Stack
) -> None:
    created = stack.create(workshop())
    writes = len(aws.writes())
    # ServiceTimeout is CloudFormation's own key: a changed one is still a no-op
    assert stack.update(workshop(ServiceTimeout="1200")) == created
    assert stack.update(workshop()) == created
    assert aws.writes()[writes:] == []


def test_a_no_op_update_after_the_provider_bumped_envoy_derives_a_new_revision(
    aws: FakeAws, stack: Stack
) -> None:
    stack.create(workshop())
    bumped = ENVOY_IMAGE.replace("v1.29.12.1", "v1.29.12.2")
    stack.provider = provider(aws, envoy_image=bumped)  # the provider's stack was updated
    updated = stack.update(workshop(), old=workshop())
    assert (updated.data["EnvoyImage"], updated.data["TaskDefinitionArn"]) == (bumped, arn_of(2))
    envoy = aws.revision(arn_of(2)).content["containerDefinitions"][1]
    assert (envoy["name"], envoy["image"]) == ("envoy", bumped)


def test_a_rolled_back_update_returns_exactly_the_previous_revision_and_node(
    aws: FakeAws, stack: Stack
) -> None:
    old = workshop()
    created = stack.create(old)
    node_before = aws.node(NODE)
    assert node_before is not None
    spec_before = node_before.data["spec"]
    new = workshop(Envoy={"LogLevel": "debug"}, Backends=["ecsdemo-nodejs.service.local"])
    updated = stack.update(new)
    assert updated.data["TaskDefinitionArn"] == arn_of(2)
    assert aws.node(NODE).data["spec"] != spec_before  # type: ignore[union-attr]
    # The rollback: the same Update with the properties swapped
    back = stack.update(old, old=new)
    assert back == created
    assert aws.node(NODE).data["spec"] == spec_before  # type: ignore[union-attr]
    assert aws.all_revisions(FAMILY) == [arn_of(1), arn_of(2)]
    assert aws.active_revisions(FAMILY) == [arn_of(1), arn_of(2)]


def test_only_the_current_and_the_previous_revisions_stay_active(
    aws: FakeAws, stack: Stack
) -> None:
    def props(level: str) -> dict[str, Any]:
        return workshop(Envoy={"LogLevel": level})

    arns = [stack.create(props("info")).data["TaskDefinitionArn"]]
    for level in ("debug", "warning", "error"):
        arns.append(stack.update(props(level)).data["TaskDefinitionArn"])
    assert arns == [arn_of(n) for n in (1, 2, 3, 4)]
    assert aws.active_revisions(FAMILY) == arns[-2:]
    back = stack.update(props("warning"), old=props("error"))
    assert back.data["TaskDefinitionArn"] == arns[-2]
    assert aws.all_revisions(FAMILY) == sorted(arns)
    # The stack's Delete leaves nothing ACTIVE, nothing in the mesh
    stack.delete()
    assert aws.active_revisions(FAMILY) == []
    assert meshes(aws)["ecs-mesh"] == ([], {})


# -- Delete (DESIGN §5.5) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "physical_id",
    [
        "crystal-stack_Crystal_7F0C2A3E",
        f"{REAL_ID}:more",
        "meshed-crystal-sc:1:Crystal",
        "x" * 1024,
    ],
    ids=["crhelper's", "extra field", "service connect form broken", "long"],
)
def test_a_delete_of_an_id_it_never_issued_makes_no_call(
    aws: FakeAws, stack: Stack, physical_id: str
) -> None:
    created = stack.create(workshop())
    calls = len(aws.calls)
    stack.delete(physical_id)
    stack.delete(physical_id)
    assert aws.calls[calls:] == []
    assert meshes(aws)["ecs-mesh"] == ([NODE], {SERVICE: NODE})
    assert aws.active_revisions(FAMILY) == [created.data["TaskDefinitionArn"]]


def test_a_second_delete_writes_nothing(aws: FakeAws, stack: Stack) -> None:
    stack.create(workshop())
    physical_id = stack.physical_id()
    stack.delete()
    writes = len(aws.writes())
    stack.delete(physical_id)
    assert aws.writes()[writes:] == []


def test_a_delete_after_the_mesh_itself_is_gone_deregisters_its_revision_only(
    aws: FakeAws, stack: Stack
) -> None:
    stack.create(workshop())
    del aws.meshes[(aws.account, "ecs-mesh")]  # an operator removed service, node and mesh
    writes = len(aws.writes())
    stack.delete()
    # Its revision, found from ECS alone (the node that recorded it is gone), is deregistered
    assert aws.writes()[writes:] == ["ecs.deregister"]
    assert aws.active_revisions(FAMILY) == []


def test_a_delete_of_a_service_still_in_use_fails_naming_the_holder_then_succeeds(
    aws: FakeAws, stack: Stack
) -> None:
    stack.create(workshop())
    backend = {"backends": [{"virtualService": {"virtualServiceName": SERVICE}}]}
    aws.appmesh.create_node("ecs-mesh", None, "ecsdemo-frontend", backend, {})
    with pytest.raises(ResourceInUseError) as refused:
        stack.delete(stack.physical_id())
    assert f"virtual service {SERVICE}" in str(refused.value)
    assert "VIRTUAL_NODE: [ecsdemo-frontend]" in str(refused.value)
    # Service and node stand; the revision went first (DESIGN §9: nothing leaks in ECS)
    assert meshes(aws)["ecs-mesh"] == (sorted([NODE, "ecsdemo-frontend"]), {SERVICE: NODE})
    assert aws.active_revisions(FAMILY) == []
    # Once the holder is gone, CloudFormation's retry removes the rest
    assert aws.appmesh.delete_node("ecs-mesh", None, "ecsdemo-frontend")
    stack.delete()
    assert meshes(aws)["ecs-mesh"] == ([], {})


# -- Replacement and the hand-over (DESIGN §5.4) ----------------------------------------------

KINDS: dict[str, tuple[dict[str, Any], tuple[str, str, str], tuple[str, str, str]]] = {
    "node renamed": (
        {"VirtualNodeName": "crystal-v2"},
        ("ecs-mesh", NODE, SERVICE),
        ("ecs-mesh", "crystal-v2", SERVICE),
    ),
    "service renamed": (
        {"VirtualServiceName": "crystal.service.local"},
        ("ecs-mesh", NODE, SERVICE),
        ("ecs-mesh", NODE, "crystal.service.local"),
    ),
    "mesh moved": (
        {"MeshName": OTHER_MESH},
        ("ecs-mesh", NODE, SERVICE),
        (OTHER_MESH, NODE, SERVICE),
    ),
}


def expected(*triples: tuple[str, str, str]) -> dict[str, tuple[list[str], dict[str, str | None]]]:
    state: dict[str, tuple[list[str], dict[str, str | None]]] = {
        "ecs-mesh": ([], {}),
        OTHER_MESH: ([], {}),
    }
    for mesh, node, service in triples:
        nodes, services = state[mesh]
        state[mesh] = (sorted({*nodes, node}), {**services, service: node})
    return state


@pytest.mark.parametrize("answer", ["answered", "unknown"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_replacement_then_the_cleanup_delete_of_the_old_id(
    aws: FakeAws, stack: Stack, kind: str, answer: str
) -> None:
    changes, _, new = KINDS[kind]
    aws.add_mesh(OTHER_MESH)
    created = stack.create(workshop())
    replaced = stack.update(workshop(**changes))
    assert replaced.physical_id != created.physical_id
    if kind == "node renamed":
        # The service's name carried over: handed to the new node, which it records
        service = aws.service(SERVICE)
        assert service is not None
        assert service.tags[TAG_HANDED_FROM] == NODE
    aws.stack_answer = answer
    stack.delete(created.physical_id)
    assert meshes(aws) == expected(new)
    assert replaced.data["TaskDefinitionArn"] in aws.active_revisions(FAMILY)
    if replaced.data["TaskDefinitionArn"] != created.data["TaskDefinitionArn"]:
        assert created.data["TaskDefinitionArn"] not in aws.active_revisions(FAMILY)
    # The stack's id works on: an in-place update, then the stack's Delete
    stack.update(workshop(**changes, Envoy={"LogLevel": "debug"}))
    stack.delete()
    assert meshes(aws) == expected()
    assert aws.active_revisions(FAMILY) == []


@pytest.mark.parametrize("answer", ["answered", "unknown"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_replacement_then_a_failed_stack_update_deletes_the_new_id(
    aws: FakeAws, stack: Stack, kind: str, answer: str
) -> None:
    changes, old, _ = KINDS[kind]
    aws.add_mesh(OTHER_MESH)
    old_props = workshop()
    created = stack.create(old_props)
    replaced = stack.update(workshop(**changes))
    stack.revert_to(created.physical_id, old_props)
    aws.stack_answer = answer
    stack.delete(replaced.physical_id)
    # The old id's node and service stand as before, the service on the old node
    assert meshes(aws) == expected(old)
    assert created.data["TaskDefinitionArn"] in aws.active_revisions(FAMILY)
    # And the stack's id answers a no-op update as the Create did
    assert stack.update(old_props, old=old_props) == created


# -- One Create delivered twice at once (DESIGN §5) -------------------------------------------


def test_one_create_delivered_twice_at_once_makes_one_node_one_service_one_revision(
    aws: FakeAws, stack: Stack
) -> None:
    request = stack.request(LOGICAL, workshop())
    second = provider(aws)  # another Lambda container
    answers: list[actions.Result] = []
    # Both read "nothing yet": the duplicate runs whole between this one's reads and its first
    # write, so this one registers, then loses the race for the node and the service.
    aws.before("ecs.register", lambda: answers.append(second.create(request)))
    first = stack.send_create(request)
    assert aws.calls.count("ecs.register") == 2
    assert aws.calls.count("appmesh.create_node") == 2
    assert first == answers[0]
    assert meshes(aws)["ecs-mesh"] == ([NODE], {SERVICE: NODE})
    # The loser's duplicate revision is deregistered: one ACTIVE, the one both answered
    assert aws.active_revisions(FAMILY) == [first.data["TaskDefinitionArn"]]
    stack.delete()
    assert meshes(aws)["ecs-mesh"] == ([], {})
    assert aws.active_revisions(FAMILY) == []


# -- App Mesh gone (DESIGN §9) ----------------------------------------------------------------

WAYS = {
    "unreachable": ("unreachable", "its endpoint cannot be reached"),
    "http": ("http", "HTTP 410 without an App Mesh error"),
    "no-sdk": ("no-sdk", "the AWS SDK in this function has no appmesh service"),
    "access-denied": ("access-denied", "AccessDeniedException: not authorized"),
}


@pytest.mark.parametrize("setting", ["auto", "true", "false"])
@pytest.mark.parametrize("way", list(WAYS))
def test_a_delete_when_app_mesh_is_gone(
    aws: FakeAws, way: str, setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = Stack(aws, provider(aws))
    made.create(workshop())
    made.update(workshop(Envoy={"LogLevel": "debug"}))
    assert aws.active_revisions(FAMILY) == [arn_of(1), arn_of(2)]
    seen: list[str] = []
    # The metric's hook (observability), called with the way App Mesh was gone
    monkeypatch.setattr(appmesh_mode, "on_appmesh_unavailable", [seen.append])
    # The provider is redeployed with AppMeshRetired = setting
    made.provider = provider(aws, retired=setting)
    stack = made
    aws.appmesh_gone(*WAYS[way])
    calls = len(aws.calls)
    finishes = setting == "true" or (setting == "auto" and way != "access-denied")
    if finishes:
        stack.delete()
        assert seen == [way if setting == "auto" else "retired"]
    else:
        with pytest.raises(AppMeshUnavailableError) as failed:
            stack.delete()
        assert failed.value.kind == way
        assert seen == []
    # Whatever the outcome, nothing of the resource is ACTIVE in ECS
    assert aws.active_revisions(FAMILY) == []
    if setting == "true":
        assert [c for c in aws.calls[calls:] if c.startswith("appmesh.")] == []
    # And with App Mesh back, what may be left is left (nothing was deleted blind)
    aws.appmesh_back()
    assert meshes(aws)["ecs-mesh"] == ([NODE], {SERVICE: NODE})


@pytest.mark.parametrize("setting", ["auto", "true"])
def test_a_create_when_app_mesh_is_gone_fails_at_once_leaving_nothing(
    aws: FakeAws, setting: str
) -> None:
    stack = Stack(aws, provider(aws, retired=setting))
    aws.appmesh_gone()
    with pytest.raises(AppMeshUnavailableError, match="Mode: ServiceConnect"):
        stack.create(workshop())
    assert aws.writes() == []


def test_app_mesh_retired_true_refuses_a_create_and_an_update_without_calling_app_mesh(
    aws: FakeAws, stack: Stack
) -> None:
    created = stack.create(workshop())
    stack.provider = provider(aws, retired="true")  # App Mesh still answers
    calls, writes = len(aws.calls), len(aws.writes())
    with pytest.raises(AppMeshUnavailableError) as refused:
        Stack(aws, stack.provider, name="other-stack").create(workshop())
    assert refused.value.kind == "retired"
    with pytest.raises(AppMeshUnavailableError):
        stack.update(workshop(), old=workshop())  # even the cheap path of a no-op Update
    assert [c for c in aws.calls[calls:] if c.startswith("appmesh.")] == []
    assert aws.writes()[writes:] == []
    assert aws.active_revisions(FAMILY) == [created.data["TaskDefinitionArn"]]


def test_an_update_when_app_mesh_is_gone_fails_and_keeps_the_running_revision(
    aws: FakeAws, stack: Stack
) -> None:
    created = stack.create(workshop())
    aws.appmesh_gone()
    writes = len(aws.writes())
    with pytest.raises(AppMeshUnavailableError):
        stack.update(workshop(Envoy={"LogLevel": "debug"}))
    assert aws.writes()[writes:] == []
    assert aws.active_revisions(FAMILY) == [created.data["TaskDefinitionArn"]]
