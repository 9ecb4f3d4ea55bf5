"""The lifecycle in ``Mode: ServiceConnect`` (DESIGN §5, §8) on the fakes, in milliseconds.

Every option of the mode that changes an attribute or the registered revision is set here and
its effect seen: the client alias (name and port), a ``tcp`` listener (no ``appProtocol``, even
one the base carried; no scheme in the endpoint), the order of the id's revisions (a rollback
gets the exact previous one), retention, redelivery, the discovery name's owner, the switch from
App Mesh and its cleanup.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from meshed_crystal.errors import AwsError, MissingResourceError, PropertyError
from meshed_crystal.identity import TAG_HOLDER, TAG_LOGICAL, TAG_STACK, Revision
from meshed_crystal.mode import Chosen, Result, Undo
from meshed_crystal.modes.service_connect import mode as sc_mode
from meshed_crystal.modes.service_connect.mode import TAG_DIGEST, TAG_SEQUENCE, TAG_SERVED
from meshed_crystal.properties import parse_properties

from tests.fast.lifecycle import (
    FAMILY,
    LOGICAL,
    NODE,
    SC_FAMILY,
    SERVICE,
    Stack,
    connected,
    provider,
    workshop,
)
from tests.support.fakes import ACCOUNT, FakeAws
from tests.support.platform import APP_FAMILY, app_task_definition_input


def arn_of(number: int, family: str = SC_FAMILY) -> str:
    return f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{family}:{number}"


def served_mapping(aws: FakeAws, arn: str) -> dict[str, Any]:
    (container,) = aws.revision(arn).content["containerDefinitions"]
    (mapping,) = container["portMappings"]
    return dict(mapping)


def tagged(version: str) -> dict[str, Any]:
    """Properties whose derived revision differs by a user tag only (an in-place change that
    leaves the served port as it is)."""
    return connected(Tags=[{"Key": "version", "Value": version}])


def test_create_returns_the_wiring_and_registers_an_unmeshed_named_port(
    aws: FakeAws, stack: Stack
) -> None:
    result = stack.create(connected())
    namespace = next(iter(aws.namespaces.values()))
    assert result.physical_id.startswith(f"meshed-crystal-sc:{ACCOUNT}:{LOGICAL}:")
    assert result.data == {
        "Mode": "ServiceConnect",
        "TaskDefinitionArn": arn_of(1),
        "TaskDefinitionFamily": SC_FAMILY,
        "TaskDefinitionRevision": "1",
        "PortName": "crystal-3000",
        "AppProtocol": "http",
        "DiscoveryName": "ecsdemo-crystal-sc",
        "ClientAliasDnsName": SERVICE,
        "ClientAliasPort": "3000",
        "NamespaceArn": namespace.arn,
        "NamespaceName": "service.local",
        "Endpoint": f"http://{SERVICE}:3000",
        "VirtualServiceName": SERVICE,
    }
    revision = aws.revision(arn_of(1))
    assert [c["name"] for c in revision.content["containerDefinitions"]] == ["crystal"]
    assert "proxyConfiguration" not in revision.content
    assert served_mapping(aws, arn_of(1)) == {
        "containerPort": 3000,
        "protocol": "tcp",
        "name": "crystal-3000",
        "appProtocol": "http",
    }
    assert revision.tags[TAG_STACK] == stack.stack_id
    assert revision.tags[TAG_LOGICAL] == LOGICAL
    assert revision.tags[TAG_HOLDER] == f"service-connect/{result.physical_id}"
    assert revision.tags[TAG_SEQUENCE] == "1"
    assert len(revision.tags[TAG_DIGEST]) == 16
    # This mode never calls App Mesh
    assert [c for c in aws.calls if c.startswith("appmesh.")] == []


def test_the_client_alias_given_is_the_one_returned() -> None:
    aws = FakeAws()
    aws.workshop()
    stack = Stack(aws, provider(aws))
    alias = {"DnsName": "crystal.internal", "Port": "8080"}
    data = stack.create(connected(ServiceConnect={"ClientAlias": alias})).data
    assert data["ClientAliasDnsName"] == "crystal.internal"
    assert data["VirtualServiceName"] == "crystal.internal"
    assert data["ClientAliasPort"] == "8080"
    assert data["Endpoint"] == "http://crystal.internal:8080"
    # The alias is the clients' side: the container still serves on its own port
    assert served_mapping(aws, data["TaskDefinitionArn"])["containerPort"] == 3000
    # The port alone, the name alone
    port_only = stack.update(connected(ServiceConnect={"ClientAlias": {"Port": "80"}})).data
    assert (port_only["ClientAliasDnsName"], port_only["ClientAliasPort"]) == (SERVICE, "80")
    name_only = connected(ServiceConnect={"ClientAlias": {"DnsName": "c.local"}})
    assert stack.update(name_only).data["Endpoint"] == "http://c.local:3000"


def test_a_tcp_port_has_no_app_protocol_and_its_endpoint_no_scheme(aws: FakeAws) -> None:
    # The application's latest revision already names its port, with an appProtocol of http
    # (from an earlier Service Connect setup): the derived one must not keep it for tcp
    base = app_task_definition_input(aws.region, "arn:aws:iam::1:role/t", "arn:aws:iam::1:role/e")
    mapping = base["containerDefinitions"][0]["portMappings"][0]
    mapping.update(name="crystal-3000", appProtocol="http")
    assert aws.ecs.seed(base).endswith(f"{APP_FAMILY}:2")
    stack = Stack(aws, provider(aws))
    data = stack.create(connected(Listeners=[{"Port": "3000", "Protocol": "tcp"}])).data
    assert data["AppProtocol"] == ""
    assert data["Endpoint"] == f"{SERVICE}:3000"
    assert served_mapping(aws, data["TaskDefinitionArn"]) == {
        "containerPort": 3000,
        "protocol": "tcp",
        "name": "crystal-3000",
    }


@pytest.mark.parametrize(("protocol", "app_protocol"), [("http2", "http2"), ("grpc", "grpc")])
def test_the_listener_protocol_is_the_app_protocol(
    aws: FakeAws, stack: Stack, protocol: str, app_protocol: str
) -> None:
    data = stack.create(connected(Listeners=[{"Port": "3000", "Protocol": protocol}])).data
    assert data["AppProtocol"] == app_protocol
    assert data["Endpoint"] == f"http://{SERVICE}:3000"
    assert served_mapping(aws, data["TaskDefinitionArn"])["appProtocol"] == app_protocol


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda base: base.pop("memory"), "task-level memory"),
        (lambda base: base["containerDefinitions"][0].update(links=["db"]), "links"),
    ],
    ids=["no task memory", "links"],
)
def test_a_base_service_connect_cannot_run_is_refused_before_any_write(
    aws: FakeAws, change: Any, words: str
) -> None:
    base = app_task_definition_input(aws.region, "arn:aws:iam::1:role/t", "arn:aws:iam::1:role/e")
    # EC2 and bridge: a base ECS accepts without task-level memory or with links
    base.update(requiresCompatibilities=["EC2"], networkMode="bridge")
    base.pop("cpu")
    base["containerDefinitions"][0]["memory"] = 256
    change(base)
    aws.ecs.seed(base)
    stack = Stack(aws, provider(aws))
    writes = len(aws.writes())
    with pytest.raises(PropertyError, match=words) as refused:
        stack.create(connected())
    assert refused.value.path == "TaskDefinition"
    assert aws.writes()[writes:] == []


def test_a_redelivered_create_and_a_no_op_update_write_nothing(aws: FakeAws, stack: Stack) -> None:
    request = stack.request(LOGICAL, connected())
    first = stack.send_create(request)
    writes = len(aws.writes())
    assert stack.send_create(request) == first
    assert stack.update(connected(), old=connected()) == first
    assert aws.writes()[writes:] == []
    assert aws.all_revisions(SC_FAMILY) == [arn_of(1)]


def test_updates_keep_the_current_and_the_previous_revision_and_a_rollback_gets_it_back(
    aws: FakeAws, stack: Stack
) -> None:
    one = stack.create(tagged("1")).data["TaskDefinitionArn"]
    two = stack.update(tagged("2")).data["TaskDefinitionArn"]
    three = stack.update(tagged("3")).data["TaskDefinitionArn"]
    assert [one, two, three] == [arn_of(1), arn_of(2), arn_of(3)]
    # The newest two: the current one and the one it replaced
    assert aws.active_revisions(SC_FAMILY) == [two, three]
    # A rollback (the old properties again) gets exactly the previous one, registering nothing
    back = stack.update(tagged("2"), old=tagged("3"))
    assert back.data["TaskDefinitionArn"] == two
    assert aws.all_revisions(SC_FAMILY) == [one, two, three]
    # which is now the newest: the next change keeps it (the one it replaces) and drops three
    four = stack.update(tagged("4")).data["TaskDefinitionArn"]
    assert aws.active_revisions(SC_FAMILY) == [two, four]
    # and a rollback of that gets two again
    assert stack.update(tagged("2"), old=tagged("4")).data["TaskDefinitionArn"] == two


def test_a_discovery_name_taken_outside_service_connect_is_refused_before_any_write(
    aws: FakeAws, stack: Stack
) -> None:
    namespace = next(iter(aws.namespaces.values()))
    aws.add_cloud_map_service(namespace, "ecsdemo-crystal-sc")
    writes = len(aws.writes())
    with pytest.raises(PropertyError) as refused:
        stack.create(connected())
    assert refused.value.path == "ServiceConnect.DiscoveryName"
    assert aws.writes()[writes:] == []
    # Another discovery name is free
    free = connected(ServiceConnect={"DiscoveryName": "crystal-sc"})
    assert stack.create(free).data["DiscoveryName"] == "crystal-sc"


def test_service_connect_own_discovery_service_is_not_a_collision(
    aws: FakeAws, stack: Stack
) -> None:
    namespace = next(iter(aws.namespaces.values()))
    aws.add_cloud_map_service(namespace, "ecsdemo-crystal-sc", {"AmazonECSManaged": "true"})
    assert stack.create(connected()).data["DiscoveryName"] == "ecsdemo-crystal-sc"


def test_a_delete_removes_this_ids_revisions_and_no_others(aws: FakeAws, stack: Stack) -> None:
    mine = [stack.create(tagged("1")).data["TaskDefinitionArn"]]
    mine.append(stack.update(tagged("2")).data["TaskDefinitionArn"])
    other_props = connected(ServiceConnect={"DiscoveryName": "other-sc"})
    other = stack.create(other_props, logical_id="Other").data["TaskDefinitionArn"]
    stack.delete()
    assert aws.active_revisions(SC_FAMILY) == [other]
    # A second Delete of the same id writes nothing
    writes = len(aws.writes())
    stack.delete(stack.physical_id("Other").replace("Other", LOGICAL))
    assert aws.writes()[writes:] == []


def test_a_refused_registration_leaves_nothing_and_the_delete_after_succeeds(
    aws: FakeAws, stack: Stack
) -> None:
    aws.fail("ecs.register", AwsError("ECS ClientException registering family: refused"))
    with pytest.raises(AwsError, match="refused"):
        stack.create(connected())
    assert aws.all_revisions(SC_FAMILY) == []
    stack.delete()


@pytest.mark.appmesh
def test_works_with_app_mesh_gone(aws: FakeAws, stack: Stack) -> None:
    aws.appmesh_gone("no-sdk", "the AWS SDK in this function has no appmesh service")
    stack.create(tagged("1"))
    stack.update(tagged("2"))
    stack.delete()
    assert aws.active_revisions(SC_FAMILY) == []
    assert [c for c in aws.calls if c.startswith("appmesh.")] == []


# -- The switch from App Mesh (a replacement, DESIGN §8) --------------------------------------


@pytest.mark.appmesh
def test_the_switch_from_app_mesh_then_the_cleanup_delete_of_the_old_id(
    aws: FakeAws, stack: Stack
) -> None:
    meshed = stack.create(workshop())
    switched = stack.update(connected())
    assert switched.physical_id != meshed.physical_id
    assert switched.data["VirtualServiceName"] == SERVICE  # clients keep their name
    stack.delete(meshed.physical_id)
    assert aws.node(NODE) is None
    assert aws.service(SERVICE) is None
    assert aws.active_revisions(FAMILY) == []
    assert aws.active_revisions(SC_FAMILY) == [switched.data["TaskDefinitionArn"]]


@pytest.mark.appmesh
def test_a_failed_switch_deletes_the_new_id_and_leaves_app_mesh_as_it_was(
    aws: FakeAws, stack: Stack
) -> None:
    props = workshop()
    meshed = stack.create(props)
    switched = stack.update(connected())
    stack.revert_to(meshed.physical_id, props)
    stack.delete(switched.physical_id)
    assert aws.active_revisions(SC_FAMILY) == []
    assert aws.active_revisions(FAMILY) == [meshed.data["TaskDefinitionArn"]]
    assert aws.node(NODE) is not None
    assert aws.service(SERVICE) is not None
    assert stack.update(props, old=props) == meshed


# -- One Create delivered twice at once (DESIGN §5.2, §8 "§5 in full") ------------------------


def deliver_twice_at_once(aws: FakeAws, stack: Stack) -> tuple[Result, Result]:
    """Both read "nothing yet": the duplicate (another container) runs whole between this
    one's reads and its registration. (This one's answer, the duplicate's.)"""
    request = stack.request(LOGICAL, connected())
    second = provider(aws)
    answers: list[Result] = []
    aws.before("ecs.register", lambda: answers.append(second.create(request)))
    first = stack.send_create(request)
    return first, answers[0]


def test_one_create_delivered_twice_at_once_registers_one_revision(
    aws: FakeAws, stack: Stack
) -> None:
    first, duplicate = deliver_twice_at_once(aws, stack)
    assert first == duplicate
    assert aws.active_revisions(SC_FAMILY) == [first.data["TaskDefinitionArn"]]


def test_after_two_deliveries_at_once_retention_and_the_delete_leave_no_leak(
    aws: FakeAws, stack: Stack
) -> None:
    first, duplicate = deliver_twice_at_once(aws, stack)
    assert first.physical_id == duplicate.physical_id
    # The next change keeps two revisions, the new one first; the Delete leaves none
    current = stack.update(tagged("2")).data["TaskDefinitionArn"]
    assert current in aws.active_revisions(SC_FAMILY)
    assert len(aws.active_revisions(SC_FAMILY)) == 2
    stack.delete()
    assert aws.active_revisions(SC_FAMILY) == []


# -- What the mode reads: the task definition, the Cloud Map service and namespace -------------


def crystal_service_arn(aws: FakeAws) -> str:
    (arn,) = [arn for _, name, arn in aws.cloud_map_services.values() if name == NODE]
    return arn


def test_a_task_definition_arn_of_this_region_is_read(aws: FakeAws, stack: Stack) -> None:
    app = f"arn:aws:ecs:{aws.region}:{ACCOUNT}:task-definition/{APP_FAMILY}:1"
    assert stack.create(connected(TaskDefinition=app)).data["TaskDefinitionArn"] == arn_of(1)


def test_a_cloud_map_service_arn_gives_the_defaults_and_the_namespace(
    aws: FakeAws, stack: Stack
) -> None:
    namespace = next(iter(aws.namespaces.values()))
    by_arn = connected(
        CloudMapServiceArn=crystal_service_arn(aws),
        CloudMapNamespaceName=None,
        CloudMapServiceName=None,
    )
    data = stack.create(by_arn).data
    assert (data["NamespaceArn"], data["NamespaceName"]) == (namespace.arn, "service.local")
    assert data["DiscoveryName"] == "ecsdemo-crystal-sc"
    assert data["ClientAliasDnsName"] == SERVICE


def test_service_connect_namespace_chooses_another_namespace_by_name_or_arn(
    aws: FakeAws, stack: Stack
) -> None:
    other = aws.add_namespace("other.local")
    for given in ("other.local", other.arn):
        data = stack.create(connected(ServiceConnect={"Namespace": given})).data
        assert (data["NamespaceArn"], data["NamespaceName"]) == (other.arn, "other.local")
        # The default alias is the Cloud Map service's name in the namespace connected in
        assert data["ClientAliasDnsName"] == "ecsdemo-crystal.other.local"
    # With a Cloud Map service ARN too: the namespace given wins over the service's
    by_arn = connected(
        CloudMapServiceArn=crystal_service_arn(aws),
        CloudMapNamespaceName=None,
        CloudMapServiceName=None,
        ServiceConnect={"Namespace": "other.local"},
    )
    data = stack.create(by_arn, logical_id="ByArn").data
    assert (data["NamespaceName"], data["DiscoveryName"]) == ("other.local", "ecsdemo-crystal-sc")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"ServiceConnect": {"Namespace": "nope.local"}},
            "ServiceConnect.Namespace: Cloud Map namespace 'nope.local' does not exist",
        ),
        (
            {"CloudMapNamespaceName": "nope.local"},
            "CloudMapNamespaceName: Cloud Map namespace 'nope.local' does not exist",
        ),
    ],
    ids=["ServiceConnect.Namespace", "CloudMapNamespaceName"],
)
def test_a_namespace_that_does_not_exist_is_named_by_the_property_that_gave_it(
    aws: FakeAws, stack: Stack, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(MissingResourceError) as refused:
        stack.create(connected(**changes))
    assert str(refused.value) == message
    assert aws.writes() == []


@pytest.mark.appmesh
def test_app_mesh_properties_are_inert_and_named_in_one_warning(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    health = {"Port": "3000", "HealthCheck": {"Path": "/health"}}
    with caplog.at_level(logging.WARNING):
        stack.create(connected(Backends=["x.service.local"], Listeners=[health]))
    inert = ["MeshName", "CloudMapAttributes", "Backends", "Listeners[0].HealthCheck"]
    (record,) = [r for r in caplog.records if r.name == sc_mode.__name__]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "App Mesh properties are inert in ServiceConnect mode: "
        "MeshName, CloudMapAttributes, Backends, Listeners[0].HealthCheck"
    )
    assert record.inert == inert  # type: ignore[attr-defined]


# -- What it derives ---------------------------------------------------------------------------


def test_a_listener_port_the_app_container_does_not_map_is_refused_before_any_write(
    aws: FakeAws, stack: Stack
) -> None:
    with pytest.raises(PropertyError) as refused:
        stack.create(connected(Listeners=[{"Port": "3001"}]))
    assert refused.value.path == "Listeners[0].Port"
    assert refused.value.rule == "3001 is not a port the app container 'crystal' maps"
    assert aws.writes() == []


def seed_base(aws: FakeAws, change: Any) -> None:
    """A new latest revision of the application's task definition, ``change``d."""
    base = app_task_definition_input(aws.region, "arn:aws:iam::1:role/t", "arn:aws:iam::1:role/e")
    change(base)
    assert aws.ecs.seed(base).endswith(f"{APP_FAMILY}:2")


def test_only_the_app_containers_served_port_is_named(aws: FakeAws) -> None:
    # A sidecar listed before the app container, mapping the same port number (bridge mode)
    def sidecar_first(base: dict[str, Any]) -> None:
        sidecar = {"name": "metrics", "image": "metrics:1", "essential": False}
        sidecar["portMappings"] = [{"containerPort": 3000, "protocol": "tcp"}]
        base["containerDefinitions"].insert(0, sidecar)

    seed_base(aws, sidecar_first)
    stack = Stack(aws, provider(aws))
    props = connected(AppContainerName="crystal", Listeners=[{"Port": "3000", "Protocol": "tcp"}])
    data = stack.create(props).data
    metrics, crystal = aws.revision(data["TaskDefinitionArn"]).content["containerDefinitions"]
    assert metrics["portMappings"] == [{"containerPort": 3000, "protocol": "tcp"}]
    assert crystal["portMappings"] == [
        {"containerPort": 3000, "protocol": "tcp", "name": "crystal-3000"}
    ]


def test_the_applications_tags_are_carried_and_the_served_port_recorded(
    aws: FakeAws, stack: Stack
) -> None:
    seed_base(aws, lambda base: base.update(tags=[{"key": "team", "value": "crystal"}]))
    data = stack.create(connected(Listeners=[{"Port": "3000", "Protocol": "grpc"}])).data
    tags = aws.revision(data["TaskDefinitionArn"]).tags
    assert tags["team"] == "crystal"
    assert tags[TAG_SERVED] == "crystal-3000/tcp/grpc"


def test_an_inline_task_definition_registers_in_its_own_family(aws: FakeAws, stack: Stack) -> None:
    inline = {
        "Family": "crystal-inline",
        "RequiresCompatibilities": ["FARGATE"],
        "NetworkMode": "awsvpc",
        "Cpu": "256",
        "Memory": "512",
        "ContainerDefinitions": [
            {"Name": "crystal", "Image": "crystal:1", "PortMappings": [{"ContainerPort": 3000}]}
        ],
    }
    data = stack.create(connected(TaskDefinition=inline)).data
    assert data["TaskDefinitionFamily"] == "crystal-inline"
    assert data["TaskDefinitionArn"] == arn_of(1, "crystal-inline")


def test_an_update_that_changes_the_served_ports_app_protocol_is_refused_before_any_write(
    aws: FakeAws, stack: Stack
) -> None:
    stack.create(connected())
    writes = len(aws.writes())
    with pytest.raises(PropertyError) as refused:
        stack.update(connected(Listeners=[{"Port": "3000", "Protocol": "grpc"}]))
    assert refused.value.path == "Listeners[0].Protocol"
    assert refused.value.rule.startswith(
        "changes the served port's appProtocol from 'http' to 'grpc', which ECS cannot apply"
    )
    assert aws.writes()[writes:] == []


def test_a_create_and_an_update_read_this_ids_revisions_once(aws: FakeAws, stack: Stack) -> None:
    # Nobody registered in between (the number follows what was read): no read again
    stack.create(tagged("1"))
    stack.update(tagged("2"))
    assert aws.calls.count("tagging.task_definitions") == 2


def test_the_discovery_name_collision_names_the_service_and_the_namespace(
    aws: FakeAws, stack: Stack
) -> None:
    namespace = next(iter(aws.namespaces.values()))
    service_id, _ = aws.add_cloud_map_service(namespace, "ecsdemo-crystal-sc")
    with pytest.raises(PropertyError) as refused:
        stack.create(connected())
    assert refused.value.rule == (
        f"'ecsdemo-crystal-sc' is the Cloud Map service {service_id} of namespace service.local, "
        "which Service Connect did not create (ECS requires a discovery name that is unique in "
        "the namespace; the App Mesh era's service keeps answering DNS clients): choose another "
        "DiscoveryName"
    )


def test_a_duplicate_keeps_the_lowest_numbered_revision_of_its_content(
    aws: FakeAws, stack: Stack
) -> None:
    """Three deliveries of one Update registered the same content (2, 3, 4): the one with 4
    gives way to 2, the lowest, and deregisters its own; what it held before stays."""
    one = Revision(
        SC_FAMILY,
        1,
        aws.revision(stack.create(tagged("1")).data["TaskDefinitionArn"]).tags[TAG_DIGEST],
    )
    request = stack.request(LOGICAL, tagged("2"), physical_id=stack.physical_id())
    mode = provider(aws).mode("ServiceConnect")
    plan = mode.prepare(request, parse_properties(request.properties))
    assert plan.held == [one]
    numbers = [int(aws.ecs.register(plan.task_definition)["revision"]) for _ in range(3)]
    assert numbers == [2, 3, 4]
    mine = Revision(SC_FAMILY, 4, plan.digest)
    chosen = mode.write(request, plan, Chosen(mine, [mine, one], registered=True), Undo())
    two = Revision(SC_FAMILY, 2, plan.digest)
    assert chosen == Chosen(two, [two, one], registered=False)
    assert aws.active_revisions(SC_FAMILY) == [arn_of(1), arn_of(2), arn_of(3)]
