"""DESIGN §2, property-based: any JSON value for any property gives Properties or a bounded,
readable PropertyError, never another exception."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from meshed_crystal.errors import MAX_REASON_CHARS, PropertyError
from meshed_crystal.properties import PROPERTY_NAMES, parse_properties

from tests.unit.test_properties import WORKSHOP

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.integers().map(lambda n: n * 10**5000)  # past Python's 4300-digit int() limit
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=300)
    | st.sampled_from(["true", "FALSE", "yes", "3000", "9" * 5000, "awsvpc", "http", "-1"])
)
JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=5)
    ),
    max_leaves=20,
)
_KEYS = [*PROPERTY_NAMES, "Containerdefinitions", "ServiceTimeout"]
# Objects shaped like the properties' own, so the readers go deep.
_SHAPED = st.dictionaries(
    st.sampled_from(
        [
            "Port",
            "Protocol",
            "HealthCheck",
            "Timeout",
            "AppPorts",
            "EgressIgnoredIPs",
            "EgressIgnoredPorts",
            "IgnoredUID",
            "Image",
            "Environment",
            "Key",
            "Value",
            "ContainerDefinitions",
            "NetworkMode",
            "Name",
            "Cpu",
            "Memory",
            "PortMappings",
            "ContainerPort",
            "Essential",
            "Enabled",
            "ClientAlias",
            "Namespace",
        ]
    ),
    JSON,
    max_size=6,
)
VALUE = JSON | _SHAPED | st.lists(_SHAPED, max_size=4)


def _check(raw: Any) -> None:
    caught: PropertyError | None = None
    try:
        parse_properties(raw)
    except PropertyError as error:  # any other exception fails the test
        caught = error
    if caught is None:
        return
    text = str(caught)
    assert text
    assert len(text) <= MAX_REASON_CHARS
    assert "Traceback" not in text
    assert caught.errors
    assert all(isinstance(path, str) and rule for path, rule in caught.errors)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(_KEYS), value=VALUE)
def test_any_value_for_any_property(key: str, value: Any) -> None:
    _check({**WORKSHOP, key: value})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from(_KEYS), VALUE, max_size=6))
def test_any_values_for_several_properties(changes: dict[str, Any]) -> None:
    _check({**WORKSHOP, **changes})


@settings(max_examples=100, deadline=None)
@given(raw=JSON)
def test_any_json_as_the_whole_properties(raw: Any) -> None:
    _check(raw)
