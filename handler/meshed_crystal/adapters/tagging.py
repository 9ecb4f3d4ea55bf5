"""Resource Groups Tagging API: this resource's task definition revisions, found by their tags.

It is how a Delete finds what it registered from ECS alone, whatever App Mesh answers, and in
a mode that has no App Mesh resource to record them (DESIGN §9).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from meshed_crystal import retry
from meshed_crystal.errors import AwsError

from .clients import LazyClient


class Tagging(LazyClient):
    def __init__(self, client: Any | None = None) -> None:
        super().__init__("resourcegroupstaggingapi", client)

    def task_definitions(self, tags: dict[str, str]) -> dict[str, dict[str, str]]:
        """The ECS task definitions that carry all of ``tags`` (ACTIVE or not): ARN -> tags."""
        filters = [{"Key": k, "Values": [v]} for k, v in tags.items()]
        found: dict[str, dict[str, str]] = {}
        token = ""
        while True:
            try:
                page = retry.call(
                    "GetResources",
                    lambda: self.client.get_resources(
                        TagFilters=filters,
                        ResourceTypeFilters=["ecs:task-definition"],
                        PaginationToken=token,  # noqa: B023 - called at once, in this iteration
                    ),
                )
            except ClientError as e:
                message = e.response.get("Error", {}).get("Message", "")
                raise AwsError(
                    f"Resource Groups Tagging API {retry.error_code(e)} listing this resource's "
                    f"task definitions: {message}"
                ) from e
            for mapping in page.get("ResourceTagMappingList", []):
                found[str(mapping["ResourceARN"])] = {
                    str(t["Key"]): str(t["Value"]) for t in mapping.get("Tags", [])
                }
            token = str(page.get("PaginationToken") or "")
            if not token:
                return found
