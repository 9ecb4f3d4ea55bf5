"""One contract for each port (``meshed_crystal.ports``, ``adapters/appmesh_port``), run against
the fast tier's fakes (tests/support/fakes.py) and against the real adapters over the emulator.

What the fast tier (tests/fast/) relies on of the fakes is asserted here of both, so a fake
cannot drift from what the adapters do over the real API's shapes and errors: the answers, and
the exception classes for not found, name taken, in use, throttled and App Mesh gone.

Each ``World`` starts from the workshop's platform (mesh ``ecs-mesh``, namespace
``service.local`` with service ``ecsdemo-crystal``, the application's task definition) and
seeds the rest its own way: the fakes through their state, the emulator through boto3.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
import pytest
from meshed_crystal import retry
from meshed_crystal.adapters.appmesh import AppMesh
from meshed_crystal.adapters.appmesh_port import AppMeshPort
from meshed_crystal.adapters.cloudformation import CloudFormation, StackAnswer
from meshed_crystal.adapters.cloudmap import CloudMap, Namespace
from meshed_crystal.adapters.ecs import Ecs
from meshed_crystal.adapters.tagging import Tagging
from meshed_crystal.errors import (
    AppMeshUnavailableError,
    AwsError,
    MissingResourceError,
    ResourceInUseError,
    ThrottledError,
)
from meshed_crystal.ports import CloudFormationPort, CloudMapPort, EcsPort, TaggingPort
from meshed_crystal.shapes import pruned

from tests.support.appmesh_gone import AppMeshGone
from tests.support.cfn_driver import CloudFormation as Driver
from tests.support.fakes import FakeAws
from tests.support.faults import Faults
from tests.support.platform import (
    APP_FAMILY,
    CLOUD_MAP_SERVICE_NAME,
    MESH_NAME,
    NAMESPACE_NAME,
    Platform,
)

LOGICAL = "Crystal"


class World(Protocol):
    """The ports under test, and what a test arranges before calling them."""

    account: str
    ecs: EcsPort
    cloudmap: CloudMapPort
    cloudformation: CloudFormationPort
    tagging: TaggingPort
    appmesh: AppMeshPort
    app_arn: str  # the application's task definition (ecsdemo-crystal:1)
    namespace: Namespace  # service.local
    stack_id: str

    def add_mesh(self, name: str) -> None: ...
    def add_namespace(self, name: str) -> Namespace: ...
    def add_cloud_map_service(
        self, namespace: Namespace, name: str, tags: dict[str, str]
    ) -> tuple[str, str]: ...
    def hold(self, logical_id: str, physical_id: str) -> None: ...
    def cloudformation_cannot_say(self) -> None: ...
    def throttle(self, call: str) -> None: ...
    def appmesh_gone(self) -> None: ...


@dataclass
class FakeWorld:
    aws: FakeAws
    account: str
    ecs: EcsPort
    cloudmap: CloudMapPort
    cloudformation: CloudFormationPort
    tagging: TaggingPort
    appmesh: AppMeshPort
    app_arn: str
    namespace: Namespace
    stack_id: str

    @classmethod
    def build(cls) -> FakeWorld:
        aws = FakeAws()
        _, namespace, app = aws.workshop()
        stack_id = f"arn:aws:cloudformation:us-east-1:{aws.account}:stack/crystal-stack/1-2-3"
        return cls(
            aws, aws.account, aws.ecs, aws.cloudmap, aws.cloudformation, aws.tagging, aws.appmesh,
            app, namespace, stack_id,
        )  # fmt: skip

    def add_mesh(self, name: str) -> None:
        self.aws.add_mesh(name)

    def add_namespace(self, name: str) -> Namespace:
        return self.aws.add_namespace(name)

    def add_cloud_map_service(
        self, namespace: Namespace, name: str, tags: dict[str, str]
    ) -> tuple[str, str]:
        return self.aws.add_cloud_map_service(namespace, name, tags)

    def hold(self, logical_id: str, physical_id: str) -> None:
        self.aws.stack_resources[(self.stack_id, logical_id)] = physical_id

    def cloudformation_cannot_say(self) -> None:
        self.aws.stack_answer = "unknown"

    def throttle(self, call: str) -> None:
        self.aws.fail(call, ThrottledError(f"{call} was throttled by AWS"), times=999)

    def appmesh_gone(self) -> None:
        self.aws.appmesh_gone("http", "HTTP 410 without an App Mesh error")


# The operation behind each port method (for the emulator's faults).
OPERATIONS = {
    "ecs.register": ("ecs", "RegisterTaskDefinition"),
    "ecs.describe": ("ecs", "DescribeTaskDefinition"),
    "appmesh.describe_node": ("appmesh", "DescribeVirtualNode"),
}


@dataclass
class EmulatorWorld:
    platform: Platform
    faults: Faults
    driver: Driver
    gone: pytest.FixtureRequest
    account: str
    ecs: EcsPort
    cloudmap: CloudMapPort
    cloudformation: CloudFormationPort
    tagging: TaggingPort
    appmesh: AppMeshPort
    app_arn: str
    namespace: Namespace
    stack_id: str

    @classmethod
    def build(
        cls, platform: Platform, faults: Faults, driver: Driver, request: pytest.FixtureRequest
    ) -> EmulatorWorld:
        namespace_arn = boto3.client("servicediscovery").get_namespace(Id=platform.namespace_id)[
            "Namespace"
        ]["Arn"]
        return cls(
            platform, faults, driver, request, platform.account,
            Ecs(), CloudMap(), CloudFormation(), Tagging(), AppMesh(),
            platform.app_task_definition_arn,
            Namespace(platform.namespace_id, namespace_arn, NAMESPACE_NAME),
            driver.stack_id,
        )  # fmt: skip

    def add_mesh(self, name: str) -> None:
        boto3.client("appmesh").create_mesh(meshName=name)

    def add_namespace(self, name: str) -> Namespace:
        # An HTTP namespace: moto refuses a second private DNS namespace in the platform's VPC
        # (ConflictingDomainExists), and the adapters do not depend on the type.
        sd = boto3.client("servicediscovery")
        sd.create_http_namespace(Name=name)
        for found in sd.list_namespaces()["Namespaces"]:
            if found["Name"] == name:
                return Namespace(found["Id"], found["Arn"], name)
        raise AssertionError(f"namespace {name} was not created")

    def add_cloud_map_service(
        self, namespace: Namespace, name: str, tags: dict[str, str]
    ) -> tuple[str, str]:
        created = boto3.client("servicediscovery").create_service(
            Name=name,
            NamespaceId=namespace.id,
            DnsConfig={
                "NamespaceId": namespace.id,
                "RoutingPolicy": "MULTIVALUE",
                "DnsRecords": [{"Type": "A", "TTL": 10}],
            },
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )["Service"]
        return created["Id"], created["Arn"]

    def hold(self, logical_id: str, physical_id: str) -> None:
        self.driver.revert_to(logical_id, physical_id, {})

    def cloudformation_cannot_say(self) -> None:
        message = "not authorized to perform: cloudformation:DescribeStackResource"
        self.faults.fail(
            "cloudformation", "DescribeStackResource", "AccessDenied", message, times=9
        )

    def throttle(self, call: str) -> None:
        service, operation = OPERATIONS[call]
        self.faults.fail(service, operation, "ThrottlingException", "Rate exceeded", times=999)
        retry.set_deadline(0.0)  # the budget is spent: the first throttle is the last

    def appmesh_gone(self) -> None:
        gone: AppMeshGone = self.gone.getfixturevalue("appmesh_gone")
        gone.answer_status(410)


@pytest.fixture(params=["fake", "emulator"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    if request.param == "fake":
        yield FakeWorld.build()
        return
    platform = request.getfixturevalue("platform")
    # Before any App Mesh client is built: those built afterwards go through its endpoint
    request.getfixturevalue("appmesh_gone")
    faults = request.getfixturevalue("faults")
    driver = request.getfixturevalue("cfn")
    try:
        yield EmulatorWorld.build(platform, faults, driver, request)
    finally:
        retry.set_deadline(float("inf"))  # a test may have spent the budget (throttle)


def task_definition(family: str, **tags: str) -> dict[str, Any]:
    request: dict[str, Any] = {
        "family": family,
        "containerDefinitions": [
            {
                "name": "app",
                "image": "public.ecr.aws/docker/library/busybox:latest",
                "memory": 128,
                "essential": True,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp", "name": "app-8080"}],
            }
        ],
    }
    if tags:
        request["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    return request


def arn(world: World, family: str, number: int) -> str:
    return f"arn:aws:ecs:us-east-1:{world.account}:task-definition/{family}:{number}"


# -- ECS ------------------------------------------------------------------------------------


def test_ecs_describe_by_family_and_by_arn(world: World) -> None:
    by_family, tags = world.ecs.describe(APP_FAMILY)
    by_arn, _ = world.ecs.describe(world.app_arn)
    assert by_family["taskDefinitionArn"] == world.app_arn == arn(world, APP_FAMILY, 1)
    assert (by_family["family"], by_family["revision"], by_family["status"]) == (
        APP_FAMILY,
        1,
        "ACTIVE",
    )
    assert by_arn["taskDefinitionArn"] == world.app_arn
    assert by_family["containerDefinitions"][0]["portMappings"] == [
        {"containerPort": 3000, "protocol": "tcp"}
    ]
    assert tags == []


def test_ecs_describe_of_what_is_not_there_is_a_missing_resource(world: World) -> None:
    with pytest.raises(
        MissingResourceError, match=r"^TaskDefinition: 'nothing-here' was not found"
    ):
        world.ecs.describe("nothing-here")
    with pytest.raises(MissingResourceError, match=r"^TaskDefinition: "):
        world.ecs.describe(arn(world, APP_FAMILY, 9))
    # A deregistered revision, by its ARN, is described INACTIVE. (By family, real ECS finds
    # no latest ACTIVE revision and refuses, as the fake does; moto 5.2 answers the INACTIVE
    # one, so the contract leaves that case out.)
    registered = world.ecs.register(task_definition("gone"))["taskDefinitionArn"]
    world.ecs.deregister(registered)
    assert world.ecs.describe(registered)[0]["status"] == "INACTIVE"


def test_ecs_register_numbers_revisions_per_family_and_keeps_content_and_tags(
    world: World,
) -> None:
    sent = task_definition("fam", owner="me")
    first = world.ecs.register(sent)
    second = world.ecs.register(task_definition("fam"))
    other = world.ecs.register(task_definition("fam-x"))
    assert first["taskDefinitionArn"] == arn(world, "fam", 1)
    assert (first["family"], first["revision"], first["status"]) == ("fam", 1, "ACTIVE")
    assert second["revision"] == 2
    assert other["taskDefinitionArn"] == arn(world, "fam-x", 1)
    described, tags = world.ecs.describe(arn(world, "fam", 1))
    # As sent, but for the container cpu ECS describes as 0 when none was given
    expected = [{"cpu": 0, **c} for c in sent["containerDefinitions"]]
    assert pruned(described["containerDefinitions"]) == pruned(expected)
    assert tags == [{"key": "owner", "value": "me"}]


def test_ecs_active_is_exactly_the_family_and_deregister_is_idempotent(world: World) -> None:
    for family in ("fam", "fam", "fam-x"):
        world.ecs.register(task_definition(family))
    assert world.ecs.active("fam") == {arn(world, "fam", 1), arn(world, "fam", 2)}
    world.ecs.deregister(arn(world, "fam", 1))
    world.ecs.deregister(arn(world, "fam", 1))  # INACTIVE already: fine
    world.ecs.deregister(arn(world, "fam", 7))  # never registered: fine
    assert world.ecs.active("fam") == {arn(world, "fam", 2)}
    assert world.ecs.active("nothing") == set()


def test_ecs_tag_adds_and_overwrites(world: World) -> None:
    registered = world.ecs.register(task_definition("fam", a="1"))["taskDefinitionArn"]
    world.ecs.tag(registered, {"a": "2", "b": "3"})
    assert sorted(world.ecs.describe(registered)[1], key=lambda t: t["key"]) == [
        {"key": "a", "value": "2"},
        {"key": "b", "value": "3"},
    ]


def test_ecs_throttled_past_the_budget_is_throttled_error(world: World) -> None:
    world.throttle("ecs.register")
    with pytest.raises(ThrottledError):
        world.ecs.register(task_definition("fam"))


# -- Resource Groups Tagging ------------------------------------------------------------------


def test_tagging_finds_task_definitions_carrying_all_the_tags(world: World) -> None:
    mine = world.ecs.register(task_definition("fam", owner="me", holder="h1"))
    world.ecs.register(task_definition("fam", owner="me", holder="h2"))
    world.ecs.register(task_definition("other", owner="you", holder="h1"))
    found = world.tagging.task_definitions({"owner": "me", "holder": "h1"})
    assert found == {mine["taskDefinitionArn"]: {"owner": "me", "holder": "h1"}}
    assert world.tagging.task_definitions({"owner": "nobody"}) == {}


def test_tagging_sees_tags_added_after_registration(world: World) -> None:
    registered = world.ecs.register(task_definition("fam"))["taskDefinitionArn"]
    world.ecs.tag(registered, {"sequence": "2"})
    assert world.tagging.task_definitions({"sequence": "2"}) == {registered: {"sequence": "2"}}


# -- Cloud Map --------------------------------------------------------------------------------


def test_cloud_map_names_and_namespace_of_a_service(world: World) -> None:
    service_id, _ = world.add_cloud_map_service(world.namespace, "crystal-2", {})
    assert world.cloudmap.names_by_id(service_id) == (NAMESPACE_NAME, "crystal-2")
    assert world.cloudmap.namespace_of(service_id) == world.namespace
    with pytest.raises(MissingResourceError, match=r"^CloudMapServiceArn: .* does not exist"):
        world.cloudmap.names_by_id("srv-0000000000000000")


def test_cloud_map_namespace_by_name_or_id(world: World) -> None:
    assert world.cloudmap.namespace(NAMESPACE_NAME, is_id=False, path="P") == world.namespace
    assert world.cloudmap.namespace(world.namespace.id, is_id=True, path="P") == world.namespace
    with pytest.raises(MissingResourceError, match=r"^ServiceConnect.Namespace: .* 'x.local'"):
        world.cloudmap.namespace("x.local", is_id=False, path="ServiceConnect.Namespace")
    with pytest.raises(MissingResourceError, match=r"^P: "):
        world.cloudmap.namespace("ns-0000000000000000", is_id=True, path="P")


def test_cloud_map_service_named_and_its_tags(world: World) -> None:
    _, service_arn = world.add_cloud_map_service(
        world.namespace, "crystal-sc", {"AmazonECSManaged": "true"}
    )
    found = world.cloudmap.service_named(world.namespace.id, "crystal-sc")
    assert found is not None
    assert (found["Name"], found["Arn"]) == ("crystal-sc", service_arn)
    assert world.cloudmap.tags(found["Arn"]) == {"AmazonECSManaged": "true"}
    assert world.cloudmap.service_named(world.namespace.id, "nothing") is None


def test_cloud_map_service_named_looks_in_that_namespace_only(world: World) -> None:
    other = world.add_namespace("other.local")
    world.add_cloud_map_service(other, "elsewhere", {})
    assert world.cloudmap.service_named(world.namespace.id, "elsewhere") is None
    assert world.cloudmap.service_named(other.id, "elsewhere") is not None


def test_cloud_map_check_names(world: World) -> None:
    world.cloudmap.check_names(NAMESPACE_NAME, CLOUD_MAP_SERVICE_NAME)
    with pytest.raises(MissingResourceError, match=r"^CloudMapNamespaceName: "):
        world.cloudmap.check_names("x.local", CLOUD_MAP_SERVICE_NAME)
    with pytest.raises(MissingResourceError, match=r"^CloudMapServiceName: "):
        world.cloudmap.check_names(NAMESPACE_NAME, "nothing")


# -- CloudFormation ---------------------------------------------------------------------------


def test_cloudformation_answers_which_id_the_stack_holds(world: World) -> None:
    world.hold(LOGICAL, "meshed-crystal:1:m:n:s")
    answer = world.cloudformation.current_physical_id(world.stack_id, LOGICAL)
    assert answer == StackAnswer(known=True, physical_id="meshed-crystal:1:m:n:s")
    # A logical id the stack does not hold: known, and none
    assert world.cloudformation.current_physical_id(world.stack_id, "Other") == StackAnswer(True)


def test_cloudformation_that_cannot_say_is_not_known(world: World) -> None:
    world.hold(LOGICAL, "meshed-crystal:1:m:n:s")
    world.cloudformation_cannot_say()
    answer = world.cloudformation.current_physical_id(world.stack_id, LOGICAL)
    assert answer == StackAnswer(known=False)


# -- App Mesh ---------------------------------------------------------------------------------

NODE_SPEC: dict[str, Any] = {
    "listeners": [{"portMapping": {"port": 3000, "protocol": "http"}}],
    "serviceDiscovery": {"dns": {"hostname": "crystal.service.local"}},
}


def service_spec(node: str) -> dict[str, Any]:
    return {"provider": {"virtualNode": {"virtualNodeName": node}}}


def test_appmesh_service_names_and_a_mesh_that_is_not_there(world: World) -> None:
    assert world.appmesh.service_names(MESH_NAME, None) == set()
    with pytest.raises(MissingResourceError, match=r"^MeshName: mesh 'nothing' does not exist"):
        world.appmesh.service_names("nothing", None)


def test_appmesh_create_describe_and_a_name_taken(world: World) -> None:
    created = world.appmesh.create_node(MESH_NAME, None, "n", NODE_SPEC, {"k": "v"})
    assert created is not None
    node_arn = f"arn:aws:appmesh:us-east-1:{world.account}:mesh/{MESH_NAME}/virtualNode/n"
    assert created["metadata"]["arn"] == node_arn
    assert created["status"]["status"] == "ACTIVE"
    assert pruned(created["spec"]) == pruned(NODE_SPEC)
    described = world.appmesh.describe_node(MESH_NAME, None, "n")
    assert described is not None
    assert described["metadata"]["arn"] == node_arn
    assert pruned(described["spec"]) == pruned(NODE_SPEC)
    assert world.appmesh.tags(node_arn) == {"k": "v"}
    # Taken: None (the caller re-reads whose it is), and the first one is unchanged
    assert world.appmesh.create_node(MESH_NAME, None, "n", {}, {}) is None
    assert world.appmesh.tags(node_arn) == {"k": "v"}
    assert world.appmesh.describe_node(MESH_NAME, None, "other") is None
    service = world.appmesh.create_service(MESH_NAME, None, "s.local", service_spec("n"), {})
    assert service is not None
    assert world.appmesh.service_names(MESH_NAME, None) == {"s.local"}
    assert world.appmesh.create_service(MESH_NAME, None, "s.local", service_spec("n"), {}) is None


def test_appmesh_a_service_needs_its_provider_node(world: World) -> None:
    with pytest.raises(AwsError, match="NotFoundException"):
        world.appmesh.create_service(MESH_NAME, None, "s.local", service_spec("nothing"), {})
    assert world.appmesh.describe_service(MESH_NAME, None, "s.local") is None


def test_appmesh_update_changes_the_spec_and_needs_the_resource(world: World) -> None:
    world.appmesh.create_node(MESH_NAME, None, "n", NODE_SPEC, {})
    world.appmesh.create_node(MESH_NAME, None, "n2", NODE_SPEC, {})
    world.appmesh.create_service(MESH_NAME, None, "s.local", service_spec("n"), {})
    spec = {**NODE_SPEC, "backends": [{"virtualService": {"virtualServiceName": "b.local"}}]}
    updated = world.appmesh.update_node(MESH_NAME, None, "n", spec)
    assert pruned(updated["spec"]) == pruned(spec)
    handed = world.appmesh.update_service(MESH_NAME, None, "s.local", service_spec("n2"))
    assert pruned(handed["spec"]) == pruned(service_spec("n2"))
    with pytest.raises(AwsError, match="NotFoundException"):
        world.appmesh.update_node(MESH_NAME, None, "nothing", spec)
    with pytest.raises(AwsError, match="NotFoundException"):
        world.appmesh.update_service(MESH_NAME, None, "nothing.local", service_spec("n"))


def test_appmesh_what_is_in_use_is_not_deleted(world: World) -> None:
    world.appmesh.create_node(MESH_NAME, None, "n", NODE_SPEC, {})
    world.appmesh.create_service(MESH_NAME, None, "s.local", service_spec("n"), {})
    backend = {**NODE_SPEC, "backends": [{"virtualService": {"virtualServiceName": "s.local"}}]}
    world.appmesh.create_node(MESH_NAME, None, "client", backend, {})
    with pytest.raises(ResourceInUseError, match=r"^virtual node n of mesh ecs-mesh is still in"):
        world.appmesh.delete_node(MESH_NAME, None, "n")
    with pytest.raises(ResourceInUseError, match=r"^virtual service s.local of mesh ecs-mesh is"):
        world.appmesh.delete_service(MESH_NAME, None, "s.local")
    # Once nothing uses them: deleted (True), then gone (False)
    assert world.appmesh.delete_node(MESH_NAME, None, "client") is True
    assert world.appmesh.delete_service(MESH_NAME, None, "s.local") is True
    assert world.appmesh.delete_node(MESH_NAME, None, "n") is True
    assert world.appmesh.delete_node(MESH_NAME, None, "n") is False
    assert world.appmesh.delete_service(MESH_NAME, None, "s.local") is False


def test_appmesh_tags(world: World) -> None:
    world.appmesh.create_node(MESH_NAME, None, "n", NODE_SPEC, {"a": "1", "b": "2"})
    node_arn = f"arn:aws:appmesh:us-east-1:{world.account}:mesh/{MESH_NAME}/virtualNode/n"
    world.appmesh.tag(node_arn, {"a": "3", "c": "4"})
    world.appmesh.untag(node_arn, ["b"])
    world.appmesh.untag(node_arn, [])
    assert world.appmesh.tags(node_arn) == {"a": "3", "c": "4"}
    assert world.appmesh.tags(node_arn.replace("/n", "/nothing")) is None


def test_appmesh_in_another_mesh_is_apart(world: World) -> None:
    world.add_mesh("ecs-mesh-2")
    world.appmesh.create_node("ecs-mesh-2", None, "n", NODE_SPEC, {})
    assert world.appmesh.describe_node(MESH_NAME, None, "n") is None
    assert world.appmesh.create_node(MESH_NAME, None, "n", NODE_SPEC, {}) is not None


def test_appmesh_gone_is_app_mesh_unavailable(world: World) -> None:
    world.appmesh.create_node(MESH_NAME, None, "n", NODE_SPEC, {})
    world.appmesh_gone()
    with pytest.raises(AppMeshUnavailableError) as gone:
        world.appmesh.describe_node(MESH_NAME, None, "n")
    assert gone.value.kind == "http"


# -- What is not there, for the calls that need it ---------------------------------------------


def test_writes_to_what_is_not_there_are_aws_errors(world: World) -> None:
    missing_revision = arn(world, "nothing", 1)
    with pytest.raises(AwsError):
        world.ecs.tag(missing_revision, {"a": "1"})
    node_arn = f"arn:aws:appmesh:us-east-1:{world.account}:mesh/{MESH_NAME}/virtualNode/nothing"
    with pytest.raises(AwsError):
        world.appmesh.tag(node_arn, {"a": "1"})
    with pytest.raises(AwsError, match="NotFoundException"):
        world.appmesh.create_node("nothing", None, "n", NODE_SPEC, {})
    assert world.appmesh.describe_node("nothing", None, "n") is None
    assert world.appmesh.delete_node("nothing", None, "n") is False


def test_tagging_after_a_deregistration(world: World) -> None:
    kept = world.ecs.register(task_definition("fam", owner="me"))["taskDefinitionArn"]
    gone = world.ecs.register(task_definition("fam", owner="me"))["taskDefinitionArn"]
    world.ecs.deregister(gone)
    found = world.tagging.task_definitions({"owner": "me"})
    # The ACTIVE one is always listed; a deregistered one may be (AWS lists it for a while):
    # the caller filters with ecs.active (mode.revisions_in_ecs)
    assert kept in found
    assert set(found) <= {kept, gone}
    assert world.ecs.active("fam") == {kept}
