"""The proxied task definition (DESIGN §3), derived from the application's own.

Pure: takes the application's task definition as ``RegisterTaskDefinition`` keyword arguments
and returns the keyword arguments of the proxied revision. Checks that need the base's content
(awsvpc, no proxy yet, the app container) raise :class:`PropertyError` — still before any write.
What every mode reads of the application's task definition, and ECS's registration rules, are
``meshed_crystal.ecs.taskdef``'s.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from typing import Any

from meshed_crystal.ecs.taskdef import app_container, app_ports, check_ecs_rules, derived_family
from meshed_crystal.errors import Collector, PropertyError, excerpt
from meshed_crystal.properties import Properties

from . import rules as mesh_rules
from .properties import appmesh, check_mesh_region

logger = logging.getLogger(__name__)

ENVOY = "envoy"
XRAY = "xray"
# The workshop's stream prefix for the daemon, beside Envoy's /mesh-envoy-container.
XRAY_LOG_STREAM_PREFIX = "/xray-container"
ENVOY_HEALTH_COMMAND = "curl -s http://localhost:9901/server_info | grep state | grep -q LIVE"


def check_base(base: Mapping[str, Any], props: Properties) -> None:
    """The rules of DESIGN §2 that need the application's task definition (App Mesh mode).

    Every mistake is reported at once. Each rule names its source: the AWS page that documents
    it (docs/reference.md, "Rules checked before any write").
    """
    found = Collector()
    mode = base.get("networkMode")
    if not mode:
        found.add(
            "TaskDefinition",
            "has no network mode (NetworkMode is missing); App Mesh on ECS requires awsvpc "
            "(App Mesh User Guide, Getting started with App Mesh and Amazon ECS)",
        )
    elif mode != "awsvpc":
        found.add(
            "TaskDefinition",
            f"network mode is '{excerpt(mode)}'; App Mesh on ECS requires awsvpc "
            "(App Mesh User Guide, Getting started with App Mesh and Amazon ECS)",
        )
    if base.get("proxyConfiguration"):
        found.add(
            "TaskDefinition",
            "already has a proxy configuration; give the "
            "application's task definition without Envoy",
        )
    for container in base.get("containerDefinitions") or []:
        image = str(container.get("image", ""))
        if container.get("name") == ENVOY or "aws-appmesh-envoy" in image:
            found.add(
                "TaskDefinition",
                f"already has an Envoy container "
                f"('{excerpt(container.get('name'))}'); give it without Envoy",
            )
        if appmesh(props).xray.enabled and container.get("name") == XRAY:
            found.add("TaskDefinition", "already has a container named 'xray'; XRay adds its own")
    if not base.get("taskRoleArn"):
        found.add(
            "TaskDefinition",
            "has no task role (TaskRoleArn): Envoy fetches its configuration from App Mesh with "
            "the task role's credentials (appmesh:StreamAggregatedResources), so without one "
            "the tasks never become healthy (App Mesh User Guide, Envoy Proxy authorization)",
        )
    sidecars = (ENVOY, XRAY) if appmesh(props).xray.enabled else (ENVOY,)
    found.run(
        lambda: check_ecs_rules(
            base,
            sidecars=sidecars,
            sidecars_log=_sidecars_log(props, list(base.get("containerDefinitions") or [])),
        ),
        None,
    )
    found.run(lambda: _check_proxy(base, props), None)
    found.raise_any()


def _sidecars_log(props: Properties, containers: list[Mapping[str, Any]]) -> bool:
    """Whether the sidecars get awslogs (see _sidecar_log_configuration)."""
    if appmesh(props).envoy.log_group_name is not None:
        return True
    try:
        app = app_container({"containerDefinitions": containers}, props)
    except PropertyError:
        return False
    return (app.get("logConfiguration") or {}).get("logDriver") == "awslogs"


# --- the proxy's rules (App Mesh mode) --------------------------------------------------------

_PROXY_SOURCE = "Amazon ECS API reference, ProxyConfiguration"


def _check_proxy(base: Mapping[str, Any], props: Properties) -> None:
    found = Collector()
    proxy = appmesh(props).proxy
    mapped = found.run(lambda: app_ports(base, props), ())
    admin_text = dict(appmesh(props).envoy.environment).get("ENVOY_ADMIN_ACCESS_PORT", "")
    admin = int(admin_text) if admin_text.isdigit() else mesh_rules.ENVOY_ADMIN_PORT
    shown = ", ".join(map(str, mapped)) or "none"
    if mapped:
        if proxy.app_ports is not None:
            for i, port in enumerate(proxy.app_ports):
                if port not in mapped:
                    found.add(
                        f"Proxy.AppPorts[{i}]",
                        f"'{port}' is not a port the app container maps (it maps {shown}); "
                        f"AppPorts are the ports the application uses ({_PROXY_SOURCE})",
                    )
        for i, listener in enumerate(props.listeners or ()):
            if listener.port not in mapped:
                found.add(
                    f"Listeners[{i}].Port",
                    f"'{listener.port}' is not a port the app container maps (it maps {shown}); "
                    "Envoy forwards a listener's traffic to the app on that port",
                )
    found.run(lambda: _check_envoy_ports(base, props, admin), None)
    if proxy.app_ports is None and props.listeners is not None:
        # AppPorts defaults to the listener ports: the CNI plugin's limit holds for them too.
        ports = [listener.port for listener in props.listeners]
        found.run(lambda: mesh_rules.check_multiport(ports, "Listeners"), None)
    for key, port in (
        ("ProxyIngressPort", proxy.ingress_port),
        ("ProxyEgressPort", proxy.egress_port),
    ):
        if port == admin:
            found.add(
                f"Proxy.{key}",
                f"'{port}' is Envoy's admin port; choose another (App Mesh User Guide, Envoy "
                "configuration variables, ENVOY_ADMIN_ACCESS_PORT)",
            )
    found.raise_any()


def _check_envoy_ports(base: Mapping[str, Any], props: Properties, admin: int) -> None:
    """No application port is one of Envoy's own (DESIGN §2): in awsvpc every container of the
    task shares Envoy's network namespace, so a container mapping 15000, 15001 or 9901 collides
    with the proxy's ingress, egress or admin listener, and the task never becomes healthy.

    A proxy port the author set (not the default) is reported at ``Proxy``: that is the value
    to change; a default one at the application's side, naming whose port it is.
    """
    found = Collector()
    proxy = appmesh(props).proxy
    envoys = mesh_rules.envoy_ports(proxy.ingress_port, proxy.egress_port, admin)
    set_by_author = {
        port: f"Proxy.{key}"
        for key, port, default in (
            ("ProxyIngressPort", proxy.ingress_port, mesh_rules.PROXY_INGRESS_PORT),
            ("ProxyEgressPort", proxy.egress_port, mesh_rules.PROXY_EGRESS_PORT),
        )
        if port != default
    }
    clashes: set[int] = set()

    def clash(path: str, port: int, what: str) -> None:
        if port in set_by_author:
            clashes.add(port)
            return
        found.add(
            path,
            f"{what} {port}, {envoys[port]}: Envoy binds that port in the task's network "
            f"namespace; use another port ({_PROXY_SOURCE}; App Mesh User Guide, Envoy "
            "configuration variables)",
        )

    for i, container in enumerate(base.get("containerDefinitions") or []):
        for j, mapping in enumerate(container.get("portMappings") or []):
            port = mapping.get("containerPort")
            if isinstance(port, int) and port in envoys:
                where = f"TaskDefinition.containerDefinitions[{i}].portMappings[{j}].containerPort"
                clash(where, port, f"container '{excerpt(container.get('name'), 40)}' maps")
    for i, listener in enumerate(props.listeners or ()):
        if listener.port in envoys:
            clash(f"Listeners[{i}].Port", listener.port, "the listener's port is")
    for i, port in enumerate(proxy.app_ports or ()):
        if port in envoys:
            clash(f"Proxy.AppPorts[{i}]", port, "the application port is")
    for port in sorted(clashes):
        found.add(
            set_by_author[port],
            f"'{port}' is also an application port; the proxy's ports must differ from the "
            f"app's ({_PROXY_SOURCE}: AppPorts traffic is redirected to them)",
        )
    found.raise_any()


# The attribute ECS registers with every task's Cloud Map instance: the task definition's family
# (Amazon ECS Developer Guide, Service discovery; App Mesh's examples filter on it).
FAMILY_ATTRIBUTE = "ECS_TASK_DEFINITION_FAMILY"


def check_family_filter(props: Properties, family: str) -> None:
    """A ``CloudMapAttributes`` family filter must match the family this resource registers its
    revisions in: any other makes the node discover no instance of its own tasks, so clients get
    ``503 no healthy upstream`` after the resource answered SUCCESS (App Mesh mode)."""
    wanted = dict(appmesh(props).cloud_map_attributes).get(FAMILY_ATTRIBUTE)
    if wanted is None or wanted == family:
        return
    raise PropertyError(
        f"CloudMapAttributes.{FAMILY_ATTRIBUTE}",
        f"'{excerpt(wanted)}' is not the family this resource registers its tasks' revisions in "
        f"('{excerpt(family)}'): the virtual node would discover none of the service's tasks "
        "and clients would get '503 no healthy upstream'. Filter on "
        f"'{excerpt(family)}' (the family is `Family`, an inline definition's own Family, or "
        "<application family>-mesh), or remove the filter",
    )


def _proxy_configuration(props: Properties, ports: tuple[int, ...]) -> dict[str, Any]:
    proxy = appmesh(props).proxy
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
    envoy = appmesh(props).envoy
    environment = {
        "APPMESH_RESOURCE_ARN": node_arn,
        "REGION": region,
        "ENVOY_LOG_LEVEL": envoy.log_level,
        **({"ENABLE_ENVOY_STATS_TAGS": "1"} if envoy.stats_tags else {}),
        **({"ENABLE_ENVOY_XRAY_TRACING": "1"} if appmesh(props).xray.enabled else {}),
        **dict(envoy.environment),
    }
    container: dict[str, Any] = {
        "name": ENVOY,
        "image": envoy.image or default_image,
        "essential": True,
        # Envoy's own egress is what IgnoredUID exempts from the proxy's iptables rules: under
        # any other user it is redirected back into Envoy itself.
        "user": str(appmesh(props).proxy.ignored_uid),
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
    log = _sidecar_log_configuration(props, app, region, appmesh(props).envoy.log_stream_prefix)
    if log is not None:
        container["logConfiguration"] = log
    if appmesh(props).xray.enabled:
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
    group = appmesh(props).envoy.log_group_name
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
        "image": appmesh(props).xray.image,
        "essential": True,
        # As Envoy's: the daemon's calls to the X-Ray API bypass the proxy.
        "user": str(appmesh(props).proxy.ignored_uid),
        "memoryReservation": appmesh(props).xray.memory_reservation,
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
    found = Collector()
    found.run(lambda: check_base(base, props), None)
    found.run(lambda: check_family_filter(props, family), None)
    found.raise_any()
    app = app_container(base, props)
    warn_unless_appmesh_envoy(appmesh(props).envoy.image or default_image)
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
    if appmesh(props).xray.enabled:
        containers.append(_xray_container(props, app, region))
    request["containerDefinitions"] = containers
    if tags:
        request["tags"] = tags
    else:
        request.pop("tags", None)
    return request


# AWS's Envoy image for App Mesh: public.ecr.aws/appmesh/aws-appmesh-envoy, or the regional ECR
# repositories .../aws-appmesh-envoy (App Mesh User Guide, Envoy image).
_APPMESH_ENVOY_REPOSITORY = re.compile(r"(^|/)aws-appmesh-envoy(:|@|$)")


def warn_unless_appmesh_envoy(image: str) -> bool:
    """Log a warning when the Envoy image is not App Mesh's; True when it is.

    Not refused: a copy in a private registry is a legitimate choice, but an upstream Envoy
    lacks App Mesh's bootstrap (APPMESH_RESOURCE_ARN) and never becomes healthy.
    """
    if _APPMESH_ENVOY_REPOSITORY.search(image):
        return True
    logger.warning(
        "the Envoy image is not AWS's App Mesh Envoy image (aws-appmesh-envoy); an upstream "
        "Envoy does not read APPMESH_RESOURCE_ARN and never becomes healthy",
        extra={"image": excerpt(image, 120)},
    )
    return False


def listener_ports(base: Mapping[str, Any], props: Properties) -> tuple[int, ...]:
    """The ports the node listens on: the Listeners, or the app container's ports."""
    if props.listeners is not None:
        return tuple(listener.port for listener in props.listeners)
    ports = app_ports(base, props)
    if not ports:
        raise PropertyError("Listeners", "required: the app container maps no port")
    return ports


def proxied_family(props: Properties, base_family: str, inline: bool) -> str:
    """``<application family>-mesh`` by default (see ``derived_family``)."""
    return derived_family(props, base_family, inline, suffix="-mesh")
