"""AWS Cloud Map: the names App Mesh discovery needs, looked up from an id or checked by name."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from meshed_crystal import retry
from meshed_crystal.errors import AwsError, MissingResourceError

from .clients import LazyClient


class CloudMap(LazyClient):
    """Lookups are cached for the container's life: a Cloud Map service's id, name and
    namespace never change, so a warm container skips the two reads on every later request."""

    def __init__(self, client: Any | None = None) -> None:
        super().__init__("servicediscovery", client)
        self._names: dict[str, tuple[str, str]] = {}
        self._checked: set[tuple[str, str]] = set()

    def names_by_id(self, service_id: str) -> tuple[str, str]:
        """(namespace name, service name) of a Cloud Map service."""
        if service_id not in self._names:
            self._names[service_id] = self._look_up(service_id)
        return self._names[service_id]

    def _look_up(self, service_id: str) -> tuple[str, str]:
        try:
            service = retry.call("GetService", lambda: self.client.get_service(Id=service_id))
            namespace_id = service["Service"]["NamespaceId"]
            namespace = retry.call(
                "GetNamespace", lambda: self.client.get_namespace(Id=namespace_id)
            )
        except ClientError as e:
            if retry.error_code(e) in ("ServiceNotFound", "NamespaceNotFound"):
                raise MissingResourceError(
                    f"CloudMapServiceArn: Cloud Map service {service_id} does not exist"
                ) from e
            raise AwsError(f"Cloud Map {retry.error_code(e)}: {e}") from e
        return str(namespace["Namespace"]["Name"]), str(service["Service"]["Name"])

    def check_names(self, namespace_name: str, service_name: str) -> None:
        if (namespace_name, service_name) in self._checked:
            return
        self._check(namespace_name, service_name)
        self._checked.add((namespace_name, service_name))

    def _check(self, namespace_name: str, service_name: str) -> None:
        try:
            namespaces = self._all(
                "ListNamespaces",
                "Namespaces",
                self.client.list_namespaces,
                Filters=[{"Name": "NAME", "Values": [namespace_name], "Condition": "EQ"}],
            )
            namespace = next((n for n in namespaces if n["Name"] == namespace_name), None)
            if namespace is None:
                raise MissingResourceError(
                    f"CloudMapNamespaceName: Cloud Map namespace '{namespace_name}' does not exist"
                )
            services = self._all(
                "ListServices",
                "Services",
                self.client.list_services,
                Filters=[{"Name": "NAMESPACE_ID", "Values": [namespace["Id"]], "Condition": "EQ"}],
            )
        except ClientError as e:
            raise AwsError(f"Cloud Map {retry.error_code(e)}: {e}") from e
        if not any(s["Name"] == service_name for s in services):
            raise MissingResourceError(
                f"CloudMapServiceName: namespace '{namespace_name}' has no service '{service_name}'"
            )

    @staticmethod
    def _all(operation: str, key: str, method: Any, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            more = {"NextToken": token} if token else {}
            page = retry.call(operation, lambda: method(**kwargs, **more))  # noqa: B023
            items.extend(page.get(key, []))
            token = page.get("NextToken")
            if not token:
                return items
