"""App Mesh mode's pure rules (DESIGN §2, §5, §9), exactly: the provider's settings, the names
and ARNs it derives, the attributes it answers, ownership of a name, the allowed meshes, and
when a Delete finishes without App Mesh. Each message whole (a Reason is what the user reads),
each warning as it is logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from meshed_crystal.adapters.cloudformation import CloudFormation
from meshed_crystal.adapters.cloudmap import CloudMap
from meshed_crystal.adapters.ecs import Ecs
from meshed_crystal.errors import OwnershipError, PropertyError
from meshed_crystal.identity import TAG_LOGICAL, TAG_STACK, Owner, Revision
from meshed_crystal.mode import Request
from meshed_crystal.modes.appmesh import mode as am
from meshed_crystal.modes.appmesh.adapter import AppMesh
from meshed_crystal.modes.appmesh.errors import AppMeshUnavailableError
from meshed_crystal.modes.appmesh.identity import PhysicalId
from meshed_crystal.properties import parse_properties
from meshed_crystal.registry import Adapters

pytestmark = pytest.mark.appmesh

ACCOUNT = "123456789012"
STACK = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/crystal-stack/3c1e5a10"
MESH = f"arn:aws:appmesh:us-east-1:{ACCOUNT}:mesh/ecs-mesh"
PID = PhysicalId(ACCOUNT, "ecs-mesh", "crystal-node", "crystal.service.local")


def props(**changes: Any) -> Any:
    raw: dict[str, Any] = {
        "MeshName": "ecs-mesh",
        "CloudMapNamespaceName": "service.local",
        "CloudMapServiceName": "ecsdemo-crystal",
        "TaskDefinition": "ecsdemo-crystal",
    }
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return parse_properties(raw)


def mode(*, allowed: frozenset[str] | None = None, retired: str = "auto") -> am.AppMeshMode:
    """The mode with no adapters: what is tested here calls none."""
    nothing: Any = None
    return am.AppMeshMode(
        appmesh=nothing,
        ecs=nothing,
        cloudmap=nothing,
        cloudformation=nothing,
        envoy_image=am.DEFAULT_ENVOY_IMAGE,
        allowed_meshes=allowed,
        retired=retired,
    )


# -- The provider's settings (its stack's parameters, in the function's environment) ----------


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("auto", "auto"),
        ("true", "true"),
        ("false", "false"),
        (" TRUE ", "true"),
        ("False", "false"),
        ("", "auto"),
        ("   ", "auto"),
    ],
)
def test_app_mesh_retired_takes_three_values_in_any_case(
    caplog: pytest.LogCaptureFixture, setting: str, expected: str
) -> None:
    with caplog.at_level(logging.WARNING):
        assert am.appmesh_retired(setting) == expected
    assert caplog.records == []


def test_an_unknown_app_mesh_retired_is_auto_and_warned_about_with_a_short_excerpt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        assert am.appmesh_retired("  Yes-Retire-It-Please-Now-And-Forever ") == "auto"
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "unknown APPMESH_RETIRED value; using auto"
    # The value as read (stripped, lower case), at most 20 characters of it
    assert record.value == "yes-retire-it-please"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("*", None),
        ("", None),
        (" , ,", None),
        ("ecs-mesh", {"ecs-mesh"}),
        (" a , b,,c ", {"a", "b", "c"}),
        ("a,*", None),
        ("a, *", None),
    ],
)
def test_allowed_meshes_are_comma_separated_names_or_every_mesh(
    setting: str, expected: set[str] | None
) -> None:
    assert am.allowed_meshes(setting) == (None if expected is None else frozenset(expected))


def test_settings_default_to_the_shipped_envoy_every_mesh_and_auto(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        assert am.settings({}) == am.Settings(am.DEFAULT_ENVOY_IMAGE, None, "auto")
    assert caplog.records == []  # nothing unknown was read
    assert am.Settings() == am.Settings(am.DEFAULT_ENVOY_IMAGE, None, "auto")
    # An empty ENVOY_IMAGE (the parameter left blank) is the default too
    assert am.settings({"ENVOY_IMAGE": ""}).envoy_image == am.DEFAULT_ENVOY_IMAGE


def test_settings_are_read_from_the_environment() -> None:
    read = am.settings(
        {"ENVOY_IMAGE": "envoy:own", "ALLOWED_MESHES": "m1, m2", "APPMESH_RETIRED": "TRUE"}
    )
    assert read == am.Settings("envoy:own", frozenset({"m1", "m2"}), "true")


def test_build_gives_the_mode_the_settings_and_the_adapters() -> None:
    given = {name: object() for name in ("appmesh", "ecs", "cloudmap", "cloudformation")}
    built = am.build(am.Settings("envoy:own", frozenset({"m"}), "false"), Adapters(**given))
    assert (built.appmesh, built.ecs, built.cloudmap, built.cloudformation) == (
        given["appmesh"],
        given["ecs"],
        given["cloudmap"],
        given["cloudformation"],
    )
    assert (built.envoy_image, built.allowed_meshes, built.retired) == (
        "envoy:own",
        frozenset({"m"}),
        "false",
    )


# -- Names and ARNs ---------------------------------------------------------------------------


def test_the_node_and_service_arns_are_under_the_mesh() -> None:
    assert am.node_arn(MESH, "n") == f"{MESH}/virtualNode/n"
    assert am.service_arn(MESH, "s.local") == f"{MESH}/virtualService/s.local"


def test_names_default_to_the_cloud_map_service_and_its_namespace() -> None:
    assert am.names_of(props(), "service.local", "crystal") == ("crystal", "crystal.service.local")
    given = props(VirtualNodeName="node", VirtualServiceName="vs.example")
    assert am.names_of(given, "service.local", "crystal") == ("node", "vs.example")


def test_the_attributes_name_every_part_of_the_id() -> None:
    request = Request(STACK, "Crystal", "r-1", {}, region="eu-west-1", account="210987654321")
    revision = Revision("crystal-mesh", 7, "d1g35t")
    assert am._data(request, PID, MESH, "envoy:own", revision) == {
        "Mode": "AppMesh",
        "TaskDefinitionArn": "arn:aws:ecs:eu-west-1:210987654321:task-definition/crystal-mesh:7",
        "TaskDefinitionFamily": "crystal-mesh",
        "TaskDefinitionRevision": "7",
        "VirtualNodeArn": f"{MESH}/virtualNode/crystal-node",
        "VirtualNodeName": "crystal-node",
        "VirtualServiceArn": f"{MESH}/virtualService/crystal.service.local",
        "VirtualServiceName": "crystal.service.local",
        "MeshName": "ecs-mesh",
        "MeshArn": MESH,
        "EnvoyImage": "envoy:own",
    }


# -- Ownership of a name (DESIGN §5.2) ---------------------------------------------------------

OWNER = Owner(STACK, "Crystal")


def test_a_name_nobody_holds_is_free() -> None:
    assert am._owned(None, None, OWNER, "virtual node n", PID) is None
    assert am._owned(None, {"owner": "team-a"}, OWNER, "virtual node n", PID) is None


def test_a_name_this_resource_holds_is_its_own_with_its_tags() -> None:
    tags = {**OWNER.tags(), "team": "a"}
    assert am._owned({"spec": {}}, tags, OWNER, "virtual node n", PID) == tags


@pytest.mark.parametrize(
    ("tags", "whose"),
    [
        (None, "a resource not created by MeshedCrystal"),
        ({}, "a resource not created by MeshedCrystal"),
        ({"owner": "team-a"}, "a resource not created by MeshedCrystal"),
        (
            {TAG_STACK: STACK.replace("crystal-stack", "other-stack"), TAG_LOGICAL: "Crystal"},
            "resource Crystal of stack other-stack",
        ),
        ({TAG_STACK: STACK, TAG_LOGICAL: "Other"}, "resource Other of stack crystal-stack"),
    ],
)
def test_a_name_held_by_another_is_refused_naming_the_holder(
    tags: dict[str, str] | None, whose: str
) -> None:
    with pytest.raises(OwnershipError) as refused:
        am._owned({"spec": {}}, tags, OWNER, "virtual service s.local", PID)
    assert str(refused.value) == (
        f"virtual service s.local already exists in mesh ecs-mesh and belongs to {whose}; "
        "MeshedCrystal does not take over what it did not create: choose another name "
        "(VirtualNodeName / VirtualServiceName) or remove the existing one"
    )


# -- The meshes this provider may manage -------------------------------------------------------


def test_every_mesh_is_allowed_without_the_setting() -> None:
    mode(allowed=None)._check_allowed(props(MeshName="any-mesh"))


def test_an_allowed_mesh_passes() -> None:
    mode(allowed=frozenset({"ecs-mesh", "other"}))._check_allowed(props())


def test_a_mesh_not_allowed_is_refused_naming_the_parameter_and_the_allowed_ones() -> None:
    with pytest.raises(PropertyError) as refused:
        mode(allowed=frozenset({"zeta", "alpha"}))._check_allowed(props())
    assert refused.value.errors == [
        (
            "MeshName",
            "mesh 'ecs-mesh' is not one this provider may manage (allowed: alpha, zeta; the "
            "AllowedMeshNames parameter of the provider's stack)",
        )
    ]


def test_a_mesh_given_by_arn_that_is_not_allowed_is_refused_at_the_arn() -> None:
    shared = props(MeshName=None, MeshArn="arn:aws:appmesh:us-east-1:210987654321:mesh/ecs-mesh")
    with pytest.raises(PropertyError) as refused:
        mode(allowed=frozenset({"alpha"}))._check_allowed(shared)
    assert [path for path, _ in refused.value.errors] == ["MeshArn"]


# -- App Mesh retired (DESIGN §9) --------------------------------------------------------------


def test_retired_true_refuses_before_any_call() -> None:
    with pytest.raises(AppMeshUnavailableError) as refused:
        mode(retired="true")._check_not_retired()
    assert (refused.value.kind, refused.value.detail) == (
        "retired",
        "the provider's AppMeshRetired parameter is true",
    )
    for setting in ("auto", "false"):
        mode(retired=setting)._check_not_retired()


@pytest.mark.parametrize(
    ("setting", "kind", "finishes"),
    [
        ("auto", "unreachable", True),
        ("auto", "http", True),
        ("auto", "no-sdk", True),
        ("auto", "retired", True),
        ("auto", "access-denied", False),
        ("true", "access-denied", True),
        ("true", "http", True),
        ("false", "http", False),
        ("false", "access-denied", False),
    ],
)
def test_a_delete_finishes_without_app_mesh_unless_told_not_or_denied(
    setting: str, kind: str, finishes: bool
) -> None:
    gone = AppMeshUnavailableError(kind, "detail")
    assert mode(retired=setting).finishes_without(gone) is finishes


def test_build_makes_the_adapters_not_given_of_their_classes() -> None:
    built = am.build(am.Settings(), Adapters())
    assert isinstance(built.appmesh, AppMesh)
    assert isinstance(built.ecs, Ecs)
    assert isinstance(built.cloudmap, CloudMap)
    assert isinstance(built.cloudformation, CloudFormation)
