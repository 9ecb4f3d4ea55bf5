"""In-memory fakes of the ports (``meshed_crystal.ports``, ``adapters/appmesh_port``).

Each fake answers as its adapter does over the real API, errors included: the same exception
classes (``errors.py``) for the same cases (not found, name taken, in use, refused, throttled,
App Mesh gone), and the same shapes (App Mesh's ``VirtualNodeData``, ECS's ``TaskDefinition``).
``tests/integration/test_port_contract.py`` holds them to the adapters over the emulator; a
behaviour a test here relies on belongs in that suite first.

One :class:`FakeAws` holds the state of all five, so the Tagging API sees the tags ECS holds, as
in AWS. It records every call (``calls``, ``writes()``), can make any call fail
(:meth:`FakeAws.fail`) or run something just before one (:meth:`FakeAws.before`), and makes App
Mesh gone (:meth:`FakeAws.appmesh_gone`). Thread-safe: the lifecycle reads at once
(``meshed_crystal.parallel``).

Not faked: ECS's register-time refusals (``tests/support/moto_ecs_rules.py`` in the emulator;
the product checks them before any write, ``taskdef.check_ecs_rules``), retries (a fake raises
``ThrottledError`` when told, as an adapter does once the budget is spent), App Mesh's own
error codes below the adapter (``tests/unit/test_appmesh_errors.py``, the integration tier).
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from meshed_crystal.adapters.cloudformation import StackAnswer
from meshed_crystal.adapters.cloudmap import Namespace
from meshed_crystal.errors import (
    AppMeshUnavailableError,
    AwsError,
    MissingResourceError,
    ResourceInUseError,
)

from tests.support.platform import (
    APP_FAMILY,
    CLOUD_MAP_SERVICE_NAME,
    EXECUTION_ROLE_NAME,
    MESH_NAME,
    NAMESPACE_NAME,
    TASK_ROLE_NAME,
    app_task_definition_input,
)

if TYPE_CHECKING:
    from mypy_boto3_appmesh.type_defs import VirtualNodeDataTypeDef, VirtualServiceDataTypeDef
    from mypy_boto3_ecs.type_defs import TaskDefinitionTypeDef
    from mypy_boto3_servicediscovery.type_defs import ServiceSummaryTypeDef

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"

# The calls that change something (for "wrote nothing" assertions), by port method.
WRITES = frozenset(
    {
        "ecs.register",
        "ecs.deregister",
        "ecs.tag",
        "appmesh.create_node",
        "appmesh.update_node",
        "appmesh.delete_node",
        "appmesh.create_service",
        "appmesh.update_service",
        "appmesh.delete_service",
        "appmesh.tag",
        "appmesh.untag",
    }
)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Revision:
    arn: str
    family: str
    number: int
    content: dict[str, Any]  # RegisterTaskDefinition's input without its tags
    tags: dict[str, str]
    status: str = "ACTIVE"


@dataclass
class _MeshResource:
    data: dict[str, Any]  # VirtualNodeData / VirtualServiceData
    tags: dict[str, str]


@dataclass
class _Mesh:
    nodes: dict[str, _MeshResource] = field(default_factory=dict)
    services: dict[str, _MeshResource] = field(default_factory=dict)


@dataclass
class _Failure:
    error: Exception
    times: int


class FakeAws:
    """The state of the five services, and the switches a test turns."""

    def __init__(self, account: str = ACCOUNT, region: str = REGION) -> None:
        self.account, self.region = account, region
        self.lock = threading.RLock()
        self.calls: list[str] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._before: dict[str, list[Callable[[], None]]] = {}
        self.gone: AppMeshUnavailableError | None = None
        # ECS
        self.revisions: dict[str, _Revision] = {}
        # Cloud Map: namespace id -> namespace; service id -> (namespace id, name, arn, tags)
        self.namespaces: dict[str, Namespace] = {}
        self.cloud_map_services: dict[str, tuple[str, str, str]] = {}
        self.cloud_map_tags: dict[str, dict[str, str]] = {}
        # CloudFormation: (stack id, logical id) -> the id the stack holds; None: cannot say
        self.stack_resources: dict[tuple[str, str], str] = {}
        self.stack_answer: str = "answered"  # or "unknown" (denied, throttled, failing)
        # App Mesh: (owner, mesh name) -> mesh
        self.meshes: dict[tuple[str, str], _Mesh] = {}
        self.ecs = FakeEcs(self)
        self.cloudmap = FakeCloudMap(self)
        self.cloudformation = FakeCloudFormation(self)
        self.tagging = FakeTagging(self)
        self.appmesh = FakeAppMesh(self)

    # -- switches ----------------------------------------------------------------------------

    def fail(self, call: str, error: Exception, times: int = 1) -> None:
        """The next ``times`` calls of ``call`` (``"ecs.register"``) raise ``error``."""
        with self.lock:
            self._failures.setdefault(call, []).append(_Failure(error, times))

    def before(self, call: str, action: Callable[[], None]) -> None:
        """Run ``action`` once, just before the next ``call`` does anything (a race)."""
        with self.lock:
            self._before.setdefault(call, []).append(action)

    def appmesh_gone(
        self, kind: str = "http", detail: str = "HTTP 410 without an App Mesh error"
    ) -> None:
        """Every App Mesh call raises what the adapter raises when App Mesh is gone (DESIGN
        §9), ``kind`` as ``adapters.appmesh.unavailable`` classifies it; until
        :meth:`appmesh_back`."""
        self.gone = AppMeshUnavailableError(kind, detail)

    def appmesh_back(self) -> None:
        self.gone = None

    def writes(self) -> list[str]:
        with self.lock:
            return [c for c in self.calls if c in WRITES]

    def _enter(self, call: str) -> None:
        with self.lock:
            self.calls.append(call)
            actions = self._before.pop(call, [])
        for action in actions:
            action()
        with self.lock:
            if call.startswith("appmesh.") and self.gone is not None:
                raise self.gone
            pending = self._failures.get(call) or []
            if pending:
                failure = pending[0]
                failure.times -= 1
                if failure.times <= 0:
                    pending.pop(0)
                raise failure.error

    # -- seeding (what the platform holds before the resource runs) ---------------------------

    def add_mesh(self, name: str = MESH_NAME, owner: str | None = None) -> str:
        with self.lock:
            self.meshes.setdefault((owner or self.account, name), _Mesh())
        return f"arn:{PARTITION}:appmesh:{self.region}:{owner or self.account}:mesh/{name}"

    def add_namespace(self, name: str = NAMESPACE_NAME) -> Namespace:
        namespace_id = f"ns-{uuid.uuid4().hex[:16]}"
        arn = (
            f"arn:{PARTITION}:servicediscovery:{self.region}:{self.account}:"
            f"namespace/{namespace_id}"
        )
        namespace = Namespace(namespace_id, arn, name)
        with self.lock:
            self.namespaces[namespace_id] = namespace
        return namespace

    def add_cloud_map_service(
        self, namespace: Namespace, name: str, tags: dict[str, str] | None = None
    ) -> tuple[str, str]:
        """(id, ARN) of a new Cloud Map service."""
        service_id = f"srv-{uuid.uuid4().hex[:16]}"
        arn = f"arn:{PARTITION}:servicediscovery:{self.region}:{self.account}:service/{service_id}"
        with self.lock:
            self.cloud_map_services[service_id] = (namespace.id, name, arn)
            self.cloud_map_tags[arn] = dict(tags or {})
        return service_id, arn

    def workshop(self) -> tuple[str, Namespace, str]:
        """The workshop's platform (tests/support/platform.py): the mesh, the namespace and its
        crystal service, the application's task definition. (mesh ARN, namespace, app ARN)"""
        mesh = self.add_mesh()
        namespace = self.add_namespace()
        self.add_cloud_map_service(namespace, CLOUD_MAP_SERVICE_NAME)
        roles = f"arn:{PARTITION}:iam::{self.account}:role/"
        app = self.ecs.seed(
            app_task_definition_input(
                self.region, roles + TASK_ROLE_NAME, roles + EXECUTION_ROLE_NAME
            )
        )
        assert app.endswith(f"task-definition/{APP_FAMILY}:1")
        return mesh, namespace, app

    def active_revisions(self, family: str) -> list[str]:
        with self.lock:
            return sorted(
                r.arn
                for r in self.revisions.values()
                if r.family == family and r.status == "ACTIVE"
            )

    def all_revisions(self, family: str) -> list[str]:
        with self.lock:
            return sorted(r.arn for r in self.revisions.values() if r.family == family)

    def revision(self, arn: str) -> _Revision:
        with self.lock:
            return self.revisions[arn]

    def node(self, name: str, mesh: str = MESH_NAME) -> _MeshResource | None:
        with self.lock:
            return self.meshes[(self.account, mesh)].nodes.get(name)

    def service(self, name: str, mesh: str = MESH_NAME) -> _MeshResource | None:
        with self.lock:
            return self.meshes[(self.account, mesh)].services.get(name)


class FakeEcs:
    def __init__(self, aws: FakeAws) -> None:
        self.aws = aws

    def seed(self, request: dict[str, Any]) -> str:
        """Registers without recording a call (the platform's own task definitions)."""
        return str(self._register(request)["taskDefinitionArn"])

    def _find(self, reference: str) -> _Revision | None:
        aws = self.aws
        name = reference.split("/")[-1]
        number = name.rpartition(":")[2]
        if number.isdigit():
            arn = f"arn:{PARTITION}:ecs:{aws.region}:{aws.account}:task-definition/{name}"
            return aws.revisions.get(arn)
        active = [r for r in aws.revisions.values() if r.family == name and r.status == "ACTIVE"]
        return max(active, key=lambda r: r.number) if active else None

    def describe(self, reference: str) -> tuple[TaskDefinitionTypeDef, list[dict[str, str]]]:
        self.aws._enter("ecs.describe")
        with self.aws.lock:
            found = self._find(reference)
            if found is None:
                # ECS: ClientException "Unable to describe task definition."
                raise MissingResourceError(
                    f"TaskDefinition: '{reference}' was not found (Unable to describe task "
                    "definition.)"
                )
            tags = [{"key": k, "value": v} for k, v in found.tags.items()]
            return self._shape(found), tags

    def _shape(self, revision: _Revision) -> TaskDefinitionTypeDef:
        described = copy.deepcopy(revision.content)
        for container in described.get("containerDefinitions") or []:
            container.setdefault("cpu", 0)  # ECS describes a container without cpu so
        described.update(
            taskDefinitionArn=revision.arn,
            family=revision.family,
            revision=revision.number,
            status=revision.status,
        )
        return cast("TaskDefinitionTypeDef", described)

    def register(self, request: dict[str, Any]) -> TaskDefinitionTypeDef:
        self.aws._enter("ecs.register")
        return self._register(request)

    def _register(self, request: dict[str, Any]) -> TaskDefinitionTypeDef:
        aws = self.aws
        family = str(request.get("family") or "")
        if not family or not request.get("containerDefinitions"):
            raise AwsError(
                f"ECS ClientException registering family {family or None}: "
                "family and containerDefinitions are required"
            )
        with aws.lock:
            number = 1 + max(
                (r.number for r in aws.revisions.values() if r.family == family), default=0
            )
            arn = (
                f"arn:{PARTITION}:ecs:{aws.region}:{aws.account}:task-definition/{family}:{number}"
            )
            content = copy.deepcopy({k: v for k, v in request.items() if k != "tags"})
            tags = {t["key"]: t["value"] for t in request.get("tags") or []}
            revision = _Revision(arn, family, number, content, tags)
            aws.revisions[arn] = revision
            return self._shape(revision)

    def deregister(self, arn: str) -> None:
        self.aws._enter("ecs.deregister")
        with self.aws.lock:
            found = self.aws.revisions.get(arn)
            if found is not None:
                found.status = "INACTIVE"

    def active(self, family: str) -> set[str]:
        self.aws._enter("ecs.active")
        return set(self.aws.active_revisions(family))

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        self.aws._enter("ecs.tag")
        with self.aws.lock:
            found = self.aws.revisions.get(arn)
            if found is None:
                raise AwsError(
                    f"ECS InvalidParameterException tagging {arn}: The specified task "
                    "definition does not exist."
                )
            found.tags.update(tags)


class FakeTagging:
    def __init__(self, aws: FakeAws) -> None:
        self.aws = aws

    def task_definitions(self, tags: dict[str, str]) -> dict[str, dict[str, str]]:
        """ACTIVE or not, as the adapter says of the real API: the caller filters."""
        self.aws._enter("tagging.task_definitions")
        with self.aws.lock:
            return {
                r.arn: dict(r.tags)
                for r in self.aws.revisions.values()
                if all(r.tags.get(k) == v for k, v in tags.items())
            }


class FakeCloudMap:
    def __init__(self, aws: FakeAws) -> None:
        self.aws = aws

    def names_by_id(self, service_id: str) -> tuple[str, str]:
        self.aws._enter("cloudmap.names_by_id")
        namespace = self._namespace_of(service_id)
        return namespace.name, self.aws.cloud_map_services[service_id][1]

    def namespace_of(self, service_id: str) -> Namespace:
        self.aws._enter("cloudmap.namespace_of")
        return self._namespace_of(service_id)

    def _namespace_of(self, service_id: str) -> Namespace:
        with self.aws.lock:
            found = self.aws.cloud_map_services.get(service_id)
            if found is None:
                raise MissingResourceError(
                    f"CloudMapServiceArn: Cloud Map service {service_id} does not exist"
                )
            return self.aws.namespaces[found[0]]

    def namespace(self, name_or_id: str, *, is_id: bool, path: str) -> Namespace:
        self.aws._enter("cloudmap.namespace")
        with self.aws.lock:
            if is_id:
                found = self.aws.namespaces.get(name_or_id)
            else:
                found = next(
                    (n for n in self.aws.namespaces.values() if n.name == name_or_id), None
                )
        if found is None:
            raise MissingResourceError(f"{path}: Cloud Map namespace '{name_or_id}' does not exist")
        return found

    def service_named(self, namespace_id: str, name: str) -> ServiceSummaryTypeDef | None:
        self.aws._enter("cloudmap.service_named")
        with self.aws.lock:
            for service_id, (namespace, service_name, arn) in self.aws.cloud_map_services.items():
                if namespace == namespace_id and service_name == name:
                    summary = {"Id": service_id, "Arn": arn, "Name": service_name}
                    return cast("ServiceSummaryTypeDef", summary)
        return None

    def tags(self, arn: str) -> dict[str, str]:
        self.aws._enter("cloudmap.tags")
        with self.aws.lock:
            if arn not in self.aws.cloud_map_tags:
                raise AwsError(f"Cloud Map ResourceNotFoundException reading tags of {arn}")
            return dict(self.aws.cloud_map_tags[arn])

    def check_names(self, namespace_name: str, service_name: str) -> None:
        self.aws._enter("cloudmap.check_names")
        with self.aws.lock:
            namespace = next(
                (n for n in self.aws.namespaces.values() if n.name == namespace_name), None
            )
            if namespace is None:
                raise MissingResourceError(
                    f"CloudMapNamespaceName: Cloud Map namespace '{namespace_name}' does not exist"
                )
            if not any(
                ns == namespace.id and name == service_name
                for ns, name, _ in self.aws.cloud_map_services.values()
            ):
                raise MissingResourceError(
                    f"CloudMapServiceName: namespace '{namespace_name}' has no service "
                    f"'{service_name}'"
                )


class FakeCloudFormation:
    def __init__(self, aws: FakeAws) -> None:
        self.aws = aws

    def current_physical_id(self, stack_id: str, logical_id: str) -> StackAnswer:
        self.aws._enter("cloudformation.current_physical_id")
        with self.aws.lock:
            if self.aws.stack_answer != "answered":
                return StackAnswer(known=False)
            return StackAnswer(
                known=True, physical_id=self.aws.stack_resources.get((stack_id, logical_id))
            )


class FakeAppMesh:
    """Virtual nodes and services with the real API's rules: a name is taken once, a service's
    provider node must exist, a node that provides a service or a service that a node names as
    a backend cannot be deleted."""

    def __init__(self, aws: FakeAws) -> None:
        self.aws = aws

    def _mesh(self, mesh: str, owner: str | None) -> _Mesh | None:
        return self.aws.meshes.get((owner or self.aws.account, mesh))

    def _arn(self, mesh: str, owner: str | None, kind: str, name: str) -> str:
        aws = self.aws
        return (
            f"arn:{PARTITION}:appmesh:{aws.region}:{owner or aws.account}:mesh/{mesh}/{kind}/{name}"
        )

    def _by_arn(self, arn: str) -> _MeshResource | None:
        for mesh in self.aws.meshes.values():
            for resource in (*mesh.nodes.values(), *mesh.services.values()):
                if resource.data["metadata"]["arn"] == arn:
                    return resource
        return None

    def service_names(self, mesh: str, owner: str | None) -> set[str]:
        self.aws._enter("appmesh.service_names")
        with self.aws.lock:
            found = self._mesh(mesh, owner)
            if found is None:
                raise MissingResourceError(
                    f"MeshName: mesh '{mesh}' does not exist"
                    f"{f' in account {owner}' if owner else ''} (or is not shared with "
                    "this account)"
                )
            return set(found.services)

    # -- nodes and services, the same four operations ---------------------------------------

    def _table(self, mesh: _Mesh, kind: str) -> dict[str, _MeshResource]:
        return mesh.nodes if kind == "virtualNode" else mesh.services

    def _describe(self, kind: str, mesh: str, owner: str | None, name: str) -> Any:
        with self.aws.lock:
            found = self._mesh(mesh, owner)
            resource = None if found is None else self._table(found, kind).get(name)
            return None if resource is None else copy.deepcopy(resource.data)

    def _create(
        self,
        kind: str,
        mesh: str,
        owner: str | None,
        name: str,
        spec: dict[str, Any],
        tags: dict[str, str],
    ) -> Any:
        words = "virtual node" if kind == "virtualNode" else "virtual service"
        with self.aws.lock:
            found = self._mesh(mesh, owner)
            if found is None:
                raise AwsError(f"App Mesh NotFoundException on {words} {name}: mesh not found")
            table = self._table(found, kind)
            if name in table:
                return None  # ConflictException: the caller re-reads whose it is
            if kind == "virtualService":
                provider = (spec.get("provider") or {}).get("virtualNode") or {}
                if provider and provider.get("virtualNodeName") not in found.nodes:
                    raise AwsError(
                        f"App Mesh NotFoundException on {words} {name}: VirtualNode "
                        f"{provider.get('virtualNodeName')} not found in mesh {mesh}"
                    )
            now = _now()
            data = {
                "meshName": mesh,
                f"{kind}Name": name,
                "spec": copy.deepcopy(spec),
                "metadata": {
                    "arn": self._arn(mesh, owner, kind, name),
                    "createdAt": now,
                    "lastUpdatedAt": now,
                    "meshOwner": owner or self.aws.account,
                    "resourceOwner": self.aws.account,
                    "uid": str(uuid.uuid4()),
                    "version": 1,
                },
                "status": {"status": "ACTIVE"},
            }
            table[name] = _MeshResource(data, dict(tags))
            return copy.deepcopy(data)

    def _update(
        self, kind: str, mesh: str, owner: str | None, name: str, spec: dict[str, Any]
    ) -> Any:
        words = "virtual node" if kind == "virtualNode" else "virtual service"
        with self.aws.lock:
            found = self._mesh(mesh, owner)
            resource = None if found is None else self._table(found, kind).get(name)
            if found is None or resource is None:
                raise AwsError(f"App Mesh NotFoundException on {words} {name}: not found")
            if kind == "virtualService":
                provider = (spec.get("provider") or {}).get("virtualNode") or {}
                if provider and provider.get("virtualNodeName") not in found.nodes:
                    raise AwsError(
                        f"App Mesh NotFoundException on {words} {name}: VirtualNode "
                        f"{provider.get('virtualNodeName')} not found in mesh {mesh}"
                    )
            resource.data["spec"] = copy.deepcopy(spec)
            resource.data["metadata"]["version"] += 1
            resource.data["metadata"]["lastUpdatedAt"] = _now()
            return copy.deepcopy(resource.data)

    def _delete(self, kind: str, mesh: str, owner: str | None, name: str) -> bool:
        words = "virtual node" if kind == "virtualNode" else "virtual service"
        with self.aws.lock:
            found = self._mesh(mesh, owner)
            table = None if found is None else self._table(found, kind)
            if found is None or table is None or name not in table:
                return False
            if kind == "virtualNode":
                holders = sorted(
                    s
                    for s, r in found.services.items()
                    if (r.data["spec"].get("provider") or {})
                    .get("virtualNode", {})
                    .get("virtualNodeName")
                    == name
                )
                if holders:
                    raise ResourceInUseError(
                        f"{words} {name} of mesh {mesh} is still in use: VirtualNode with name "
                        f"{name} cannot be deleted because it is a VirtualService provider: "
                        f"VIRTUAL_SERVICE: [{', '.join(holders)}]"
                    )
            else:
                users = sorted(
                    n
                    for n, r in found.nodes.items()
                    if any(
                        (b.get("virtualService") or {}).get("virtualServiceName") == name
                        for b in r.data["spec"].get("backends") or []
                    )
                )
                if users:
                    raise ResourceInUseError(
                        f"{words} {name} of mesh {mesh} is still in use: VirtualService {name} "
                        f"is a backend of VIRTUAL_NODE: [{', '.join(users)}]"
                    )
            del table[name]
            return True

    def describe_node(
        self, mesh: str, owner: str | None, name: str
    ) -> VirtualNodeDataTypeDef | None:
        self.aws._enter("appmesh.describe_node")
        return cast(
            "VirtualNodeDataTypeDef | None", self._describe("virtualNode", mesh, owner, name)
        )

    def create_node(
        self, mesh: str, owner: str | None, name: str, spec: dict[str, Any], tags: dict[str, str]
    ) -> VirtualNodeDataTypeDef | None:
        self.aws._enter("appmesh.create_node")
        created = self._create("virtualNode", mesh, owner, name, spec, tags)
        return cast("VirtualNodeDataTypeDef | None", created)

    def update_node(
        self, mesh: str, owner: str | None, name: str, spec: dict[str, Any]
    ) -> VirtualNodeDataTypeDef:
        self.aws._enter("appmesh.update_node")
        return cast("VirtualNodeDataTypeDef", self._update("virtualNode", mesh, owner, name, spec))

    def delete_node(self, mesh: str, owner: str | None, name: str) -> bool:
        self.aws._enter("appmesh.delete_node")
        return self._delete("virtualNode", mesh, owner, name)

    def describe_service(
        self, mesh: str, owner: str | None, name: str
    ) -> VirtualServiceDataTypeDef | None:
        self.aws._enter("appmesh.describe_service")
        described = self._describe("virtualService", mesh, owner, name)
        return cast("VirtualServiceDataTypeDef | None", described)

    def create_service(
        self, mesh: str, owner: str | None, name: str, spec: dict[str, Any], tags: dict[str, str]
    ) -> VirtualServiceDataTypeDef | None:
        self.aws._enter("appmesh.create_service")
        created = self._create("virtualService", mesh, owner, name, spec, tags)
        return cast("VirtualServiceDataTypeDef | None", created)

    def update_service(
        self, mesh: str, owner: str | None, name: str, spec: dict[str, Any]
    ) -> VirtualServiceDataTypeDef:
        self.aws._enter("appmesh.update_service")
        updated = self._update("virtualService", mesh, owner, name, spec)
        return cast("VirtualServiceDataTypeDef", updated)

    def delete_service(self, mesh: str, owner: str | None, name: str) -> bool:
        self.aws._enter("appmesh.delete_service")
        return self._delete("virtualService", mesh, owner, name)

    # -- tags --------------------------------------------------------------------------------

    def tags(self, arn: str) -> dict[str, str] | None:
        self.aws._enter("appmesh.tags")
        with self.aws.lock:
            found = self._by_arn(arn)
            return None if found is None else dict(found.tags)

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        self.aws._enter("appmesh.tag")
        with self.aws.lock:
            found = self._by_arn(arn)
            if found is None:
                raise AwsError(f"App Mesh NotFoundException on {arn}: not found")
            found.tags.update(tags)

    def untag(self, arn: str, keys: list[str]) -> None:
        if not keys:
            return  # as the adapter: no call at all
        self.aws._enter("appmesh.untag")
        with self.aws.lock:
            found = self._by_arn(arn)
            if found is None:
                raise AwsError(f"App Mesh NotFoundException on {arn}: not found")
            for key in keys:
                found.tags.pop(key, None)
