"""``Mode: ServiceConnect`` (DESIGN §8): the way off App Mesh.

What this mode reads (the Cloud Map namespace, the discovery name's owner, the base task
definition, this id's revisions), derives (an un-meshed task definition whose served port mapping
is named, with its ``appProtocol``), writes (one revision) and deletes (this id's revisions) lives
here. It never calls App Mesh, and never ``UpdateService``: the ECS service is the template's own,
wired with the attributes this mode returns.

Its revisions are recorded on themselves, in ECS tags: the owner and holder (as in App Mesh mode,
so a Delete finds them from ECS alone), a digest of the content (a redelivered Create or a
rollback reuses the revision) and a sequence number (which is the newest: the lifecycle in
``actions`` keeps the current one and the one it replaced ACTIVE).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any, NamedTuple

from meshed_crystal import parallel, rules
from meshed_crystal.adapters.cloudmap import CloudMap, Namespace
from meshed_crystal.adapters.ecs import Ecs
from meshed_crystal.adapters.tagging import Tagging
from meshed_crystal.ecs import model as ecs_model
from meshed_crystal.ecs import taskdef
from meshed_crystal.errors import PropertyError, excerpt
from meshed_crystal.identity import PREFIX, Revision, tag_value
from meshed_crystal.mode import Chosen, Request, Result, Undo, ecs_tags, read_base, revisions_in_ecs
from meshed_crystal.ports import CloudMapPort, EcsPort, TaggingPort
from meshed_crystal.properties import Properties, check_region, user_properties
from meshed_crystal.registry import Adapters, property_names

from . import SPEC
from .properties import service_connect

logger = logging.getLogger(__name__)

ID_PREFIX = f"{PREFIX}-sc"
TAG_DIGEST = f"{PREFIX}:digest"
TAG_SEQUENCE = f"{PREFIX}:sequence"
# The served port as ECS's Service Connect service reads it: "<port name>/<protocol>/<appProtocol
# or ->". ECS cannot change the last two in place (see check_served_unchanged).
TAG_SERVED = f"{PREFIX}:served"
# Tag ECS puts on the Cloud Map services Service Connect creates (a user report:
# github.com/aws/containers-roadmap/issues/2560; to be confirmed in a real account).
SERVICE_CONNECT_TAG = ("AmazonECSManaged", "true")
APP_PROTOCOLS = {"http": "http", "http2": "http2", "grpc": "grpc", "tcp": None}
_NOT_A_NAME = re.compile(r"[^a-z0-9_-]+")

_ID = re.compile(r"^meshed-crystal-sc:(?P<account>\d{12}):(?P<logical>[^:]+):(?P<stack>[^:]+)$")


class ServiceConnectId(NamedTuple):
    """``meshed-crystal-sc:<account>:<logical id>:<stack uuid>``: every property of this mode
    changes in place, so the id only says whose it is (and a Delete needs nothing else)."""

    account: str
    logical_id: str
    stack: str

    def __str__(self) -> str:
        return f"{ID_PREFIX}:{self.account}:{self.logical_id}:{self.stack}"

    @classmethod
    def parse(cls, text: str | None) -> ServiceConnectId | None:
        match = _ID.match(text or "")
        return None if match is None else cls(match["account"], match["logical"], match["stack"])

    @classmethod
    def of(cls, account: str, stack_id: str, logical_id: str) -> ServiceConnectId:
        return cls(account, logical_id, stack_id.rsplit("/", 1)[-1] or "stack")

    def revision_holder(self) -> str:
        return tag_value(f"service-connect/{self}")


class Wiring(NamedTuple):
    """What the template's ServiceConnectConfiguration needs (the attributes besides the ARN)."""

    served: int  # the app container's port
    port_name: str
    app_protocol: str  # "" for tcp
    discovery_name: str
    dns_name: str
    port: int
    namespace: Namespace


def inert_properties(raw: Mapping[str, Any]) -> list[str]:
    """The other modes' properties given (App Mesh's): validated, and ignored in this mode; and
    each listener's ``HealthCheck`` (an App Mesh listener's: Service Connect has no counterpart,
    the container's own health check is ECS's)."""
    given = user_properties(raw)
    others = [name for name in property_names() if name not in (*SPEC.properties, "Mode")]
    inert = [name for name in others if given.get(name) is not None]
    listeners = given.get("Listeners")
    if isinstance(listeners, list):
        inert += [
            f"Listeners[{i}].HealthCheck"
            for i, listener in enumerate(listeners)
            if isinstance(listener, Mapping) and listener.get("HealthCheck") is not None
        ]
    return inert


def served_port(base: Mapping[str, Any], props: Properties) -> tuple[int, str]:
    """The one port the service serves, and its protocol."""
    listeners = props.listeners or ()
    if len(listeners) > 1:
        raise PropertyError(
            "Listeners",
            f"{len(listeners)} listeners: ServiceConnect mode serves one port "
            "(give one listener, or one ECS service per port)",
        )
    if listeners:
        return listeners[0].port, listeners[0].protocol
    ports = taskdef.app_ports(base, props)
    if len(ports) != 1:
        raise PropertyError(
            "Listeners",
            f"the app container maps {len(ports)} ports: name the served one "
            "(Listeners: [{Port: ...}])",
        )
    return ports[0], "http"


# The sidecars App Mesh mode adds (its ENVOY and XRAY containers), named here so that this mode
# un-meshes a base without App Mesh mode's code.
APPMESH_ENVOY = "envoy"
APPMESH_XRAY = "xray"


def unmeshed(base: Mapping[str, Any]) -> dict[str, Any]:
    """The base without what App Mesh added: the APPMESH proxy configuration, the envoy
    container, this resource's X-Ray sidecar, and every dependsOn on them."""
    result = copy.deepcopy(dict(base))
    proxy = result.get("proxyConfiguration") or {}
    if proxy.get("type", "APPMESH") == "APPMESH":
        result.pop("proxyConfiguration", None)
    removed: set[str] = set()
    kept = []
    for container in result.get("containerDefinitions") or []:
        name, image = str(container.get("name", "")), str(container.get("image", ""))
        if (
            name == APPMESH_ENVOY
            or "aws-appmesh-envoy" in image
            or (name == APPMESH_XRAY and "aws-xray-daemon" in image)
        ):
            removed.add(name)
        else:
            kept.append(container)
    for container in kept:
        depends = [
            d for d in container.get("dependsOn") or [] if d.get("containerName") not in removed
        ]
        if depends:
            container["dependsOn"] = depends
        else:
            container.pop("dependsOn", None)
    result["containerDefinitions"] = kept
    return result


# AWS's recommendation for the Service Connect proxy's share of the task memory.
RECOMMENDED_PROXY_MIB = 64
_MEMORY_SOURCE = "ECS developer guide, 'Service Connect components'"


def check_base(base: Mapping[str, Any]) -> None:
    """§8's rules beyond §2: a task-level memory greater than the containers' hard limits (the
    proxy ECS injects needs headroom), and no ``links`` (Service Connect does not support them)."""
    if not base.get("memory"):
        raise PropertyError(
            "TaskDefinition",
            "has no task-level memory: Service Connect adds a proxy container that needs "
            f"headroom, so the task needs a task-level memory ({_MEMORY_SOURCE})",
        )
    memory = taskdef.task_memory_mib(base["memory"])
    limits = [
        int(c["memory"])
        for c in base.get("containerDefinitions") or []
        if isinstance(c.get("memory"), int)
    ]
    if memory is not None and limits:
        headroom = memory - sum(limits)
        if headroom <= 0:
            raise PropertyError(
                "TaskDefinition",
                f"has a task memory of {memory} MiB, not greater than the containers' hard "
                f"memory limits ({sum(limits)} MiB): ECS requires room for the Service Connect "
                f"proxy it adds ({RECOMMENDED_PROXY_MIB} MiB recommended; {_MEMORY_SOURCE})",
            )
        if headroom < RECOMMENDED_PROXY_MIB:
            logger.warning(
                "the task memory leaves less than the 64 MiB AWS recommends for the Service "
                "Connect proxy beyond the containers' hard memory limits",
                extra={"task_memory_mib": memory, "containers_mib": sum(limits)},
            )
    for container in base.get("containerDefinitions") or []:
        if container.get("links"):
            raise PropertyError(
                "TaskDefinition",
                f"container '{container.get('name')}' has links, which Service Connect does not "
                "support (ECS developer guide, 'Service Connect considerations')",
            )


def default_client_alias(name: str) -> str:
    """The alias clients called through App Mesh, held to ECS's rule before the ECS service is
    (DESIGN §8): lower-cased with a warning when that is all it takes (DNS names are
    case-insensitive), else refused, naming the property that sets it."""
    alias = rules.client_alias_default(name)
    if alias is None:
        raise PropertyError(
            "ServiceConnect.ClientAlias",
            f"required: the default client alias '{excerpt(name)}' (VirtualServiceName, or "
            "<Cloud Map service>.<namespace>) is not a name ECS takes (1-127 lowercase letters, "
            "digits, '_', '-' and '.', not starting with '-'; ECS API reference, "
            "ServiceConnectClientAlias): give ServiceConnect.ClientAlias.DnsName",
        )
    if alias != name:
        logger.warning(
            "the default client alias is lower-cased for Service Connect (ECS takes lowercase "
            "only; DNS names are case-insensitive, so clients keep reaching it)",
            extra={"given": excerpt(name, 127), "alias": alias},
        )
    return alias


def default_name(text: str, path: str) -> str:
    """A name ECS accepts, made from other names (lowercase, '_' and '-')."""
    name = _NOT_A_NAME.sub("-", text.lower()).strip("-")[:64]
    if not name:
        raise PropertyError(path, f"required: no valid default can be made from '{text[:40]}'")
    return name


def derive(
    base: Mapping[str, Any],
    props: Properties,
    *,
    family: str,
    port: int,
    port_name: str,
    app_protocol: str,
    tags: list[dict[str, str]],
) -> dict[str, Any]:
    """The task definition this mode registers: the un-meshed base, its served port named."""
    result = unmeshed(base)
    check_base(result)
    app = taskdef.app_container(result, props)
    mappings = [m for m in app.get("portMappings") or [] if m.get("containerPort") == port]
    if not mappings:
        raise PropertyError(
            "Listeners[0].Port",
            f"{port} is not a port the app container '{app.get('name')}' maps",
        )
    for container in result["containerDefinitions"]:
        if container.get("name") != app.get("name"):
            continue
        for mapping in container.get("portMappings") or []:
            if mapping.get("containerPort") == port:
                mapping["name"] = port_name
                if app_protocol:
                    mapping["appProtocol"] = app_protocol
                else:
                    mapping.pop("appProtocol", None)
    result["family"] = family
    result["tags"] = tags
    # What ECS refuses at RegisterTaskDefinition (Fargate sizes, awslogs without an execution
    # role, name and image limits), before any write.
    taskdef.check_ecs_rules(result)
    return result


def wiring_of(
    props: Properties, base: Mapping[str, Any], namespace: Namespace, service_name: str
) -> Wiring:
    """What the ECS service's ServiceConnectConfiguration needs, decided from the properties,
    the application's task definition and the namespace (pure: ``plan`` calls it too)."""
    unmeshed_base = unmeshed(base)
    port, protocol = served_port(unmeshed_base, props)
    app = taskdef.app_container(unmeshed_base, props)
    settings = service_connect(props)
    port_name = settings.port_name or default_name(
        f"{app.get('name')}-{port}", "ServiceConnect.PortName"
    )
    discovery = settings.discovery_name or default_name(
        f"{service_name}-sc", "ServiceConnect.DiscoveryName"
    )
    dns_name = settings.client_alias_dns_name or default_client_alias(
        props.virtual_service_name or f"{service_name}.{namespace.name}"
    )
    return Wiring(
        served=port,
        port_name=port_name,
        app_protocol=APP_PROTOCOLS[protocol] or "",
        discovery_name=discovery,
        dns_name=dns_name,
        port=settings.client_alias_port or port,
        namespace=namespace,
    )


def served_record(content: Mapping[str, Any], port_name: str) -> str:
    """The served port mapping as recorded on a revision (TAG_SERVED)."""
    for container in content.get("containerDefinitions") or []:
        for mapping in container.get("portMappings") or []:
            if mapping.get("name") == port_name:
                protocol = str(mapping.get("protocol") or "tcp")
                return f"{port_name}/{protocol}/{mapping.get('appProtocol') or '-'}"
    return f"{port_name}/tcp/-"


def check_served_unchanged(current: str | None, new: str) -> None:
    """ECS: "appProtocol is immutable in a Service Connect service. Updating this field requires
    a service deletion and redeployment" (the port mapping's ``protocol`` too). So an in-place
    Update that changes either for the same port name would succeed here and then fail the ECS
    service's update: refused before any write (DESIGN §8). Revisions registered before this tag
    existed carry none, and are not compared."""
    if current is None or current.count("/") != 2:
        return
    name, protocol, app_protocol = current.split("/")
    new_name, new_protocol, new_app_protocol = new.split("/")
    if name != new_name or (protocol, app_protocol) == (new_protocol, new_app_protocol):
        return
    if app_protocol != new_app_protocol:
        path, what = "Listeners[0].Protocol", "appProtocol"
        old, changed = app_protocol, new_app_protocol
    else:
        path, what, old, changed = "TaskDefinition", "port mapping protocol", protocol, new_protocol
    show = {"-": "none (tcp)"}
    raise PropertyError(
        path,
        f"changes the served port's {what} from {show.get(old, old)!r} to "
        f"{show.get(changed, changed)!r}, which ECS cannot apply to a running Service Connect "
        "service ('appProtocol is immutable in a Service Connect service. Updating this field "
        "requires a service deletion and redeployment'; ECS developer guide, Service Connect "
        "configuration). Keep it, or move to a new ECS service: give the AWS::ECS::Service a new "
        "ServiceName (CloudFormation replaces it) or run a second service beside it (blue/green) "
        "with its own Custom::MeshedCrystal",
    )


def sc_family(props: Properties, base_family: str, inline: bool) -> str:
    """``<application family>-sc`` (never the application's own), or ``Family``."""
    return taskdef.derived_family(props, base_family, inline, suffix="-sc")


def held_revisions(found: Mapping[str, Mapping[str, str]]) -> tuple[list[Revision], int]:
    """This id's ACTIVE revisions, newest (highest sequence) first, and the next sequence."""
    held = []
    for arn, tags in found.items():
        sequence = tags.get(TAG_SEQUENCE, "0")
        revision = Revision.of_arn(arn, tags.get(TAG_DIGEST, ""))
        held.append((int(sequence) if sequence.isdigit() else 0, revision))
    held.sort(key=lambda h: (h[0], h[1].number), reverse=True)
    return [revision for _, revision in held], (held[0][0] + 1 if held else 1)


class Found(NamedTuple):
    """What a Create or Update read before deciding (all of it at once, before any write)."""

    namespace: Namespace
    service_name: str  # the Cloud Map service's: the defaults' source
    base: dict[str, Any]  # the application's task definition, a RegisterTaskDefinition request
    revisions: Mapping[str, Mapping[str, str]]  # this id's ACTIVE revisions, with their tags


class Plan(NamedTuple):
    """Everything a Create or Update will make, decided before the first write."""

    id: ServiceConnectId
    task_definition: dict[str, Any]  # with its digest and sequence tags
    digest: str
    held: list[Revision]
    sequence: int  # the order of the revision this request runs (the newest first)
    wiring: Wiring

    @property
    def physical_id(self) -> str:
        return str(self.id)


def build(settings: None, adapters: Adapters) -> ServiceConnectMode:
    """The mode with the provider's adapters (it has no setting of its own)."""
    return ServiceConnectMode(
        ecs=adapters.get("ecs", Ecs),
        cloudmap=adapters.get("cloudmap", CloudMap),
        tagging=adapters.get("tagging", Tagging),
    )


class ServiceConnectMode:
    """Create, Update and Delete of a ServiceConnect-mode resource (adapters injected)."""

    # The answer repeats the client alias three times, and an HTTP namespace's name may be
    # 1024 characters (some of them JSON-escaped).
    shorten = (
        "ServiceConnect.ClientAlias.DnsName, ServiceConnect.DiscoveryName, "
        "ServiceConnect.PortName, the Cloud Map namespace's name or Family"
    )

    def __init__(self, *, ecs: EcsPort, cloudmap: CloudMapPort, tagging: TaggingPort) -> None:
        self.ecs = ecs
        self.cloudmap = cloudmap
        self.tagging = tagging

    def parse_id(self, text: str | None) -> ServiceConnectId | None:
        return ServiceConnectId.parse(text)

    def unchanged(self, request: Request, props: Properties, me: ServiceConnectId) -> Result | None:
        return None  # no cheaper answer: the full path reuses the revision, with no write

    def prepare(self, request: Request, props: Properties) -> Plan:
        # A TaskDefinition ARN of another region is refused; MeshArn is inert in this mode.
        check_region(props, request.region)
        inert = inert_properties(request.properties)
        if inert:
            logger.warning(
                "App Mesh properties are inert in ServiceConnect mode: " + ", ".join(inert),
                extra={"inert": inert},
            )
        me = ServiceConnectId.of(request.account, request.stack_id, request.logical_id)
        # Reads at once: what the decision needs, before any write.
        cloud_map = parallel.start(self._cloud_map, props)
        base = parallel.start(read_base, self.ecs, props)
        revisions = parallel.start(
            revisions_in_ecs, self.tagging, self.ecs, request.owner, me.revision_holder()
        )
        parallel.settle((cloud_map, base, revisions))
        namespace, service_name = cloud_map.result()
        plan = self.plan(
            request, props, Found(namespace, service_name, base.result(), revisions.result())
        )
        self._check_discovery_name(plan.wiring)
        return plan

    @staticmethod
    def plan(request: Request, props: Properties, found: Found) -> Plan:
        """The decision, from what was read: pure (``plan`` calls it with what it was given)."""
        me = ServiceConnectId.of(request.account, request.stack_id, request.logical_id)
        owner = request.owner
        described = found.base
        held, sequence = held_revisions(found.revisions)
        service_name = found.service_name
        wiring = wiring_of(props, described, found.namespace, service_name)
        inline = not isinstance(props.task_definition, str)
        family = sc_family(props, str(described.get("family") or f"{service_name}-sc"), inline)
        base_tags = {t["key"]: t["value"] for t in described.get("tags") or []}
        content = derive(
            described,
            props,
            family=family,
            port=wiring.served,
            port_name=wiring.port_name,
            app_protocol=wiring.app_protocol,
            tags=ecs_tags(base_tags, dict(props.tags), owner.revision_tags(me.revision_holder())),
        )
        digest = ecs_model.digest(content)
        served = served_record(content, wiring.port_name)
        if held and all(revision.digest != digest for revision in held):
            current = found.revisions.get(request.arn(held[0]), {}).get(TAG_SERVED)
            check_served_unchanged(current, served)
        recorded = {TAG_DIGEST: digest, TAG_SEQUENCE: str(sequence), TAG_SERVED: served}
        content["tags"] = [*content["tags"], *ecs_tags(recorded)]
        return Plan(me, content, digest, held, sequence, wiring)

    def claim(self, request: Request, plan: Plan) -> None:
        """Nothing to claim: the id's revisions carry its owner, and the discovery name was
        checked with the reads."""

    def write(self, request: Request, plan: Plan, chosen: Chosen, undo: Undo) -> Chosen:
        """Records the order: a rollback to an earlier revision makes it the newest again. A
        revision registered now gives way to an older one of the same content that a
        concurrent delivery of the same request registered (DESIGN §5.2)."""
        if chosen.registered:
            return self._adopt(request, plan, chosen)
        if chosen.revision != plan.held[0]:
            self.ecs.tag(request.arn(chosen.revision), {TAG_SEQUENCE: str(plan.sequence)})
        return chosen

    def _adopt(self, request: Request, plan: Plan, chosen: Chosen) -> Chosen:
        """Both deliveries read "nothing yet" and registered the same content: this mode has no
        node to race on (App Mesh mode adopts what its node records), so each reads this id's
        revisions in ECS again after registering, and both keep the lowest-numbered one of
        that content; the one that registered a later number deregisters its own. (A
        delivery that reads before the other registered keeps its own, which is the lowest.)"""
        mine = chosen.revision
        # ECS numbers a family's revisions in order: the number that follows what this
        # invocation read (1 in a new family) means nobody registered in between, so there is
        # nothing to adopt and no read to pay for (a cold Create stays at its calls).
        before = [r.number for r in plan.held if r.family == mine.family]
        if mine.number == max(before, default=0) + 1:
            return chosen
        found = revisions_in_ecs(self.tagging, self.ecs, request.owner, plan.id.revision_holder())
        recorded, _ = held_revisions(found)
        same = [
            r for r in recorded if (r.family, r.digest) == (mine.family, mine.digest) and r != mine
        ]
        older = min(same, key=lambda r: r.number, default=None)
        if older is None or older.number > mine.number:
            return chosen
        self.ecs.deregister(request.arn(mine))
        kept = [r for r in chosen.revisions if r not in (mine, older)]
        return Chosen(older, [older, *kept], registered=False)

    def _cloud_map(self, props: Properties) -> tuple[Namespace, str]:
        """The namespace to connect in, and the Cloud Map service name the defaults use."""
        settings = service_connect(props)
        if props.cloud_map_service_id is not None:
            service_name = self.cloudmap.names_by_id(props.cloud_map_service_id)[1]
            default = self.cloudmap.namespace_of(props.cloud_map_service_id)
            if settings.namespace is None:
                return default, service_name
        else:
            service_name = str(props.cloud_map_service_name)
        if settings.namespace is not None:
            path = "ServiceConnect.Namespace"
            namespace, is_id = settings.namespace, settings.namespace_is_id
        else:
            path, is_id = "CloudMapNamespaceName", False
            namespace = str(props.cloud_map_namespace_name)
        return self.cloudmap.namespace(namespace, is_id=is_id, path=path), service_name

    def _check_discovery_name(self, wiring: Wiring) -> None:
        """The discovery name must not be a Cloud Map service Service Connect did not create
        (the App Mesh era's one still answers DNS clients): refused before any write."""
        existing = self.cloudmap.service_named(wiring.namespace.id, wiring.discovery_name)
        if existing is None:
            return
        tags = self.cloudmap.tags(str(existing["Arn"]))
        key, value = SERVICE_CONNECT_TAG
        if tags.get(key) == value:
            return  # Service Connect's own: this resource's once the ECS service runs
        raise PropertyError(
            "ServiceConnect.DiscoveryName",
            f"'{wiring.discovery_name}' is the Cloud Map service {existing['Id']} of namespace "
            f"{wiring.namespace.name}, which Service Connect did not create (ECS requires a "
            "discovery name that is unique in the namespace; the App Mesh era's service keeps "
            "answering DNS clients): choose another DiscoveryName",
        )

    def data(self, request: Request, plan: Plan, revision: Revision) -> dict[str, str]:
        return attributes(request, plan, revision)

    def start_delete(self, request: Request, me: ServiceConnectId) -> NothingElse:
        return NothingElse()


class NothingElse:
    """A Delete in this mode: this id's revisions (found from ECS alone), and nothing else."""

    reads: tuple[Future[Any] | None, ...] = ()

    def revisions(self) -> set[str] | None:
        return set()

    def finish(self) -> None:
        pass


def attributes(request: Request, plan: Plan, revision: Revision) -> dict[str, str]:
    """The Fn::GetAtt attributes of this mode (DESIGN §8), all flat strings."""
    wiring = plan.wiring
    scheme = "" if not wiring.app_protocol else "http://"
    return {
        "Mode": "ServiceConnect",
        "TaskDefinitionArn": request.arn(revision),
        "TaskDefinitionFamily": revision.family,
        "TaskDefinitionRevision": str(revision.number),
        "PortName": wiring.port_name,
        "AppProtocol": wiring.app_protocol,
        "DiscoveryName": wiring.discovery_name,
        "ClientAliasDnsName": wiring.dns_name,
        "ClientAliasPort": str(wiring.port),
        "NamespaceArn": wiring.namespace.arn,
        "NamespaceName": wiring.namespace.name,
        "Endpoint": f"{scheme}{wiring.dns_name}:{wiring.port}",
        "VirtualServiceName": wiring.dns_name,
    }
