"""AWS Cloud Map: the names App Mesh discovery needs, looked up from an id or checked by name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, cast

from botocore.exceptions import ClientError

from meshed_crystal import retry
from meshed_crystal.errors import AwsError, MissingResourceError

from .clients import LazyClient

if TYPE_CHECKING:
    from mypy_boto3_servicediscovery.type_defs import ServiceSummaryTypeDef


class Namespace(NamedTuple):
    id: str
    arn: str
    name: str


class CloudMap(LazyClient):
    """Lookups are cached for the container's life: a Cloud Map service's id, name and
    namespace never change, so a warm container skips the two reads on every later request."""

    def __init__(self, client: Any | None = None) -> None:
        super().__init__("servicediscovery", client)
        self._names: dict[str, tuple[str, str]] = {}
        self._namespaces: dict[str, Namespace] = {}  # by service id
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
        found = namespace["Namespace"]
        self._namespaces[service_id] = Namespace(
            str(found["Id"]), str(found["Arn"]), str(found["Name"])
        )
        return str(found["Name"]), str(service["Service"]["Name"])

    def namespace_of(self, service_id: str) -> Namespace:
        """The namespace of a Cloud Map service (read with its names, then cached)."""
        self.names_by_id(service_id)
        return self._namespaces[service_id]

    def namespace(self, name_or_id: str, *, is_id: bool, path: str) -> Namespace:
        """A namespace by id (from an ARN) or by name; MissingResourceError naming ``path``."""
        try:
            if is_id:
                found = retry.call(
                    "GetNamespace", lambda: self.client.get_namespace(Id=name_or_id)
                )["Namespace"]
            else:
                listed = self._all(
                    "ListNamespaces",
                    "Namespaces",
                    self.client.list_namespaces,
                    Filters=[{"Name": "NAME", "Values": [name_or_id], "Condition": "EQ"}],
                )
                found = next((n for n in listed if n["Name"] == name_or_id), None)
        except ClientError as e:
            if retry.error_code(e) == "NamespaceNotFound":
                found = None
            else:
                raise AwsError(f"Cloud Map {retry.error_code(e)}: {e}") from e
        if found is None:
            raise MissingResourceError(f"{path}: Cloud Map namespace '{name_or_id}' does not exist")
        return Namespace(str(found["Id"]), str(found["Arn"]), str(found["Name"]))

    def service_named(self, namespace_id: str, name: str) -> ServiceSummaryTypeDef | None:
        """The Cloud Map service ``name`` of a namespace (its summary), or None."""
        try:
            services = self._all(
                "ListServices",
                "Services",
                self.client.list_services,
                Filters=[{"Name": "NAMESPACE_ID", "Values": [namespace_id], "Condition": "EQ"}],
            )
        except ClientError as e:
            raise AwsError(f"Cloud Map {retry.error_code(e)}: {e}") from e
        found = next((dict(s) for s in services if s["Name"] == name), None)
        return cast("ServiceSummaryTypeDef | None", found)

    def tags(self, arn: str) -> dict[str, str]:
        try:
            response = retry.call(
                "ListTagsForResource",
                lambda: self.client.list_tags_for_resource(ResourceARN=arn),
            )
        except ClientError as e:
            raise AwsError(f"Cloud Map {retry.error_code(e)} reading tags of {arn}: {e}") from e
        return {str(t["Key"]): str(t["Value"]) for t in response.get("Tags", [])}

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
