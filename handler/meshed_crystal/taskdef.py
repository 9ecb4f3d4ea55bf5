"""The proxied task definition (DESIGN §3), derived from the application's own.

Pure: takes the application's task definition as ``RegisterTaskDefinition`` keyword arguments
and returns the keyword arguments of the proxied revision. Checks that need the base's content
(awsvpc, no proxy yet, the app container) raise :class:`PropertyError` — still before any write.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .errors import PropertyError
from .properties import Properties, check_mesh_region

ENVOY = "envoy"
XRAY = "xray"
MAX_CONTAINERS = 10
# The workshop's stream prefix for the daemon, beside Envoy's /mesh-envoy-container.
XRAY_LOG_STREAM_PREFIX = "/xray-container"
ENVOY_HEALTH_COMMAND = "curl -s http://localhost:9901/server_info | grep state | grep -q LIVE"


def app_container(base: Mapping[str, Any], props: Properties) -> Mapping[str, Any]:
    """The container whose traffic Envoy proxies: named, or the one container that maps a port."""
    containers: list[Mapping[str, Any]] = list(base.get("containerDefinitions") or [])
    if props.app_container_name is not None:
        for container in containers:
            if container.get("name") == props.app_container_name:
                break
        else:
            names = ", ".join(str(c.get("name")) for c in containers) or "none"
            raise PropertyError(
                "AppContainerName",
                f"'{props.app_container_name}' is not a "
                f"container of the task definition (containers: {names})",
            )
    else:
        with_ports = [c for c in containers if c.get("portMappings")]
        if len(with_ports) != 1:
            raise PropertyError(
                "AppContainerName",
                "required: the task definition has "
                f"{len(with_ports)} containers that map a port, not exactly one",
            )
        container = with_ports[0]
    if container.get("essential", True) is False:
        raise PropertyError(
            "AppContainerName",
            f"container '{container.get('name')}' is not "
            "essential; Envoy must proxy an essential container",
        )
    return container


def app_ports(base: Mapping[str, Any], props: Properties) -> tuple[int, ...]:
    container = app_container(base, props)
    return tuple(
        int(m["containerPort"])
        for m in container.get("portMappings") or []
        if m.get("containerPort") is not None
    )


def check_base(base: Mapping[str, Any], props: Properties) -> None:
    """The rules of DESIGN §2 that need the application's task definition."""
    mode = base.get("networkMode")
    if mode != "awsvpc":
        raise PropertyError(
            "TaskDefinition",
            f"network mode is '{mode or 'bridge'}'; App Mesh on ECS requires awsvpc",
        )
    if base.get("proxyConfiguration"):
        raise PropertyError(
            "TaskDefinition",
            "already has a proxy configuration; give the "
            "application's task definition without Envoy",
        )
    for container in base.get("containerDefinitions") or []:
        image = str(container.get("image", ""))
        if container.get("name") == ENVOY or "aws-appmesh-envoy" in image:
            raise PropertyError(
                "TaskDefinition",
                f"already has an Envoy container "
                f"('{container.get('name')}'); give it without Envoy",
            )
        if props.xray.enabled and container.get("name") == XRAY:
            raise PropertyError(
                "TaskDefinition", "already has a container named 'xray'; XRay adds its own"
            )
    sidecars = 1 + (1 if props.xray.enabled else 0)
    count = len(base.get("containerDefinitions") or [])
    if count + sidecars > MAX_CONTAINERS:
        raise PropertyError(
            "TaskDefinition",
            f"has {count} containers; with the {sidecars} "
            f"sidecar(s) that is more than ECS's {MAX_CONTAINERS}",
        )
    app_container(base, props)


def proxied_family(
    props: Properties, base_family: str, inline: bool, *, suffix: str = "-mesh"
) -> str:
    """Never the application's own family, so its latest revision never carries Envoy."""
    if props.family is not None:
        family = props.family
    elif inline:
        return base_family
    else:
        family = f"{base_family}{suffix}"
    if not inline and family == base_family:
        raise PropertyError(
            "Family",
            f"'{family}' is the application's own family; the "
            "proxied revisions need a family of their own",
        )
    return family


def _proxy_configuration(props: Properties, ports: tuple[int, ...]) -> dict[str, Any]:
    proxy = props.proxy
    values: list[tuple[str, str]] = [
        ("IgnoredUID", str(proxy.ignored_uid)),
        ("ProxyIngressPort", str(proxy.ingress_port)),
        ("ProxyEgressPort", str(proxy.egress_port)),
        ("AppPorts", ",".join(str(p) for p in proxy.app_ports or ports)),
        ("EgressIgnoredIPs", ",".join(proxy.egress_ignored_ips)),
    ]
    if proxy.egress_ignored_ports:
        values.append(("EgressIgnoredPorts", ",".join(str(p) for p in proxy.egress_ignored_ports)))
    if proxy.ignored_gid is not None:
        values.append(("IgnoredGID", str(proxy.ignored_gid)))
    return {
        "type": "APPMESH",
        "containerName": ENVOY,
        "properties": [{"name": k, "value": v} for k, v in values if v],
    }


def _envoy_container(
    props: Properties, app: Mapping[str, Any], node_arn: str, region: str, default_image: str
) -> dict[str, Any]:
    envoy = props.envoy
    environment = {
        "APPMESH_RESOURCE_ARN": node_arn,
        "REGION": region,
        "ENVOY_LOG_LEVEL": envoy.log_level,
        **({"ENABLE_ENVOY_STATS_TAGS": "1"} if envoy.stats_tags else {}),
        **({"ENABLE_ENVOY_XRAY_TRACING": "1"} if props.xray.enabled else {}),
        **dict(envoy.environment),
    }
    container: dict[str, Any] = {
        "name": ENVOY,
        "image": envoy.image or default_image,
        "essential": True,
        # Envoy's own egress is what IgnoredUID exempts from the proxy's iptables rules: under
        # any other user it is redirected back into Envoy itself.
        "user": str(props.proxy.ignored_uid),
        "memoryReservation": envoy.memory_reservation,
        "ulimits": [{"name": "nofile", "softLimit": 15000, "hardLimit": 15000}],
        "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        # AWS's documented timing; the workshop's timeout (10) exceeded its interval (5).
        "healthCheck": {
            "command": ["CMD-SHELL", ENVOY_HEALTH_COMMAND],
            "interval": 5,
            "timeout": 2,
            "retries": 3,
            "startPeriod": 10,
        },
    }
    if envoy.cpu is not None:
        container["cpu"] = envoy.cpu
    log = _sidecar_log_configuration(props, app, region, props.envoy.log_stream_prefix)
    if log is not None:
        container["logConfiguration"] = log
    if props.xray.enabled:
        container["dependsOn"] = [{"containerName": XRAY, "condition": "START"}]
    return container


def _sidecar_log_configuration(
    props: Properties, app: Mapping[str, Any], region: str, stream_prefix: str
) -> dict[str, Any] | None:
    """awslogs into the app container's log group (or Envoy.LogGroupName), for Envoy and X-Ray.

    Without either there is no log group the resource may assume exists, so the sidecars then
    keep ECS's default (no log driver) rather than failing the task at start.
    """
    app_log = app.get("logConfiguration") or {}
    app_awslogs = app_log.get("logDriver") == "awslogs"
    app_options: Mapping[str, str] = app_log.get("options") or {}
    group = props.envoy.log_group_name
    if group is None and app_awslogs:
        group = app_options.get("awslogs-group")
    if group is None:
        return None
    options = {
        "awslogs-group": group,
        "awslogs-region": app_options.get("awslogs-region", region),
        "awslogs-stream-prefix": stream_prefix,
    }
    # The app's own option says the group may not exist yet (and that the execution role may
    # create it): without it, the sidecar fails to start where the app would not.
    if app_awslogs and app_options.get("awslogs-create-group") is not None:
        options["awslogs-create-group"] = app_options["awslogs-create-group"]
    return {"logDriver": "awslogs", "options": options}


def _xray_container(props: Properties, app: Mapping[str, Any], region: str) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": XRAY,
        "image": props.xray.image,
        "essential": True,
        # As Envoy's: the daemon's calls to the X-Ray API bypass the proxy.
        "user": str(props.proxy.ignored_uid),
        "memoryReservation": props.xray.memory_reservation,
        "portMappings": [{"containerPort": 2000, "protocol": "udp"}],
    }
    log = _sidecar_log_configuration(props, app, region, XRAY_LOG_STREAM_PREFIX)
    if log is not None:
        container["logConfiguration"] = log
    return container


def derive(
    base: Mapping[str, Any],
    props: Properties,
    *,
    family: str,
    node_arn: str,
    region: str,
    default_image: str,
    tags: list[dict[str, str]],
) -> dict[str, Any]:
    """RegisterTaskDefinition keyword arguments of the proxied revision."""
    # ``region`` is the function's, the one Envoy is given: a mesh of another region is refused
    # here too, before any write, should the caller not have checked it already.
    check_mesh_region(props, region)
    check_base(base, props)
    app = app_container(base, props)
    request = copy.deepcopy(dict(base))
    request["family"] = family
    request["proxyConfiguration"] = _proxy_configuration(props, listener_ports(base, props))
    containers: list[dict[str, Any]] = []
    # Every application container, not only the proxied one: with the proxy's iptables rules
    # no container of the task has network before Envoy is up. Their own dependencies are kept.
    for container in request.get("containerDefinitions") or []:
        depends = [d for d in container.get("dependsOn") or [] if d.get("containerName") != ENVOY]
        container["dependsOn"] = [*depends, {"containerName": ENVOY, "condition": "HEALTHY"}]
        containers.append(container)
    containers.append(_envoy_container(props, app, node_arn, region, default_image))
    if props.xray.enabled:
        containers.append(_xray_container(props, app, region))
    request["containerDefinitions"] = containers
    if tags:
        request["tags"] = tags
    else:
        request.pop("tags", None)
    return request


def listener_ports(base: Mapping[str, Any], props: Properties) -> tuple[int, ...]:
    """The ports the node listens on: the Listeners, or the app container's ports."""
    if props.listeners is not None:
        return tuple(listener.port for listener in props.listeners)
    ports = app_ports(base, props)
    if not ports:
        raise PropertyError("Listeners", "required: the app container maps no port")
    return ports
