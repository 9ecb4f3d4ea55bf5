"""Service Connect mode's pure rules (DESIGN §8), exactly: the task memory, links, the default
client alias, an in-place protocol change, and the served port's record. Each boundary both ways,
each message whole (a Reason is what the user reads), each warning as it is logged."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
from meshed_crystal.adapters.cloudmap import CloudMap
from meshed_crystal.adapters.ecs import Ecs
from meshed_crystal.adapters.tagging import Tagging
from meshed_crystal.errors import PropertyError
from meshed_crystal.identity import Revision
from meshed_crystal.modes.service_connect import mode as sc
from meshed_crystal.properties import Properties, parse_properties
from meshed_crystal.registry import Adapters

from tests.fast.lifecycle import connected

SOURCE = "ECS developer guide, 'Service Connect components'"
WARNING = (
    "the task memory leaves less than the 64 MiB AWS recommends for the Service Connect proxy "
    "beyond the containers' hard memory limits"
)


def base(memory: Any = "512", *limits: Any, links: list[str] | None = None) -> dict[str, Any]:
    containers: list[dict[str, Any]] = [
        {"name": f"c{i}", "memory": m} for i, m in enumerate(limits)
    ]
    if links is not None:
        containers.append({"name": "linked", "links": links})
    result: dict[str, Any] = {"containerDefinitions": containers}
    if memory is not None:
        result["memory"] = memory
    return result


def refused(b: dict[str, Any]) -> PropertyError:
    with pytest.raises(PropertyError) as caught:
        sc.check_base(b)
    return caught.value


def warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING]


def test_a_task_without_memory_is_refused() -> None:
    for missing in (None, "", 0):
        error = refused(base(missing))
        assert error.path == "TaskDefinition"
        assert error.rule == (
            "has no task-level memory: Service Connect adds a proxy container that needs "
            f"headroom, so the task needs a task-level memory ({SOURCE})"
        )


@pytest.mark.parametrize(
    ("task", "limits"), [("512", (512,)), ("512", (256, 300)), ("0.5 GB", (512,))]
)
def test_task_memory_not_above_the_hard_limits_is_refused(
    task: str, limits: tuple[int, ...]
) -> None:
    error = refused(base(task, *limits))
    assert error.path == "TaskDefinition"
    assert error.rule == (
        f"has a task memory of 512 MiB, not greater than the containers' hard memory limits "
        f"({sum(limits)} MiB): ECS requires room for the Service Connect proxy it adds "
        f"(64 MiB recommended; {SOURCE})"
    )


@pytest.mark.parametrize(
    ("limit", "warned"), [(511, True), (449, True), (448, False), (100, False)]
)
def test_headroom_under_64_mib_is_warned_about(
    caplog: pytest.LogCaptureFixture, limit: int, warned: bool
) -> None:
    sc.check_base(base("512", limit))
    found = warnings(caplog)
    assert [r.getMessage() for r in found] == ([WARNING] if warned else [])
    if warned:
        assert found[0].task_memory_mib == 512  # type: ignore[attr-defined]
        assert found[0].containers_mib == limit  # type: ignore[attr-defined]


def test_soft_limits_and_no_limits_are_not_counted(caplog: pytest.LogCaptureFixture) -> None:
    sc.check_base(base("512"))  # no container limit at all
    sc.check_base(base("512", "600"))  # not a number ECS holds as a hard limit here
    sc.check_base({"memory": "512", "containerDefinitions": [{"memoryReservation": 600}]})
    sc.check_base({"memory": "lots", "containerDefinitions": [{"memory": 600}]})  # unreadable
    assert warnings(caplog) == []


def test_links_are_refused_naming_the_container() -> None:
    sc.check_base(base("512", 256, links=[]))
    error = refused(base("512", 256, links=["db"]))
    assert error.path == "TaskDefinition"
    assert error.rule == (
        "container 'linked' has links, which Service Connect does not support (ECS developer "
        "guide, 'Service Connect considerations')"
    )


# -- the default client alias ------------------------------------------------------------------


def test_a_default_alias_ecs_takes_is_kept_without_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert sc.default_client_alias("my_svc.service.local") == "my_svc.service.local"
    assert warnings(caplog) == []


def test_a_default_alias_with_capitals_is_lower_cased_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert sc.default_client_alias("MySvc.Local") == "mysvc.local"
    (record,) = warnings(caplog)
    assert record.getMessage() == (
        "the default client alias is lower-cased for Service Connect (ECS takes lowercase only; "
        "DNS names are case-insensitive, so clients keep reaching it)"
    )
    assert record.given == "MySvc.Local"  # type: ignore[attr-defined]
    assert record.alias == "mysvc.local"  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["a" * 128, "-crystal.local", "crystal service.local"])
def test_a_default_alias_no_case_can_fix_is_refused(name: str) -> None:
    with pytest.raises(PropertyError) as caught:
        sc.default_client_alias(name)
    assert caught.value.path == "ServiceConnect.ClientAlias"
    shown = name if len(name) <= 60 else name[:60] + "…"
    assert caught.value.rule == (
        f"required: the default client alias '{shown}' (VirtualServiceName, or <Cloud Map "
        "service>.<namespace>) is not a name ECS takes (1-127 lowercase letters, digits, '_', "
        "'-' and '.', not starting with '-'; ECS API reference, ServiceConnectClientAlias): "
        "give ServiceConnect.ClientAlias.DnsName"
    )


def test_127_characters_is_the_longest_default_alias() -> None:
    assert sc.default_client_alias("a" * 127) == "a" * 127


# -- an in-place protocol change ---------------------------------------------------------------


IMMUTABLE = (
    "which ECS cannot apply to a running Service Connect service ('appProtocol is immutable in a "
    "Service Connect service. Updating this field requires a service deletion and redeployment'; "
    "ECS developer guide, Service Connect configuration). Keep it, or move to a new ECS service: "
    "give the AWS::ECS::Service a new ServiceName (CloudFormation replaces it) or run a second "
    "service beside it (blue/green) with its own Custom::MeshedCrystal"
)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (None, "web/tcp/grpc"),  # a revision of an older version: nothing recorded
        ("web/tcp/http", "web/tcp/http"),  # unchanged
        ("web/tcp/http", "api/tcp/grpc"),  # another port name: another Service Connect service
        ("garbled", "web/tcp/grpc"),
        ("a/b", "web/tcp/grpc"),
    ],
)
def test_what_ecs_can_apply_passes(current: str | None, new: str) -> None:
    sc.check_served_unchanged(current, new)


@pytest.mark.parametrize(
    ("current", "new", "path", "what"),
    [
        (
            "web/tcp/http",
            "web/tcp/grpc",
            "Listeners[0].Protocol",
            "appProtocol from 'http' to 'grpc'",
        ),
        (
            "web/tcp/http",
            "web/tcp/-",
            "Listeners[0].Protocol",
            "appProtocol from 'http' to 'none (tcp)'",
        ),
        (
            "web/tcp/-",
            "web/tcp/http2",
            "Listeners[0].Protocol",
            "appProtocol from 'none (tcp)' to 'http2'",
        ),
        (
            "web/tcp/http",
            "web/udp/http",
            "TaskDefinition",
            "port mapping protocol from 'tcp' to 'udp'",
        ),
        (
            "web/tcp/http",
            "web/udp/grpc",
            "Listeners[0].Protocol",
            "appProtocol from 'http' to 'grpc'",
        ),
    ],
)
def test_a_change_ecs_cannot_apply_in_place_is_refused(
    current: str, new: str, path: str, what: str
) -> None:
    with pytest.raises(PropertyError) as caught:
        sc.check_served_unchanged(current, new)
    assert caught.value.path == path
    assert caught.value.rule == f"changes the served port's {what}, {IMMUTABLE}"


def test_the_served_port_record_reads_the_named_mapping() -> None:
    content = {
        "containerDefinitions": [
            {"name": "side", "portMappings": [{"containerPort": 9, "name": "other"}]},
            {
                "name": "app",
                "portMappings": [
                    {"containerPort": 8080},
                    {
                        "containerPort": 3000,
                        "name": "web",
                        "appProtocol": "grpc",
                        "protocol": "udp",
                    },
                ],
            },
        ]
    }
    assert sc.served_record(content, "web") == "web/udp/grpc"
    assert sc.served_record(content, "other") == "other/tcp/-"
    assert sc.served_record(content, "missing") == "missing/tcp/-"
    assert sc.served_record({}, "web") == "web/tcp/-"


# -- the base without App Mesh -----------------------------------------------------------------

ENVOY_IMAGE = "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod"
XRAY_IMAGE = "public.ecr.aws/xray/aws-xray-daemon:3.6.6"


def app(*depends_on: str) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "crystal:latest"}
    if depends_on:
        container["dependsOn"] = [{"containerName": n, "condition": "START"} for n in depends_on]
    return container


def test_unmeshed_drops_app_mesh_proxy_configuration_envoy_and_xray_and_their_depends_on() -> None:
    base: dict[str, Any] = {
        "family": "crystal",
        "memory": "512",
        "proxyConfiguration": {"type": "APPMESH", "containerName": "envoy"},
        "containerDefinitions": [
            app("envoy", "xray", "db"),
            {"name": "envoy", "image": ENVOY_IMAGE},
            {"name": "xray", "image": XRAY_IMAGE},
            {"name": "db", "image": "postgres:16"},
        ],
    }
    before = copy.deepcopy(base)
    assert sc.unmeshed(base) == {
        "family": "crystal",
        "memory": "512",
        "containerDefinitions": [
            {
                "name": "app",
                "image": "crystal:latest",
                "dependsOn": [{"containerName": "db", "condition": "START"}],
            },
            {"name": "db", "image": "postgres:16"},
        ],
    }
    # The base itself is left as it was (plan derives from what was read)
    assert base == before


def test_unmeshed_removes_a_dependson_that_only_named_app_mesh_containers() -> None:
    base = {"containerDefinitions": [app("envoy"), {"name": "envoy", "image": ENVOY_IMAGE}]}
    before = copy.deepcopy(base)
    assert sc.unmeshed(base) == {
        "containerDefinitions": [{"name": "app", "image": "crystal:latest"}]
    }
    assert base == before


@pytest.mark.parametrize(
    "sidecar",
    [
        {"name": "envoy", "image": "registry.example.com/my-envoy:1"},  # by its name
        {"name": "proxy", "image": ENVOY_IMAGE},  # by its image
        {"name": "xray", "image": XRAY_IMAGE},  # App Mesh mode's X-Ray sidecar
    ],
    ids=["envoy name", "envoy image", "xray sidecar"],
)
def test_unmeshed_finds_app_mesh_sidecars_by_name_or_image(sidecar: dict[str, str]) -> None:
    base = {"containerDefinitions": [app(sidecar["name"]), sidecar]}
    assert sc.unmeshed(base) == {
        "containerDefinitions": [{"name": "app", "image": "crystal:latest"}]
    }


def test_an_unnamed_envoy_image_container_goes_and_so_does_a_dependson_on_it() -> None:
    base = {"containerDefinitions": [app("", "None", "XXXX"), {"image": ENVOY_IMAGE}]}
    (kept,) = sc.unmeshed(base)["containerDefinitions"]
    assert [d["containerName"] for d in kept["dependsOn"]] == ["None", "XXXX"]


@pytest.mark.parametrize(
    "container",
    [
        {"name": "xray", "image": "registry.example.com/tracer:1"},  # the name alone
        {"name": "tracer", "image": XRAY_IMAGE},  # the user's own X-Ray daemon
        {"name": "web"},  # no image
    ],
    ids=["xray name, other image", "xray image, other name", "no image"],
)
def test_unmeshed_keeps_the_users_own_containers(container: dict[str, str]) -> None:
    base = {"containerDefinitions": [app(container["name"]), container]}
    assert sc.unmeshed(base) == base


@pytest.mark.parametrize(
    ("proxy", "kept"),
    [
        ({"type": "APPMESH", "containerName": "envoy"}, False),
        ({"containerName": "envoy"}, False),  # ECS's default type is APPMESH
        ({"type": "OTHER", "containerName": "sidecar"}, True),
        (None, False),
    ],
)
def test_unmeshed_drops_an_app_mesh_proxy_configuration_only(
    proxy: dict[str, str] | None, kept: bool
) -> None:
    base: dict[str, Any] = {"containerDefinitions": [app()]}
    if proxy is not None:
        base["proxyConfiguration"] = proxy
    result = sc.unmeshed(base)
    assert result.get("proxyConfiguration") == (proxy if kept else None)
    assert ("proxyConfiguration" in result) == kept


# -- the served port ---------------------------------------------------------------------------


def props(**changes: Any) -> Properties:
    return parse_properties(connected(**changes))


def test_the_served_port_is_the_one_listener_or_the_app_containers_one_port() -> None:
    one_port = {"containerDefinitions": [{"name": "app", "portMappings": [{"containerPort": 80}]}]}
    assert sc.served_port(one_port, props()) == (80, "http")
    listener = props(Listeners=[{"Port": "3000", "Protocol": "grpc"}])
    assert sc.served_port(one_port, listener) == (3000, "grpc")


def test_two_listeners_are_refused() -> None:
    two = props(Listeners=[{"Port": "3000"}, {"Port": "3001"}])
    with pytest.raises(PropertyError) as caught:
        sc.served_port({}, two)
    assert caught.value.path == "Listeners"
    assert caught.value.rule == (
        "2 listeners: ServiceConnect mode serves one port (give one listener, or one ECS service "
        "per port)"
    )


@pytest.mark.parametrize("ports", [(), (3000, 3001)])
def test_without_a_listener_the_app_container_must_map_one_port(ports: tuple[int, ...]) -> None:
    mappings = [{"containerPort": p} for p in ports]
    base = {"containerDefinitions": [{"name": "app", "portMappings": mappings}]}
    with pytest.raises(PropertyError) as caught:
        sc.served_port(base, props(AppContainerName="app"))
    assert caught.value.path == "Listeners"
    assert caught.value.rule == (
        f"the app container maps {len(ports)} ports: name the served one "
        "(Listeners: [{Port: ...}])"
    )


# -- default names -----------------------------------------------------------------------------


def test_a_default_name_is_lower_cased_and_its_other_characters_become_dashes() -> None:
    assert sc.default_name("-My Service.v2_x--", "P") == "my-service-v2_x"
    assert sc.default_name("a" * 70, "P") == "a" * 64


def test_a_default_name_of_nothing_usable_is_refused_naming_the_property() -> None:
    text = "." * 50
    with pytest.raises(PropertyError) as caught:
        sc.default_name(text, "ServiceConnect.DiscoveryName")
    assert caught.value.path == "ServiceConnect.DiscoveryName"
    assert caught.value.rule == f"required: no valid default can be made from '{'.' * 40}'"


def test_the_lower_casing_warning_quotes_a_whole_127_character_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = "A" * 127
    assert sc.default_client_alias(name) == "a" * 127
    (record,) = warnings(caplog)
    assert record.given == name  # type: ignore[attr-defined]


# -- this id's revisions -----------------------------------------------------------------------


def td(name: str) -> str:
    return f"arn:aws:ecs:us-east-1:123456789012:task-definition/{name}"


def test_held_revisions_are_newest_sequence_first_and_give_the_next_sequence() -> None:
    found = {
        td("crystal-sc:1"): {sc.TAG_SEQUENCE: "2", sc.TAG_DIGEST: "d1"},  # rolled back to
        td("crystal-sc:3"): {sc.TAG_SEQUENCE: "1", sc.TAG_DIGEST: "d3"},
        td("crystal-sc:2"): {sc.TAG_DIGEST: "d2"},  # registered before the sequence tag: 0
        td("crystal-sc:4"): {sc.TAG_SEQUENCE: "x"},  # garbled: 0; no digest: never reused
    }
    assert sc.held_revisions(found) == (
        [
            Revision("crystal-sc", 1, "d1"),
            Revision("crystal-sc", 3, "d3"),
            Revision("crystal-sc", 4, ""),
            Revision("crystal-sc", 2, "d2"),
        ],
        3,
    )
    assert sc.held_revisions({}) == ([], 1)


def test_held_revisions_of_one_sequence_are_ordered_by_number_whatever_their_family() -> None:
    found = {
        td("zeta-sc:1"): {sc.TAG_SEQUENCE: "5", sc.TAG_DIGEST: "z"},
        td("alpha-sc:2"): {sc.TAG_SEQUENCE: "5", sc.TAG_DIGEST: "a"},
    }
    assert sc.held_revisions(found) == (
        [Revision("alpha-sc", 2, "a"), Revision("zeta-sc", 1, "z")],
        6,
    )


# -- the id ------------------------------------------------------------------------------------


def test_the_id_names_the_account_the_logical_id_and_the_stacks_uuid() -> None:
    stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/crystal-stack/3c1e5a10-8f2b"
    me = sc.ServiceConnectId.of("123456789012", stack, "Crystal")
    assert str(me) == "meshed-crystal-sc:123456789012:Crystal:3c1e5a10-8f2b"
    assert sc.ServiceConnectId.parse(str(me)) == me
    assert me.revision_holder() == f"service-connect/{me}"
    # A stack id of another shape still gives an id that parses
    assert sc.ServiceConnectId.of("1", "no-slash", "L").stack == "no-slash"
    assert sc.ServiceConnectId.of("1", "ends/with/", "L").stack == "stack"


# -- the other modes' properties ---------------------------------------------------------------


@pytest.mark.appmesh
def test_app_mesh_properties_are_named_inert_in_the_order_given_by_the_registry() -> None:
    raw = connected(Backends=["x.local"], Listeners=[{"Port": "3000"}])
    assert sc.inert_properties(raw) == ["MeshName", "CloudMapAttributes", "Backends"]


def test_a_listeners_health_check_is_inert_after_the_other_properties() -> None:
    listeners = [
        {"Port": "3000"},
        {"Port": "3001", "HealthCheck": {"Path": "/health"}},
        "not a listener",
    ]
    inert = sc.inert_properties(connected(Listeners=listeners))
    assert inert[-1:] == ["Listeners[1].HealthCheck"]
    assert inert[:-1] == sc.inert_properties(connected())
    assert "Mode" not in inert


def test_service_connect_properties_alone_are_not_inert() -> None:
    raw = {"Mode": "ServiceConnect", "TaskDefinition": "crystal", "Listeners": [{"Port": "80"}]}
    assert sc.inert_properties(raw) == []


# -- the adapters ------------------------------------------------------------------------------


def test_the_mode_builds_its_own_adapters_when_none_are_given() -> None:
    built = sc.build(None, Adapters())
    assert isinstance(built.ecs, Ecs)
    assert isinstance(built.cloudmap, CloudMap)
    assert isinstance(built.tagging, Tagging)
    given = object()
    assert sc.build(None, Adapters(ecs=given)).ecs is given
