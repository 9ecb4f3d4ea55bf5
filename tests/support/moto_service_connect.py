"""ECS Service Connect for the local emulator: moto's ECS, extended toward the real API.

moto 5.2 stores an ECS service but drops its ``serviceConnectConfiguration``. With
:func:`install`, ``CreateService`` and ``UpdateService`` take it as ECS does (DESIGN §8):

* they validate it, before anything is written, with ECS's error codes
  (``InvalidParameterException``, ``NamespaceNotFoundException``; messages are
  approximations, each marked where it is a guess);
* they create the Cloud Map service ECS creates for each ``services[]`` entry, in the
  namespace and named by its ``discoveryName``, marked the way ECS marks it (the tag
  ``AmazonECSManaged=true``), API-only (Cloud Map type ``HTTP``, no DNS records);
* the service's deployment carries ``serviceConnectConfiguration`` (namespace resolved to its
  ARN) and ``serviceConnectResources`` (discovery name and Cloud Map service ARN), which is where
  ``DescribeServices`` returns them: the ``Service`` shape itself has no such member.

The rules and their sources (botocore's ECS model, ``service-2.json``, is the reference for
shapes; its documentation strings are quoted as "model"):

1. ``namespace``: a name or an ARN of a Cloud Map namespace of this account and Region (model:
   "The namespace name or full Amazon Resource Name (ARN) of the Cloud Map namespace"; "The type of
   namespace doesn't affect Service Connect"); omitted, the cluster's ``serviceConnectDefaults``
   namespace. Unknown: ``NamespaceNotFoundException`` (an error CreateService/UpdateService list in
   the model: "The specified namespace wasn't found.").
2. ``services[].portName`` names a port mapping of the service's task definition (model:
   "must match the name of one of the portMappings from all the containers in the task
   definition").
3. ``discoveryName`` (default: the portName) - up to 64 of ``a-z 0-9 _ -``, not starting with
   ``-`` - is "the name of the new Cloud Map service that Amazon ECS creates ... This must be
   unique within the Cloud Map namespace" (model). A Cloud Map service of that name that Service
   Connect did not create (e.g. the App Mesh era's ``ecsdemo-crystal``, registered by
   ``serviceRegistries``) is refused; one Service Connect created is reused when its owner is this
   ECS service or no longer active, refused while another active ECS service owns it (a guess:
   the docs only say "unique").
4. ``clientAliases``: at most 1 (model: "The maximum number of client aliases that you can have in
   this list is 1"); ``port`` 1-65535; ``dnsName`` (default ``discoveryName.namespace``) up to 127
   of ``a-z 0-9 _ - .``, not starting with ``-``; "Each name and port mapping must be unique within
   the namespace" (model) - across the active ECS services in that namespace.
5. Deployment controller: only ``ECS`` services take ``serviceConnectConfiguration``, and
   ``UpdateService`` changes ``serviceRegistries``/``serviceConnectConfiguration`` only for them
   (model, UpdateService: for ``CODE_DEPLOY`` and ``EXTERNAL`` only the desired count, deployment
   configuration, health check grace period, placement, managed tags and propagate tags can be
   updated).
6. ``serviceRegistries`` and ``serviceConnectConfiguration`` on one service: accepted, in
   ``CreateService`` and in place with ``UpdateService`` (adding Service Connect, removing the
   registries with ``[]``, or both at once). The model says both are UpdateService parameters
   ("This parameter triggers a new service deployment"; "You can remove existing
   serviceRegistries by passing an empty list") and lists no exclusion; users report running both
   (github.com/aws/containers-roadmap/issues/2374). What refuses a straight in-place switch of the
   workshop's service is rule 3 when the discovery name is ``ecsdemo-crystal``. AWS's migration
   blog ("An Amazon ECS Service can't simultaneously be part of both an App Mesh Mesh and a Service
   Connect Namespace") is about the App Mesh *data plane* (the task definition's Envoy and APPMESH
   proxy configuration), which the ECS API does not know as "a mesh". Since one report
   (github.com/aws/aws-cdk/issues/26524) reads as ECS refusing both at once,
   :func:`strict_coexistence` switches the emulator to that stricter reading, so a migration
   order can be proven under both.

``UpdateService`` with any of ``serviceConnectConfiguration``, ``serviceRegistries`` or
``taskDefinition`` starts a new deployment (moto keeps one deployment: it is replaced, not
drained). A new task definition is checked against the service's stored configuration.

Cloud Map's ``ListServices`` honours its ``NAMESPACE_ID`` filter, as the real API does (moto
5.2 ignores every filter): a discovery name is looked up in its namespace only.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.core.utils import camelcase_to_underscores, utcnow
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend, Service, TaskDefinition
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.moto_api._internal import mock_random
from moto.servicediscovery.models import (
    Namespace,
    ServiceDiscoveryBackend,
    servicediscovery_backends,
)
from moto.servicediscovery.models import Service as CloudMapService
from moto.servicediscovery.responses import ServiceDiscoveryResponse
from moto.utilities.utils import get_partition

__all__ = [
    "MANAGED_TAG_KEY",
    "MANAGED_TAG_VALUE",
    "NamespaceNotFoundException",
    "install",
    "is_service_connect_managed",
    "strict_coexistence",
]

JsonDict = dict[str, Any]

# The tag ECS puts on the Cloud Map services Service Connect creates (reported in
# github.com/aws/containers-roadmap/issues/2560: 'it adds the label "AmazonECSManaged=true"').
MANAGED_TAG_KEY: Final = "AmazonECSManaged"
MANAGED_TAG_VALUE: Final = "true"
# Where the emulator records which ECS service a Service Connect Cloud Map service belongs to.
_OWNER_ATTR: Final = "service_connect_owner_arn"
# Where the emulator keeps an ECS service's resolved configuration and resources.
_CONFIG_ATTR: Final = "service_connect_configuration"
_RESOURCES_ATTR: Final = "service_connect_resources"
_ALIASES_ATTR: Final = "service_connect_aliases"

_DISCOVERY_NAME = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,63}$")
_DNS_NAME = re.compile(r"^[a-z0-9_.][a-z0-9_.-]{0,126}$")
MAX_CLIENT_ALIASES: Final = 1
MAX_PORT: Final = 65535
_NONE: Final[Any] = None  # moto's signatures say dict where the model's member is optional


class NamespaceNotFoundException(ServiceException):
    """ECS's 400 for a namespace it cannot find (model: "The specified namespace wasn't found.")."""

    code = "NamespaceNotFoundException"
    message = "The specified namespace wasn't found."


# --------------------------------------------------------------------------- state


_strict = threading.local()


@contextlib.contextmanager
def strict_coexistence() -> Iterator[None]:
    """While active (this thread), refuse ``serviceRegistries`` together with Service Connect.

    The stricter reading of what ECS accepts (see the module docstring, rule 6). Server-mode
    requests are answered on other threads and keep the default, permissive behaviour.
    """
    previous = getattr(_strict, "on", False)
    _strict.on = True
    try:
        yield
    finally:
        _strict.on = previous


def _strict_on() -> bool:
    return bool(getattr(_strict, "on", False))


def is_service_connect_managed(backend: ServiceDiscoveryBackend, service: CloudMapService) -> bool:
    """Whether Service Connect created this Cloud Map service (it carries ECS's managed tag)."""
    tags = backend.tagger.get_tag_dict_for_resource(service.arn)
    return tags.get(MANAGED_TAG_KEY) == MANAGED_TAG_VALUE


# --------------------------------------------------------------------------- planning


@dataclass
class _Endpoint:
    """One ``services[]`` entry, validated, with what it needs in Cloud Map."""

    raw: JsonDict
    discovery_name: str
    aliases: list[tuple[str, int]]
    reuse: CloudMapService | None


@dataclass
class _Plan:
    """A validated configuration: what is stored and what Cloud Map gets."""

    config: JsonDict
    namespace: Namespace | None = None
    endpoints: list[_Endpoint] = field(default_factory=list)


def _sd_backend(ecs: EC2ContainerServiceBackend) -> ServiceDiscoveryBackend:
    return servicediscovery_backends[ecs.account_id][ecs.region_name]


def _resolve_namespace(sd: ServiceDiscoveryBackend, name_or_arn: str) -> Namespace:
    if name_or_arn.startswith("arn:"):
        namespace = sd.namespaces.get(name_or_arn.rsplit("/", 1)[-1])
        if namespace is not None and namespace.arn == name_or_arn:
            return namespace
        raise NamespaceNotFoundException()
    for namespace in sd.namespaces.values():
        http = namespace.http_properties
        http_name = http.get("HttpName") if isinstance(http, Mapping) else None
        if name_or_arn in (namespace.name, http_name):
            return namespace
    raise NamespaceNotFoundException()


def _port_names(task_definition: TaskDefinition) -> set[str]:
    names: set[str] = set()
    for container in task_definition.container_definitions:
        mappings: list[Mapping[str, Any]] = list(container.get("portMappings") or [])  # type: ignore[call-overload]
        names.update(str(mapping["name"]) for mapping in mappings if mapping.get("name"))
    return names


def _active_owner(ecs: EC2ContainerServiceBackend, arn: str) -> Service | None:
    for service in ecs.services.values():
        if service.arn == arn and service.status == "ACTIVE":
            return service
    return None


def _plan(
    ecs: EC2ContainerServiceBackend,
    config: Mapping[str, Any],
    *,
    service_arn: str,
    cluster_defaults: Mapping[str, Any] | None,
    task_definition: TaskDefinition | None,
    deployment_controller: str,
) -> _Plan:
    """Validate ``config`` for the ECS service ``service_arn``; nothing is written."""
    if deployment_controller != "ECS":
        # Message: a guess.
        raise InvalidParameterException(
            "Service Connect is only supported for services that use the ECS deployment "
            f"controller; this service uses {deployment_controller}."
        )
    stored: JsonDict = dict(config)
    if not config.get("enabled"):
        return _Plan(config=stored)

    namespace_ref = config.get("namespace") or (cluster_defaults or {}).get("namespace")
    if not namespace_ref:
        # Message: a guess.
        raise InvalidParameterException(
            "Service Connect requires a namespace: specify serviceConnectConfiguration.namespace "
            "or set serviceConnectDefaults on the cluster."
        )
    sd = _sd_backend(ecs)
    namespace = _resolve_namespace(sd, str(namespace_ref))
    stored["namespace"] = namespace.arn  # DescribeServices shows the ARN (believed; not verified)
    services = list(config.get("services") or [])
    port_names = _port_names(task_definition) if task_definition is not None else set()
    endpoints: list[_Endpoint] = []
    seen_discovery: set[str] = set()
    for entry in services:
        endpoints.append(
            _plan_endpoint(ecs, sd, namespace, entry, service_arn, port_names, seen_discovery)
        )
    _check_alias_uniqueness(ecs, namespace, endpoints, service_arn)
    return _Plan(config=stored, namespace=namespace, endpoints=endpoints)


def _plan_endpoint(
    ecs: EC2ContainerServiceBackend,
    sd: ServiceDiscoveryBackend,
    namespace: Namespace,
    entry: Mapping[str, Any],
    service_arn: str,
    port_names: set[str],
    seen_discovery: set[str],
) -> _Endpoint:
    port_name = str(entry.get("portName") or "")
    if port_name not in port_names:
        # Message: a guess at ECS's wording.
        raise InvalidParameterException(
            f"The portName '{port_name}' in the Service Connect configuration does not match the "
            "name of any port mapping in the task definition."
        )
    discovery_name = str(entry.get("discoveryName") or port_name)
    if not _DISCOVERY_NAME.match(discovery_name):
        # Message: a guess; the rule is the model's.
        raise InvalidParameterException(
            f"Invalid discoveryName '{discovery_name}': up to 64 lowercase letters, numbers, "
            "underscores and hyphens, not starting with a hyphen."
        )
    if discovery_name in seen_discovery:
        # Message: a guess.
        raise InvalidParameterException(
            f"The discoveryName '{discovery_name}' is used more than once in this service."
        )
    seen_discovery.add(discovery_name)
    reuse = _check_discovery_name(ecs, sd, namespace, discovery_name, service_arn)

    aliases_raw = list(entry.get("clientAliases") or [])
    if len(aliases_raw) > MAX_CLIENT_ALIASES:
        # Message: a guess; the limit is the model's.
        raise InvalidParameterException(
            f"Too many clientAliases for portName '{port_name}': at most {MAX_CLIENT_ALIASES}."
        )
    aliases: list[tuple[str, int]] = []
    for alias in aliases_raw:
        port = alias.get("port")
        if not isinstance(port, int) or not 1 <= port <= MAX_PORT:
            # Message: a guess.
            raise InvalidParameterException(
                f"Invalid clientAliases port {port!r}: a port must be between 1 and {MAX_PORT}."
            )
        dns_name = str(alias.get("dnsName") or f"{discovery_name}.{namespace.name}")
        if not _DNS_NAME.match(dns_name):
            # Message: a guess; the rule is the model's.
            raise InvalidParameterException(
                f"Invalid clientAliases dnsName '{dns_name}': up to 127 lowercase letters, "
                "numbers, underscores, hyphens and periods, not starting with a hyphen."
            )
        aliases.append((dns_name, port))
    return _Endpoint(raw=dict(entry), discovery_name=discovery_name, aliases=aliases, reuse=reuse)


def _check_discovery_name(
    ecs: EC2ContainerServiceBackend,
    sd: ServiceDiscoveryBackend,
    namespace: Namespace,
    discovery_name: str,
    service_arn: str,
) -> CloudMapService | None:
    """The Service Connect Cloud Map service to reuse, None to create one; or refuse."""
    for existing in sd.services.values():
        if existing.namespace_id != namespace.id or existing.name != discovery_name:
            continue
        if not is_service_connect_managed(sd, existing):
            # Message: a guess. The rule: the model's "must be unique within the namespace".
            raise InvalidParameterException(
                f"The discoveryName '{discovery_name}' is already used by the Cloud Map service "
                f"{existing.arn} in namespace {namespace.name}, which Service Connect did not "
                "create. Choose a different discoveryName."
            )
        owner = getattr(existing, _OWNER_ATTR, None)
        if owner and owner != service_arn and _active_owner(ecs, owner) is not None:
            # Message: a guess.
            raise InvalidParameterException(
                f"The discoveryName '{discovery_name}' is already used in namespace "
                f"{namespace.name} by the Service Connect service of {owner}."
            )
        return existing
    return None


def _check_alias_uniqueness(
    ecs: EC2ContainerServiceBackend,
    namespace: Namespace,
    endpoints: Sequence[_Endpoint],
    service_arn: str,
) -> None:
    mine = [alias for endpoint in endpoints for alias in endpoint.aliases]
    if len(set(mine)) != len(mine):
        # Message: a guess.
        raise InvalidParameterException("Client aliases must be unique within the namespace.")
    for other in ecs.services.values():
        if other.arn == service_arn or other.status != "ACTIVE":
            continue
        config = getattr(other, _CONFIG_ATTR, None) or {}
        if not config.get("enabled") or config.get("namespace") != namespace.arn:
            continue
        for endpoint in getattr(other, _ALIASES_ATTR, []):
            for alias in endpoint:
                if alias in mine:
                    # Message: a guess. The rule: the model's "Each name and port mapping must be
                    # unique within the namespace".
                    raise InvalidParameterException(
                        f"The client alias {alias[0]}:{alias[1]} is already used in namespace "
                        f"{namespace.name} by {other.arn}."
                    )


def _check_coexistence(config: Mapping[str, Any] | None, registries: Sequence[Any]) -> None:
    if _strict_on() and registries and config and config.get("enabled"):
        # The stricter reading (rule 6); message: a guess.
        raise InvalidParameterException(
            "A service can't use serviceRegistries and a Service Connect configuration at the "
            "same time."
        )


# --------------------------------------------------------------------------- applying


def _apply(ecs: EC2ContainerServiceBackend, service: Service, plan: _Plan) -> None:
    """Create/claim the Cloud Map services and record the configuration on ``service``."""
    resources: list[JsonDict] = []
    if plan.namespace is not None:
        sd = _sd_backend(ecs)
        for endpoint in plan.endpoints:
            cloud_map = endpoint.reuse or sd.create_service(
                name=endpoint.discovery_name,
                namespace_id=plan.namespace.id,
                creator_request_id=f"ecs-service-connect-{mock_random.get_random_hex(8)}",
                description="",
                dns_config=_NONE,  # API-only: no DNS records
                health_check_config=_NONE,
                health_check_custom_config=_NONE,
                tags=[{"Key": MANAGED_TAG_KEY, "Value": MANAGED_TAG_VALUE}],
                service_type="HTTP",
            )
            setattr(cloud_map, _OWNER_ATTR, service.arn)
            resources.append(
                {"discoveryName": endpoint.discovery_name, "discoveryArn": cloud_map.arn}
            )
    setattr(service, _CONFIG_ATTR, plan.config)
    setattr(service, _RESOURCES_ATTR, resources)
    setattr(service, _ALIASES_ATTR, [endpoint.aliases for endpoint in plan.endpoints])


def _new_deployment(service: Service) -> None:
    """Start a new PRIMARY deployment carrying the service's current configuration."""
    if not service.deployments:
        return
    deployment = service.deployments[0]
    now = utcnow()
    deployment["id"] = f"ecs-svc/{mock_random.randint(0, 32**12)}"
    deployment["createdAt"] = now
    deployment["updatedAt"] = now
    deployment["taskDefinition"] = service.task_definition
    _stamp(service)


def _stamp(service: Service) -> None:
    config = getattr(service, _CONFIG_ATTR, None)
    if not service.deployments or config is None:
        return
    service.deployments[0]["serviceConnectConfiguration"] = config
    resources = getattr(service, _RESOURCES_ATTR, None)
    if resources:
        service.deployments[0]["serviceConnectResources"] = resources
    else:
        service.deployments[0].pop("serviceConnectResources", None)


# --------------------------------------------------------------------------- responses

_ORIGINAL_CREATE: Final = EC2ContainerServiceResponse.create_service


def _create_service(self: EC2ContainerServiceResponse) -> ActionResult:
    config = self._get_param("serviceConnectConfiguration")
    registries = self._get_param("serviceRegistries") or []
    if config is None:
        return _ORIGINAL_CREATE(self)
    ecs = self.ecs_backend
    cluster = ecs._get_cluster(self._get_param("cluster", "default"))
    name = str(self._get_param("serviceName"))
    task_definition_ref = self._get_param("taskDefinition")
    task_definition = (
        ecs.describe_task_definition(task_definition_ref) if task_definition_ref else None
    )
    controller = (self._get_param("deploymentController") or {}).get("type", "ECS")
    _check_coexistence(config, registries)
    # The ARN the new service will have (moto's formula, by the account's long-ARN setting).
    service_arn = _future_service_arn(ecs, cluster.name, name)
    plan = _plan(
        ecs,
        config,
        service_arn=service_arn,
        cluster_defaults=cluster.service_connect_defaults,
        task_definition=task_definition,
        deployment_controller=str(controller),
    )
    result = _ORIGINAL_CREATE(self)
    service = ecs._get_service(cluster.name, name)
    _apply(ecs, service, plan)
    _stamp(service)
    return result


def _future_service_arn(ecs: EC2ContainerServiceBackend, cluster_name: str, name: str) -> str:
    prefix = f"arn:{get_partition(ecs.region_name)}:ecs:{ecs.region_name}:{ecs.account_id}:service/"
    if ecs.enable_long_arn_for_name(name="serviceLongArnFormat"):
        return f"{prefix}{cluster_name}/{name}"
    return f"{prefix}{name}"


def _update_service(self: EC2ContainerServiceResponse) -> ActionResult:
    params: JsonDict = dict(self._get_params())
    config = params.pop("serviceConnectConfiguration", None)
    registries = params.get("serviceRegistries")
    ecs = self.ecs_backend
    cluster_ref = str(params.get("cluster", "default"))
    service = ecs._get_service(cluster_ref, str(params["service"]).split("/")[-1])
    controller = str(service.deployment_controller.get("type", "ECS"))
    if controller != "ECS" and (config is not None or registries is not None):
        # Rule 5; message: a guess.
        raise InvalidParameterException(
            f"Unable to update serviceRegistries or serviceConnectConfiguration of a service "
            f"that uses the {controller} deployment controller."
        )
    task_definition_ref = params.get("taskDefinition")
    effective = config if config is not None else getattr(service, _CONFIG_ATTR, None)
    plan: _Plan | None = None
    if effective is not None and (config is not None or task_definition_ref):
        task_definition = ecs.describe_task_definition(
            str(task_definition_ref or service.task_definition)
        )
        cluster = ecs._get_cluster(cluster_ref)
        plan = _plan(
            ecs,
            effective,
            service_arn=service.arn,
            cluster_defaults=cluster.service_connect_defaults,
            task_definition=task_definition,
            deployment_controller=controller,
        )
    _check_coexistence(
        effective, registries if registries is not None else service.service_registries
    )
    props = {camelcase_to_underscores(key): value for key, value in params.items()}
    updated = ecs.update_service(props)
    if plan is not None:
        _apply(ecs, updated, plan)
    if config is not None or registries is not None or task_definition_ref:
        _new_deployment(updated)
    return ActionResult({"service": updated})


_install_lock = threading.Lock()


def _list_services(self: ServiceDiscoveryResponse) -> str:
    """Cloud Map's ListServices with its ``NAMESPACE_ID`` filter (``EQ``, the default, or
    ``IN``; model: "NAMESPACE_ID: If you specify NAMESPACE_ID for Name, you must specify either
    a namespace ID or a namespace ARN"), which moto 5.2 ignores: a lookup of a discovery name in
    one namespace would otherwise find a service of another. Other filters stay ignored."""
    params = json.loads(self.body or "{}")
    services = list(self.servicediscovery_backend.list_services())
    for found in params.get("Filters") or []:
        if found.get("Name") != "NAMESPACE_ID":
            continue
        wanted = {str(v).rsplit("/", 1)[-1] for v in found.get("Values") or []}
        services = [s for s in services if s.namespace_id in wanted]
    return json.dumps({"Services": [s.to_json() for s in services]})


def install() -> None:
    """Serve ECS Service Connect from moto, in-process (``mock_aws``) and in server mode.

    Idempotent. Patches moto's ``EC2ContainerServiceResponse`` (``CreateService`` and
    ``UpdateService``), which every moto path - ``mock_aws`` and ``ThreadedMotoServer`` alike -
    answers ECS requests with; the state lives on moto's own ECS and Cloud Map models, so
    resets clear it.
    """
    with _install_lock:
        EC2ContainerServiceResponse.create_service = _create_service  # type: ignore[method-assign]
        EC2ContainerServiceResponse.update_service = _update_service  # type: ignore[method-assign]
        ServiceDiscoveryResponse.list_services = _list_services  # type: ignore[method-assign]
