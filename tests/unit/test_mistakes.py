"""DESIGN §2: every mistake in one Reason, each with its path; short excerpts; one boolean rule."""

from __future__ import annotations

from typing import Any

import pytest
from meshed_crystal.errors import MAX_REASON_CHARS, PropertyError
from meshed_crystal.modes.appmesh.properties import appmesh
from meshed_crystal.properties import parse_properties

from tests.unit.test_properties import WORKSHOP, props


def reason(raw: Any) -> PropertyError:
    with pytest.raises(PropertyError) as caught:
        parse_properties(raw)
    return caught.value


def test_every_mistake_is_listed_with_its_path() -> None:
    error = reason(
        props(
            MeshName="bad name!",
            Listeners=[{"Port": "70000"}, {"Port": "3000", "Protocol": "udp"}],
            Proxy={"ProxyIngressPort": "0", "EgressIgnoredIPs": ["nope"], "IgnoredUID": "x"},
            Envoy={"LogLevel": "loud", "Environment": {"REGION": "x", "1BAD": "y"}},
            Tags=[{"Key": "aws:x"}, {"Value": "v"}],
            Tpyo="1",
            TaskDefinition={
                "NetworkMode": "awsvpc",
                "ContainerDefinitions": [{"Name": "app", "Essential": "yes", "Cpu": "many"}],
            },
        )
    )
    paths = [path for path, _ in error.errors]
    assert paths == [
        "Tpyo",
        "MeshName",
        "TaskDefinition.ContainerDefinitions[0].Essential",
        "TaskDefinition.ContainerDefinitions[0].Cpu",
        "Listeners[0].Port",
        "Listeners[1].Protocol",
        "Proxy.EgressIgnoredIPs[0]",
        "Proxy.ProxyIngressPort",
        "Proxy.IgnoredUID",
        "Envoy.Environment.REGION",
        "Envoy.Environment.1BAD",
        "Envoy.LogLevel",
        "Tags[0].Key",
        "Tags[1].Key",
    ]
    text = str(error)
    assert text.startswith("14 mistakes: Tpyo: unknown property; MeshName: 'bad name!' is not")
    assert "Listeners[0].Port: '70000' is not a port (1-65535)" in text


def test_a_reason_is_bounded_and_says_how_many_more() -> None:
    error = reason(props(**{f"Unknown{i:04}": "x" for i in range(500)}))
    assert len(error.errors) == 500
    text = str(error)
    assert len(text) <= MAX_REASON_CHARS
    assert text.startswith("500 mistakes: Unknown0000: unknown property")
    assert text.endswith(" more")
    assert " ... and " in text


def test_a_long_value_is_quoted_as_a_short_excerpt_and_the_rule_is_whole() -> None:
    error = reason(props(MeshName="m" * 5000))
    assert str(error) == (
        "MeshName: '" + "m" * 60 + "…' is not a valid name (1-255 letters, digits, '.', '_', '-')"
    )


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("9" * 5000, "Listeners[0].Port"),
        ("-" + "9" * 5000, "Listeners[0].Port"),
        (int("9" * 4000), "Listeners[0].Port"),
    ],
)
def test_huge_integers_are_reported_not_crashed_on(value: Any, path: str) -> None:
    error = reason(props(Listeners=[{"Port": value}]))
    assert error.path == path
    assert "is not a port (1-65535)" in str(error)
    assert len(str(error)) < 200


def test_huge_integers_inline() -> None:
    error = reason(
        props(
            TaskDefinition={
                "NetworkMode": "awsvpc",
                "Cpu": "9" * 5000,
                "ContainerDefinitions": [{"Name": "app", "Image": "x", "Memory": "9" * 5000}],
            }
        )
    )
    assert [p for p, _ in error.errors] == [
        "TaskDefinition.ContainerDefinitions[0].Memory",
    ]
    assert "is above the maximum 2147483647" in str(error)


def test_non_ascii_digits_are_not_integers() -> None:
    fullwidth = "\uff13\uff10\uff10\uff10"  # "3000" in fullwidth digits: str.isdigit() is True
    error = reason(props(Listeners=[{"Port": fullwidth}]))
    assert str(error) == f"Listeners[0].Port: '{fullwidth}' is not a port"


@pytest.mark.parametrize("value", ["true", "TRUE", "True", True])
@pytest.mark.parametrize("where", ["XRay", "Envoy.StatsTags", "Essential"])
def test_one_boolean_rule_everywhere_true(value: Any, where: str) -> None:
    assert _boolean_at(where, value) is True


@pytest.mark.parametrize("value", ["false", "FALSE", "False", False])
@pytest.mark.parametrize("where", ["XRay", "Envoy.StatsTags", "Essential"])
def test_one_boolean_rule_everywhere_false(value: Any, where: str) -> None:
    assert _boolean_at(where, value) is False


@pytest.mark.parametrize("value", ["yes", "no", "1", "0", "on", "", 1, 0, " true"])
@pytest.mark.parametrize("where", ["XRay", "Envoy.StatsTags", "Essential"])
def test_one_boolean_rule_everywhere_refused(value: Any, where: str) -> None:
    with pytest.raises(PropertyError, match=r"is not a boolean \(true or false\)"):
        _boolean_at(where, value)


def _boolean_at(where: str, value: Any) -> bool:
    if where == "XRay":
        return appmesh(parse_properties(props(XRay=value))).xray.enabled
    if where == "Envoy.StatsTags":
        return appmesh(parse_properties(props(Envoy={"StatsTags": value}))).envoy.stats_tags
    inline = {
        "NetworkMode": "awsvpc",
        "ContainerDefinitions": [{"Name": "app", "Image": "x", "Essential": value}],
    }
    parsed = parse_properties(dict(WORKSHOP, TaskDefinition=inline))
    assert not isinstance(parsed.task_definition, str)
    return bool(parsed.task_definition["containerDefinitions"][0]["essential"])


# -- protocol: a ResponseURL that cannot be used means no work at all ----------------------------


@pytest.mark.parametrize(
    "url",
    ["https://", "not a url", "http://example.com/x", "https://[::1/x", "https://h:port/x", 7],
)
def test_an_unusable_response_url_is_malformed(url: Any) -> None:
    from meshed_crystal import protocol

    event = {
        "RequestType": "Create",
        "ResponseURL": url,
        "StackId": "s",
        "RequestId": "r",
        "LogicalResourceId": "l",
        "ResourceType": "Custom::MeshedCrystal",
    }
    assert protocol.malformed(event) is not None
    assert (
        protocol.malformed({**event, "ResponseURL": "https://bucket.s3.amazonaws.com/k?x=1"})
        is None
    )


def test_an_unusable_response_url_does_no_work_and_sends_nothing() -> None:
    from types import SimpleNamespace

    from meshed_crystal import protocol

    sent: list[bytes] = []
    work: list[str] = []

    def sender(_url: str, body: bytes, _deadline: float) -> bool:
        sent.append(body)
        return True

    def create(_event: Any, _context: Any) -> str:
        work.append("created")
        return "id"

    resource = protocol.Resource(fallback_id=lambda _e: "id", sender=sender)
    resource.create(create)
    event = {
        "RequestType": "Create",
        "ResponseURL": "https://",
        "StackId": "s",
        "RequestId": "r",
        "LogicalResourceId": "l",
        "ResourceType": "Custom::MeshedCrystal",
        "ResourceProperties": {},
    }
    resource(event, SimpleNamespace(get_remaining_time_in_millis=lambda: 60_000))
    assert work == []
    assert sent == []


def test_every_body_stays_under_4096_bytes() -> None:
    from meshed_crystal import protocol

    body = {
        "Status": "SUCCESS",
        "Reason": "",
        "PhysicalResourceId": "p" * 5000,
        "StackId": "s",
        "RequestId": "r",
        "LogicalResourceId": "l",
        "NoEcho": False,
        "Data": {"A": "\u2026" * 2000},
    }
    data = protocol.encode(body)
    assert len(data) <= protocol.MAX_BODY_BYTES
    failed = {**body, "Status": "FAILED", "Reason": "\u2026" * 5000, "PhysicalResourceId": "p"}
    assert len(protocol.encode(failed)) <= protocol.MAX_BODY_BYTES


def test_at_most_15_egress_ignored_ports() -> None:
    fifteen = [str(p) for p in range(22, 37)]
    parse_properties(props(Proxy={"EgressIgnoredPorts": fifteen}))
    error = reason(props(Proxy={"EgressIgnoredPorts": [*fifteen, "37"]}))
    assert error.path == "Proxy.EgressIgnoredPorts"
    assert "has 16 ports, more than the 15" in error.rule


def test_egress_ignored_ips_keep_both_metadata_addresses() -> None:
    parse_properties(props(Proxy={"EgressIgnoredIPs": ["169.254.0.0/16"]}))  # covers both
    error = reason(props(Proxy={"EgressIgnoredIPs": ["169.254.170.2", "10.0.0.0/8"]}))
    assert error.path == "Proxy.EgressIgnoredIPs"
    assert error.rule.startswith("must include 169.254.169.254:")


def test_an_integer_too_long_to_convert_where_a_string_goes_is_a_mistake() -> None:
    # Found by test_properties_fuzz: json.dumps of an int of over 4300 digits raises ValueError.
    error = reason(props(TaskDefinition={"NetworkMode": 10**5000, "ContainerDefinitions": []}))
    assert ("TaskDefinition.NetworkMode", "is a number of thousands of digits, not a string") in [
        (path, rule) for path, rule in error.errors
    ]
