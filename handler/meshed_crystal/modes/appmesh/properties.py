"""App Mesh mode's own properties (DESIGN §2): the mesh, the node's name, its backends and
access log, the Envoy and X-Ray sidecars and the proxy configuration, the Cloud Map instance
filter. Parsed in every mode (validated, and inert in another, DESIGN §8) through this mode's
spec; read by this mode's code with ``appmesh(props)``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from functools import partial
from typing import Any, NamedTuple, TypeVar

from meshed_crystal import rules
from meshed_crystal.errors import Collector
from meshed_crystal.properties import Properties, _name, _optional, check_region
from meshed_crystal.scalars import (
    as_bool,
    as_enum,
    as_int,
    as_list,
    as_object,
    as_port,
    as_str,
    as_string_map,
    fail,
    join,
    quote,
)

from . import rules as mesh_rules

MODE = "AppMesh"


# What ENVOY_LOG_LEVEL takes. AWS's "Envoy configuration variables" reference spells the warning
# level `warn`; Envoy's own `--log-level` takes `warning` too, which is sent as `warn`.
ENVOY_LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error", "critical", "off")


_ENVOY_LOG_LEVEL_SENT = {"warning": "warn"}


# Envoy variables the resource sets from other properties: overriding them would be ambiguous.
RESERVED_ENVOY_VARIABLES = frozenset(
    {
        "APPMESH_RESOURCE_ARN",
        "APPMESH_VIRTUAL_NODE_NAME",
        "REGION",
        "ENVOY_LOG_LEVEL",
        "ENABLE_ENVOY_STATS_TAGS",
        "ENABLE_ENVOY_XRAY_TRACING",
    }
)


_MESH_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):appmesh:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"mesh/(?P<name>[^/]+)$"
)


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ProxySettings(NamedTuple):
    app_ports: tuple[int, ...] | None = None  # None: the listener ports
    ingress_port: int = mesh_rules.PROXY_INGRESS_PORT
    egress_port: int = mesh_rules.PROXY_EGRESS_PORT
    egress_ignored_ips: tuple[str, ...] = ("169.254.170.2", "169.254.169.254")
    egress_ignored_ports: tuple[int, ...] = ()
    ignored_uid: int = 1337
    ignored_gid: int | None = None


class EnvoySettings(NamedTuple):
    image: str | None = None  # None: the provider's deployment default (ENVOY_IMAGE)
    log_level: str = "info"
    cpu: int | None = None
    memory_reservation: int = 128
    stats_tags: bool = True
    log_group_name: str | None = None  # None: the app container's awslogs group
    log_stream_prefix: str = "/mesh-envoy-container"
    environment: tuple[tuple[str, str], ...] = ()


# The X-Ray daemon from ECR Public (Docker Hub rate-limits anonymous pulls), pinned: the latest
# 3.x release (aws/aws-xray-daemon CHANGELOG.md and tag v3.6.6; its release workflow pushes
# public.ecr.aws/xray/aws-xray-daemon:<version>).
XRAY_IMAGE = "public.ecr.aws/xray/aws-xray-daemon:3.6.6"


class XRaySettings(NamedTuple):
    enabled: bool = False
    image: str = XRAY_IMAGE
    memory_reservation: int = 256


def check_mesh_region(props: Properties, region: str) -> None:
    """A MeshArn names a mesh, and a TaskDefinition ARN a task definition, of the function's
    region (DESIGN §2). Both mistakes are reported at once.

    App Mesh is called in the function's region, so a mesh ARN of another region would be read
    as the mesh of the same name in this one, and Envoy would be given the wrong REGION; ECS
    describes and registers task definitions of its client's region only (``check_region``).
    """
    found = Collector()
    found.run(lambda: check_region(props, region), None)
    mesh_region = appmesh(props).mesh_region
    if mesh_region is not None and mesh_region != region:
        found.add(
            "MeshArn",
            f"the mesh is in {mesh_region}, but this provider's function runs in {region} "
            f"and manages meshes of {region} only (deploy the provider in {mesh_region}, "
            "or give a mesh of its region)",
        )
    found.raise_any()


def _exactly_one(props: Mapping[str, Any], first: str, second: str) -> None:
    has_first, has_second = props.get(first) is not None, props.get(second) is not None
    if has_first == has_second:
        fail(
            first,
            f"set exactly one of {first} and {second}"
            f" ({'both are' if has_first else 'neither is'} set)",
        )


def _mesh(props: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    """The mesh's name, its owner and its region (the last two only from MeshArn)."""
    _exactly_one(props, "MeshName", "MeshArn")
    if props.get("MeshName") is not None:
        return _name(props["MeshName"], "MeshName"), None, None
    arn = as_str(props["MeshArn"], "MeshArn")
    match = _MESH_ARN.match(arn)
    if not match:
        fail(
            "MeshArn",
            f"{quote(arn)} is not an App Mesh mesh ARN "
            "(arn:aws:appmesh:<region>:<account>:mesh/<name>)",
        )
    return _name(match["name"], "MeshArn"), match["account"], match["region"]


_ATTRIBUTE_KEY = re.compile(r"^[!-~]{1,255}$")


def _cloud_map_attributes(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    attributes = as_string_map(value, "CloudMapAttributes")
    found = Collector()
    for key, text in attributes.items():
        if not _ATTRIBUTE_KEY.match(key):
            found.add(join("CloudMapAttributes", key), "is not a valid Cloud Map attribute key")
        elif not text or len(text) > 1024:
            found.add(join("CloudMapAttributes", key), "must be 1-1024 characters")
    found.raise_any()
    return tuple(sorted(attributes.items()))


def _backends(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    found = Collector()
    names = [
        found.run(partial(_name, item, join("Backends", i)), "")
        for i, item in enumerate(as_list(value, "Backends", max_items=50))
    ]
    for i, name in enumerate(names):
        if name and name in names[:i]:
            found.add(join("Backends", i), f"{quote(name)} is listed twice")
    found.raise_any()
    return tuple(names)


def _access_log(value: Any) -> str | None:
    if value is None:
        return "/dev/stdout"
    path = as_str(value, "AccessLogPath", allow_empty=True, max_len=255)
    return path or None


def _proxy(value: Any, path: str) -> ProxySettings:
    item = as_object(
        value,
        path,
        [
            "AppPorts",
            "ProxyIngressPort",
            "ProxyEgressPort",
            "EgressIgnoredIPs",
            "EgressIgnoredPorts",
            "IgnoredUID",
            "IgnoredGID",
        ],
    )
    defaults = ProxySettings()
    found = Collector()

    def ports(key: str) -> tuple[int, ...] | None:
        if item.get(key) is None:
            return None
        read = [
            found.run(partial(as_port, p, join(join(path, key), i)), 0)
            for i, p in enumerate(as_list(item[key], join(path, key)))
        ]
        return tuple(read)

    app_ports = found.run(lambda: ports("AppPorts"), None)
    if app_ports == ():
        found.add(join(path, "AppPorts"), "must hold at least one port")
    found.run(lambda: mesh_rules.check_multiport(app_ports or (), join(path, "AppPorts")), None)
    ignored_ips = defaults.egress_ignored_ips
    if item.get("EgressIgnoredIPs") is not None:
        key = join(path, "EgressIgnoredIPs")
        ignored_ips = found.run(
            lambda: tuple(
                found.run(partial(_ip, ip, join(key, i)), "")
                for i, ip in enumerate(as_list(item["EgressIgnoredIPs"], key))
            ),
            ignored_ips,
        )
    ingress = found.run(
        lambda: _optional_port(item, path, "ProxyIngressPort", defaults.ingress_port),
        defaults.ingress_port,
    )
    egress = found.run(
        lambda: _optional_port(item, path, "ProxyEgressPort", defaults.egress_port),
        defaults.egress_port,
    )
    if ingress == egress:
        found.add(join(path, "ProxyEgressPort"), f"{quote(egress)} is also the ProxyIngressPort")
    ignored_ports = found.run(lambda: ports("EgressIgnoredPorts"), None) or ()
    found.run(
        lambda: mesh_rules.check_multiport(ignored_ports, join(path, "EgressIgnoredPorts")), None
    )
    missing = [a for a in mesh_rules.METADATA_ADDRESSES if not _covered(a, ignored_ips)]
    if missing and all(ignored_ips):  # an address that failed to parse is reported already
        found.add(
            join(path, "EgressIgnoredIPs"),
            f"must include {' and '.join(missing)}: the task metadata/credentials endpoint and "
            "the instance metadata service are reached around Envoy (AWS's App Mesh proxy "
            "configuration for ECS: EgressIgnoredIPs 169.254.170.2,169.254.169.254)",
        )
    uid = _int_field(
        found, item, path, "IgnoredUID", defaults.ignored_uid, maximum=_MAX_ID, what="a user id"
    )
    gid = _int_field(found, item, path, "IgnoredGID", None, maximum=_MAX_ID, what="a group id")
    found.raise_any()
    return ProxySettings(
        app_ports=app_ports,
        ingress_port=ingress,
        egress_port=egress,
        egress_ignored_ips=ignored_ips,
        egress_ignored_ports=ignored_ports,
        ignored_uid=uid,
        ignored_gid=gid,
    )


def _covered(address: str, networks: tuple[str, ...]) -> bool:
    ip = ipaddress.ip_address(address)
    for text in networks:
        try:
            if ip in ipaddress.ip_network(text, strict=False):
                return True
        except ValueError:
            continue
    return False


# Linux user and group ids are 32-bit; ECS passes the value on to iptables' --uid-owner.
_MAX_ID = 2**32 - 2


_D = TypeVar("_D", int, None)


def _int_field(
    found: Collector,
    item: Mapping[str, Any],
    path: str,
    key: str,
    default: _D,
    *,
    minimum: int = 0,
    maximum: int,
    what: str,
) -> int | _D:
    """``item[key]`` as an integer within the bounds, ``default`` when it is absent (or, for a
    field whose default is None, null); a mistake is kept in ``found`` and reads as the default."""
    value = item.get(key, default)
    if value is None and default is None:
        return None
    return found.run(  # type: ignore[no-any-return]
        lambda: as_int(value, join(path, key), minimum=minimum, maximum=maximum, what=what),
        default,
    )


def _optional_port(item: Mapping[str, Any], path: str, key: str, default: int) -> int:
    return default if item.get(key) is None else as_port(item[key], join(path, key))


def _ip(value: Any, path: str) -> str:
    text = as_str(value, path)
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        fail(path, f"{quote(text)} is not an IP address or CIDR block")
    return text


def _envoy(value: Any, path: str) -> EnvoySettings:
    item = as_object(
        value,
        path,
        [
            "Image",
            "LogLevel",
            "Cpu",
            "MemoryReservation",
            "StatsTags",
            "LogGroupName",
            "LogStreamPrefix",
            "Environment",
        ],
    )
    defaults = EnvoySettings()
    found = Collector()
    environment = found.run(lambda: _envoy_environment(item, path), {})
    settings = EnvoySettings(
        image=found.run(
            lambda: (
                None if item.get("Image") is None else _image(item["Image"], join(path, "Image"))
            ),
            None,
        ),
        log_level=found.run(
            lambda: _envoy_log_level(
                item.get("LogLevel", defaults.log_level), join(path, "LogLevel")
            ),
            defaults.log_level,
        ),
        cpu=_int_field(found, item, path, "Cpu", None, maximum=_MAX_CPU, what="CPU units"),
        memory_reservation=_int_field(
            found,
            item,
            path,
            "MemoryReservation",
            defaults.memory_reservation,
            minimum=6,
            maximum=_MAX_INT,
            what="MiB (>= 6)",
        ),
        stats_tags=found.run(
            lambda: as_bool(item.get("StatsTags", True), join(path, "StatsTags")), True
        ),
        log_group_name=found.run(
            lambda: (
                None
                if item.get("LogGroupName") is None
                else as_str(item["LogGroupName"], join(path, "LogGroupName"), max_len=512)
            ),
            None,
        ),
        log_stream_prefix=found.run(
            lambda: as_str(
                item.get("LogStreamPrefix", defaults.log_stream_prefix),
                join(path, "LogStreamPrefix"),
                max_len=512,
            ),
            defaults.log_stream_prefix,
        ),
        environment=tuple(sorted(environment.items())),
    )
    found.raise_any()
    return settings


# ECS's bounds: container cpu is at most 10240 units for Fargate and 192 vCPUs on EC2
# (RegisterTaskDefinition's documentation); ECS's integers are Java's.
_MAX_CPU = 196608


_MAX_INT = 2**31 - 1


def _image(value: Any, path: str) -> str:
    text = as_str(value, path)
    rules.check_image(text, path)
    return text


def _envoy_environment(item: Mapping[str, Any], path: str) -> dict[str, str]:
    """``Envoy.Environment``: ``{NAME: value}``, merged into Envoy's container environment."""
    if item.get("Environment") is None:
        return {}
    environment = as_string_map(item["Environment"], join(path, "Environment"))
    found = Collector()
    for key in environment:
        where = join(join(path, "Environment"), key)
        if not _ENV_NAME.match(key):
            found.add(where, "is not an environment variable name")
        elif key in RESERVED_ENVOY_VARIABLES:
            found.add(where, "is set by the resource itself (use the matching Envoy property)")
    found.raise_any()
    return environment


def _envoy_log_level(value: Any, path: str) -> str:
    level = as_enum(value, path, ENVOY_LOG_LEVELS)
    return _ENVOY_LOG_LEVEL_SENT.get(level, level)


def _xray(value: Any) -> XRaySettings:
    if value is None:
        return XRaySettings()
    if not isinstance(value, Mapping):
        return XRaySettings(enabled=as_bool(value, "XRay"))
    item = as_object(value, "XRay", ["Enabled", "Image", "MemoryReservation"])
    defaults = XRaySettings()
    found = Collector()
    settings = XRaySettings(
        enabled=found.run(lambda: as_bool(item.get("Enabled", True), "XRay.Enabled"), True),
        image=found.run(lambda: _image(item.get("Image", defaults.image), "XRay.Image"), ""),
        memory_reservation=_int_field(
            found,
            item,
            "XRay",
            "MemoryReservation",
            defaults.memory_reservation,
            minimum=6,
            maximum=_MAX_INT,
            what="MiB (>= 6)",
        ),
    )
    found.raise_any()
    return settings


class AppMeshProperties(NamedTuple):
    mesh_name: str  # "" without a mesh (another mode, no MeshName/MeshArn given)
    mesh_owner: str | None  # from MeshArn: the account of a shared mesh
    mesh_region: str | None  # from MeshArn; must be the function's (check_mesh_region)
    cloud_map_attributes: tuple[tuple[str, str], ...] = ()
    virtual_node_name: str | None = None
    backends: tuple[str, ...] = ()
    access_log_path: str | None = None
    proxy: ProxySettings = ProxySettings()
    envoy: EnvoySettings = EnvoySettings()
    xray: XRaySettings = XRaySettings()


NO_MESH = AppMeshProperties("", None, None)


def parse(props: Mapping[str, Any], found: Collector, active: bool) -> AppMeshProperties:
    """This mode's properties; ``active``: the resource's Mode is this one (a mesh is then
    required). Every mistake goes to ``found``."""

    def read(key: str, reader: Any, default: Any = None) -> Any:
        return found.run(lambda: _optional(props, key, reader), default)

    mesh: tuple[str, str | None, str | None] = ("", None, None)
    if active or props.get("MeshName") is not None or props.get("MeshArn") is not None:
        mesh = found.run(lambda: _mesh(props), mesh)
    return AppMeshProperties(
        *mesh,
        cloud_map_attributes=found.run(
            lambda: _cloud_map_attributes(props.get("CloudMapAttributes")), ()
        ),
        virtual_node_name=read("VirtualNodeName", _name),
        backends=found.run(lambda: _backends(props.get("Backends")), ()),
        access_log_path=found.run(lambda: _access_log(props.get("AccessLogPath")), None),
        proxy=read("Proxy", _proxy) or ProxySettings(),
        envoy=read("Envoy", _envoy) or EnvoySettings(),
        xray=found.run(lambda: _xray(props.get("XRay")), XRaySettings()),
    )


def appmesh(props: Properties) -> AppMeshProperties:
    """App Mesh mode's properties of a parsed resource."""
    found: AppMeshProperties = props.settings.get(MODE, NO_MESH)
    return found
