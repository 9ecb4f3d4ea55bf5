"""App Mesh: meshes, virtual nodes, virtual services and their tags."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from meshed_crystal import retry
from meshed_crystal.errors import AwsError, MissingResourceError, OwnershipError, ResourceInUseError

from .clients import LazyClient


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


class AppMesh(LazyClient):
    def __init__(self, client: Any | None = None) -> None:
        super().__init__("appmesh", client)

    def describe_mesh(self, mesh: str, owner: str | None) -> dict[str, Any]:
        try:
            response = retry.call(
                "DescribeMesh", lambda: self.client.describe_mesh(meshName=mesh, **_owner(owner))
            )
        except ClientError as e:
            if retry.error_code(e) in ("NotFoundException", "ForbiddenException"):
                raise MissingResourceError(
                    f"MeshName: mesh '{mesh}' does not exist"
                    f"{f' in account {owner}' if owner else ''} (or is not shared with this "
                    "account)"
                ) from e
            raise _fail(e, f"mesh {mesh}") from e
        return dict(response["mesh"])

    def describe_node(self, mesh: str, owner: str | None, name: str) -> dict[str, Any] | None:
        try:
            response = retry.call(
                "DescribeVirtualNode",
                lambda: self.client.describe_virtual_node(
                    meshName=mesh, virtualNodeName=name, **_owner(owner)
                ),
            )
        except ClientError as e:
            if retry.error_code(e) == "NotFoundException":
                return None
            raise _fail(e, f"virtual node {name}") from e
        node = dict(response["virtualNode"])
        return None if node.get("status", {}).get("status") == "DELETED" else node

    def create_node(
        self, mesh: str, owner: str | None, name: str, spec: dict[str, Any], tags: dict[str, str]
    ) -> dict[str, Any] | None:
        """None when the name was taken since it was read (ConflictException): the caller
        re-reads it to learn whose it is (a concurrent duplicate of the same request, or not)."""
        try:
            response = retry.call(
                "CreateVirtualNode",
                lambda: self.client.create_virtual_node(
                    meshName=mesh,
                    virtualNodeName=name,
                    spec=spec,
                    tags=_tag_list(tags),
                    **_owner(owner),
                ),
            )
        except ClientError as e:
            if retry.error_code(e) == "ConflictException":
                return None
            raise _fail(e, f"virtual node {name}") from e
        return dict(response["virtualNode"])

    def update_node(
        self, mesh: str, owner: str | None, name: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            response = retry.call(
                "UpdateVirtualNode",
                lambda: self.client.update_virtual_node(
                    meshName=mesh, virtualNodeName=name, spec=spec, **_owner(owner)
                ),
            )
        except ClientError as e:
            raise _fail(e, f"virtual node {name}") from e
        return dict(response["virtualNode"])

    def delete_node(self, mesh: str, owner: str | None, name: str) -> bool:
        """False when it was already gone."""
        try:
            retry.call(
                "DeleteVirtualNode",
                lambda: self.client.delete_virtual_node(
                    meshName=mesh, virtualNodeName=name, **_owner(owner)
                ),
            )
        except ClientError as e:
            if retry.error_code(e) == "NotFoundException":
                return False
            raise _fail(e, f"virtual node {name} of mesh {mesh}") from e
        return True

    def describe_service(self, mesh: str, owner: str | None, name: str) -> dict[str, Any] | None:
        try:
            response = retry.call(
                "DescribeVirtualService",
                lambda: self.client.describe_virtual_service(
                    meshName=mesh, virtualServiceName=name, **_owner(owner)
                ),
            )
        except ClientError as e:
            if retry.error_code(e) == "NotFoundException":
                return None
            raise _fail(e, f"virtual service {name}") from e
        service = dict(response["virtualService"])
        return None if service.get("status", {}).get("status") == "DELETED" else service

    def create_service(
        self, mesh: str, owner: str | None, name: str, spec: dict[str, Any], tags: dict[str, str]
    ) -> dict[str, Any] | None:
        """None when the name was taken since it was read (see ``create_node``)."""
        try:
            response = retry.call(
                "CreateVirtualService",
                lambda: self.client.create_virtual_service(
                    meshName=mesh,
                    virtualServiceName=name,
                    spec=spec,
                    tags=_tag_list(tags),
                    **_owner(owner),
                ),
            )
        except ClientError as e:
            if retry.error_code(e) == "ConflictException":
                return None
            raise _fail(e, f"virtual service {name}") from e
        return dict(response["virtualService"])

    def update_service(
        self, mesh: str, owner: str | None, name: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            response = retry.call(
                "UpdateVirtualService",
                lambda: self.client.update_virtual_service(
                    meshName=mesh, virtualServiceName=name, spec=spec, **_owner(owner)
                ),
            )
        except ClientError as e:
            raise _fail(e, f"virtual service {name}") from e
        return dict(response["virtualService"])

    def delete_service(self, mesh: str, owner: str | None, name: str) -> bool:
        try:
            retry.call(
                "DeleteVirtualService",
                lambda: self.client.delete_virtual_service(
                    meshName=mesh, virtualServiceName=name, **_owner(owner)
                ),
            )
        except ClientError as e:
            if retry.error_code(e) == "NotFoundException":
                return False
            raise _fail(e, f"virtual service {name} of mesh {mesh}") from e
        return True

    def tags(self, arn: str) -> dict[str, str] | None:
        """The resource's tags; None when it does not exist."""
        tags: dict[str, str] = {}
        token: str | None = None
        try:
            while True:
                more = {"nextToken": token} if token else {}
                page = retry.call(
                    "ListTagsForResource",
                    lambda: self.client.list_tags_for_resource(resourceArn=arn, **more),  # noqa: B023
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
        try:
            retry.call(
                "TagResource",
                lambda: self.client.tag_resource(resourceArn=arn, tags=_tag_list(tags)),
            )
        except ClientError as e:
            raise _fail(e, arn) from e

    def untag(self, arn: str, keys: list[str]) -> None:
        if not keys:
            return
        try:
            retry.call(
                "UntagResource", lambda: self.client.untag_resource(resourceArn=arn, tagKeys=keys)
            )
        except ClientError as e:
            raise _fail(e, arn) from e


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]
