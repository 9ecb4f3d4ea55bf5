"""Task definitions between CloudFormation's shape and the ECS API, read off botocore's model.

Three shapes of one task definition meet in this resource:

* the inline ``TaskDefinition`` property, written with the keys of CloudFormation's
  ``AWS::ECS::TaskDefinition`` (PascalCase) and with every scalar turned into a string;
* the keyword arguments of ECS ``RegisterTaskDefinition`` (camelCase, real types);
* the ``taskDefinition`` that ``DescribeTaskDefinition`` returns (the request's members plus
  read-only ones such as ``revision`` and ``status``).

Instead of a table per field, every conversion walks botocore's ECS service model, so a field
that ECS adds reaches users with the next botocore, and a type or enum comes from AWS's own
definition. CloudFormation's names match the API's case-insensitively except in the few places
listed in :data:`CFN_ALIASES`; ``tests/unit/test_ecs_model.py`` proves that list complete
against the CloudFormation schema that cfn-lint ships.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Final, NamedTuple, cast

from meshed_crystal.errors import Collector, PropertyError, excerpt
from meshed_crystal.rules import INTEGER_TEXT as _INTEGER_TEXT
from meshed_crystal.scalars import as_bool, closest, suggestion
from meshed_crystal.shapes import pruned

if TYPE_CHECKING:
    from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

REGISTER_REQUEST: Final = "RegisterTaskDefinitionRequest"
"""The botocore shape of RegisterTaskDefinition's keyword arguments."""

DESCRIBED_TASK_DEFINITION: Final = "TaskDefinition"
"""The botocore shape of DescribeTaskDefinition's ``taskDefinition``."""

CFN_ALIASES: Final[Mapping[tuple[str, str], str]] = {
    # (botocore structure shape, CloudFormation key) -> API member. Only where the names differ
    # by more than case; everything else (Tags' Key/Value, PidMode, EFSVolumeConfiguration,
    # DockerLabels, ...) matches case-insensitively.
    ("ProxyConfiguration", "ProxyConfigurationProperties"): "properties",
}

# CloudFormation's AWS::ECS::TaskDefinition does not require Family (it invents one); the
# resource's own `Family` property or its default fills it in before registering.
_CFN_OPTIONAL_AT_ROOT: Final = frozenset({"family"})

# ECS is written in Java: a value past these bounds is refused by the service anyway, but with a
# message that does not name the property.
_INTEGER_BOUNDS: Final[Mapping[str, tuple[int, int]]] = {
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
}


# --- the model --------------------------------------------------------------------------------


@functools.cache
def service_model() -> ServiceModel:
    """ECS's botocore service model, loaded on first use.

    Reading ``ecs/service-2.json.gz`` takes about 50 ms, plus about 0.3 s to import botocore if
    boto3 has not already done so; a Lambda invocation that never converts never pays it.
    """
    from meshed_crystal.sdk import botocore_session  # deliberately lazy, see above

    # The same session as the ECS client's: the parsed model is shared, not loaded twice.
    return botocore_session().get_service_model("ecs")


@functools.cache
def _shape(name: str) -> Shape:
    # botocore builds a new Shape object on every shape_for(); caching keeps each shape's own
    # cached `members` alive between calls.
    return service_model().shape_for(name)


def _members(shape: Shape) -> Mapping[str, Shape]:
    # botocore is imported lazily, so StructureShape is only a name for the type checker here.
    return cast("StructureShape", shape).members


@functools.cache
def _cfn_keys(shape_name: str) -> Mapping[str, str]:
    """Lower-cased CloudFormation key -> API member name, for one structure shape."""
    keys = {member.lower(): member for member in _members(_shape(shape_name))}
    for (owner, cfn_key), member in CFN_ALIASES.items():
        if owner == shape_name:
            keys[cfn_key.lower()] = member
    return keys


def cfn_member_name(shape_name: str, cfn_key: str) -> str | None:
    """The API member that CloudFormation's ``cfn_key`` stands for in a structure shape."""
    return _cfn_keys(shape_name).get(cfn_key.lower())


def _cfn_spelling(shape_name: str, member: str) -> str:
    """How a template author writes a member: the alias where there is one, else PascalCase."""
    for (owner, cfn_key), aliased in CFN_ALIASES.items():
        if owner == shape_name and aliased == member:
            return cfn_key
    return member[:1].upper() + member[1:]


# --- coercion ---------------------------------------------------------------------------------


class _Dialect(NamedTuple):
    """How a value names its keys, and how much of it is checked.

    CloudFormation input is a person's typing: its keys match case-insensitively and its enum
    values are checked. API input comes from ECS or from this code; its keys are exact, and its
    enum values are passed on, because botocore's enum lists can lag behind ECS and checking them
    would only refuse valid values.
    """

    cfn: bool


_CFN: Final = _Dialect(cfn=True)
_API: Final = _Dialect(cfn=False)


def cfn_task_definition_to_api(
    value: Mapping[str, Any], path: str = "TaskDefinition"
) -> dict[str, Any]:
    """An inline ``AWS::ECS::TaskDefinition`` body as RegisterTaskDefinition's keyword arguments.

    Raises PropertyError naming the CloudFormation path of the first unknown key, wrong type,
    bad scalar, enum value or missing required member. ``family`` may be missing.
    """
    shape = _shape(REGISTER_REQUEST)
    return _structure(value, shape, path, _CFN, optional=_CFN_OPTIONAL_AT_ROOT)


def coerce_api_value(value: Any, shape_name: str = REGISTER_REQUEST, path: str = "") -> Any:
    """An already camelCase value, with its scalars turned into the model's types.

    ``shape_name`` is a botocore ECS shape: ``REGISTER_REQUEST`` for a request,
    ``DESCRIBED_TASK_DEFINITION`` for a described task definition, or a nested one such as
    ``"ContainerDefinition"``. Unknown keys and wrong types raise PropertyError.
    """
    return _coerce(value, _shape(shape_name), path, _API)


def _coerce(value: Any, shape: Shape, path: str, dialect: _Dialect) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _structure(value, shape, path, dialect)
    if kind == "list":
        return _list(value, shape, path, dialect)
    if kind == "map":
        return _map(value, shape, path, dialect)
    if kind in _INTEGER_BOUNDS:
        return _integer(value, shape, path)
    if kind == "boolean":
        return _boolean(value, path)
    if kind == "string":
        return _string(value, shape, path, dialect)
    # Timestamps of a described task definition (registeredAt, ...): nothing to coerce.
    return value


def _structure(
    value: Any,
    shape: Shape,
    path: str,
    dialect: _Dialect,
    optional: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise PropertyError(path, f"{_show(value)} is not an object")
    result: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    found = Collector()  # every mistake of the object, not only the first
    for key, item in value.items():
        member = found.run(partial(_member_for, key, shape, _join(path, key), dialect), None)
        if member is None:
            continue
        if member in given_as:
            found.add(_join(path, key), f"duplicate of {given_as[member]}")
            continue
        given_as[member] = key
        if item is not None:
            member_shape = _members(shape)[member]
            coerced = found.run(
                partial(_coerce, item, member_shape, _join(path, key), dialect), _INVALID
            )
            if coerced is not _INVALID:
                result[member] = coerced
    if not found.errors:
        found.run(partial(_check_required, result, shape, path, dialect, optional), None)
    found.raise_any()
    return result


_INVALID: Final = object()


def _member_for(key: Any, shape: Shape, path: str, dialect: _Dialect) -> str:
    if not isinstance(key, str):
        raise PropertyError(path, f"{_show(key)} is not a property name")
    if dialect.cfn:
        member = cfn_member_name(shape.name, key)
    else:
        member = key if key in _members(shape) else None
    if member is None and shape.name == REGISTER_REQUEST and key.lower() in _read_only():
        # Copied from a described task definition (or from CloudFormation's return values).
        raise PropertyError(path, "is read-only: ECS sets it when it registers a revision")
    if member is None:
        meant = closest(key, _spellings(shape, dialect), ignore_case=True)
        hint = f" (did you mean {meant}?)" if meant else ""
        raise PropertyError(path, f"unknown property{hint}", suggestion=meant)
    return member


@functools.cache
def _read_only() -> frozenset[str]:
    """Lower-cased members of a described task definition that a request cannot carry."""
    described = _members(_shape(DESCRIBED_TASK_DEFINITION))
    return frozenset(m.lower() for m in described if m not in _members(_shape(REGISTER_REQUEST)))


def _spellings(shape: Shape, dialect: _Dialect) -> list[str]:
    if dialect.cfn:
        return [_cfn_spelling(shape.name, member) for member in _members(shape)]
    return list(_members(shape))


def _check_required(
    result: Mapping[str, Any],
    shape: Shape,
    path: str,
    dialect: _Dialect,
    optional: frozenset[str],
) -> None:
    required: list[str] = shape.metadata.get("required", [])
    for member in required:
        if member not in result and member not in optional:
            name = _cfn_spelling(shape.name, member) if dialect.cfn else member
            raise PropertyError(path, f"missing required property {name}")


def _list(value: Any, shape: Shape, path: str, dialect: _Dialect) -> list[Any]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise PropertyError(path, f"{_show(value)} is not a list")
    item_shape = cast("ListShape", shape).member
    found = Collector()
    items = [
        found.run(partial(_coerce, item, item_shape, f"{path}[{i}]", dialect), None)
        for i, item in enumerate(value)
    ]
    found.raise_any()
    return items


def _map(value: Any, shape: Shape, path: str, dialect: _Dialect) -> dict[str, Any]:
    # A map's keys are the user's own (Docker labels, log driver options): never renamed.
    if not isinstance(value, Mapping):
        raise PropertyError(path, f"{_show(value)} is not an object")
    value_shape = cast("MapShape", shape).value
    result: dict[str, Any] = {}
    found = Collector()
    for key, item in value.items():
        if not isinstance(key, str):
            found.add(path, f"{_show(key)} is not a key")
            continue
        result[key] = found.run(
            partial(_coerce, item, value_shape, _join(path, key), dialect), None
        )
    found.raise_any()
    return result


def _integer(value: Any, shape: Shape, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PropertyError(path, f"{_show(value)} is not an integer")
    if isinstance(value, str) and not _INTEGER_TEXT.fullmatch(value):
        raise PropertyError(path, f"{_show(value)} is not an integer")
    low, high = _INTEGER_BOUNDS[shape.type_name]
    low = max(low, shape.metadata.get("min", low))
    high = min(high, shape.metadata.get("max", high))
    # int() refuses more than 4300 digits; no bound here needs more than 19.
    if isinstance(value, str) and len(value.lstrip("+-").lstrip("0")) > 20:
        where = "below the minimum" if value.startswith("-") else "above the maximum"
        raise PropertyError(path, f"{_show(value)} is {where} {low if value[0] == '-' else high}")
    number = int(value)
    if number < low:
        raise PropertyError(path, f"{_show(value)} is below the minimum {low}")
    if number > high:
        raise PropertyError(path, f"{_show(value)} is above the maximum {high}")
    return number


def _boolean(value: Any, path: str) -> bool:
    # The resource's one boolean rule (scalars.as_bool), inline task definitions included.
    return as_bool(value, path)


def _string(value: Any, shape: Shape, path: str, dialect: _Dialect) -> str:
    # A number or boolean becomes the string CloudFormation would have delivered for it.
    if isinstance(value, bool | int | float):
        try:
            value = json.dumps(value)
        except ValueError:  # an int of more digits than Python converts (4300): not ECS's string
            raise PropertyError(path, "is a number of thousands of digits, not a string") from None
    if not isinstance(value, str):
        raise PropertyError(path, f"{_show(value)} is not a string")
    if dialect.cfn:
        _check_enum(value, shape, path)
    _check_length(value, shape, path)
    return value


def _check_enum(value: str, shape: Shape, path: str) -> None:
    allowed: list[str] = shape.metadata.get("enum", [])
    if allowed and value not in allowed:
        hint = suggestion(value, allowed, ignore_case=True)
        raise PropertyError(
            path,
            f"{_show(value)} is not one of {', '.join(allowed)}{hint}",
            choices=tuple(allowed),
        )


def _check_length(value: str, shape: Shape, path: str) -> None:
    shortest: int = shape.metadata.get("min", 0)
    longest: int | None = shape.metadata.get("max")
    if len(value) < shortest:
        raise PropertyError(path, f"must be at least {shortest} characters long")
    if longest is not None and len(value) > longest:
        raise PropertyError(path, f"is {len(value)} characters long (at most {longest})")


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()  # as the template author wrote it, not Python's True
    if isinstance(value, int | float):
        return excerpt(value)
    return f"'{excerpt(value)}'"


# --- described task definitions ---------------------------------------------------------------


def register_request_from_described(
    task_definition: Mapping[str, Any], tags: list[dict[str, str]] | None
) -> dict[str, Any]:
    """RegisterTaskDefinition's keyword arguments that register ``task_definition`` again.

    Keeps the members the request shape has, which drops every read-only field (ARN, revision,
    status, requiresAttributes, compatibilities, registeredAt/By, ...) without listing them.
    The output and request shapes share every other member name; the test suite checks that.
    ``tags`` is DescribeTaskDefinition's own ``tags`` (asked for with ``include=["TAGS"]``).
    The result is a deep copy: callers add containers to it.
    """
    members = _members(_shape(REGISTER_REQUEST))
    request = {
        key: copy.deepcopy(value)
        for key, value in task_definition.items()
        if key in members and value is not None
    }
    if tags:
        request["tags"] = [dict(tag) for tag in tags]
    return request


# --- comparing requests -----------------------------------------------------------------------

# Values ECS fills in for an absent field and then reports from DescribeTaskDefinition. They mean
# the same as absent, so they are dropped before comparing; otherwise a described definition
# would never compare equal to the request that registered it. These come from ECS's behaviour
# and documented defaults, which the model does not carry.
_CONTAINER_DEFAULTS: Final[Mapping[str, Any]] = {
    "cpu": 0,
    "essential": True,
    "versionConsistency": "enabled",
}
_PORT_MAPPING_DEFAULTS: Final[Mapping[str, Any]] = {"protocol": "tcp", "hostPort": 0}
_HEALTH_CHECK_DEFAULTS: Final[Mapping[str, Any]] = {"interval": 30, "timeout": 5, "retries": 3}
# In these modes the host port is the container port whether or not it is written.
_HOST_PORT_IS_CONTAINER_PORT: Final = frozenset({"awsvpc", "host"})


def canonical(request: Mapping[str, Any]) -> str:
    """A stable JSON text of a RegisterTaskDefinition request, equal for equivalent requests.

    Scalars are coerced to the model's types, ECS's reported defaults and empty values (None,
    [], {}) are dropped, tags are ordered by key, and object keys are sorted. List order is
    otherwise kept: containers, environment and port mappings are ordered in the API.
    """
    coerced: dict[str, Any] = coerce_api_value(request, REGISTER_REQUEST)
    network_mode = coerced.get("networkMode")
    containers = coerced.get("containerDefinitions", [])
    coerced["containerDefinitions"] = [_without_defaults(c, network_mode) for c in containers]
    if "tags" in coerced:
        coerced["tags"] = sorted(coerced["tags"], key=lambda tag: str(tag.get("key")))
    return json.dumps(pruned(coerced), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(request: Mapping[str, Any]) -> str:
    """A short fingerprint of :func:`canonical`: 16 hex digits of its SHA-256."""
    return hashlib.sha256(canonical(request).encode("utf-8")).hexdigest()[:16]


def _without_defaults(container: Mapping[str, Any], network_mode: str | None) -> dict[str, Any]:
    result = _drop_defaults(container, _CONTAINER_DEFAULTS)
    if "portMappings" in result:
        result["portMappings"] = [
            _port_mapping_without_defaults(mapping, network_mode)
            for mapping in result["portMappings"]
        ]
    if "healthCheck" in result:
        result["healthCheck"] = _drop_defaults(result["healthCheck"], _HEALTH_CHECK_DEFAULTS)
    return result


def _port_mapping_without_defaults(
    mapping: Mapping[str, Any], network_mode: str | None
) -> dict[str, Any]:
    result = _drop_defaults(mapping, _PORT_MAPPING_DEFAULTS)
    same_port = result.get("hostPort") == result.get("containerPort")
    if network_mode in _HOST_PORT_IS_CONTAINER_PORT and same_port:
        result.pop("hostPort", None)
    return result


def _drop_defaults(value: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    # `type(...) is type(...)`: True == 1 in Python, but essential=True is not cpu=1.
    return {
        key: item
        for key, item in value.items()
        if not (key in defaults and item == defaults[key] and type(item) is type(defaults[key]))
    }
