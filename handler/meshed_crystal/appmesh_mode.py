"""``Mode: AppMesh`` (DESIGN §1-§5): the virtual node, the virtual service, the proxied revision.

What this mode reads (mesh, Cloud Map, base task definition, node, service), derives (the node's
and the service's specs, the proxied task definition), writes (the node, then the service, with
their tags) and deletes (the service, then the node), including the replacement hand-over of a
name both ids use and what a Delete does when App Mesh is gone (DESIGN §9). The lifecycle around
it (undo, revisions, retention, the Delete's read of ECS) is ``actions``'.

This mode records its revisions on the node (``identity.TAG_REVISIONS``, with a digest of each
one's content), so an Update knows without reading ECS whether the derived task definition
changed, and a rollback finds the previous revision again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, NamedTuple

from . import ecs_model, mesh_spec, parallel, taskdef
from .adapters.appmesh_port import AppMeshPort
from .adapters.cloudformation import StackAnswer
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
from .mode import Chosen, Request, Result, Undo, adopted, ecs_tags, read_base
from .ports import CloudFormationPort, CloudMapPort, EcsPort
from .properties import Properties, check_mesh_region
from .shapes import pruned

logger = logging.getLogger(__name__)

DEFAULT_ENVOY_IMAGE = "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod"
# The provider's AppMeshRetired parameter (DESIGN §9).
RETIRED_SETTINGS = ("auto", "true", "false")
# Called with the way App Mesh was unavailable when a Delete finished without it (metrics).
on_appmesh_unavailable: list[Callable[[str], None]] = []


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


class Found(NamedTuple):
    """What a Create or Update read before deciding: all of it read at once, before any write."""

    mesh_arn: str
    mesh_owner: str
    namespace: str  # Cloud Map namespace name
    cloud_map_service: str  # Cloud Map service name
    base: dict[str, Any]  # the base task definition, as a RegisterTaskDefinition request
    node_name: str
    service_name: str
    node: Mapping[str, Any] | None
    node_tags: dict[str, str] | None
    service: Mapping[str, Any] | None
    service_tags: dict[str, str] | None


class Plan(NamedTuple):
    """Everything a Create or Update will make, decided before the first write."""

    id: PhysicalId
    mesh_arn: str
    node_spec: dict[str, Any]
    service_spec: dict[str, Any]
    task_definition: dict[str, Any]
    digest: str
    envoy_image: str
    user_tags: dict[str, str]
    found: Found

    @property
    def physical_id(self) -> str:
        return str(self.id)

    @property
    def held(self) -> list[Revision]:
        return [] if self.found.node is None else parse_revisions(self.found.node_tags or {})

    @property
    def node_arn(self) -> str:
        return node_arn(self.mesh_arn, self.id.node_name)


def node_arn(mesh: str, name: str) -> str:
    return f"{mesh}/virtualNode/{name}"


def service_arn(mesh: str, name: str) -> str:
    return f"{mesh}/virtualService/{name}"


class AppMeshMode:
    """Create, Update and Delete of an AppMesh-mode resource (adapters injected)."""

    # Every name appears several times in the answer (id, ARNs, attributes): at App Mesh's
    # 255-character limits it would exceed CloudFormation's 4096 bytes.
    shorten = "MeshName, VirtualNodeName, VirtualServiceName, Family or Envoy.Image"

    def __init__(
        self,
        *,
        appmesh: AppMeshPort,
        ecs: EcsPort,
        cloudmap: CloudMapPort,
        cloudformation: CloudFormationPort,
        envoy_image: str,
        allowed_meshes: frozenset[str] | None,
        retired: str,
    ) -> None:
        self.appmesh = appmesh
        self.ecs = ecs
        self.cloudmap = cloudmap
        self.cloudformation = cloudformation
        self.envoy_image = envoy_image
        # None: every mesh. The deployment's IAM policy is the real guard; this turns its
        # AccessDenied into a Reason that names the parameter to change.
        self.allowed_meshes = allowed_meshes
        # auto: classify what App Mesh answers; true: never call it; false: every error fails.
        self.retired = retired

    def parse_id(self, text: str | None) -> PhysicalId | None:
        return PhysicalId.parse(text)

    # -- Create / Update ---------------------------------------------------------------------

    def unchanged(self, request: Request, props: Properties, me: PhysicalId) -> Result | None:
        """From two reads and no write: nothing is derived again. If what the id names is not
        as it was left, None: the full path repairs."""
        self._check_not_retired()
        mesh = me.mesh_arn(request.partition, request.region)
        reads = (
            parallel.start(self.appmesh.tags, node_arn(mesh, me.node_name)),
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
        return Result(str(me), _data(request, me, mesh, envoy_image, revisions[0]))

    def prepare(self, request: Request, props: Properties) -> Plan:
        check_mesh_region(props, request.region)
        self._check_allowed(props)
        self._check_not_retired()
        return self._plan(request, props, self._read(request, props))

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
        base = parallel.start(read_base, self.ecs, props)
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

    def _with_tags(
        self, describe: Callable[[str, str, str], Mapping[str, Any] | None], *names: str
    ) -> tuple[Mapping[str, Any] | None, dict[str, str] | None]:
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
        user_tags = dict(props.tags)
        pid = PhysicalId(found.mesh_owner, props.mesh_name, node_name, service_name)
        base_tags = {t["key"]: t["value"] for t in base.get("tags") or []}
        task_definition = taskdef.derive(
            base,
            props,
            family=family,
            node_arn=node_arn(found.mesh_arn, node_name),
            region=found.mesh_arn.split(":")[3],
            default_image=self.envoy_image,
            tags=ecs_tags(base_tags, user_tags, request.owner.revision_tags(pid.revision_holder())),
        )
        return Plan(
            id=pid,
            mesh_arn=found.mesh_arn,
            node_spec=mesh_spec.node_spec(
                props,
                ports=taskdef.listener_ports(base, props),
                namespace_name=found.namespace,
                service_name=found.cloud_map_service,
            ),
            service_spec=mesh_spec.service_spec(node_name),
            task_definition=task_definition,
            digest=ecs_model.digest(task_definition),
            envoy_image=props.envoy.image or self.envoy_image,
            user_tags=user_tags,
            found=found,
        )

    def claim(self, request: Request, plan: Plan) -> None:
        # Ownership of both names is settled before the first write (rather than by trying
        # to create and undoing on a conflict): a refused Create leaves no trace at all.
        found, pid = plan.found, plan.id
        _owned(found.node, found.node_tags, request.owner, f"virtual node {pid.node_name}", pid)
        _owned(
            found.service,
            found.service_tags,
            request.owner,
            f"virtual service {pid.service_name}",
            pid,
        )

    def write(self, request: Request, plan: Plan, chosen: Chosen, undo: Undo) -> Chosen:
        """The node, then the service (the revision is registered already)."""
        pid, owner, found = plan.id, request.owner, plan.found
        mesh, mesh_owner = pid.mesh_name, pid.mesh_owner
        node, service = found.node, found.service
        node_tags = found.node_tags or {} if node is not None else None
        service_tags = found.service_tags
        if node is None:
            tags = self._node_tags(plan, owner, chosen.revisions, None)
            raced = self._create("node", request, pid, pid.node_name, plan.node_spec, tags, undo)
            if raced is not None:
                # Adopted: answer with its revision rather than registering a second one.
                node, node_tags = raced
                chosen, duplicate = adopted(chosen, parse_revisions(node_tags or {}))
                if duplicate is not None:
                    self.ecs.deregister(request.arn(duplicate))
        if node is not None:
            tags = self._node_tags(plan, owner, chosen.revisions, node_tags)
            if pruned(node.get("spec")) != pruned(plan.node_spec):
                self.appmesh.update_node(mesh, mesh_owner, pid.node_name, plan.node_spec)
            self._retag(plan.node_arn, node_tags or {}, tags)
        service_wanted = {**plan.user_tags, **owner.tags()}
        if service is None:
            raced = self._create(
                "service", request, pid, pid.service_name, plan.service_spec, service_wanted, undo
            )
            if raced is not None:
                service, service_tags = raced
        if service is not None:
            # Also the hand-over of a service name that a replaced node held before: the
            # service records that node, for a Delete that CloudFormation cannot inform.
            previous = mesh_spec.provider_node(service.get("spec") or {})
            if previous != pid.node_name:
                self.appmesh.update_service(mesh, mesh_owner, pid.service_name, plan.service_spec)
                if previous:
                    service_wanted[TAG_HANDED_FROM] = previous
            arn = service_arn(plan.mesh_arn, pid.service_name)
            self._retag(arn, service_tags or {}, service_wanted)
        return chosen

    def _create(
        self,
        kind: str,
        request: Request,
        pid: PhysicalId,
        name: str,
        spec: dict[str, Any],
        tags: dict[str, str],
        undo: Undo,
    ) -> tuple[Mapping[str, Any] | None, dict[str, str] | None] | None:
        """Create the virtual node or service (deleted again if the request fails): None.

        When the same request running concurrently (Lambda delivered it twice) made it between
        our read and our write: it and its tags, adopted if the tags say it is ours.
        """
        mesh, mesh_owner, appmesh = pid.mesh_name, pid.mesh_owner, self.appmesh
        create, describe, delete = (
            (appmesh.create_node, appmesh.describe_node, appmesh.delete_node)
            if kind == "node"
            else (appmesh.create_service, appmesh.describe_service, appmesh.delete_service)
        )
        if create(mesh, mesh_owner, name, spec, tags) is not None:
            undo.add(f"delete {kind}", lambda: delete(mesh, mesh_owner, name))
            return None
        found, tags_read = self._with_tags(describe, mesh, mesh_owner, name)
        return found, _owned(found, tags_read, request.owner, f"virtual {kind} {name}", pid)

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

    def _retag(self, arn: str, current: dict[str, str], wanted: dict[str, str]) -> None:
        changed = {k: v for k, v in wanted.items() if current.get(k) != v}
        if changed:
            self.appmesh.tag(arn, changed)
        # User tags removed from the template are removed from the resource.
        stale = [k for k in current if k not in wanted and not k.startswith(f"{PREFIX}:")]
        self.appmesh.untag(arn, stale)

    def data(self, request: Request, plan: Plan, revision: Revision) -> dict[str, str]:
        return _data(request, plan.id, plan.mesh_arn, plan.envoy_image, revision)

    # -- Delete ------------------------------------------------------------------------------

    def start_delete(self, request: Request, me: PhysicalId) -> AppMeshDeletion:
        return AppMeshDeletion(self, request, me)

    def finishes_without(self, gone: AppMeshUnavailableError) -> bool:
        """Whether a Delete finishes (SUCCESS) without App Mesh: not when told App Mesh is not
        retired, and never on a denial unless told it is (a permissions mistake stays one)."""
        return self.retired == "true" or (self.retired == "auto" and gone.kind != "access-denied")


class AppMeshDeletion:
    """Remove what the physical id names, sparing what the stack's current id still uses.

    Two reads at once with the lifecycle's read of ECS: the node's tags (ownership in App Mesh)
    and which id the stack holds now (after a replacement, names shared with it are handed back
    or kept). The revisions go first, whatever App Mesh answers (DESIGN §9): a Delete that App
    Mesh then fails, or that the stack retains, leaks nothing in ECS.
    """

    def __init__(self, mode: AppMeshMode, request: Request, me: PhysicalId) -> None:
        self.mode, self.appmesh, self.request, self.me = mode, mode.appmesh, request, me
        self.stack = parallel.start(
            mode.cloudformation.current_physical_id, request.stack_id, request.logical_id
        )
        arn = node_arn(me.mesh_arn(request.partition, request.region), me.node_name)
        self.node = None if mode.retired == "true" else parallel.start(self.appmesh.tags, arn)
        self.failure: Exception | None = None
        self.node_tags: dict[str, str] | None = None
        self.kept = False
        self.answer = StackAnswer(known=False)
        self.held: PhysicalId | None = None

    @property
    def reads(self) -> tuple[Future[Any] | None, ...]:
        return (self.stack, self.node)

    def revisions(self) -> set[str] | None:
        request, me = self.request, self.me
        self.answer = answer = self.stack.result()
        held = PhysicalId.parse(answer.physical_id)
        if held is None or held == me or not held.same_mesh(me):
            held = None
        self.held = held
        try:
            if self.node is None:
                raise AppMeshUnavailableError("retired", "the provider's AppMeshRetired is true")
            node_tags = self.node.result()
            if node_tags is not None and not request.owner.owns(node_tags):
                # Not ours (a Create that was refused answers with this id too): nothing of
                # ours in App Mesh; the service is ours only through our node.
                node_tags = None
            self.node_tags = node_tags
            self.kept = self._node_kept()
        except Exception as error:
            if not answer.known and not isinstance(error, AppMeshUnavailableError):
                raise  # which id holds the node cannot be told: fail closed, touch nothing
            self.failure = error
            self.kept = held is not None and held.node_name == me.node_name
        if self.kept:
            logger.info("the node and its revisions belong to the id the stack holds; kept")
            return None
        return {request.arn(r) for r in parse_revisions(self.node_tags or {})}

    def finish(self) -> None:
        if self.failure is None and self.node_tags is not None:
            try:
                self._delete_in_appmesh()
            except AppMeshUnavailableError as error:
                self.failure = error
        elif self.failure is None:
            logger.info("the node is gone or not ours; nothing to delete in App Mesh")
        failure = self.failure
        if isinstance(failure, AppMeshUnavailableError) and self.mode.finishes_without(failure):
            self._left_in_appmesh(failure)
        elif failure is not None:
            raise failure

    def _node_kept(self) -> bool:
        """Whether the node (and so its revisions) belongs to the id the stack holds now: a
        replacement renamed only the service. Without CloudFormation's answer, the node's
        state says so (another id's service still has it as provider)."""
        if self.answer.known or self.node_tags is None:
            return self.held is not None and self.held.node_name == self.me.node_name
        return self._node_serves_another_id(self.node_tags)

    def _delete_in_appmesh(self) -> None:
        """The service, then the node, of this id; what the stack's id shares is kept."""
        me, held = self.me, self.held
        mesh, mesh_owner = me.mesh_name, me.mesh_owner
        if not self.answer.known:
            self._delete_service_unless_held()
        elif held is not None and held.service_name == me.service_name:
            if held.node_name != me.node_name:
                # A failed replacement: the stack holds the old id again; give its name back.
                self.appmesh.update_service(
                    mesh, mesh_owner, me.service_name, mesh_spec.service_spec(held.node_name)
                )
        else:
            self.appmesh.delete_service(mesh, mesh_owner, me.service_name)
        if not self.kept:
            self.appmesh.delete_node(mesh, mesh_owner, me.node_name)

    def _delete_service_unless_held(self) -> None:
        """CloudFormation could not say which id the stack holds: decide from the service.

        A service another node provides is another id's since a replacement: kept. One handed
        over to this id's node from a node of the same resource that still exists goes back to
        it (the stack may hold that id again after a failed replacement). Never fails open.
        """
        me, owner = self.me, self.request.owner
        mesh, mesh_owner = me.mesh_name, me.mesh_owner
        service, tags = self.mode._with_tags(
            self.appmesh.describe_service, mesh, mesh_owner, me.service_name
        )
        if service is None or not owner.owns(tags or {}):
            return
        if mesh_spec.provider_node(service.get("spec") or {}) != me.node_name:
            logger.info("the virtual service is provided by another node; kept")
            return
        previous = (tags or {}).get(TAG_HANDED_FROM)
        if previous and previous != me.node_name:
            _, previous_tags = self.mode._with_tags(
                self.appmesh.describe_node, mesh, mesh_owner, previous
            )
            if previous_tags is not None and owner.owns(previous_tags):
                logger.info("the virtual service is handed back to the node it came from")
                self.appmesh.update_service(
                    mesh, mesh_owner, me.service_name, mesh_spec.service_spec(previous)
                )
                return
        self.appmesh.delete_service(mesh, mesh_owner, me.service_name)

    def _node_serves_another_id(self, node_tags: dict[str, str]) -> bool:
        """Whether a service of another id of this resource (it shares the node since a
        replacement that kept the node's name) still has this node as its provider."""
        me = self.me
        for name in served_services(node_tags):
            if name == me.service_name:
                continue
            service, tags = self.mode._with_tags(
                self.appmesh.describe_service, me.mesh_name, me.mesh_owner, name
            )
            if (
                service is not None
                and self.request.owner.owns(tags or {})
                and mesh_spec.provider_node(service.get("spec") or {}) == me.node_name
            ):
                logger.info("the node serves another id's virtual service; kept")
                return True
        return False

    def _left_in_appmesh(self, gone: AppMeshUnavailableError) -> None:
        me = self.me
        logger.warning(
            f"App Mesh is unavailable ({gone.detail}); the Delete finished without it. May be "
            f"left in App Mesh: virtual service {me.service_name} and virtual node "
            f"{me.node_name} of mesh {me.mesh_name} (owner {me.mesh_owner})",
            extra={"appmesh_unavailable": gone.kind},
        )
        for hook in on_appmesh_unavailable:
            hook(gone.kind)


def _owned(
    resource: Mapping[str, Any] | None,
    tags: dict[str, str] | None,
    owner: Owner,
    what: str,
    pid: PhysicalId,
) -> dict[str, str] | None:
    """The resource's tags if it is ours; None if it does not exist; else OwnershipError."""
    if resource is None:
        return None
    tags = tags or {}
    if not owner.owns(tags):
        raise OwnershipError(
            f"{what} already exists in mesh {pid.mesh_name} and belongs to {holder(tags)}; "
            "MeshedCrystal does not take over what it did not create: choose another "
            "name (VirtualNodeName / VirtualServiceName) or remove the existing one"
        )
    return tags


def _data(
    request: Request, pid: PhysicalId, mesh: str, envoy_image: str, revision: Revision
) -> dict[str, str]:
    return {
        "Mode": "AppMesh",
        "TaskDefinitionArn": request.arn(revision),
        "TaskDefinitionFamily": revision.family,
        "TaskDefinitionRevision": str(revision.number),
        "VirtualNodeArn": node_arn(mesh, pid.node_name),
        "VirtualNodeName": pid.node_name,
        "VirtualServiceArn": service_arn(mesh, pid.service_name),
        "VirtualServiceName": pid.service_name,
        "MeshName": pid.mesh_name,
        "MeshArn": mesh,
        "EnvoyImage": envoy_image,
    }
