"""App Mesh for the local emulator: moto's backend, extended toward the real API.

moto 5.x models meshes, virtual nodes, routers, routes, gateways and gateway routes,
but the handler under test also needs what moto lacks (DESIGN §7):

* virtual services (Create/Describe/Update/Delete/ListVirtualServices);
* the real error shapes - ``NotFoundException`` (404), ``ConflictException`` (409),
  ``BadRequestException`` (400), ``ResourceInUseException`` (409), ``TooManyTagsException``
  (400) - where moto answers with its own codes (``MeshNotFound``, ``...NameAlreadyTaken``)
  and always 400;
* the in-use rules the real service enforces on delete;
* ``UntagResource``, and TagResource replacing values of existing keys;
* a virtual node whose ``serviceDiscovery.awsCloudMap`` has no ``attributes`` (optional in
  the model, required by moto's parser), and a node spec that round-trips exactly;
* metadata as the service returns it: mesh ARN ``...:mesh/NAME``, owners are account ids,
  a fresh ``uid`` and ``createdAt`` per resource (moto evaluates those dataclass defaults
  once, at import), timestamps as epoch seconds (moto sends ``"%d/%m/%Y, %H:%M:%S"``
  strings that botocore parses month-first).

The reference for shapes, HTTP paths and errors is botocore's service model
(``botocore/data/appmesh/2019-01-25/service-2.json``); error messages follow the texts the
real service is known to return (e.g. "VirtualNode with name X is not present under mesh M
for account A", "Mesh M for account A has active VirtualNodes, ...").

The code is shaped like an upstream moto backend - a subclass of ``AppMeshBackend`` and
``AppMeshResponse``, dataclass models, ``JsonRESTError`` subclasses, url_paths - and
:func:`install` wires it into moto without editing moto: it swaps the backend class of the
existing ``appmesh_backends`` ``BackendDict`` (the one object every moto code path
reaches, in-process and in server mode) and upgrades backends that already exist.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import threading
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, cast
from uuid import uuid4

import botocore.session
from moto.appmesh import urls as moto_appmesh_urls
from moto.appmesh.dataclasses.gateway_route import GatewayRoute
from moto.appmesh.dataclasses.mesh import Mesh
from moto.appmesh.dataclasses.route import Route
from moto.appmesh.dataclasses.shared import Metadata
from moto.appmesh.dataclasses.virtual_gateway import VirtualGateway
from moto.appmesh.dataclasses.virtual_node import VirtualNode, VirtualNodeSpec
from moto.appmesh.dataclasses.virtual_router import VirtualRouter
from moto.appmesh.exceptions import MissingRequiredFieldError, ResourceNotFoundError
from moto.appmesh.models import AppMeshBackend, appmesh_backends
from moto.appmesh.responses import AppMeshResponse
from moto.appmesh.utils.spec_parsing import build_virtual_node_spec
from moto.core.exceptions import JsonRESTError
from moto.utilities.paginator import Paginator

__all__ = [
    "AppMeshError",
    "BadRequestException",
    "ConflictException",
    "ExtendedAppMeshBackend",
    "ExtendedAppMeshResponse",
    "NotFoundException",
    "ResourceInUseException",
    "TooManyTagsException",
    "VirtualService",
    "VirtualServiceProvider",
    "VirtualServiceSpec",
    "install",
    "parse_virtual_node_spec",
]

Tag = dict[str, str]
JsonDict = dict[str, Any]

MAX_TAGS_PER_RESOURCE: Final = 50  # TooManyTagsException's documented limit
LIST_LIMIT_DEFAULT: Final = 100  # "If you don't use this parameter, ... returns up to 100"
# moto renders its datetimes with this format; the real API sends epoch seconds.
_MOTO_TIMESTAMP_FORMAT: Final = "%d/%m/%Y, %H:%M:%S"
_TIMESTAMP_KEYS: Final = frozenset({"createdAt", "lastUpdatedAt"})


# --------------------------------------------------------------------------- errors


class AppMeshError(JsonRESTError):
    """An App Mesh error as the service sends it: ``__type`` = the model's shape name."""

    code = 400
    error_name: ClassVar[str] = "BadRequestException"

    def __init__(self, message: str) -> None:
        super().__init__(self.error_name, message)


class BadRequestException(AppMeshError):  # noqa: N818 - the model's shape name
    """400: "The request syntax was malformed."""

    code = 400
    error_name = "BadRequestException"


class NotFoundException(AppMeshError):  # noqa: N818 - the model's shape name
    """404: "The specified resource doesn't exist."""

    code = 404
    error_name = "NotFoundException"


class ConflictException(AppMeshError):  # noqa: N818 - the model's shape name
    """409: a name already taken, or a client token reused with a different request."""

    code = 409
    error_name = "ConflictException"


class ResourceInUseException(AppMeshError):  # noqa: N818 - the model's shape name
    """409: "You can't delete the specified resource because it's in use or required"."""

    code = 409
    error_name = "ResourceInUseException"


class TooManyTagsException(AppMeshError):  # noqa: N818 - the model's shape name
    """400: more than 50 user tags on one resource."""

    code = 400
    error_name = "TooManyTagsException"


# moto's own codes -> the real ones. The backend below raises the real errors itself;
# this table is the safety net for errors raised inside moto's spec parsers (e.g.
# MissingRequiredField for a route), which run in moto's response methods.
_LEGACY_ERRORS: Final[Mapping[str, type[AppMeshError]]] = {
    "MeshNotFound": NotFoundException,
    "ResourceNotFound": NotFoundException,
    "VirtualRouterNotFound": NotFoundException,
    "RouteNotFound": NotFoundException,
    "VirtualNodeNotFound": NotFoundException,
    "VirtualGatewayNotFound": NotFoundException,
    "GatewayRouteNotFound": NotFoundException,
    "VirtualRouterNameAlreadyTaken": ConflictException,
    "RouteNameAlreadyTaken": ConflictException,
    "VirtualNodeNameAlreadyTaken": ConflictException,
    "VirtualGatewayNameAlreadyTaken": ConflictException,
    "GatewayRouteNameAlreadyTaken": ConflictException,
    "MeshOwnerDoesNotMatch": BadRequestException,
    "MissingRequiredField": BadRequestException,
}


# --------------------------------------------------------------------------- models


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ResourceMetadata:
    """The model's ``ResourceMetadata``; per-instance defaults (unlike moto's Metadata)."""

    arn: str
    mesh_owner: str
    resource_owner: str
    created_at: datetime = field(default_factory=_utcnow)
    last_updated_at: datetime = field(default_factory=_utcnow)
    uid: str = field(default_factory=lambda: str(uuid4()))
    version: int = 1

    def record_update(self) -> None:
        self.version += 1
        self.last_updated_at = _utcnow()

    def to_dict(self) -> JsonDict:
        return {
            "arn": self.arn,
            "createdAt": self.created_at.timestamp(),
            "lastUpdatedAt": self.last_updated_at.timestamp(),
            "meshOwner": self.mesh_owner,
            "resourceOwner": self.resource_owner,
            "uid": self.uid,
            "version": self.version,
        }


@dataclass(frozen=True)
class VirtualServiceProvider:
    """The model's ``VirtualServiceProvider`` union: exactly one of node or router."""

    virtual_node_name: str | None = None
    virtual_router_name: str | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> VirtualServiceProvider:
        node = raw.get("virtualNode")
        router = raw.get("virtualRouter")
        if (node is None) == (router is None):
            raise BadRequestException(
                "A virtual service provider must specify exactly one of virtualNode or "
                "virtualRouter."
            )
        if node is not None:
            name = node.get("virtualNodeName") if isinstance(node, Mapping) else None
            if not name:
                raise BadRequestException("virtualNode.virtualNodeName must be defined.")
            return cls(virtual_node_name=str(name))
        name = router.get("virtualRouterName") if isinstance(router, Mapping) else None
        if not name:
            raise BadRequestException("virtualRouter.virtualRouterName must be defined.")
        return cls(virtual_router_name=str(name))

    def to_dict(self) -> JsonDict:
        if self.virtual_node_name is not None:
            return {"virtualNode": {"virtualNodeName": self.virtual_node_name}}
        return {"virtualRouter": {"virtualRouterName": self.virtual_router_name}}


@dataclass(frozen=True)
class VirtualServiceSpec:
    """The model's ``VirtualServiceSpec``; the provider is optional."""

    provider: VirtualServiceProvider | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> VirtualServiceSpec:
        if raw is None:
            raise BadRequestException("spec must be defined.")
        provider = raw.get("provider")
        if provider is None:
            return cls()
        if not isinstance(provider, Mapping):
            raise BadRequestException("spec.provider must be an object.")
        return cls(provider=VirtualServiceProvider.from_dict(provider))

    def to_dict(self) -> JsonDict:
        return {} if self.provider is None else {"provider": self.provider.to_dict()}


@dataclass
class VirtualService:
    """A virtual service (the model's ``VirtualServiceData`` plus its tags)."""

    mesh_name: str
    virtual_service_name: str
    spec: VirtualServiceSpec
    metadata: ResourceMetadata
    status: dict[str, str] = field(default_factory=lambda: {"status": "ACTIVE"})
    tags: list[Tag] = field(default_factory=list)

    def to_dict(self) -> JsonDict:
        return {
            "meshName": self.mesh_name,
            "metadata": self.metadata.to_dict(),
            "spec": self.spec.to_dict(),
            "status": dict(self.status),
            "virtualServiceName": self.virtual_service_name,
        }

    def to_ref(self) -> JsonDict:
        """The ``VirtualServiceRef`` that ListVirtualServices returns."""
        metadata = self.metadata.to_dict()
        del metadata["uid"]
        return {
            **metadata,
            "meshName": self.mesh_name,
            "virtualServiceName": self.virtual_service_name,
        }


@dataclass
class RawVirtualNodeSpec(VirtualNodeSpec):
    """moto's parsed node spec, serialised as the caller sent it.

    moto's dataclasses are kept (other moto code reads them), but ``to_dict`` returns the
    request's spec so every field round-trips, including optional ones moto drops or does
    not model, and an ``awsCloudMap`` without ``attributes`` stays without them.
    """

    raw: JsonDict = field(default_factory=dict)

    def to_dict(self) -> JsonDict:
        return copy.deepcopy(self.raw)


def parse_virtual_node_spec(raw: Mapping[str, Any]) -> RawVirtualNodeSpec:
    """Validate a node spec with moto's parser and keep the original for serialising."""
    to_parse = copy.deepcopy(dict(raw))
    cloud_map = (to_parse.get("serviceDiscovery") or {}).get("awsCloudMap")
    if isinstance(cloud_map, dict) and cloud_map.get("attributes") is None:
        # Optional in AwsCloudMapServiceDiscovery; moto's parser raises without it.
        cloud_map["attributes"] = []
    try:
        parsed = build_virtual_node_spec(to_parse)
    except MissingRequiredFieldError as error:
        raise BadRequestException(error.message) from error
    values = {f.name: getattr(parsed, f.name) for f in dataclasses.fields(VirtualNodeSpec)}
    return RawVirtualNodeSpec(**values, raw=copy.deepcopy(dict(raw)))


# --------------------------------------------------------------------------- backend


def _fingerprint(**request: Any) -> str:
    """A stable digest of a create request, to tell a replay from a conflicting reuse."""
    return json.dumps(request, sort_keys=True, default=str)


def _refresh_moto_metadata(metadata: Metadata) -> None:
    # moto's Metadata defaults (uid, createdAt) are evaluated once, at import, so every
    # resource would share them; give each resource its own.
    now = datetime.now()
    metadata.uid = str(uuid4())
    metadata.created_at = now
    metadata.last_updated_at = now


def _backend_virtual_service_names(node: VirtualNode) -> list[str]:
    spec = node.spec.to_dict()
    names: list[str] = []
    for backend in spec.get("backends") or []:
        name = (backend.get("virtualService") or {}).get("virtualServiceName")
        if name:
            names.append(str(name))
    return names


def _gateway_route_target_service(gateway_route: GatewayRoute) -> str | None:
    spec = gateway_route.spec.to_dict()
    for route_type in ("httpRoute", "http2Route", "grpcRoute"):
        route = spec.get(route_type) or {}
        target = ((route.get("action") or {}).get("target") or {}).get("virtualService") or {}
        name = target.get("virtualServiceName")
        if name:
            return str(name)
    return None


class ExtendedAppMeshBackend(AppMeshBackend):
    """moto's App Mesh backend plus virtual services, in-use rules and real errors."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self._init_extension()

    def _init_extension(self) -> None:
        """State this subclass adds; also run on backends upgraded in place by install()."""
        # mesh name -> virtual service name -> service (moto's Mesh has no slot for them)
        self.virtual_services: dict[str, dict[str, VirtualService]] = {}
        # (kind, mesh, name) -> (client token, request fingerprint) of the create call
        self.create_requests: dict[tuple[str, str, str], tuple[str, str]] = {}

    # ---- messages

    def _not_present(self, kind: str, name: str, mesh_name: str) -> NotFoundException:
        return NotFoundException(
            f"{kind} with name {name} is not present under mesh {mesh_name} "
            f"for account {self.account_id}"
        )

    def _already_exists(self, kind: str, name: str, mesh_name: str) -> ConflictException:
        return ConflictException(
            f"{kind} with name {name} already exists under mesh {mesh_name} "
            f"for account {self.account_id}"
        )

    # ---- idempotency (clientToken)

    def _is_replay(
        self, key: tuple[str, str, str], client_token: str | None, fingerprint: str
    ) -> bool:
        """A create whose token and request match the one that made the resource."""
        return client_token is not None and self.create_requests.get(key) == (
            client_token,
            fingerprint,
        )

    def _remember_create(
        self, key: tuple[str, str, str], client_token: str | None, fingerprint: str
    ) -> None:
        if client_token is not None:
            self.create_requests[key] = (client_token, fingerprint)
        else:
            self.create_requests.pop(key, None)

    # ---- validation hooks that moto's operations call (real errors instead of moto's)

    def _get_mesh(self, mesh_name: str, mesh_owner: str | None) -> Mesh:
        mesh = self.meshes.get(mesh_name)
        if mesh is None:
            raise NotFoundException(
                f"Mesh with name {mesh_name} is not present for account {self.account_id}"
            )
        if mesh_owner is not None and mesh.metadata.mesh_owner != mesh_owner:
            raise BadRequestException(
                f"The mesh owner {mesh_owner} does not match the owner of mesh {mesh_name} "
                f"({mesh.metadata.mesh_owner}); a mesh owned by another account must be "
                "shared with yours."
            )
        return mesh

    def _validate_mesh(self, mesh_name: str, mesh_owner: str | None) -> None:
        self._get_mesh(mesh_name, mesh_owner)

    def _check_virtual_node_validity(
        self, mesh_name: str, mesh_owner: str | None, virtual_node_name: str
    ) -> None:
        if virtual_node_name not in self._get_mesh(mesh_name, mesh_owner).virtual_nodes:
            raise self._not_present("VirtualNode", virtual_node_name, mesh_name)

    def _check_virtual_node_availability(
        self, mesh_name: str, mesh_owner: str | None, virtual_node_name: str
    ) -> None:
        if virtual_node_name in self._get_mesh(mesh_name, mesh_owner).virtual_nodes:
            raise self._already_exists("VirtualNode", virtual_node_name, mesh_name)

    def _check_router_validity(
        self, mesh_name: str, mesh_owner: str | None, virtual_router_name: str
    ) -> None:
        if virtual_router_name not in self._get_mesh(mesh_name, mesh_owner).virtual_routers:
            raise self._not_present("VirtualRouter", virtual_router_name, mesh_name)

    def _check_router_availability(
        self, mesh_name: str, mesh_owner: str | None, virtual_router_name: str
    ) -> None:
        if virtual_router_name in self._get_mesh(mesh_name, mesh_owner).virtual_routers:
            raise self._already_exists("VirtualRouter", virtual_router_name, mesh_name)

    def _check_route_validity(
        self, mesh_name: str, mesh_owner: str | None, virtual_router_name: str, route_name: str
    ) -> None:
        self._check_router_validity(mesh_name, mesh_owner, virtual_router_name)
        if route_name not in self.meshes[mesh_name].virtual_routers[virtual_router_name].routes:
            raise NotFoundException(
                f"Route with name {route_name} is not present under virtual router "
                f"{virtual_router_name} in mesh {mesh_name} for account {self.account_id}"
            )

    def _check_route_availability(
        self, mesh_name: str, mesh_owner: str | None, virtual_router_name: str, route_name: str
    ) -> None:
        self._check_router_validity(mesh_name, mesh_owner, virtual_router_name)
        if route_name in self.meshes[mesh_name].virtual_routers[virtual_router_name].routes:
            raise ConflictException(
                f"Route with name {route_name} already exists under virtual router "
                f"{virtual_router_name} in mesh {mesh_name} for account {self.account_id}"
            )

    def _check_virtual_gateway_validity(
        self, mesh_name: str, mesh_owner: str | None, virtual_gateway_name: str
    ) -> None:
        if virtual_gateway_name not in self._get_mesh(mesh_name, mesh_owner).virtual_gateways:
            raise self._not_present("VirtualGateway", virtual_gateway_name, mesh_name)

    def _check_virtual_gateway_availability(
        self, mesh_name: str, mesh_owner: str | None, virtual_gateway_name: str
    ) -> None:
        if virtual_gateway_name in self._get_mesh(mesh_name, mesh_owner).virtual_gateways:
            raise self._already_exists("VirtualGateway", virtual_gateway_name, mesh_name)

    def _check_gateway_route_validity(
        self,
        mesh_name: str,
        mesh_owner: str | None,
        virtual_gateway_name: str,
        gateway_route_name: str,
    ) -> None:
        self._check_virtual_gateway_validity(mesh_name, mesh_owner, virtual_gateway_name)
        gateway = self.meshes[mesh_name].virtual_gateways[virtual_gateway_name]
        if gateway_route_name not in gateway.gateway_routes:
            raise NotFoundException(
                f"GatewayRoute with name {gateway_route_name} is not present under virtual "
                f"gateway {virtual_gateway_name} in mesh {mesh_name} "
                f"for account {self.account_id}"
            )

    def _check_gateway_route_availability(
        self,
        mesh_name: str,
        mesh_owner: str | None,
        virtual_gateway_name: str,
        gateway_route_name: str,
    ) -> None:
        self._check_virtual_gateway_validity(mesh_name, mesh_owner, virtual_gateway_name)
        gateway = self.meshes[mesh_name].virtual_gateways[virtual_gateway_name]
        if gateway_route_name in gateway.gateway_routes:
            raise ConflictException(
                f"GatewayRoute with name {gateway_route_name} already exists under virtual "
                f"gateway {virtual_gateway_name} in mesh {mesh_name} "
                f"for account {self.account_id}"
            )

    # ---- meshes

    def create_mesh(
        self,
        client_token: str | None,
        mesh_name: str,
        egress_filter_type: str | None,
        ip_preference: str | None,
        tags: list[Tag] | None,
    ) -> Mesh:
        key = ("mesh", mesh_name, mesh_name)
        fingerprint = _fingerprint(egress=egress_filter_type, ip=ip_preference, tags=tags or [])
        if mesh_name in self.meshes:
            if self._is_replay(key, client_token, fingerprint):
                return self.meshes[mesh_name]
            raise ConflictException(
                f"Mesh with name {mesh_name} already exists for account {self.account_id}"
            )
        self._check_tag_count(tags or [])
        mesh = super().create_mesh(
            client_token=client_token,
            mesh_name=mesh_name,
            # The service defaults the egress filter to DROP_ALL.
            egress_filter_type=egress_filter_type or "DROP_ALL",
            ip_preference=ip_preference,
            tags=tags,
        )
        # moto: ARN without "mesh/", owners = the caller's access key id.
        mesh.metadata.arn = (
            f"arn:{self.partition}:appmesh:{self.region_name}:{self.account_id}:mesh/{mesh_name}"
        )
        mesh.metadata.mesh_owner = self.account_id
        mesh.metadata.resource_owner = self.account_id
        _refresh_moto_metadata(mesh.metadata)
        self.virtual_services[mesh_name] = {}
        self._remember_create(key, client_token, fingerprint)
        return mesh

    def update_mesh(
        self,
        client_token: str | None,
        mesh_name: str,
        egress_filter_type: str | None,
        ip_preference: str | None,
    ) -> Mesh:
        self._get_mesh(mesh_name, None)
        return super().update_mesh(
            client_token=client_token,
            mesh_name=mesh_name,
            egress_filter_type=egress_filter_type,
            ip_preference=ip_preference,
        )

    def delete_mesh(self, mesh_name: str) -> Mesh:
        mesh = self._get_mesh(mesh_name, None)
        holders: list[tuple[str, Mapping[str, Any]]] = [
            ("VirtualNodes", mesh.virtual_nodes),
            ("VirtualServices", self._services(mesh_name)),
            ("VirtualRouters", mesh.virtual_routers),
            ("VirtualGateways", mesh.virtual_gateways),
        ]
        for kind, resources in holders:
            if resources:
                raise ResourceInUseException(
                    f"Mesh {mesh_name} for account {self.account_id} has active {kind} "
                    f"({', '.join(sorted(resources))}), please delete {kind} before "
                    "deleting the Mesh"
                )
        deleted = super().delete_mesh(mesh_name=mesh_name)
        self.virtual_services.pop(mesh_name, None)
        self._forget_creates(mesh_name)
        return deleted

    def _forget_creates(
        self, mesh_name: str, kind: str | None = None, name: str | None = None
    ) -> None:
        for key in list(self.create_requests):
            if key[1] == mesh_name and kind in (None, key[0]) and name in (None, key[2]):
                del self.create_requests[key]

    # ---- virtual nodes

    def create_virtual_node(
        self,
        client_token: str | None,
        mesh_name: str,
        mesh_owner: str | None,
        spec: VirtualNodeSpec,
        tags: list[Tag] | None,
        virtual_node_name: str,
    ) -> VirtualNode:
        key = ("virtualNode", mesh_name, virtual_node_name)
        fingerprint = _fingerprint(owner=mesh_owner, spec=spec.to_dict(), tags=tags or [])
        mesh = self._get_mesh(mesh_name, mesh_owner)
        if virtual_node_name in mesh.virtual_nodes and self._is_replay(
            key, client_token, fingerprint
        ):
            return mesh.virtual_nodes[virtual_node_name]
        self._check_tag_count(tags or [])
        node = super().create_virtual_node(
            client_token=client_token,
            mesh_name=mesh_name,
            mesh_owner=mesh_owner,
            spec=spec,
            tags=tags,
            virtual_node_name=virtual_node_name,
        )
        _refresh_moto_metadata(node.metadata)
        self._remember_create(key, client_token, fingerprint)
        return node

    def delete_virtual_node(
        self, mesh_name: str, mesh_owner: str | None, virtual_node_name: str
    ) -> VirtualNode:
        self._check_virtual_node_validity(mesh_name, mesh_owner, virtual_node_name)
        providing = sorted(
            service.virtual_service_name
            for service in self._services(mesh_name).values()
            if service.spec.provider is not None
            and service.spec.provider.virtual_node_name == virtual_node_name
        )
        if providing:
            raise ResourceInUseException(
                f"VirtualNode with name {virtual_node_name} cannot be deleted because it is "
                f"a VirtualService provider: VIRTUAL_SERVICE: [{', '.join(providing)}]"
            )
        deleted = super().delete_virtual_node(
            mesh_name=mesh_name, mesh_owner=mesh_owner, virtual_node_name=virtual_node_name
        )
        self._forget_creates(mesh_name, "virtualNode", virtual_node_name)
        return deleted

    # ---- virtual routers, routes, gateways, gateway routes

    def create_virtual_router(self, *args: Any, **kwargs: Any) -> VirtualRouter:
        router = super().create_virtual_router(*args, **kwargs)
        _refresh_moto_metadata(router.metadata)
        return router

    def delete_virtual_router(
        self, mesh_name: str, mesh_owner: str | None, virtual_router_name: str
    ) -> VirtualRouter:
        self._check_router_validity(mesh_name, mesh_owner, virtual_router_name)
        providing = sorted(
            service.virtual_service_name
            for service in self._services(mesh_name).values()
            if service.spec.provider is not None
            and service.spec.provider.virtual_router_name == virtual_router_name
        )
        if providing:
            raise ResourceInUseException(
                f"VirtualRouter with name {virtual_router_name} cannot be deleted because it "
                f"is a VirtualService provider: VIRTUAL_SERVICE: [{', '.join(providing)}]"
            )
        routes = self.meshes[mesh_name].virtual_routers[virtual_router_name].routes
        if routes:
            raise ResourceInUseException(
                f"VirtualRouter {virtual_router_name} in mesh {mesh_name} has active Routes "
                f"({', '.join(sorted(routes))}), please delete Routes before deleting the "
                "VirtualRouter"
            )
        return super().delete_virtual_router(
            mesh_name=mesh_name, mesh_owner=mesh_owner, virtual_router_name=virtual_router_name
        )

    def create_route(self, *args: Any, **kwargs: Any) -> Route:
        route = super().create_route(*args, **kwargs)
        _refresh_moto_metadata(route.metadata)
        return route

    def create_virtual_gateway(self, *args: Any, **kwargs: Any) -> VirtualGateway:
        gateway = super().create_virtual_gateway(*args, **kwargs)
        _refresh_moto_metadata(gateway.metadata)
        return gateway

    def delete_virtual_gateway(
        self, mesh_name: str, mesh_owner: str | None, virtual_gateway_name: str
    ) -> VirtualGateway:
        self._check_virtual_gateway_validity(mesh_name, mesh_owner, virtual_gateway_name)
        routes = self.meshes[mesh_name].virtual_gateways[virtual_gateway_name].gateway_routes
        if routes:
            raise ResourceInUseException(
                f"VirtualGateway {virtual_gateway_name} in mesh {mesh_name} has active "
                f"GatewayRoutes ({', '.join(sorted(routes))}), please delete GatewayRoutes "
                "before deleting the VirtualGateway"
            )
        return super().delete_virtual_gateway(
            mesh_name=mesh_name,
            mesh_owner=mesh_owner,
            virtual_gateway_name=virtual_gateway_name,
        )

    def create_gateway_route(self, *args: Any, **kwargs: Any) -> GatewayRoute:
        gateway_route = super().create_gateway_route(*args, **kwargs)
        _refresh_moto_metadata(gateway_route.metadata)
        return gateway_route

    # ---- virtual services

    def _services(self, mesh_name: str) -> dict[str, VirtualService]:
        return self.virtual_services.setdefault(mesh_name, {})

    def _check_provider(self, mesh_name: str, spec: VirtualServiceSpec) -> None:
        provider = spec.provider
        if provider is None:
            return
        mesh = self.meshes[mesh_name]
        if provider.virtual_node_name is not None:
            if provider.virtual_node_name not in mesh.virtual_nodes:
                raise self._not_present("VirtualNode", provider.virtual_node_name, mesh_name)
        elif provider.virtual_router_name not in mesh.virtual_routers:
            raise self._not_present("VirtualRouter", str(provider.virtual_router_name), mesh_name)

    def _get_virtual_service(
        self, mesh_name: str, mesh_owner: str | None, virtual_service_name: str
    ) -> VirtualService:
        self._get_mesh(mesh_name, mesh_owner)
        service = self._services(mesh_name).get(virtual_service_name)
        if service is None:
            raise self._not_present("VirtualService", virtual_service_name, mesh_name)
        return service

    def create_virtual_service(
        self,
        client_token: str | None,
        mesh_name: str,
        mesh_owner: str | None,
        spec: Mapping[str, Any] | None,
        tags: list[Tag] | None,
        virtual_service_name: str,
    ) -> VirtualService:
        mesh = self._get_mesh(mesh_name, mesh_owner)
        parsed = VirtualServiceSpec.from_dict(spec)
        key = ("virtualService", mesh_name, virtual_service_name)
        fingerprint = _fingerprint(owner=mesh_owner, spec=parsed.to_dict(), tags=tags or [])
        existing = self._services(mesh_name).get(virtual_service_name)
        if existing is not None:
            if self._is_replay(key, client_token, fingerprint):
                return existing
            raise self._already_exists("VirtualService", virtual_service_name, mesh_name)
        self._check_provider(mesh_name, parsed)
        self._check_tag_count(tags or [])
        service = VirtualService(
            mesh_name=mesh_name,
            virtual_service_name=virtual_service_name,
            spec=parsed,
            metadata=ResourceMetadata(
                arn=(
                    f"arn:{self.partition}:appmesh:{self.region_name}:{self.account_id}:"
                    f"mesh/{mesh_name}/virtualService/{virtual_service_name}"
                ),
                mesh_owner=mesh_owner or mesh.metadata.mesh_owner,
                resource_owner=self.account_id,
            ),
            tags=[dict(tag) for tag in tags or []],
        )
        self._services(mesh_name)[virtual_service_name] = service
        self._remember_create(key, client_token, fingerprint)
        return service

    def describe_virtual_service(
        self, mesh_name: str, mesh_owner: str | None, virtual_service_name: str
    ) -> VirtualService:
        return self._get_virtual_service(mesh_name, mesh_owner, virtual_service_name)

    def update_virtual_service(
        self,
        client_token: str | None,
        mesh_name: str,
        mesh_owner: str | None,
        spec: Mapping[str, Any] | None,
        virtual_service_name: str,
    ) -> VirtualService:
        service = self._get_virtual_service(mesh_name, mesh_owner, virtual_service_name)
        parsed = VirtualServiceSpec.from_dict(spec)
        self._check_provider(mesh_name, parsed)
        service.spec = parsed
        service.metadata.record_update()
        return service

    def delete_virtual_service(
        self, mesh_name: str, mesh_owner: str | None, virtual_service_name: str
    ) -> VirtualService:
        service = self._get_virtual_service(mesh_name, mesh_owner, virtual_service_name)
        mesh = self.meshes[mesh_name]
        nodes = sorted(
            name
            for name, node in mesh.virtual_nodes.items()
            if virtual_service_name in _backend_virtual_service_names(node)
        )
        gateway_routes = sorted(
            f"{gateway_name}/{route_name}"
            for gateway_name, gateway in mesh.virtual_gateways.items()
            for route_name, route in gateway.gateway_routes.items()
            if _gateway_route_target_service(route) == virtual_service_name
        )
        if nodes or gateway_routes:
            references = []
            if nodes:
                references.append(f"VIRTUAL_NODE: [{', '.join(nodes)}]")
            if gateway_routes:
                references.append(f"GATEWAY_ROUTE: [{', '.join(gateway_routes)}]")
            raise ResourceInUseException(
                f"VirtualService {virtual_service_name} is being referenced in the "
                f"following: {'; '.join(references)}"
            )
        del self._services(mesh_name)[virtual_service_name]
        self._forget_creates(mesh_name, "virtualService", virtual_service_name)
        service.status = {"status": "DELETED"}
        return service

    def list_virtual_services(
        self,
        mesh_name: str,
        mesh_owner: str | None,
        limit: int | None,
        next_token: str | None,
    ) -> tuple[list[VirtualService], str | None]:
        self._get_mesh(mesh_name, mesh_owner)
        paginator = Paginator(
            max_results=limit,
            max_results_default=LIST_LIMIT_DEFAULT,
            starting_token=next_token,
            unique_attribute="virtual_service_name",
            # A token is only valid for the listing that produced it.
            param_values_to_check={"mesh_name": mesh_name, "mesh_owner": mesh_owner},
        )
        page, token = paginator.paginate(list(self._services(mesh_name).values()))
        return cast(list[VirtualService], page), token

    # ---- tags

    # Any: the result is wider than moto's union (it adds VirtualService); callers only
    # read and write ``.tags``, which every member has.
    def _get_resource_with_arn(self, resource_arn: str) -> Any:
        for services in self.virtual_services.values():
            for service in services.values():
                if service.metadata.arn == resource_arn:
                    return service
        try:
            return super()._get_resource_with_arn(resource_arn=resource_arn)
        except ResourceNotFoundError as error:
            raise NotFoundException(
                f"No App Mesh resource with arn {resource_arn} exists for account {self.account_id}"
            ) from error

    @staticmethod
    def _check_tag_count(tags: list[Tag]) -> None:
        if len({tag.get("key") for tag in tags}) > MAX_TAGS_PER_RESOURCE:
            raise TooManyTagsException(
                "The request exceeds the maximum allowed number of tags allowed per "
                f"resource. The current limit is {MAX_TAGS_PER_RESOURCE} user tags per "
                "resource. You must reduce the number of tags in the request. None of the "
                "tags in this request were applied."
            )

    def tag_resource(self, resource_arn: str, tags: list[Tag]) -> None:
        resource = self._get_resource_with_arn(resource_arn)
        # TagResource adds keys and overwrites the values of keys already present.
        merged = {tag["key"]: tag.get("value", "") for tag in resource.tags}
        merged.update({tag["key"]: tag.get("value", "") for tag in tags})
        new_tags = [{"key": key, "value": value} for key, value in merged.items()]
        self._check_tag_count(new_tags)
        resource.tags[:] = new_tags

    def untag_resource(self, resource_arn: str, tag_keys: list[str]) -> None:
        resource = self._get_resource_with_arn(resource_arn)
        removed = set(tag_keys)
        resource.tags[:] = [tag for tag in resource.tags if tag["key"] not in removed]

    # ---- routing

    @property
    def _url_module(self) -> Any:
        # BaseBackend derives "<module>.urls" from the class's module, which would point
        # at this test module; serve moto's url_bases with the extended url_paths instead.
        return _URL_MODULE


# --------------------------------------------------------------------------- responses


def _epoch_timestamps(value: Any) -> Any:
    """Rewrite moto's ``createdAt``/``lastUpdatedAt`` strings as epoch seconds."""
    if isinstance(value, list):
        return [_epoch_timestamps(item) for item in value]
    if not isinstance(value, dict):
        return value
    result: JsonDict = {}
    for key, item in value.items():
        if key in _TIMESTAMP_KEYS and isinstance(item, str):
            # moto renders naive local time; .timestamp() reads it back as local time.
            with contextlib.suppress(ValueError):
                item = datetime.strptime(item, _MOTO_TIMESTAMP_FORMAT).timestamp()
        result[key] = _epoch_timestamps(item)
    return result


_MODEL: Final = botocore.session.get_session().get_service_model("appmesh")


def _violation(shape: Any, value: Any, path: str) -> str | None:
    """The first constraint of ``shape`` (max/min length, list size, integer range) that
    ``value`` breaks, as AWS words it; None when it satisfies them all."""
    limits = shape.metadata
    shown = str(value)[:40]
    if shape.type_name == "string" and isinstance(value, str):
        if "max" in limits and len(value) > limits["max"]:
            return (
                f"Value '{shown}' at '{path}' failed to satisfy constraint: Member must have "
                f"length less than or equal to {limits['max']}"
            )
        if "min" in limits and len(value) < limits["min"]:
            return (
                f"Value '{shown}' at '{path}' failed to satisfy constraint: Member must have "
                f"length greater than or equal to {limits['min']}"
            )
    elif shape.type_name in ("integer", "long") and isinstance(value, int):
        if "max" in limits and value > limits["max"]:
            return (
                f"Value '{value}' at '{path}' failed to satisfy constraint: Member must have "
                f"value less than or equal to {limits['max']}"
            )
        if "min" in limits and value < limits["min"]:
            return (
                f"Value '{value}' at '{path}' failed to satisfy constraint: Member must have "
                f"value greater than or equal to {limits['min']}"
            )
    elif shape.type_name == "list" and isinstance(value, list):
        # Too many tags has an error of its own (TooManyTagsException, _check_tag_count).
        if "max" in limits and len(value) > limits["max"] and path != "tags":
            return (
                f"Value at '{path}' failed to satisfy constraint: Member must have length less "
                f"than or equal to {limits['max']}"
            )
        for index, item in enumerate(value):
            found = _violation(shape.member, item, f"{path}.{index + 1}.member")
            if found is not None:
                return found
    elif shape.type_name == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if value.get(name) is not None:
                found = _violation(member, value[name], f"{path}.{name}")
                if found is not None:
                    return found
    return None


def _required(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequestException(f"{name} must be defined.")
    return value


class ExtendedAppMeshResponse(AppMeshResponse):
    """moto's App Mesh handler plus the virtual service, untag and node-spec operations."""

    @property
    def appmesh_backend(self) -> ExtendedAppMeshBackend:
        backend = appmesh_backends[self.current_account][self.region]
        if not isinstance(backend, ExtendedAppMeshBackend):
            # Created after install() by a path that bypassed the patched BackendDict.
            _upgrade_backend(backend)
        return cast(ExtendedAppMeshBackend, backend)

    def call_action(self) -> tuple[int, dict[str, Any], Any]:
        violation = self._model_violation()
        if violation is not None:
            error = BadRequestException(violation)
            return (
                error.code,
                {**dict(error.get_headers()), "status": str(error.code)},
                (error.get_body()),
            )
        status, headers, body = cast(tuple[int, dict[str, Any], Any], super().call_action())
        if status >= 400:
            return self._translate_legacy_error(status, headers, body)
        if isinstance(body, str) and body.startswith("{"):
            body = json.dumps(_epoch_timestamps(json.loads(body)))
        return status, headers, body

    @staticmethod
    def _translate_legacy_error(
        status: int, headers: dict[str, Any], body: Any
    ) -> tuple[int, dict[str, Any], Any]:
        error_class = _LEGACY_ERRORS.get(str(headers.get("X-Amzn-ErrorType", "")))
        if error_class is None:
            return status, headers, body
        try:
            message = str(json.loads(body)["message"])
        except (TypeError, ValueError, KeyError):
            message = str(body)
        error = error_class(message)
        new_headers = {**headers, **dict(error.get_headers()), "status": str(error.code)}
        return error.code, new_headers, error.get_body()

    def _model_violation(self) -> str | None:
        """The first value of the request outside the limits of App Mesh's model (lengths of
        names, tag keys and values, list sizes, integer ranges such as a health check's), in
        AWS's wording; botocore checks only minimums on the client, App Mesh the rest."""
        try:
            operation = _MODEL.operation_model(str(self._get_action()))
        except Exception:  # moto could not route it; it answers that itself
            return None
        shape = operation.input_shape
        if shape is None:
            return None
        body = self._json_body() if self.body and str(self.body).startswith("{") else {}
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            if location == "uri":
                value = self._get_param(member.serialization.get("name", name))
            elif location is None:
                value = body.get(member.serialization.get("name", name))
            else:
                continue
            if value is not None:
                found = _violation(member, value, name)
                if found is not None:
                    return f"1 validation error detected: {found}"
        return None

    def _json_body(self) -> JsonDict:
        return cast(JsonDict, json.loads(self.body)) if self.body else {}

    # ---- virtual nodes: keep the spec as sent (see RawVirtualNodeSpec)

    def create_virtual_node(self) -> str:
        params = self._json_body()
        node = self.appmesh_backend.create_virtual_node(
            client_token=params.get("clientToken"),
            mesh_name=self._get_param("meshName"),
            mesh_owner=self._get_param("meshOwner"),
            spec=parse_virtual_node_spec(params.get("spec") or {}),
            tags=params.get("tags"),
            virtual_node_name=_required(params, "virtualNodeName"),
        )
        return json.dumps(node.to_dict())

    def update_virtual_node(self) -> str:
        params = self._json_body()
        node = self.appmesh_backend.update_virtual_node(
            client_token=params.get("clientToken"),
            mesh_name=self._get_param("meshName"),
            mesh_owner=self._get_param("meshOwner"),
            spec=parse_virtual_node_spec(params.get("spec") or {}),
            virtual_node_name=self._get_param("virtualNodeName"),
        )
        return json.dumps(node.to_dict())

    # ---- virtual services

    def create_virtual_service(self) -> str:
        params = self._json_body()
        service = self.appmesh_backend.create_virtual_service(
            client_token=params.get("clientToken"),
            mesh_name=self._get_param("meshName"),
            mesh_owner=self._get_param("meshOwner"),
            spec=params.get("spec"),
            tags=params.get("tags"),
            virtual_service_name=_required(params, "virtualServiceName"),
        )
        return json.dumps(service.to_dict())

    def describe_virtual_service(self) -> str:
        service = self.appmesh_backend.describe_virtual_service(
            mesh_name=self._get_param("meshName"),
            mesh_owner=self._get_param("meshOwner"),
            virtual_service_name=self._get_param("virtualServiceName"),
        )
        return json.dumps(service.to_dict())

    def update_virtual_service(self) -> str:
        params = self._json_body()
        service = self.appmesh_backend.update_virtual_service(
            client_token=params.get("clientToken"),
            mesh_name=self._get_param("meshName"),
            mesh_owner=self._get_param("meshOwner"),
            spec=params.get("spec"),
            virtual_service_name=self._get_param("virtualServiceName"),
        )
        return json.dumps(service.to_dict())

    def delete_virtual_service(self) -> str:
        service = self.appmesh_backend.delete_virtual_service(
            mesh_name=self._get_param("meshName"),
            mesh_owner=self._get_param("meshOwner"),
            virtual_service_name=self._get_param("virtualServiceName"),
        )
        return json.dumps(service.to_dict())

    def list_virtual_services(self) -> str:
        services, next_token = self.appmesh_backend.list_virtual_services(
            mesh_name=self._get_param("meshName"),
            mesh_owner=self._get_param("meshOwner"),
            limit=self._get_int_param("limit"),
            next_token=self._get_param("nextToken"),
        )
        result: JsonDict = {"virtualServices": [service.to_ref() for service in services]}
        if next_token:
            result["nextToken"] = next_token
        return json.dumps(result)

    # ---- tags

    def untag_resource(self) -> str:
        self.appmesh_backend.untag_resource(
            resource_arn=self._get_param("resourceArn"),
            tag_keys=list(self._json_body().get("tagKeys") or []),
        )
        return json.dumps({})


# --------------------------------------------------------------------------- wiring

_DISPATCH: Final[Callable[..., Any]] = ExtendedAppMeshResponse.dispatch

# moto's paths, all answered by the extended handler (it routes by the botocore model,
# so the handler, not the pattern, decides the operation), plus the operations moto lacks.
URL_PATHS: Final[dict[str, Callable[..., Any]]] = {
    **{path: _DISPATCH for path in moto_appmesh_urls.url_paths},
    "{0}/v20190125/untag$": _DISPATCH,
    "{0}/v20190125/meshes/(?P<meshName>[^/]+)/virtualServices$": _DISPATCH,
    "{0}/v20190125/meshes/(?P<meshName>[^/]+)/virtualServices/(?P<virtualServiceName>[^/]+)$": (
        _DISPATCH
    ),
}

_URL_MODULE: Final = types.SimpleNamespace(
    url_bases=moto_appmesh_urls.url_bases, url_paths=URL_PATHS
)

_install_lock = threading.Lock()


def _upgrade_backend(backend: AppMeshBackend) -> None:
    """Turn an existing moto AppMeshBackend into the extended one, keeping its data."""
    if isinstance(backend, ExtendedAppMeshBackend):
        return
    backend.__class__ = ExtendedAppMeshBackend
    upgraded = cast(ExtendedAppMeshBackend, backend)
    upgraded._init_extension()
    for mesh_name in upgraded.meshes:
        upgraded.virtual_services[mesh_name] = {}


def install() -> None:
    """Serve the extended App Mesh from moto, in-process (``mock_aws``) and in server mode.

    Idempotent. Every moto path reaches App Mesh through the one ``appmesh_backends``
    BackendDict (``moto.backends.get_backend("appmesh")``, ``AppMeshResponse``, the
    server's app factory), and each path asks a backend instance for its url_paths. So
    the BackendDict - and each per-account dict it already holds - now builds
    ``ExtendedAppMeshBackend``, and instances that already exist are upgraded in place.
    Resets (``mock_aws`` start/stop, ``/moto-api/reset``) re-run ``__init__`` on the
    upgraded class, so the extension survives them.

    A ``ThreadedMotoServer`` that already answered an App Mesh request before this call
    keeps the routes it built then; start servers after ``install()``.
    """
    with _install_lock:
        appmesh_backends.backend = ExtendedAppMeshBackend
        for account_backends in list(dict.values(appmesh_backends)):
            account_backends.backend = ExtendedAppMeshBackend
            for backend in list(dict.values(account_backends)):
                _upgrade_backend(backend)
