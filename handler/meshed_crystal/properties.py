"""The resource's properties (DESIGN §2): parsed, defaulted and validated before any AWS call.

``parse_properties`` is pure: it turns CloudFormation's ``ResourceProperties`` (every scalar a
string) into a frozen :class:`Properties`, or raises :class:`PropertyError` naming the path and
the rule. Each mode's own properties are parsed by its spec (``modes/<mode>/properties.py``)
into ``Properties.settings``; rules that need AWS state (the base task definition's content)
live in ``ecs.taskdef`` and in each mode.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Any, NamedTuple

from . import registry, rules
from .ecs import model as ecs_model
from .errors import Collector, PropertyError, excerpt
from .scalars import (
    as_enum,
    as_int,
    as_list,
    as_object,
    as_port,
    as_str,
    check_keys,
    fail,
    join,
    quote,
)

# CloudFormation's own keys: never the user's, never compared between old and new properties.
CLOUDFORMATION_KEYS = frozenset({"ServiceToken", "ServiceTimeout"})

# Every property a resource may give: Mode, then each registered mode's (``registry``; those of
# another mode are validated and inert, DESIGN §8).
PROPERTY_NAMES = list(registry.property_names())

PROTOCOLS = ("http", "http2", "grpc", "tcp")
# Tag keys this resource writes itself to recognise what it created (``identity``).
RESERVED_TAG_PREFIX = "meshed-crystal:"

# App Mesh resource names are at most 255 characters; ':' separates the parts of our physical
# id, so names are held to the characters App Mesh and DNS actually use.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_FAMILY = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_CLOUD_MAP_SERVICE_ARN = re.compile(
    r"^arn:aws[a-z-]*:servicediscovery:[a-z0-9-]+:\d{12}:service/(?P<id>srv-[A-Za-z0-9]+)$"
)
_TASK_DEFINITION_ARN = re.compile(
    r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/[A-Za-z0-9_-]{1,255}:\d+$"
)
_TASK_DEFINITION_REF = re.compile(r"^[A-Za-z0-9_-]{1,255}(:\d+)?$")


# The package's value types are NamedTuples rather than frozen dataclasses: building a dataclass
# compiles its methods with exec at import, about 1.3 ms each; sixteen of them were a third of
# the package's cold import (docs/performance.md).
class HealthCheck(NamedTuple):
    protocol: str
    path: str | None
    port: int | None
    interval_millis: int
    timeout_millis: int
    healthy_threshold: int
    unhealthy_threshold: int


class Listener(NamedTuple):
    port: int
    protocol: str = "http"
    health_check: HealthCheck | None = None
    per_request_seconds: int | None = None
    idle_seconds: int | None = None


class Properties(NamedTuple):
    """What every mode may read; each mode's own properties are in ``settings`` (its spec's
    ``parse``; e.g. ``modes.appmesh.properties.appmesh(props)``)."""

    cloud_map_service_id: str | None
    cloud_map_namespace_name: str | None
    cloud_map_service_name: str | None
    # A string reference (ARN, family:revision, family) or an inline definition already in the
    # ECS API's shape (RegisterTaskDefinition keyword arguments).
    task_definition: str | Mapping[str, Any]
    family: str | None
    app_container_name: str | None
    virtual_service_name: str | None
    listeners: tuple[Listener, ...] | None
    tags: tuple[tuple[str, str], ...] = ()
    mode: str = ""  # a registered mode's name, by parse_properties
    # Each registered mode's own properties, by its name (what its spec's parse returned).
    settings: Mapping[str, Any] = {}


def user_properties(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The properties without CloudFormation's own keys."""
    return {k: v for k, v in raw.items() if k not in CLOUDFORMATION_KEYS}


def parse_properties(raw: Any) -> Properties:
    """The properties, or one PropertyError that lists every mistake found (DESIGN §2)."""
    if raw is None:  # the event has none: "missing", not JSON's "null is not an object"
        fail("ResourceProperties", "missing: the event carries no properties")
    props = user_properties(as_object(raw, "ResourceProperties"))
    found = Collector()
    found.run(lambda: check_keys(props, PROPERTY_NAMES, ""), None)

    def read(key: str, reader: Any, default: Any = None) -> Any:
        return found.run(lambda: _optional(props, key, reader), default)

    mode = read("Mode", lambda v, p: as_enum(v, p, registry.names())) or registry.default()
    if mode is None and props.get("Mode") is None:
        found.add("Mode", f"required: {', '.join(registry.names())}")
    # What the mode reads is required (by the rules below); another mode's, validated if given.
    spec = registry.specs().get(mode or "")
    reads = frozenset(spec.properties if spec else PROPERTY_NAMES)
    service_id, namespace_name, service_name = None, None, None
    if "CloudMapServiceArn" in reads or any(props.get(key) is not None for key in _CLOUD_MAP):
        service_id, namespace_name, service_name = found.run(
            lambda: _cloud_map(props), (None, None, None)
        )
    properties = Properties(
        cloud_map_service_id=service_id,
        cloud_map_namespace_name=namespace_name,
        cloud_map_service_name=service_name,
        task_definition=found.run(lambda: _task_definition(props), ""),
        family=read("Family", _family),
        app_container_name=read("AppContainerName", _container_name),
        virtual_service_name=read("VirtualServiceName", _name),
        listeners=read("Listeners", _listeners),
        tags=found.run(lambda: _tags(props.get("Tags")), ()),
        mode=mode or "",
        settings={
            name: other.parse(props, found, name == mode)
            for name, other in registry.specs().items()
            if other.parse is not None and (name == mode or _gives(props, other, spec))
        },
    )
    # In the order of the properties (an unknown one first), whichever mode read them.
    order = {name: i for i, name in enumerate(PROPERTY_NAMES)}
    found.errors.sort(key=lambda m: order.get(re.split(r"[.\[]", m.path, maxsplit=1)[0], -1))
    found.raise_any()
    return properties


def _gives(props: Mapping[str, Any], other: registry.ModeSpec, spec: Any) -> bool:
    """Whether ``props`` give a property only ``other`` reads (not the resource's mode): then
    ``other``'s parser validates it; else it is not even imported (cold start)."""
    own = frozenset(spec.properties) if spec is not None else frozenset()
    return any(props.get(key) is not None for key in other.properties if key not in own)


def check_region(props: Properties, region: str) -> None:
    """A TaskDefinition ARN names a task definition of the function's region (DESIGN §2): ECS
    describes and registers task definitions of its client's region only."""
    task_definition = props.task_definition
    if isinstance(task_definition, str) and task_definition.startswith("arn:"):
        td_region = task_definition.split(":")[3]
        if td_region != region:
            raise PropertyError(
                "TaskDefinition",
                f"the task definition is in {excerpt(td_region)}, but this provider's function "
                f"runs in {region}, and ECS reads and registers task definitions of its own "
                "region only (give a task definition of this region)",
            )


def _container_name(value: Any, path: str) -> str:
    text = as_str(value, path)
    rules.check_container_name(text, path)
    return text


def _optional(props: Mapping[str, Any], key: str, reader: Any) -> Any:
    return None if props.get(key) is None else reader(props[key], key)


def _name(value: Any, path: str) -> str:
    text = as_str(value, path)
    if not _NAME.match(text):
        fail(path, f"{quote(text)} is not a valid name (1-255 letters, digits, '.', '_', '-')")
    return text


def _family(value: Any, path: str) -> str:
    text = as_str(value, path)
    if not _FAMILY.match(text):
        fail(
            path, f"{quote(text)} is not a task definition family (1-255 letters, digits, '_', '-')"
        )
    return text


_CLOUD_MAP = ("CloudMapServiceArn", "CloudMapNamespaceName", "CloudMapServiceName")


def _cloud_map(props: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    by_names = (
        props.get("CloudMapNamespaceName") is not None
        or props.get("CloudMapServiceName") is not None
    )
    if props.get("CloudMapServiceArn") is not None and by_names:
        fail(
            "CloudMapServiceArn",
            "set either CloudMapServiceArn or CloudMapNamespaceName with "
            "CloudMapServiceName, not both",
        )
    if props.get("CloudMapServiceArn") is not None:
        arn = as_str(props["CloudMapServiceArn"], "CloudMapServiceArn")
        match = _CLOUD_MAP_SERVICE_ARN.match(arn)
        if not match:
            fail(
                "CloudMapServiceArn",
                f"{quote(arn)} is not a Cloud Map service ARN "
                "(arn:aws:servicediscovery:<region>:<account>:service/srv-…)",
            )
        return match["id"], None, None
    for key in ("CloudMapNamespaceName", "CloudMapServiceName"):
        if props.get(key) is None:
            fail(
                key,
                "required: set CloudMapServiceArn, or both CloudMapNamespaceName and "
                "CloudMapServiceName",
            )
    return (
        None,
        as_str(props["CloudMapNamespaceName"], "CloudMapNamespaceName", max_len=1024),
        as_str(props["CloudMapServiceName"], "CloudMapServiceName", max_len=1024),
    )


def _task_definition(props: Mapping[str, Any]) -> str | Mapping[str, Any]:
    value = props.get("TaskDefinition")
    if value is None:
        fail(
            "TaskDefinition",
            "required: the application's task definition (ARN, "
            "family:revision or family), or an inline AWS::ECS::TaskDefinition object",
        )
    if isinstance(value, Mapping):
        return ecs_model.cfn_task_definition_to_api(value, "TaskDefinition")
    text = as_str(value, "TaskDefinition")
    if not (_TASK_DEFINITION_ARN.match(text) or _TASK_DEFINITION_REF.match(text)):
        fail(
            "TaskDefinition",
            f"{quote(text)} is not a task definition ARN, family:revision or family",
        )
    return text


def _listeners(value: Any, path: str) -> tuple[Listener, ...]:
    items = as_list(value, path)
    if not items:
        fail(path, "must hold at least one listener (omit it for one http listener per app port)")
    found = Collector()
    read = [
        found.run(partial(_listener, item, join(path, i)), None) for i, item in enumerate(items)
    ]
    ports = [listener.port if listener else None for listener in read]
    for i, port in enumerate(ports):
        if port is not None and port in ports[:i]:
            found.add(join(join(path, i), "Port"), f"{quote(port)} is used by another listener")
    found.raise_any()
    return tuple(listener for listener in read if listener is not None)


def _listener(value: Any, path: str) -> Listener:
    item = as_object(value, path, ["Port", "Protocol", "HealthCheck", "Timeout"])
    found = Collector()
    port = 0
    if item.get("Port") is None:
        found.add(join(path, "Port"), "required")
    else:
        port = found.run(lambda: as_port(item["Port"], join(path, "Port")), 0)
    protocol = found.run(
        lambda: as_enum(item.get("Protocol", "http"), join(path, "Protocol"), PROTOCOLS), "http"
    )
    health = None
    if item.get("HealthCheck") is not None:
        health = found.run(
            lambda: _health_check(item["HealthCheck"], join(path, "HealthCheck"), protocol), None
        )
    per_request, idle = found.run(lambda: _timeout(item, path, protocol), (None, None))
    found.raise_any()
    return Listener(port, protocol, health, per_request, idle)


def _timeout(item: Mapping[str, Any], path: str, protocol: str) -> tuple[int | None, int | None]:
    per_request = idle = None
    if item.get("Timeout") is not None:
        tpath = join(path, "Timeout")
        timeout = as_object(item["Timeout"], tpath, ["PerRequestSeconds", "IdleSeconds"])
        if timeout.get("PerRequestSeconds") is not None:
            if protocol == "tcp":
                fail(join(tpath, "PerRequestSeconds"), "a tcp listener has only IdleSeconds")
            per_request = as_int(
                timeout["PerRequestSeconds"],
                join(tpath, "PerRequestSeconds"),
                minimum=0,
                what="a number of seconds",
            )
        if timeout.get("IdleSeconds") is not None:
            idle = as_int(
                timeout["IdleSeconds"],
                join(tpath, "IdleSeconds"),
                minimum=0,
                what="a number of seconds",
            )
    return per_request, idle


def _health_check(value: Any, path: str, listener_protocol: str) -> HealthCheck:
    item = as_object(
        value,
        path,
        [
            "Protocol",
            "Path",
            "Port",
            "IntervalMillis",
            "TimeoutMillis",
            "HealthyThreshold",
            "UnhealthyThreshold",
        ],
    )
    protocol = as_enum(item.get("Protocol", listener_protocol), join(path, "Protocol"), PROTOCOLS)
    check_path = None
    if protocol in ("http", "http2"):
        check_path = as_str(item.get("Path", "/"), join(path, "Path"))
        if not check_path.startswith("/"):
            fail(join(path, "Path"), f"{quote(check_path)} must start with '/'")
    elif item.get("Path") is not None:
        fail(join(path, "Path"), f"a {protocol} health check has no path")
    port = None if item.get("Port") is None else as_port(item["Port"], join(path, "Port"))
    # Bounds are App Mesh's own (botocore's HealthCheckPolicy shapes); defaults are AWS's
    # console defaults.
    return HealthCheck(
        protocol=protocol,
        path=check_path,
        port=port,
        interval_millis=as_int(
            item.get("IntervalMillis", 5000),
            join(path, "IntervalMillis"),
            minimum=5000,
            maximum=300000,
            what="milliseconds",
        ),
        timeout_millis=as_int(
            item.get("TimeoutMillis", 2000),
            join(path, "TimeoutMillis"),
            minimum=2000,
            maximum=60000,
            what="milliseconds",
        ),
        healthy_threshold=as_int(
            item.get("HealthyThreshold", 2), join(path, "HealthyThreshold"), minimum=2, maximum=10
        ),
        unhealthy_threshold=as_int(
            item.get("UnhealthyThreshold", 2),
            join(path, "UnhealthyThreshold"),
            minimum=2,
            maximum=10,
        ),
    )


def _tags(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    # App Mesh allows 50 tags per resource; the resource adds its own ownership tags.
    items = as_list(value, "Tags", max_items=40)
    tags: dict[str, str] = {}
    found = Collector()
    for i, item in enumerate(items):
        found.run(partial(_tag, item, join("Tags", i), tags), None)
    found.raise_any()
    return tuple(tags.items())


def _tag(item: Any, path: str, tags: dict[str, str]) -> None:
    """One tag, added to ``tags``. Bounds: ECS's and App Mesh's (keys 128, values 256)."""
    tag = as_object(item, path, ["Key", "Value"])
    found = Collector()
    key = None
    if tag.get("Key") is None:
        found.add(join(path, "Key"), "required")
    else:
        key = found.run(lambda: as_str(tag["Key"], join(path, "Key"), max_len=128), None)
    if key is not None and key.lower().startswith(("aws:", RESERVED_TAG_PREFIX)):
        found.add(
            join(path, "Key"), f"{quote(key)} uses a reserved prefix (aws:, {RESERVED_TAG_PREFIX})"
        )
    elif key is not None and key in tags:
        found.add(join(path, "Key"), f"{quote(key)} is given twice")
    value = found.run(
        lambda: as_str(tag.get("Value", ""), join(path, "Value"), allow_empty=True, max_len=256),
        "",
    )
    found.raise_any()
    if key is not None:
        tags[key] = value


__all__ = ["Properties", "PropertyError", "check_region", "parse_properties"]
