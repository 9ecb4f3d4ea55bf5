"""The proxied task definition (DESIGN §3), derived from the application's own.

Pure: takes the application's task definition as ``RegisterTaskDefinition`` keyword arguments
and returns the keyword arguments of the proxied revision. Checks that need the base's content
(awsvpc, no proxy yet, the app container) raise :class:`PropertyError` — still before any write.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from functools import partial
from typing import Any

from . import rules
from .errors import Collector, PropertyError, excerpt
from .properties import Properties, check_mesh_region
from .scalars import join

logger = logging.getLogger(__name__)

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
        if props.xray.enabled and container.get("name") == XRAY:
            found.add("TaskDefinition", "already has a container named 'xray'; XRay adds its own")
    if not base.get("taskRoleArn"):
        found.add(
            "TaskDefinition",
            "has no task role (TaskRoleArn): Envoy fetches its configuration from App Mesh with "
            "the task role's credentials (appmesh:StreamAggregatedResources), so without one "
            "the tasks never become healthy (App Mesh User Guide, Envoy Proxy authorization)",
        )
    sidecars = (ENVOY, XRAY) if props.xray.enabled else (ENVOY,)
    found.run(lambda: check_ecs_rules(base, sidecars=sidecars, props=props), None)
    found.run(lambda: _check_proxy(base, props), None)
    found.raise_any()


# --- rules ECS enforces at RegisterTaskDefinition (both modes) --------------------------------

# Fargate's task sizes: cpu units -> the memory (MiB) each takes ("Task CPU and memory", Amazon
# ECS Developer Guide; the same table is in RegisterTaskDefinition's `memory` documentation).
FARGATE_SIZES: dict[int, frozenset[int]] = {
    256: frozenset({512, 1024, 2048}),
    512: frozenset(range(1024, 4097, 1024)),
    1024: frozenset(range(2048, 8193, 1024)),
    2048: frozenset(range(4096, 16385, 1024)),
    4096: frozenset(range(8192, 30721, 1024)),
    8192: frozenset(range(16384, 61441, 4096)),
    16384: frozenset(range(32768, 122881, 8192)),
}
# Where the awslogs driver needs the task execution role ("Amazon ECS task execution IAM role":
# tasks on Fargate or external instances that send logs with awslogs).
_EXECUTION_ROLE_FOR_AWSLOGS = frozenset({"FARGATE", "EXTERNAL"})
_VCPU = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*vcpu\s*$", re.IGNORECASE)
_GB = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*gb\s*$", re.IGNORECASE)
_UNITS = re.compile(r"^\s*[0-9]{1,9}\s*$")


def task_cpu_units(value: Any) -> int | None:
    """A task-level ``cpu`` as ECS reads it: CPU units, or "<n> vCPU"; None if neither."""
    text = str(value)
    if _UNITS.match(text):
        return int(text)
    match = _VCPU.match(text)
    return round(float(match[1]) * 1024) if match else None


def task_memory_mib(value: Any) -> int | None:
    """A task-level ``memory`` as ECS reads it: MiB, or "<n> GB"; None if neither."""
    text = str(value)
    if _UNITS.match(text):
        return int(text)
    match = _GB.match(text)
    return round(float(match[1]) * 1024) if match else None


def check_ecs_rules(
    base: Mapping[str, Any],
    *,
    sidecars: tuple[str, ...] = (),
    props: Properties | None = None,
) -> None:
    """What ECS refuses at RegisterTaskDefinition, checked on the revision this resource derives.

    ``sidecars`` are the names of the containers the resource adds; ``props`` says whether they
    log with awslogs. Pure, for both modes: Service Connect mode should call it too.
    """
    found = Collector()
    containers: list[Mapping[str, Any]] = list(base.get("containerDefinitions") or [])
    names = [str(c.get("name", "")) for c in containers]
    where = "TaskDefinition"
    for i, name in enumerate(names):
        if not rules.CONTAINER_NAME.match(name):
            found.run(
                partial(
                    rules.check_container_name, name, join(where, f"containerDefinitions[{i}].name")
                ),
                None,
            )
        elif name in names[:i]:
            found.add(
                join(where, f"containerDefinitions[{i}].name"),
                f"'{excerpt(name)}' names two containers (ECS refuses duplicate container names)",
            )
        image = str(containers[i].get("image", ""))
        found.run(
            partial(rules.check_image, image, join(where, f"containerDefinitions[{i}].image")), None
        )
    count = len(containers) + len(sidecars)
    if count > MAX_CONTAINERS:
        found.add(
            where,
            f"has {len(containers)} containers; with the {len(sidecars)} "
            f"sidecar(s) that is more than ECS's {MAX_CONTAINERS} per task definition "
            "(Amazon ECS service quotas)",
        )
    compatibilities = {str(c) for c in base.get("requiresCompatibilities") or []}
    if "FARGATE" in compatibilities:
        found.run(lambda: _check_fargate_size(base), None)
        if base.get("networkMode") not in (None, "awsvpc"):
            found.add(
                where,
                f"requires FARGATE with network mode '{excerpt(base.get('networkMode'))}'; "
                "Fargate supports awsvpc only (Amazon ECS Developer Guide, Fargate task "
                "networking)",
            )
    if compatibilities & _EXECUTION_ROLE_FOR_AWSLOGS and not base.get("executionRoleArn"):
        logging_awslogs = [
            name
            for name, c in zip(names, containers, strict=True)
            if (c.get("logConfiguration") or {}).get("logDriver") == "awslogs"
        ]
        if props is not None and sidecars and _sidecars_log(props, containers):
            logging_awslogs += list(sidecars)
        if logging_awslogs:
            found.add(
                where,
                "has no execution role (ExecutionRoleArn), which the awslogs log driver needs "
                f"on {'/'.join(sorted(compatibilities & _EXECUTION_ROLE_FOR_AWSLOGS))} "
                f"(containers {', '.join(excerpt(n, 40) for n in logging_awslogs[:5])}; "
                "Amazon ECS Developer Guide, Amazon ECS task execution IAM role)",
            )
    found.raise_any()


def _sidecars_log(props: Properties, containers: list[Mapping[str, Any]]) -> bool:
    """Whether the sidecars get awslogs (see _sidecar_log_configuration)."""
    if props.envoy.log_group_name is not None:
        return True
    try:
        app = app_container({"containerDefinitions": containers}, props)
    except PropertyError:
        return False
    return (app.get("logConfiguration") or {}).get("logDriver") == "awslogs"


def _check_fargate_size(base: Mapping[str, Any]) -> None:
    source = "Amazon ECS Developer Guide, Task CPU and memory"
    cpu_value, memory_value = base.get("cpu"), base.get("memory")
    if cpu_value is None or memory_value is None:
        missing = " and ".join(
            name for name, v in (("Cpu", cpu_value), ("Memory", memory_value)) if v is None
        )
        raise PropertyError(
            "TaskDefinition",
            f"requires FARGATE but has no task-level {missing}; Fargate requires both ({source})",
        )
    cpu, memory = task_cpu_units(cpu_value), task_memory_mib(memory_value)
    if cpu not in FARGATE_SIZES:
        raise PropertyError(
            "TaskDefinition.Cpu",
            f"'{excerpt(cpu_value)}' is not a Fargate task size (CPU units "
            f"{', '.join(map(str, FARGATE_SIZES))}; {source})",
        )
    if memory not in FARGATE_SIZES[cpu]:
        allowed = sorted(FARGATE_SIZES[cpu])
        raise PropertyError(
            "TaskDefinition.Memory",
            f"'{excerpt(memory_value)}' MiB is not a memory size Fargate offers with {cpu} CPU "
            f"units ({allowed[0]}-{allowed[-1]}: {', '.join(map(str, allowed[:4]))}"
            f"{', …' if len(allowed) > 4 else ''}; {source})",
        )


# --- the proxy's rules (App Mesh mode) --------------------------------------------------------

_PROXY_SOURCE = "Amazon ECS API reference, ProxyConfiguration"


def _check_proxy(base: Mapping[str, Any], props: Properties) -> None:
    found = Collector()
    proxy = props.proxy
    mapped = found.run(lambda: app_ports(base, props), ())
    admin_text = dict(props.envoy.environment).get("ENVOY_ADMIN_ACCESS_PORT", "")
    admin = int(admin_text) if admin_text.isdigit() else rules.ENVOY_ADMIN_PORT
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
        found.run(lambda: rules.check_multiport(ports, "Listeners"), None)
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
    proxy = props.proxy
    envoys = rules.envoy_ports(proxy.ingress_port, proxy.egress_port, admin)
    set_by_author = {
        port: f"Proxy.{key}"
        for key, port, default in (
            ("ProxyIngressPort", proxy.ingress_port, rules.PROXY_INGRESS_PORT),
            ("ProxyEgressPort", proxy.egress_port, rules.PROXY_EGRESS_PORT),
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
    wanted = dict(props.cloud_map_attributes).get(FAMILY_ATTRIBUTE)
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
    found = Collector()
    found.run(lambda: check_base(base, props), None)
    found.run(lambda: check_family_filter(props, family), None)
    found.raise_any()
    app = app_container(base, props)
    warn_unless_appmesh_envoy(props.envoy.image or default_image)
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
