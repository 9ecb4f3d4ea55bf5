"""Service Connect mode's pure rules (DESIGN §8), exactly: the task memory, links, the default
client alias, an in-place protocol change, and the served port's record. Each boundary both ways,
each message whole (a Reason is what the user reads), each warning as it is logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from meshed_crystal.errors import PropertyError
from meshed_crystal.modes.service_connect import mode as sc

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
