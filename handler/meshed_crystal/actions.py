"""Create, Update and Delete of a Custom::MeshedCrystal (DESIGN §5).

The flow of every write request: parse and validate the properties (pure), read what exists
(mesh, Cloud Map, base task definition, node, service), decide (pure), and only then write.
A request that fails after its first write undoes what it created itself, so a failed Create
leaves nothing behind and a failed Update leaves the stack's resources as the rollback expects.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, NamedTuple

from . import ecs_model, mesh_spec, parallel, taskdef
from .adapters.appmesh import AppMesh
from .adapters.cloudformation import CloudFormation, StackAnswer
from .adapters.cloudmap import CloudMap
from .adapters.ecs import Ecs
from .adapters.tagging import Tagging
from .errors import AppMeshUnavailableError, OwnershipError, PropertyError
from .identity import (
    PREFIX,
    TAG_ENVOY_IMAGE,
    TAG_HANDED_FROM,
    Owner,
    PhysicalId,
    Revision,
    holder,
    mesh_arn,
    parse_revisions,
    revision_tags,
    served_services,
    serving_tags,
)
from .properties import Properties, check_mesh_region, parse_properties, user_properties
from .service_connect import ServiceConnectId, ServiceConnectMode
from .shapes import pruned

logger = logging.getLogger(__name__)

DEFAULT_ENVOY_IMAGE = "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod"
# The current revision and the one it replaced stay ACTIVE (rollbacks); older ones go.
ACTIVE_REVISIONS = 2
# CloudFormation rejects a custom resource response body over 4096 bytes.
MAX_RESPONSE_BYTES = 4096
# The provider's AppMeshRetired parameter (DESIGN §9).
RETIRED_SETTINGS = ("auto", "true", "false")
# Called with the way App Mesh was unavailable when a Delete finished without it (metrics).
on_appmesh_unavailable: list[Callable[[str], None]] = []


class Request(NamedTuple):
    """The parts of a CloudFormation event the actions use."""

    stack_id: str
    logical_id: str
    request_id: str
    properties: Any
    physical_id: str | None = None
    old_properties: Any = None
    partition: str = "aws"
    region: str = "us-east-1"
    account: str = "123456789012"

    @property
    def owner(self) -> Owner:
        return Owner(self.stack_id, self.logical_id)

    def fallback_id(self) -> str:
        """The id of a Create that failed before it could name its resources.

        Shaped like crhelper's ids and deterministic, so a redelivered Create answers with the
        same one; a Delete recognises it as not naming anything and succeeds with no AWS call.
        """
        stack_name = self.stack_id.split("/")[1] if "/" in self.stack_id else "stack"
        return f"{stack_name}_{self.logical_id}_{self.request_id.replace('-', '')[:8].upper()}"


class Result(NamedTuple):
    physical_id: str
    data: dict[str, str]


class Plan(NamedTuple):
    """Everything a Create or Update will make, decided before the first write."""

    id: PhysicalId
    mesh_arn: str
    node_arn: str
    service_arn: str
    node_spec: dict[str, Any]
    service_spec: dict[str, Any]
    task_definition: dict[str, Any]
    digest: str
    envoy_image: str
    user_tags: dict[str, str]


class Found(NamedTuple):
    """What a Create or Update read before deciding: all of it read at once, before any write."""

    mesh_arn: str
    mesh_owner: str
    namespace: str  # Cloud Map namespace name
    cloud_map_service: str  # Cloud Map service name
    base: dict[str, Any]  # the base task definition, as a RegisterTaskDefinition request
    node_name: str
    service_name: str
    node: dict[str, Any] | None
    node_tags: dict[str, str] | None
    service: dict[str, Any] | None
    service_tags: dict[str, str] | None


class _Undo:
    """Compensations for what this invocation created, run newest first if it fails."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Callable[[], object]]] = []

    def add(self, what: str, step: Callable[[], object]) -> None:
        self.steps.append((what, step))

    def run(self) -> None:
        for what, step in reversed(self.steps):
            try:
                step()
            except Exception:
                # The Reason reports the original failure; a leftover is logged for operators.
                logger.exception("could not undo", extra={"undo": what})


def revisions_in_ecs(
    tagging: Tagging, ecs: Ecs, owner: Owner, holder: str
) -> dict[str, dict[str, str]]:
    """The ACTIVE revisions an id registered, with their tags, found from ECS alone (DESIGN §9).

    The tagging API may list deregistered revisions too: ListTaskDefinitions (ACTIVE) filters
    them, one call per family, and only when there is anything to filter.
    """
    tagged = tagging.task_definitions(owner.revision_tags(holder))
    families = sorted({arn.split("/")[-1].rpartition(":")[0] for arn in tagged})
    active: set[str] = set()
    for family in families:
        active |= ecs.active(family)
    return {arn: tags for arn, tags in tagged.items() if arn in active}


def appmesh_retired(setting: str) -> str:
    """The APPMESH_RETIRED setting; anything unknown is ``auto`` (the template allows three)."""
    value = setting.strip().lower() or "auto"
    if value not in RETIRED_SETTINGS:
        logger.warning("unknown APPMESH_RETIRED value; using auto", extra={"value": value[:20]})
        return "auto"
    return value


def allowed_meshes(setting: str) -> frozenset[str] | None:
    """The ALLOWED_MESHES setting: ``*`` (or empty) for every mesh, else comma-separated names."""
    names = frozenset(n.strip() for n in setting.split(",") if n.strip())
    return None if not names or "*" in names else names


def _quiet(physical_id: str) -> None:
    """Default for ``announce``: nobody needs to know the id before the result."""


class Provider:
    """The actions layer. AWS adapters are injected (tests) or built lazily (Lambda)."""

    def __init__(
        self,
        *,
        appmesh: AppMesh | None = None,
        ecs: Ecs | None = None,
        cloudmap: CloudMap | None = None,
        cloudformation: CloudFormation | None = None,
        tagging: Tagging | None = None,
        envoy_image: str = DEFAULT_ENVOY_IMAGE,
        allowed_meshes: frozenset[str] | None = None,
        retired: str = "auto",
    ) -> None:
        self.appmesh = appmesh or AppMesh()
        self.ecs = ecs or Ecs()
        self.cloudmap = cloudmap or CloudMap()
        self.cloudformation = cloudformation or CloudFormation()
        self.tagging = tagging or Tagging()
        self.envoy_image = envoy_image
        # auto: classify what App Mesh answers; true: never call it; false: every error fails.
        self.retired = retired
        self.service_connect = ServiceConnectMode(
            ecs=self.ecs,
            cloudmap=self.cloudmap,
            tagging=self.tagging,
            find_revisions=lambda owner, holder: revisions_in_ecs(
                self.tagging, self.ecs, owner, holder
            ),
        )
        # None: every mesh. The deployment's IAM policy is the real guard; this turns its
        # AccessDenied into a Reason that names the parameter to change.
        self.allowed_meshes = allowed_meshes

    # -- Create / Update ---------------------------------------------------------------------

    def create(self, request: Request, announce: Callable[[str], None] = _quiet) -> Result:
        props = parse_properties(request.properties)
        if props.mode == "ServiceConnect":
            physical_id, data = self.service_connect.ensure(request, props, self._base, announce)
            return Result(physical_id, data)
        check_mesh_region(props, request.region)
        self._check_allowed(props)
        self._check_not_retired()
        found = self._read(request, props)
        plan = self._plan(request, props, found)
        self._check_response_size(request, plan)
        announce(str(plan.id))
        return self._ensure(request, plan, found)

    def update(self, request: Request, announce: Callable[[str], None] = _quiet) -> Result:
        """In place when the id stays the same; otherwise a replacement under a new id.

        A replacement never removes the old id's resources: CloudFormation sends a Delete for
        the old id once the stack update succeeded (or for the new id if it failed).
        """
        unchanged = self._unchanged(request)
        if unchanged is not None:
            return unchanged
        return self.create(request, announce)

    def _unchanged(self, request: Request) -> Result | None:
        """The answer to an Update whose properties did not change, from two reads and no write.

        CloudFormation sends one when only its own keys changed (ServiceTimeout): nothing is
        derived again. If what the id names is not as it was left, None: the full path repairs.
        """
        me = PhysicalId.parse(request.physical_id)
        if me is None or request.old_properties is None:
            return None
        try:
            new = user_properties(request.properties)
            old = user_properties(request.old_properties)
        except AttributeError:
            return None
        if new != old:
            return None
        props = parse_properties(request.properties)
        self._check_not_retired()
        mesh_arn = me.mesh_arn(request.partition, request.region)
        reads = (
            parallel.start(self.appmesh.tags, f"{mesh_arn}/virtualNode/{me.node_name}"),
            parallel.start(
                self.appmesh.describe_service, me.mesh_name, me.mesh_owner, me.service_name
            ),
        )
        parallel.settle(reads)
        node_tags, service = reads[0].result(), reads[1].result()
        revisions = parse_revisions(node_tags or {})
        envoy_image = props.envoy.image or self.envoy_image
        if node_tags is None or not request.owner.owns(node_tags) or not revisions:
            return None
        if node_tags.get(TAG_ENVOY_IMAGE) != envoy_image:
            return None  # the provider's default Envoy image changed: derive a new revision
        if service is None or mesh_spec.provider_node(service.get("spec") or {}) != me.node_name:
            return None
        plan = Plan(
            id=me,
            mesh_arn=mesh_arn,
            node_arn=f"{mesh_arn}/virtualNode/{me.node_name}",
            service_arn=f"{mesh_arn}/virtualService/{me.service_name}",
            node_spec={},
            service_spec={},
            task_definition={},
            digest=revisions[0].digest,
            envoy_image=envoy_image,
            user_tags=dict(props.tags),
        )
        return Result(str(me), self._data(request, plan, revisions[0]))

    def _check_not_retired(self) -> None:
        if self.retired == "true":
            raise AppMeshUnavailableError(
                "retired", "the provider's AppMeshRetired parameter is true"
            )

    def _check_allowed(self, props: Properties) -> None:
        if self.allowed_meshes is not None and props.mesh_name not in self.allowed_meshes:
            raise PropertyError(
                "MeshArn" if props.mesh_owner else "MeshName",
                f"mesh '{props.mesh_name}' is not one this provider may manage (allowed: "
                f"{', '.join(sorted(self.allowed_meshes))}; the AllowedMeshNames parameter "
                "of the provider's stack)",
            )

    def _read(self, request: Request, props: Properties) -> Found:
        """Everything the decision needs, read at once (meshed_crystal.parallel).

        The mesh's ARN follows from its name and owner. On a Create, listing the mesh's virtual
        services proves the mesh exists and tells whether the service name is taken; an
        in-place Update knows the mesh from its id and describes the service directly.
        Failures are reported in the order the reads used to run one by one: mesh, Cloud Map,
        base task definition, node, service.
        """
        mesh, owner = props.mesh_name, props.mesh_owner or request.account
        arn = mesh_arn(request.partition, request.region, owner, mesh)
        me = PhysicalId.parse(request.physical_id)
        known_mesh = me is not None and (me.mesh_owner, me.mesh_name) == (owner, mesh)
        listed = None if known_mesh else parallel.start(self.appmesh.service_names, mesh, owner)
        cloud_map = parallel.start(self._cloud_map, props)
        base = parallel.start(self._base, props)
        names = self._names(props, cloud_map)
        if names is None:
            # The Cloud Map lookup the names depend on failed: report it, after the mesh.
            parallel.settle((listed, base))
            if listed is not None:
                listed.result()
            cloud_map.result()
            raise AssertionError("a failed lookup raises")  # pragma: no cover
        node = parallel.start(self._with_tags, self.appmesh.describe_node, mesh, owner, names[0])
        service = (
            parallel.start(self._with_tags, self.appmesh.describe_service, mesh, owner, names[1])
            if known_mesh
            else None
        )
        parallel.settle((listed, cloud_map, base, node, service))
        taken = listed.result() if listed is not None else set()
        namespace, cloud_map_service = cloud_map.result()
        described_base = base.result()
        node_found, node_tags = node.result()
        if service is not None:
            service_found, service_tags = service.result()
        elif names[1] in taken:
            # The name is taken (a redelivered Create, or someone else's): whose, and how.
            service_found, service_tags = self._with_tags(
                self.appmesh.describe_service, mesh, owner, names[1]
            )
        else:
            service_found, service_tags = None, None
        return Found(
            mesh_arn=arn,
            mesh_owner=owner,
            namespace=namespace,
            cloud_map_service=cloud_map_service,
            base=described_base,
            node_name=names[0],
            service_name=names[1],
            node=node_found,
            node_tags=node_tags,
            service=service_found,
            service_tags=service_tags,
        )

    @staticmethod
    def _names(props: Properties, cloud_map: Future[tuple[str, str]]) -> tuple[str, str] | None:
        """The node's and the virtual service's names; by default from the Cloud Map service,
        which, given by id, must be looked up first (None: that lookup failed)."""
        if props.virtual_node_name and props.virtual_service_name:
            return props.virtual_node_name, props.virtual_service_name
        if props.cloud_map_service_id is None:
            namespace = str(props.cloud_map_namespace_name)
            service = str(props.cloud_map_service_name)
        else:
            try:
                namespace, service = cloud_map.result()
            except Exception:
                return None
        return (
            props.virtual_node_name or service,
            props.virtual_service_name or f"{service}.{namespace}",
        )

    def _cloud_map(self, props: Properties) -> tuple[str, str]:
        """(namespace name, service name), looked up from the id or checked by name."""
        if props.cloud_map_service_id is not None:
            return self.cloudmap.names_by_id(props.cloud_map_service_id)
        # parse_properties guarantees both names when there is no service id.
        namespace = str(props.cloud_map_namespace_name)
        service = str(props.cloud_map_service_name)
        self.cloudmap.check_names(namespace, service)
        return namespace, service

    def _base(self, props: Properties) -> dict[str, Any]:
        if isinstance(props.task_definition, str):
            described, base_tags = self.ecs.describe(props.task_definition)
            return ecs_model.register_request_from_described(described, base_tags)
        return dict(props.task_definition)

    def _with_tags(
        self, describe: Callable[[str, str, str], dict[str, Any] | None], *names: str
    ) -> tuple[dict[str, Any] | None, dict[str, str] | None]:
        found = describe(*names)
        if found is None:
            return None, None
        return found, self.appmesh.tags(str(found["metadata"]["arn"])) or {}

    def _plan(self, request: Request, props: Properties, found: Found) -> Plan:
        inline = not isinstance(props.task_definition, str)
        base = found.base
        node_name, service_name = found.node_name, found.service_name
        base_family = str(base.get("family") or f"{node_name}-mesh")
        family = taskdef.proxied_family(props, base_family, inline)
        node_arn = f"{found.mesh_arn}/virtualNode/{node_name}"
        user_tags = dict(props.tags)
        ecs_tags = {t["key"]: t["value"] for t in base.get("tags") or []}
        ecs_tags.update(user_tags)
        pid = PhysicalId(found.mesh_owner, props.mesh_name, node_name, service_name)
        ecs_tags.update(request.owner.revision_tags(pid.revision_holder()))
        envoy_image = props.envoy.image or self.envoy_image
        task_definition = taskdef.derive(
            base,
            props,
            family=family,
            node_arn=node_arn,
            region=found.mesh_arn.split(":")[3],
            default_image=self.envoy_image,
            tags=[{"key": k, "value": v} for k, v in ecs_tags.items()],
        )
        return Plan(
            id=pid,
            mesh_arn=found.mesh_arn,
            node_arn=node_arn,
            service_arn=f"{found.mesh_arn}/virtualService/{service_name}",
            node_spec=mesh_spec.node_spec(
                props,
                ports=taskdef.listener_ports(base, props),
                namespace_name=found.namespace,
                service_name=found.cloud_map_service,
            ),
            service_spec=mesh_spec.service_spec(node_name),
            task_definition=task_definition,
            digest=ecs_model.digest(task_definition),
            envoy_image=envoy_image,
            user_tags=user_tags,
        )

    def _ensure(self, request: Request, plan: Plan, found: Found) -> Result:
        pid, owner = plan.id, request.owner
        mesh, mesh_owner = pid.mesh_name, pid.mesh_owner
        # Ownership of both names is settled before the first write (rather than by trying
        # to create and undoing on a conflict): a refused Create leaves no trace at all.
        node, service = found.node, found.service
        node_tags = self._owned(node, found.node_tags, owner, f"virtual node {pid.node_name}", mesh)
        service_tags = self._owned(
            service, found.service_tags, owner, f"virtual service {pid.service_name}", mesh
        )
        undo = _Undo()
        try:
            revision, revisions = self._revision(request, plan, node_tags, undo)
            if node is None:
                tags = self._node_tags(plan, owner, revisions, None)
                created = self.appmesh.create_node(
                    mesh, mesh_owner, pid.node_name, plan.node_spec, tags
                )
                if created is not None:
                    undo.add(
                        "delete node",
                        lambda: self.appmesh.delete_node(mesh, mesh_owner, pid.node_name),
                    )
                else:
                    # The same request running concurrently (Lambda delivered it twice) made
                    # the node between our read and our write: adopt it if the tags say it is
                    # ours, and answer with its revision rather than registering a second one.
                    node, tags_read = self._with_tags(
                        self.appmesh.describe_node, mesh, mesh_owner, pid.node_name
                    )
                    node_tags = self._owned(
                        node, tags_read, owner, f"virtual node {pid.node_name}", mesh
                    )
                    revision, revisions = self._adopt_revisions(
                        request, revision, parse_revisions(node_tags or {})
                    )
            if node is not None:
                tags = self._node_tags(plan, owner, revisions, node_tags)
                if pruned(node.get("spec")) != pruned(plan.node_spec):
                    self.appmesh.update_node(mesh, mesh_owner, pid.node_name, plan.node_spec)
                self._retag(plan.node_arn, node_tags or {}, tags)
            service_wanted = {**plan.user_tags, **owner.tags()}
            if service is None:
                created = self.appmesh.create_service(
                    mesh, mesh_owner, pid.service_name, plan.service_spec, service_wanted
                )
                if created is not None:
                    undo.add(
                        "delete service",
                        lambda: self.appmesh.delete_service(mesh, mesh_owner, pid.service_name),
                    )
                else:
                    # As for the node: a concurrent duplicate created it; adopt if ours.
                    service, tags_read = self._with_tags(
                        self.appmesh.describe_service, mesh, mesh_owner, pid.service_name
                    )
                    service_tags = self._owned(
                        service, tags_read, owner, f"virtual service {pid.service_name}", mesh
                    )
            if service is not None:
                # Also the hand-over of a service name that a replaced node held before: the
                # service records that node, for a Delete that CloudFormation cannot inform.
                previous = mesh_spec.provider_node(service.get("spec") or {})
                if previous != pid.node_name:
                    self.appmesh.update_service(
                        mesh, mesh_owner, pid.service_name, plan.service_spec
                    )
                    if previous:
                        service_wanted[TAG_HANDED_FROM] = previous
                self._retag(plan.service_arn, service_tags or {}, service_wanted)
        except BaseException:
            undo.run()
            raise
        # Only once everything else stands: revisions older than the previous one go.
        for old in revisions[ACTIVE_REVISIONS:]:
            self.ecs.deregister(old.arn(request.partition, request.region, request.account))
        return Result(str(pid), self._data(request, plan, revision))

    @staticmethod
    def _node_tags(
        plan: Plan, owner: Owner, revisions: list[Revision], current: dict[str, str] | None
    ) -> dict[str, str]:
        return {
            **plan.user_tags,
            **owner.tags(),
            **revision_tags(revisions),
            TAG_ENVOY_IMAGE: plan.envoy_image,
            **serving_tags(plan.id.service_name, current),
        }

    def _adopt_revisions(
        self, request: Request, mine: Revision, theirs: list[Revision]
    ) -> tuple[Revision, list[Revision]]:
        """Merge the revision this invocation chose into those of a node it adopted."""
        same = next((r for r in theirs if (r.family, r.digest) == (mine.family, mine.digest)), None)
        if same is None:
            return mine, [mine, *[r for r in theirs if r != mine]]
        if same != mine:
            # Both registered the same content: keep the one the node already records, so
            # both invocations answer the same TaskDefinitionArn, and drop the duplicate.
            self.ecs.deregister(mine.arn(request.partition, request.region, request.account))
        return same, [same, *[r for r in theirs if r != same]]

    def _check_response_size(self, request: Request, plan: Plan) -> None:
        """Refuse, before any write, names so long that CloudFormation would reject the answer.

        Every name appears several times in the response (id, ARNs, attributes); at App Mesh's
        255-character limits the body would exceed CloudFormation's 4096 bytes, and a resource
        created but never acknowledged is worse than a clear refusal.
        """
        widest = Revision(str(plan.task_definition["family"]), 9_999_999, plan.digest)
        body = {
            "Status": "SUCCESS",
            "Reason": "",
            "PhysicalResourceId": str(plan.id),
            "StackId": request.stack_id,
            "RequestId": request.request_id,
            "LogicalResourceId": request.logical_id,
            "NoEcho": False,
            "Data": self._data(request, plan, widest),
        }
        size = len(json.dumps(body).encode())
        if size > MAX_RESPONSE_BYTES:
            raise PropertyError(
                "",
                f"the response to CloudFormation would be {size} bytes, over its "
                f"{MAX_RESPONSE_BYTES}-byte limit: shorten MeshName, VirtualNodeName, "
                "VirtualServiceName, Family or Envoy.Image (or the logical id)",
            )

    @staticmethod
    def _owned(
        resource: dict[str, Any] | None,
        tags: dict[str, str] | None,
        owner: Owner,
        what: str,
        mesh: str,
    ) -> dict[str, str] | None:
        """The resource's tags if it is ours; None if it does not exist; else OwnershipError."""
        if resource is None:
            return None
        tags = tags or {}
        if not owner.owns(tags):
            raise OwnershipError(
                f"{what} already exists in mesh {mesh} and belongs to {holder(tags)}; "
                "MeshedCrystal does not take over what it did not create: choose another "
                "name (VirtualNodeName / VirtualServiceName) or remove the existing one"
            )
        return tags

    def _revision(
        self, request: Request, plan: Plan, node_tags: dict[str, str] | None, undo: _Undo
    ) -> tuple[Revision, list[Revision]]:
        """The revision to run, and the node's revisions afterwards (newest first).

        An identical derived task definition reuses its revision: a redelivered Create or a
        no-op Update registers nothing, and a rollback gets exactly the previous ARN back.
        """
        held = parse_revisions(node_tags or {})
        family = str(plan.task_definition["family"])
        for revision in held:
            if (revision.family, revision.digest) == (family, plan.digest):
                return revision, [revision, *[r for r in held if r != revision]]
        registered = self.ecs.register(plan.task_definition)
        revision = Revision(family, int(registered["revision"]), plan.digest)
        arn = str(registered["taskDefinitionArn"])
        undo.add("deregister revision", lambda: self.ecs.deregister(arn))
        return revision, [revision, *held]

    def _retag(self, arn: str, current: dict[str, str], wanted: dict[str, str]) -> None:
        changed = {k: v for k, v in wanted.items() if current.get(k) != v}
        if changed:
            self.appmesh.tag(arn, changed)
        # User tags removed from the template are removed from the resource.
        stale = [k for k in current if k not in wanted and not k.startswith(f"{PREFIX}:")]
        self.appmesh.untag(arn, stale)

    def _data(self, request: Request, plan: Plan, revision: Revision) -> dict[str, str]:
        return {
            "Mode": "AppMesh",
            "TaskDefinitionArn": revision.arn(request.partition, request.region, request.account),
            "TaskDefinitionFamily": revision.family,
            "TaskDefinitionRevision": str(revision.number),
            "VirtualNodeArn": plan.node_arn,
            "VirtualNodeName": plan.id.node_name,
            "VirtualServiceArn": plan.service_arn,
            "VirtualServiceName": plan.id.service_name,
            "MeshName": plan.id.mesh_name,
            "MeshArn": plan.mesh_arn,
            "EnvoyImage": plan.envoy_image,
        }

    # -- Delete ------------------------------------------------------------------------------

    def delete(self, request: Request) -> None:
        """Remove what the physical id names, sparing what the stack's current id still uses.

        Three reads at once: this id's revisions from ECS (their tags), the node's tags (ownership
        in App Mesh) and which id the stack holds now (after a replacement, names shared with it
        are handed back or kept). The revisions go first, whatever App Mesh answers (DESIGN §9):
        a Delete that App Mesh then fails, or that the stack retains, leaks nothing in ECS.
        """
        connected = ServiceConnectId.parse(request.physical_id)
        if connected is not None:
            self.service_connect.delete(connected, request.owner)
            return
        me = PhysicalId.parse(request.physical_id)
        if me is None:
            logger.info("physical id was never issued by this resource; nothing to delete")
            return
        node_arn = f"{me.mesh_arn(request.partition, request.region)}/virtualNode/{me.node_name}"
        in_ecs = parallel.start(self._revisions_in_ecs, request.owner, me.revision_holder())
        stack = parallel.start(
            self.cloudformation.current_physical_id, request.stack_id, request.logical_id
        )
        node = None if self.retired == "true" else parallel.start(self.appmesh.tags, node_arn)
        parallel.settle((in_ecs, stack, node))
        answer = stack.result()
        held = PhysicalId.parse(answer.physical_id)
        if held is None or held == me or not held.same_mesh(me):
            held = None
        revisions = in_ecs.result()
        failure: Exception | None = None
        node_tags: dict[str, str] | None = None
        try:
            if node is None:
                raise AppMeshUnavailableError("retired", "the provider's AppMeshRetired is true")
            node_tags = node.result()
            if node_tags is not None and not request.owner.owns(node_tags):
                # Not ours (a Create that was refused answers with this id too): nothing of
                # ours in App Mesh; the service is ours only through our node.
                node_tags = None
            kept = self._node_kept(request, me, node_tags, answer, held)
        except Exception as error:
            if not answer.known and not isinstance(error, AppMeshUnavailableError):
                raise  # which id holds the node cannot be told: fail closed, touch nothing
            failure = error
            kept = held is not None and held.node_name == me.node_name
        if kept:
            logger.info("the node and its revisions belong to the id the stack holds; kept")
        else:
            for recorded in parse_revisions(node_tags or {}):
                revisions.add(recorded.arn(request.partition, request.region, request.account))
            self._deregister(sorted(revisions))
        if failure is None and node_tags is not None:
            try:
                self._delete_in_appmesh(request, me, answer, held, kept)
            except AppMeshUnavailableError as error:
                failure = error
        elif failure is None:
            logger.info("the node is gone or not ours; nothing to delete in App Mesh")
        if isinstance(failure, AppMeshUnavailableError) and self._finishes_without(failure):
            self._left_in_appmesh(me, failure)
        elif failure is not None:
            raise failure

    def _finishes_without(self, gone: AppMeshUnavailableError) -> bool:
        """Whether a Delete finishes (SUCCESS) without App Mesh: not when told App Mesh is not
        retired, and never on a denial unless told it is (a permissions mistake stays one)."""
        return self.retired == "true" or (self.retired == "auto" and gone.kind != "access-denied")

    def _revisions_in_ecs(self, owner: Owner, holder: str) -> set[str]:
        return set(revisions_in_ecs(self.tagging, self.ecs, owner, holder))

    def _node_kept(
        self,
        request: Request,
        me: PhysicalId,
        node_tags: dict[str, str] | None,
        answer: StackAnswer,
        held: PhysicalId | None,
    ) -> bool:
        """Whether the node (and so its revisions) belongs to the id the stack holds now: a
        replacement renamed only the service. Without CloudFormation's answer, the node's
        state says so (another id's service still has it as provider)."""
        if answer.known or node_tags is None:
            return held is not None and held.node_name == me.node_name
        return self._node_serves_another_id(request, me, node_tags)

    def _delete_in_appmesh(
        self,
        request: Request,
        me: PhysicalId,
        answer: StackAnswer,
        held: PhysicalId | None,
        node_kept: bool,
    ) -> None:
        """The service, then the node, of this id; what the stack's id shares is kept."""
        mesh, mesh_owner = me.mesh_name, me.mesh_owner
        if not answer.known:
            self._delete_service_unless_held(request, me)
        elif held is not None and held.service_name == me.service_name:
            if held.node_name != me.node_name:
                # A failed replacement: the stack holds the old id again; give its name back.
                self.appmesh.update_service(
                    mesh, mesh_owner, me.service_name, mesh_spec.service_spec(held.node_name)
                )
        else:
            self.appmesh.delete_service(mesh, mesh_owner, me.service_name)
        if not node_kept:
            self.appmesh.delete_node(mesh, mesh_owner, me.node_name)

    def _delete_service_unless_held(self, request: Request, me: PhysicalId) -> None:
        """CloudFormation could not say which id the stack holds: decide from the service.

        A service another node provides is another id's since a replacement: kept. One handed
        over to this id's node from a node of the same resource that still exists goes back to
        it (the stack may hold that id again after a failed replacement). Never fails open.
        """
        mesh, mesh_owner = me.mesh_name, me.mesh_owner
        service, tags = self._with_tags(
            self.appmesh.describe_service, mesh, mesh_owner, me.service_name
        )
        if service is None or not request.owner.owns(tags or {}):
            return
        if mesh_spec.provider_node(service.get("spec") or {}) != me.node_name:
            logger.info("the virtual service is provided by another node; kept")
            return
        previous = (tags or {}).get(TAG_HANDED_FROM)
        if previous and previous != me.node_name:
            _, previous_tags = self._with_tags(
                self.appmesh.describe_node, mesh, mesh_owner, previous
            )
            if previous_tags is not None and request.owner.owns(previous_tags):
                logger.info("the virtual service is handed back to the node it came from")
                self.appmesh.update_service(
                    mesh, mesh_owner, me.service_name, mesh_spec.service_spec(previous)
                )
                return
        self.appmesh.delete_service(mesh, mesh_owner, me.service_name)

    def _node_serves_another_id(
        self, request: Request, me: PhysicalId, node_tags: dict[str, str]
    ) -> bool:
        """Whether a service of another id of this resource (it shares the node since a
        replacement that kept the node's name) still has this node as its provider."""
        for name in served_services(node_tags):
            if name == me.service_name:
                continue
            service, tags = self._with_tags(
                self.appmesh.describe_service, me.mesh_name, me.mesh_owner, name
            )
            if (
                service is not None
                and request.owner.owns(tags or {})
                and mesh_spec.provider_node(service.get("spec") or {}) == me.node_name
            ):
                logger.info("the node serves another id's virtual service; kept")
                return True
        return False

    @staticmethod
    def _left_in_appmesh(me: PhysicalId, gone: AppMeshUnavailableError) -> None:
        logger.warning(
            f"App Mesh is unavailable ({gone.detail}); the Delete finished without it. May be "
            f"left in App Mesh: virtual service {me.service_name} and virtual node "
            f"{me.node_name} of mesh {me.mesh_name} (owner {me.mesh_owner})",
            extra={"appmesh_unavailable": gone.kind},
        )
        for hook in on_appmesh_unavailable:
            hook(gone.kind)

    def _deregister(self, arns: list[str]) -> None:
        """At once: the deregistrations do not depend on each other."""
        deregistrations = [parallel.start(self.ecs.deregister, arn) for arn in arns]
        parallel.settle(deregistrations)
        for deregistration in deregistrations:
            deregistration.result()  # the first failure, in order
