"""The resource's properties (DESIGN §2): parsed, defaulted and validated before any AWS call.

``parse_properties`` is pure: it turns CloudFormation's ``ResourceProperties`` (every scalar a
string) into a frozen :class:`Properties`, or raises :class:`PropertyError` naming the path and
the rule. Rules that need AWS state (the base task definition's content) live in ``taskdef``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from functools import partial
from typing import Any, NamedTuple

from . import ecs_model, rules
from .errors import Collector, PropertyError, excerpt
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
    quote,
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
    ingress_port: int = rules.PROXY_INGRESS_PORT
    egress_port: int = rules.PROXY_EGRESS_PORT
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
    """The properties, or one PropertyError that lists every mistake found (DESIGN §2)."""
    if raw is None:  # the event has none: "missing", not JSON's "null is not an object"
        fail("ResourceProperties", "missing: the event carries no properties")
    props = user_properties(as_object(raw, "ResourceProperties"))
    found = Collector()
    found.run(lambda: check_keys(props, PROPERTY_NAMES, ""), None)

    def read(key: str, reader: Any, default: Any = None) -> Any:
        return found.run(lambda: _optional(props, key, reader), default)

    mode = read("Mode", lambda v, p: as_enum(v, p, MODES)) or "AppMesh"
    no_mesh: tuple[str, str | None, str | None] = ("", None, None)
    if mode == "ServiceConnect" and props.get("MeshName") is None and props.get("MeshArn") is None:
        mesh_name, mesh_owner, mesh_region = no_mesh  # no mesh in this mode
    else:
        mesh_name, mesh_owner, mesh_region = found.run(lambda: _mesh(props), no_mesh)
    service_id, namespace_name, service_name = found.run(
        lambda: _cloud_map(props), (None, None, None)
    )
    properties = Properties(
        mesh_name=mesh_name,
        mesh_owner=mesh_owner,
        cloud_map_service_id=service_id,
        cloud_map_namespace_name=namespace_name,
        cloud_map_service_name=service_name,
        cloud_map_attributes=found.run(
            lambda: _cloud_map_attributes(props.get("CloudMapAttributes")), ()
        ),
        task_definition=found.run(lambda: _task_definition(props), ""),
        family=read("Family", _family),
        app_container_name=read("AppContainerName", _container_name),
        virtual_node_name=read("VirtualNodeName", _name),
        virtual_service_name=read("VirtualServiceName", _name),
        listeners=read("Listeners", _listeners),
        backends=found.run(lambda: _backends(props.get("Backends")), ()),
        access_log_path=found.run(lambda: _access_log(props.get("AccessLogPath")), None),
        proxy=read("Proxy", _proxy) or ProxySettings(),
        envoy=read("Envoy", _envoy) or EnvoySettings(),
        xray=found.run(lambda: _xray(props.get("XRay")), XRaySettings()),
        tags=found.run(lambda: _tags(props.get("Tags")), ()),
        mesh_region=mesh_region,
        mode=mode,
        service_connect=found.run(
            lambda: _service_connect(props.get("ServiceConnect")), ServiceConnectSettings()
        ),
    )
    found.raise_any()
    return properties


def _container_name(value: Any, path: str) -> str:
    text = as_str(value, path)
    rules.check_container_name(text, path)
    return text


def _service_connect(value: Any) -> ServiceConnectSettings:
    if value is None:
        return ServiceConnectSettings()
    path = "ServiceConnect"
    item = as_object(value, path, ["PortName", "DiscoveryName", "ClientAlias", "Namespace"])
    found = Collector()
    port_name = found.run(
        lambda: _optional(item, "PortName", lambda v, _: _port_name(v, join(path, "PortName"))),
        None,
    )
    discovery = found.run(
        lambda: _optional(
            item, "DiscoveryName", lambda v, _: _port_name(v, join(path, "DiscoveryName"))
        ),
        None,
    )
    dns_name, alias_port = found.run(lambda: _client_alias(item, path), (None, None))
    namespace, is_id = found.run(lambda: _namespace(item, path), (None, False))
    found.raise_any()
    return ServiceConnectSettings(port_name, discovery, dns_name, alias_port, namespace, is_id)


def _client_alias(item: Mapping[str, Any], path: str) -> tuple[str | None, int | None]:
    dns_name, alias_port = None, None
    if item.get("ClientAlias") is not None:
        alias_path = join(path, "ClientAlias")
        alias = as_object(item["ClientAlias"], alias_path, ["DnsName", "Port"])
        if alias.get("DnsName") is not None:
            dns_name = as_str(alias["DnsName"], join(alias_path, "DnsName"))
            rules.check_client_alias(dns_name, join(alias_path, "DnsName"))
        if alias.get("Port") is not None:
            alias_port = as_port(alias["Port"], join(alias_path, "Port"))
    return dns_name, alias_port


def _namespace(item: Mapping[str, Any], path: str) -> tuple[str | None, bool]:
    namespace, is_id = None, False
    if item.get("Namespace") is not None:
        namespace = as_str(item["Namespace"], join(path, "Namespace"), max_len=1024)
        if namespace.startswith("arn:"):
            match = _NAMESPACE_ARN.match(namespace)
            if not match:
                fail(
                    join(path, "Namespace"),
                    f"{quote(namespace)} is not a Cloud Map namespace ARN "
                    "(arn:aws:servicediscovery:<region>:<account>:namespace/ns-…)",
                )
            namespace, is_id = match["id"], True
    return namespace, is_id


def _port_name(value: Any, path: str) -> str:
    text = as_str(value, path)
    rules.check_port_name(text, path)
    return text


def check_mesh_region(props: Properties, region: str) -> None:
    """A MeshArn names a mesh, and a TaskDefinition ARN a task definition, of the function's
    region (DESIGN §2). Both mistakes are reported at once.

    App Mesh is called in the function's region, so a mesh ARN of another region would be read
    as the mesh of the same name in this one, and Envoy would be given the wrong REGION; ECS
    describes and registers task definitions of its client's region only.
    """
    found = Collector()
    task_definition = props.task_definition
    if isinstance(task_definition, str) and task_definition.startswith("arn:"):
        td_region = task_definition.split(":")[3]
        if td_region != region:
            found.add(
                "TaskDefinition",
                f"the task definition is in {excerpt(td_region)}, but this provider's function "
                f"runs in {region}, and ECS reads and registers task definitions of its own "
                "region only (give a task definition of this region)",
            )
    if props.mesh_region is not None and props.mesh_region != region:
        found.add(
            "MeshArn",
            f"the mesh is in {props.mesh_region}, but this provider's function runs in {region} "
            f"and manages meshes of {region} only (deploy the provider in {props.mesh_region}, "
            "or give a mesh of its region)",
        )
    found.raise_any()


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
    found.run(lambda: rules.check_multiport(app_ports or (), join(path, "AppPorts")), None)
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
    found.run(lambda: rules.check_multiport(ignored_ports, join(path, "EgressIgnoredPorts")), None)
    missing = [a for a in rules.METADATA_ADDRESSES if not _covered(a, ignored_ips)]
    if missing and all(ignored_ips):  # an address that failed to parse is reported already
        found.add(
            join(path, "EgressIgnoredIPs"),
            f"must include {' and '.join(missing)}: the task metadata/credentials endpoint and "
            "the instance metadata service are reached around Envoy (AWS's App Mesh proxy "
            "configuration for ECS: EgressIgnoredIPs 169.254.170.2,169.254.169.254)",
        )
    uid = found.run(
        lambda: as_int(
            item.get("IgnoredUID", defaults.ignored_uid),
            join(path, "IgnoredUID"),
            minimum=0,
            maximum=_MAX_ID,
            what="a user id",
        ),
        defaults.ignored_uid,
    )
    gid = found.run(
        lambda: (
            None
            if item.get("IgnoredGID") is None
            else as_int(
                item["IgnoredGID"],
                join(path, "IgnoredGID"),
                minimum=0,
                maximum=_MAX_ID,
                what="a group id",
            )
        ),
        None,
    )
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
        cpu=found.run(
            lambda: (
                None
                if item.get("Cpu") is None
                else as_int(
                    item["Cpu"], join(path, "Cpu"), minimum=0, maximum=_MAX_CPU, what="CPU units"
                )
            ),
            None,
        ),
        memory_reservation=found.run(
            lambda: as_int(
                item.get("MemoryReservation", defaults.memory_reservation),
                join(path, "MemoryReservation"),
                minimum=6,
                maximum=_MAX_INT,
                what="MiB (>= 6)",
            ),
            defaults.memory_reservation,
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
        memory_reservation=found.run(
            lambda: as_int(
                item.get("MemoryReservation", defaults.memory_reservation),
                "XRay.MemoryReservation",
                minimum=6,
                maximum=_MAX_INT,
                what="MiB (>= 6)",
            ),
            0,
        ),
    )
    found.raise_any()
    return settings


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


__all__ = ["Properties", "PropertyError", "check_mesh_region", "parse_properties"]
