"""App Mesh: meshes, virtual nodes, virtual services and their tags.

Since App Mesh's end of support (2026-09-30) every call can also find App Mesh gone, in ways
AWS has not documented (DESIGN §9). :func:`unavailable` classifies an error as one of them; the
adapter raises :class:`AppMeshUnavailableError` for it, and the actions decide what that means.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from botocore.exceptions import ClientError, DataNotFoundError, UnknownServiceError

from meshed_crystal import retry
from meshed_crystal.errors import (
    AppMeshUnavailableError,
    AwsError,
    MissingResourceError,
    OwnershipError,
    ResourceInUseError,
)

from .clients import LazyClient

if TYPE_CHECKING:
    from mypy_boto3_appmesh.type_defs import VirtualNodeDataTypeDef, VirtualServiceDataTypeDef

T = TypeVar("T")
# One INFO line per write (an operator reads what an invocation did from its log).
logger = logging.getLogger(__name__)
LIST_LIMIT = 100  # the API's maximum page size

# The error codes of App Mesh's service model (botocore/data/appmesh/*/service-2.json; a test
# compares). An answer with one of them comes from App Mesh itself, however bad it is.
APPMESH_ERROR_CODES = frozenset(
    {
        "BadRequestException",
        "ConflictException",
        "ForbiddenException",
        "InternalServerErrorException",
        "LimitExceededException",
        "NotFoundException",
        "ResourceInUseException",
        "ServiceUnavailableException",
        "TooManyRequestsException",
        "TooManyTagsException",
    }
)
# IAM's answer to a denied call (not App Mesh's own ForbiddenException).
ACCESS_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def unavailable(error: BaseException) -> AppMeshUnavailableError | None:
    """The way ``error`` says App Mesh is gone, or None when it is an ordinary App Mesh answer.

    Throttling and App Mesh's own errors (its 5xx included) are never a sign of retirement: they
    are retried or reported as before.
    """
    if isinstance(error, UnknownServiceError | DataNotFoundError):
        return AppMeshUnavailableError(
            "no-sdk", "the AWS SDK in this function has no appmesh service"
        )
    if retry.is_connection_failure(error):
        # Refused, reset or closed, timed out, a name that no longer resolves (DESIGN §9): the
        # caller retried it a few times (``_suspect``); no answer at all is no App Mesh either.
        return AppMeshUnavailableError(
            "unreachable",
            f"no answer from its endpoint: the connection failed ({type(error).__name__}: {error})",
        )
    if not isinstance(error, ClientError):
        return None
    code, status = retry.error_code(error), _status(error)
    message = str(error.response.get("Error", {}).get("Message", ""))[:200]
    if code in ACCESS_DENIED_CODES:
        return AppMeshUnavailableError("access-denied", f"{code}: {message}")
    if code in APPMESH_ERROR_CODES or code in retry.THROTTLING_CODES or status == 429:
        return None
    if 400 <= status < 600:
        return AppMeshUnavailableError(
            "http", f"HTTP {status} without an App Mesh error{f': {message}' if message else ''}"
        )
    return None


def _suspect(error: Exception) -> bool:
    """Retryable, but if it lasts a few attempts it means App Mesh is gone."""
    return unavailable(error) is not None


def _owner(mesh_owner: str | None) -> dict[str, str]:
    return {"meshOwner": mesh_owner} if mesh_owner else {}


def _fail(error: ClientError, what: str) -> Exception:
    code = retry.error_code(error)
    message = error.response.get("Error", {}).get("Message", "")
    if code == "ResourceInUseException":
        return ResourceInUseError(f"{what} is still in use: {message}")
    if code == "ConflictException":
        return OwnershipError(f"{what} already exists: {message}")
    return AwsError(f"App Mesh {code} on {what}: {message}")


class _Kind(NamedTuple):
    shape: str  # in operation names: DescribeVirtualNode
    snake: str  # in boto3 method names: describe_virtual_node
    name_key: str  # the request's name parameter
    key: str  # the response's member
    words: str  # in messages


_NODE = _Kind("VirtualNode", "virtual_node", "virtualNodeName", "virtualNode", "virtual node")
_SERVICE = _Kind(
    "VirtualService", "virtual_service", "virtualServiceName", "virtualService", "virtual service"
)


class AppMesh(LazyClient):
    def __init__(self, client: Any | None = None) -> None:
        super().__init__("appmesh", client)

    def _request(self, operation: str, call: Callable[[Any], T]) -> T:
        """``call(client)`` retried (throttling), with App Mesh's absence classified.

        The client is built here, on first use: an SDK without ``appmesh`` fails only work
        that calls App Mesh.
        """
        try:
            return retry.call(operation, lambda: call(self.client), suspect=_suspect)
        except Exception as e:
            gone = unavailable(e)
            if gone is not None:
                raise gone from e
            raise

    def service_names(self, mesh: str, owner: str | None) -> set[str]:
        """The names of the mesh's virtual services (one call per 100 of them).

        It is also how a Create learns that the mesh exists and is reachable: one read that
        answers both (DescribeMesh + DescribeVirtualService would be two).
        """
        names: set[str] = set()
        token: str | None = None
        while True:
            more = {"nextToken": token} if token else {}
            try:
                page = self._request(
                    "ListVirtualServices",
                    lambda client: client.list_virtual_services(
                        meshName=mesh,
                        limit=LIST_LIMIT,
                        **more,  # noqa: B023 - called at once, within this iteration
                        **_owner(owner),
                    ),
                )
            except ClientError as e:
                if retry.error_code(e) in ("NotFoundException", "ForbiddenException"):
                    raise MissingResourceError(
                        f"MeshName: mesh '{mesh}' does not exist"
                        f"{f' in account {owner}' if owner else ''} (or is not shared with "
                        "this account)"
                    ) from e
                raise _fail(e, f"mesh {mesh}") from e
            names.update(str(ref["virtualServiceName"]) for ref in page.get("virtualServices", []))
            token = page.get("nextToken")
            if not token:
                return names

    # Virtual nodes and virtual services have the same four operations; ``_Kind`` names them.

    def describe_node(
        self, mesh: str, owner: str | None, name: str
    ) -> VirtualNodeDataTypeDef | None:
        return cast("VirtualNodeDataTypeDef | None", self._describe(_NODE, mesh, owner, name))

    def create_node(
        self, mesh: str, owner: str | None, name: str, spec: dict[str, Any], tags: dict[str, str]
    ) -> VirtualNodeDataTypeDef | None:
        """None when the name was taken since it was read (ConflictException): the caller
        re-reads it to learn whose it is (a concurrent duplicate of the same request, or not)."""
        created = self._create(_NODE, mesh, owner, name, spec, tags)
        return cast("VirtualNodeDataTypeDef | None", created)

    def update_node(
        self, mesh: str, owner: str | None, name: str, spec: dict[str, Any]
    ) -> VirtualNodeDataTypeDef:
        return cast("VirtualNodeDataTypeDef", self._update(_NODE, mesh, owner, name, spec))

    def delete_node(self, mesh: str, owner: str | None, name: str) -> bool:
        """False when it was already gone."""
        return self._delete(_NODE, mesh, owner, name)

    def describe_service(
        self, mesh: str, owner: str | None, name: str
    ) -> VirtualServiceDataTypeDef | None:
        described = self._describe(_SERVICE, mesh, owner, name)
        return cast("VirtualServiceDataTypeDef | None", described)

    def create_service(
        self, mesh: str, owner: str | None, name: str, spec: dict[str, Any], tags: dict[str, str]
    ) -> VirtualServiceDataTypeDef | None:
        """None when the name was taken since it was read (see ``create_node``)."""
        created = self._create(_SERVICE, mesh, owner, name, spec, tags)
        return cast("VirtualServiceDataTypeDef | None", created)

    def update_service(
        self, mesh: str, owner: str | None, name: str, spec: dict[str, Any]
    ) -> VirtualServiceDataTypeDef:
        updated = self._update(_SERVICE, mesh, owner, name, spec)
        return cast("VirtualServiceDataTypeDef", updated)

    def delete_service(self, mesh: str, owner: str | None, name: str) -> bool:
        """False when it was already gone."""
        return self._delete(_SERVICE, mesh, owner, name)

    def _call(
        self, kind: _Kind, verb: str, mesh: str, owner: str | None, name: str, **extra: Any
    ) -> dict[str, Any]:
        method = f"{verb.lower()}_{kind.snake}"
        return dict(
            self._request(
                f"{verb}{kind.shape}",
                lambda client: getattr(client, method)(
                    meshName=mesh, **{kind.name_key: name}, **extra, **_owner(owner)
                ),
            )
        )

    def _describe(
        self, kind: _Kind, mesh: str, owner: str | None, name: str
    ) -> dict[str, Any] | None:
        try:
            found = dict(self._call(kind, "Describe", mesh, owner, name)[kind.key])
        except ClientError as e:
            if retry.error_code(e) == "NotFoundException":
                return None
            raise _fail(e, f"{kind.words} {name}") from e
        return None if found.get("status", {}).get("status") == "DELETED" else found

    def _create(
        self,
        kind: _Kind,
        mesh: str,
        owner: str | None,
        name: str,
        spec: dict[str, Any],
        tags: dict[str, str],
    ) -> dict[str, Any] | None:
        logger.info(f"creating {kind.words}", extra={"mesh": mesh, "resource_name": name})
        try:
            created = self._call(kind, "Create", mesh, owner, name, spec=spec, tags=_tag_list(tags))
        except ClientError as e:
            if retry.error_code(e) == "ConflictException":
                return None
            raise _fail(e, f"{kind.words} {name}") from e
        return dict(created[kind.key])

    def _update(
        self, kind: _Kind, mesh: str, owner: str | None, name: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        logger.info(f"updating {kind.words}", extra={"mesh": mesh, "resource_name": name})
        try:
            return dict(self._call(kind, "Update", mesh, owner, name, spec=spec)[kind.key])
        except ClientError as e:
            raise _fail(e, f"{kind.words} {name}") from e

    def _delete(self, kind: _Kind, mesh: str, owner: str | None, name: str) -> bool:
        logger.info(f"deleting {kind.words}", extra={"mesh": mesh, "resource_name": name})
        try:
            self._call(kind, "Delete", mesh, owner, name)
        except ClientError as e:
            if retry.error_code(e) == "NotFoundException":
                return False
            raise _fail(e, f"{kind.words} {name} of mesh {mesh}") from e
        return True

    def tags(self, arn: str) -> dict[str, str] | None:
        """The resource's tags; None when it does not exist."""
        tags: dict[str, str] = {}
        token: str | None = None
        try:
            while True:
                more = {"nextToken": token} if token else {}
                page = self._request(
                    "ListTagsForResource",
                    lambda client: client.list_tags_for_resource(resourceArn=arn, **more),  # noqa: B023
                )
                tags.update({t["key"]: t["value"] for t in page.get("tags", [])})
                token = page.get("nextToken")
                if not token:
                    return tags
        except ClientError as e:
            if retry.error_code(e) == "NotFoundException":
                return None
            raise _fail(e, arn) from e

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        logger.info("tagging", extra={"arn": arn, "keys": sorted(tags)})
        try:
            self._request(
                "TagResource",
                lambda client: client.tag_resource(resourceArn=arn, tags=_tag_list(tags)),
            )
        except ClientError as e:
            raise _fail(e, arn) from e

    def untag(self, arn: str, keys: list[str]) -> None:
        if not keys:
            return
        logger.info("untagging", extra={"arn": arn, "keys": keys})
        try:
            self._request(
                "UntagResource", lambda client: client.untag_resource(resourceArn=arn, tagKeys=keys)
            )
        except ClientError as e:
            raise _fail(e, arn) from e


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]
