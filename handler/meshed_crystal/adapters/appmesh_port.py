"""What the App Mesh mode needs of App Mesh (the adapter ``appmesh.AppMesh`` and the fast tier's
fake satisfy it). Apart from ``ports.py`` so that it leaves with the App Mesh mode.

Every method may raise ``AppMeshUnavailableError`` (App Mesh gone, DESIGN §9: a connection
that keeps failing included) and ``TransientError`` (``ThrottledError``, or
``ConnectionFailedError`` when the budget ran out first); the others are named per method.
Described resources are boto3's shapes (the stubs' TypeDefs, for the type checker only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mypy_boto3_appmesh.type_defs import VirtualNodeDataTypeDef, VirtualServiceDataTypeDef


class AppMeshPort(Protocol):
    def service_names(self, mesh: str, owner: str | None) -> set[str]:
        """The mesh's virtual service names; MissingResourceError when the mesh is not there
        (or not shared with this account)."""
        ...

    def describe_node(
        self, mesh: str, owner: str | None, name: str
    ) -> VirtualNodeDataTypeDef | None:
        """None when there is none (or it is DELETED)."""
        ...

    def create_node(
        self, mesh: str, owner: str | None, name: str, spec: dict[str, Any], tags: dict[str, str]
    ) -> VirtualNodeDataTypeDef | None:
        """None when the name is taken (ConflictException): the caller re-reads it."""
        ...

    def update_node(
        self, mesh: str, owner: str | None, name: str, spec: dict[str, Any]
    ) -> VirtualNodeDataTypeDef:
        """AwsError when it is not there."""
        ...

    def delete_node(self, mesh: str, owner: str | None, name: str) -> bool:
        """False when it was gone already; ResourceInUseError while a virtual service has it
        as provider or a route uses it."""
        ...

    def describe_service(
        self, mesh: str, owner: str | None, name: str
    ) -> VirtualServiceDataTypeDef | None: ...

    def create_service(
        self, mesh: str, owner: str | None, name: str, spec: dict[str, Any], tags: dict[str, str]
    ) -> VirtualServiceDataTypeDef | None:
        """None when the name is taken (as ``create_node``); AwsError when the provider node
        does not exist."""
        ...

    def update_service(
        self, mesh: str, owner: str | None, name: str, spec: dict[str, Any]
    ) -> VirtualServiceDataTypeDef: ...

    def delete_service(self, mesh: str, owner: str | None, name: str) -> bool:
        """False when it was gone already; ResourceInUseError while another node lists it as
        a backend."""
        ...

    def tags(self, arn: str) -> dict[str, str] | None:
        """None when the resource does not exist."""
        ...

    def tag(self, arn: str, tags: dict[str, str]) -> None: ...

    def untag(self, arn: str, keys: list[str]) -> None: ...
