"""The resource's properties (DESIGN §2): parsed, defaulted and validated before any AWS call.

``parse_properties`` is pure: it turns CloudFormation's ``ResourceProperties`` (every scalar a
string) into a frozen :class:`Properties`, or raises :class:`PropertyError` naming the path and
the rule. Rules that need AWS state (the base task definition's content) live in ``taskdef``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from . import ecs_model
from .errors import PropertyError
from .scalars import (
    as_bool,
    as_enum,
    as_int,
    as_list,
    as_object,
    as_port,
    as_str,
    as_string_map,
    check_keys,
    fail,
    join,
)

# CloudFormation's own keys: never the user's, never compared between old and new properties.
CLOUDFORMATION_KEYS = frozenset({"ServiceToken", "ServiceTimeout"})

PROPERTY_NAMES = [
    "Mode",
    "ServiceConnect",
    "MeshName",
    "MeshArn",
    "CloudMapServiceArn",
    "CloudMapNamespaceName",
    "CloudMapServiceName",
    "CloudMapAttributes",
    "TaskDefinition",
    "Family",
    "AppContainerName",
    "VirtualNodeName",
    "VirtualServiceName",
    "Listeners",
    "Backends",
    "AccessLogPath",
    "Proxy",
    "Envoy",
    "XRay",
    "Tags",
]

PROTOCOLS = ("http", "http2", "grpc", "tcp")
MODES = ("AppMesh", "ServiceConnect")
# App Mesh-only properties: validated, and inert in ServiceConnect mode (DESIGN §8).
APPMESH_ONLY = (
    "MeshName",
    "MeshArn",
    "VirtualNodeName",
    "Backends",
    "Proxy",
    "Envoy",
    "XRay",
    "CloudMapAttributes",
    "AccessLogPath",
)
# What ENVOY_LOG_LEVEL takes. AWS's "Envoy configuration variables" reference spells the warning
# level `warn`; Envoy's own `--log-level` takes `warning` too, which is sent as `warn`.
ENVOY_LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error", "critical", "off")
_ENVOY_LOG_LEVEL_SENT = {"warning": "warn"}
# Tag keys this resource writes itself to recognise what it created (see ``ownership``).
RESERVED_TAG_PREFIX = "meshed-crystal:"
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

# App Mesh resource names are at most 255 characters; ':' separates the parts of our physical
# id, so names are held to the characters App Mesh and DNS actually use.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_FAMILY = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_MESH_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):appmesh:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"mesh/(?P<name>[^/]+)$"
)
_CLOUD_MAP_SERVICE_ARN = re.compile(
    r"^arn:aws[a-z-]*:servicediscovery:[a-z0-9-]+:\d{12}:service/(?P<id>srv-[A-Za-z0-9]+)$"
)
_TASK_DEFINITION_ARN = re.compile(
    r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/[A-Za-z0-9_-]{1,255}:\d+$"
)
_TASK_DEFINITION_REF = re.compile(r"^[A-Za-z0-9_-]{1,255}(:\d+)?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# ECS's rule for a port mapping's name and a Service Connect discovery name.
_PORT_NAME = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,63}$")
_DNS_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
_DNS_NAME = re.compile(rf"^(?=.{{1,127}}$){_DNS_LABEL}(\.{_DNS_LABEL})*$")
_NAMESPACE_ARN = re.compile(
    r"^arn:aws[a-z-]*:servicediscovery:[a-z0-9-]+:\d{12}:namespace/(?P<id>ns-[A-Za-z0-9]+)$"
)


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


class ProxySettings(NamedTuple):
    app_ports: tuple[int, ...] | None = None  # None: the listener ports
    ingress_port: int = 15000
    egress_port: int = 15001
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


class ServiceConnectSettings(NamedTuple):
    """DESIGN §8; None: the mode's default, derived from the other properties."""

    port_name: str | None = None
    discovery_name: str | None = None
    client_alias_dns_name: str | None = None
    client_alias_port: int | None = None
    namespace: str | None = None  # a name, or an ARN's namespace id (ns-...)
    namespace_is_id: bool = False


class Properties(NamedTuple):
    mesh_name: str  # "" in ServiceConnect mode without a mesh
    mesh_owner: str | None  # from MeshArn: the account of a shared mesh
    cloud_map_service_id: str | None
    cloud_map_namespace_name: str | None
    cloud_map_service_name: str | None
    cloud_map_attributes: tuple[tuple[str, str], ...]
    # A string reference (ARN, family:revision, family) or an inline definition already in the
    # ECS API's shape (RegisterTaskDefinition keyword arguments).
    task_definition: str | Mapping[str, Any]
    family: str | None
    app_container_name: str | None
    virtual_node_name: str | None
    virtual_service_name: str | None
    listeners: tuple[Listener, ...] | None
    backends: tuple[str, ...]
    access_log_path: str | None
    proxy: ProxySettings = ProxySettings()
    envoy: EnvoySettings = EnvoySettings()
    xray: XRaySettings = XRaySettings()
    tags: tuple[tuple[str, str], ...] = ()
    mesh_region: str | None = None  # from MeshArn; must be the function's (check_mesh_region)
    mode: str = "AppMesh"
    service_connect: ServiceConnectSettings = ServiceConnectSettings()


def user_properties(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The properties without CloudFormation's own keys."""
    return {k: v for k, v in raw.items() if k not in CLOUDFORMATION_KEYS}


def parse_properties(raw: Any) -> Properties:
    props = as_object(raw, "ResourceProperties")
    props = user_properties(props)
    check_keys(props, PROPERTY_NAMES, "")
    mode = "AppMesh" if props.get("Mode") is None else as_enum(props["Mode"], "Mode", MODES)
    if mode == "ServiceConnect" and props.get("MeshName") is None and props.get("MeshArn") is None:
        mesh_name, mesh_owner, mesh_region = "", None, None  # no mesh in this mode
    else:
        mesh_name, mesh_owner, mesh_region = _mesh(props)
    service_id, namespace_name, service_name = _cloud_map(props)
    return Properties(
        mesh_name=mesh_name,
        mesh_owner=mesh_owner,
        cloud_map_service_id=service_id,
        cloud_map_namespace_name=namespace_name,
        cloud_map_service_name=service_name,
        cloud_map_attributes=_cloud_map_attributes(props.get("CloudMapAttributes")),
        task_definition=_task_definition(props),
        family=_optional(props, "Family", _family),
        app_container_name=_optional(props, "AppContainerName", as_str),
        virtual_node_name=_optional(props, "VirtualNodeName", _name),
        virtual_service_name=_optional(props, "VirtualServiceName", _name),
        listeners=_optional(props, "Listeners", _listeners),
        backends=_backends(props.get("Backends")),
        access_log_path=_access_log(props.get("AccessLogPath")),
        proxy=_optional(props, "Proxy", _proxy) or ProxySettings(),
        envoy=_optional(props, "Envoy", _envoy) or EnvoySettings(),
        xray=_xray(props.get("XRay")),
        tags=_tags(props.get("Tags")),
        mesh_region=mesh_region,
        mode=mode,
        service_connect=_service_connect(props.get("ServiceConnect")),
    )


def _service_connect(value: Any) -> ServiceConnectSettings:
    if value is None:
        return ServiceConnectSettings()
    path = "ServiceConnect"
    item = as_object(value, path, ["PortName", "DiscoveryName", "ClientAlias", "Namespace"])
    port_name = _optional(item, "PortName", lambda v, _: _port_name(v, join(path, "PortName")))
    discovery = _optional(
        item, "DiscoveryName", lambda v, _: _port_name(v, join(path, "DiscoveryName"))
    )
    dns_name, alias_port = None, None
    if item.get("ClientAlias") is not None:
        alias_path = join(path, "ClientAlias")
        alias = as_object(item["ClientAlias"], alias_path, ["DnsName", "Port"])
        if alias.get("DnsName") is not None:
            dns_name = as_str(alias["DnsName"], join(alias_path, "DnsName"))
            if not _DNS_NAME.match(dns_name):
                fail(join(alias_path, "DnsName"), f"'{dns_name[:60]}' is not a DNS name (1-127)")
        if alias.get("Port") is not None:
            alias_port = as_port(alias["Port"], join(alias_path, "Port"))
    namespace, is_id = None, False
    if item.get("Namespace") is not None:
        namespace = as_str(item["Namespace"], join(path, "Namespace"), max_len=1024)
        if namespace.startswith("arn:"):
            match = _NAMESPACE_ARN.match(namespace)
            if not match:
                fail(
                    join(path, "Namespace"),
                    f"'{namespace[:80]}' is not a Cloud Map namespace ARN "
                    "(arn:aws:servicediscovery:<region>:<account>:namespace/ns-…)",
                )
            namespace, is_id = match["id"], True
    return ServiceConnectSettings(port_name, discovery, dns_name, alias_port, namespace, is_id)


def _port_name(value: Any, path: str) -> str:
    text = as_str(value, path)
    if not _PORT_NAME.match(text):
        fail(
            path,
            f"'{text[:70]}' is not a valid name (ECS: 1-64 lowercase letters, digits, '_' and "
            "'-', not starting with '-')",
        )
    return text


def check_mesh_region(props: Properties, region: str) -> None:
    """A MeshArn names a mesh in the function's region (DESIGN §2).

    App Mesh is called in the function's region, so a mesh ARN of another region would be read
    as the mesh of the same name in this one, and Envoy would be given the wrong REGION.
    """
    if props.mesh_region is not None and props.mesh_region != region:
        fail(
            "MeshArn",
            f"the mesh is in {props.mesh_region}, but this provider's function runs in {region} "
            f"and manages meshes of {region} only (deploy the provider in {props.mesh_region}, "
            "or give a mesh of its region)",
        )


def _optional(props: Mapping[str, Any], key: str, reader: Any) -> Any:
    return None if props.get(key) is None else reader(props[key], key)


def _name(value: Any, path: str) -> str:
    text = as_str(value, path)
    if not _NAME.match(text):
        fail(path, f"'{text}' is not a valid name (1-255 letters, digits, '.', '_', '-')")
    return text


def _family(value: Any, path: str) -> str:
    text = as_str(value, path)
    if not _FAMILY.match(text):
        fail(path, f"'{text}' is not a task definition family (1-255 letters, digits, '_', '-')")
    return text


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
            f"'{arn}' is not an App Mesh mesh ARN (arn:aws:appmesh:<region>:<account>:mesh/<name>)",
        )
    return _name(match["name"], "MeshArn"), match["account"], match["region"]


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
                f"'{arn}' is not a Cloud Map service ARN "
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


_ATTRIBUTE_KEY = re.compile(r"^[!-~]{1,255}$")


def _cloud_map_attributes(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    attributes = as_string_map(value, "CloudMapAttributes")
    for key, text in attributes.items():
        if not _ATTRIBUTE_KEY.match(key):
            fail(join("CloudMapAttributes", key), "is not a valid Cloud Map attribute key")
        if not text or len(text) > 1024:
            fail(join("CloudMapAttributes", key), "must be 1-1024 characters")
    return tuple(sorted(attributes.items()))


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
        fail("TaskDefinition", f"'{text}' is not a task definition ARN, family:revision or family")
    return text


def _listeners(value: Any, path: str) -> tuple[Listener, ...]:
    items = as_list(value, path)
    if not items:
        fail(path, "must hold at least one listener (omit it for one http listener per app port)")
    listeners = tuple(_listener(item, join(path, i)) for i, item in enumerate(items))
    ports = [listener.port for listener in listeners]
    for i, port in enumerate(ports):
        if port in ports[:i]:
            fail(join(join(path, i), "Port"), f"'{port}' is used by another listener")
    return listeners


def _listener(value: Any, path: str) -> Listener:
    item = as_object(value, path, ["Port", "Protocol", "HealthCheck", "Timeout"])
    if item.get("Port") is None:
        fail(join(path, "Port"), "required")
    port = as_port(item["Port"], join(path, "Port"))
    protocol = as_enum(item.get("Protocol", "http"), join(path, "Protocol"), PROTOCOLS)
    health = None
    if item.get("HealthCheck") is not None:
        health = _health_check(item["HealthCheck"], join(path, "HealthCheck"), protocol)
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
    return Listener(port, protocol, health, per_request, idle)


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
            fail(join(path, "Path"), f"'{check_path}' must start with '/'")
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


def _backends(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    names = tuple(
        _name(item, join("Backends", i))
        for i, item in enumerate(as_list(value, "Backends", max_items=50))
    )
    for i, name in enumerate(names):
        if name in names[:i]:
            fail(join("Backends", i), f"'{name}' is listed twice")
    return names


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

    def ports(key: str) -> tuple[int, ...] | None:
        if item.get(key) is None:
            return None
        return tuple(
            as_port(p, join(join(path, key), i))
            for i, p in enumerate(as_list(item[key], join(path, key)))
        )

    app_ports = ports("AppPorts")
    if app_ports == ():
        fail(join(path, "AppPorts"), "must hold at least one port")
    ignored_ips = defaults.egress_ignored_ips
    if item.get("EgressIgnoredIPs") is not None:
        key = join(path, "EgressIgnoredIPs")
        ignored_ips = tuple(
            _ip(ip, join(key, i)) for i, ip in enumerate(as_list(item["EgressIgnoredIPs"], key))
        )
    ingress = _optional_port(item, path, "ProxyIngressPort", defaults.ingress_port)
    egress = _optional_port(item, path, "ProxyEgressPort", defaults.egress_port)
    if ingress == egress:
        fail(join(path, "ProxyEgressPort"), f"'{egress}' is also the ProxyIngressPort")
    return ProxySettings(
        app_ports=app_ports,
        ingress_port=ingress,
        egress_port=egress,
        egress_ignored_ips=ignored_ips,
        egress_ignored_ports=ports("EgressIgnoredPorts") or (),
        ignored_uid=as_int(
            item.get("IgnoredUID", defaults.ignored_uid),
            join(path, "IgnoredUID"),
            minimum=0,
            what="a user id",
        ),
        ignored_gid=None
        if item.get("IgnoredGID") is None
        else as_int(item["IgnoredGID"], join(path, "IgnoredGID"), minimum=0, what="a group id"),
    )


def _optional_port(item: Mapping[str, Any], path: str, key: str, default: int) -> int:
    return default if item.get(key) is None else as_port(item[key], join(path, key))


def _ip(value: Any, path: str) -> str:
    text = as_str(value, path)
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        fail(path, f"'{text}' is not an IP address or CIDR block")
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
    environment: dict[str, str] = {}
    if item.get("Environment") is not None:
        environment = as_string_map(item["Environment"], join(path, "Environment"))
        for key in environment:
            where = join(join(path, "Environment"), key)
            if not _ENV_NAME.match(key):
                fail(where, "is not an environment variable name")
            if key in RESERVED_ENVOY_VARIABLES:
                fail(where, "is set by the resource itself (use the matching Envoy property)")
    return EnvoySettings(
        # At most 256: the image is recorded in a tag of the virtual node.
        image=None
        if item.get("Image") is None
        else as_str(item["Image"], join(path, "Image"), max_len=256),
        log_level=_envoy_log_level(
            item.get("LogLevel", defaults.log_level), join(path, "LogLevel")
        ),
        cpu=None
        if item.get("Cpu") is None
        else as_int(item["Cpu"], join(path, "Cpu"), minimum=0, what="CPU units"),
        memory_reservation=as_int(
            item.get("MemoryReservation", defaults.memory_reservation),
            join(path, "MemoryReservation"),
            minimum=6,
            what="MiB (>= 6)",
        ),
        stats_tags=as_bool(item.get("StatsTags", True), join(path, "StatsTags")),
        log_group_name=None
        if item.get("LogGroupName") is None
        else as_str(item["LogGroupName"], join(path, "LogGroupName"), max_len=512),
        log_stream_prefix=as_str(
            item.get("LogStreamPrefix", defaults.log_stream_prefix), join(path, "LogStreamPrefix")
        ),
        environment=tuple(sorted(environment.items())),
    )


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
    return XRaySettings(
        enabled=as_bool(item.get("Enabled", True), "XRay.Enabled"),
        image=as_str(item.get("Image", defaults.image), "XRay.Image"),
        memory_reservation=as_int(
            item.get("MemoryReservation", defaults.memory_reservation),
            "XRay.MemoryReservation",
            minimum=6,
            what="MiB (>= 6)",
        ),
    )


def _tags(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    # App Mesh allows 50 tags per resource; the resource adds its own ownership tags.
    items = as_list(value, "Tags", max_items=40)
    tags: dict[str, str] = {}
    for i, item in enumerate(items):
        path = join("Tags", i)
        tag = as_object(item, path, ["Key", "Value"])
        if tag.get("Key") is None:
            fail(join(path, "Key"), "required")
        key = as_str(tag["Key"], join(path, "Key"), max_len=128)
        if key.lower().startswith(("aws:", RESERVED_TAG_PREFIX)):
            fail(join(path, "Key"), f"'{key}' uses a reserved prefix (aws:, {RESERVED_TAG_PREFIX})")
        if key in tags:
            fail(join(path, "Key"), f"'{key}' is given twice")
        tags[key] = as_str(tag.get("Value", ""), join(path, "Value"), allow_empty=True, max_len=256)
    return tuple(tags.items())


__all__ = ["Properties", "PropertyError", "check_mesh_region", "parse_properties"]
