"""ECS task definitions."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from meshed_crystal import retry
from meshed_crystal.errors import AwsError, MissingResourceError

from .clients import LazyClient

# One INFO line per write (DESIGN: an operator reads what an invocation did from its log).
logger = logging.getLogger(__name__)


class Ecs(LazyClient):
    def __init__(self, client: Any | None = None) -> None:
        super().__init__("ecs", client)

    def describe(self, reference: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """The task definition (ARN, family:revision, or family's latest ACTIVE) and its tags."""
        try:
            response = retry.call(
                "DescribeTaskDefinition",
                lambda: self.client.describe_task_definition(
                    taskDefinition=reference, include=["TAGS"]
                ),
            )
        except ClientError as e:
            message = e.response.get("Error", {}).get("Message", "")
            if retry.error_code(e) in ("ClientException", "InvalidParameterException"):
                raise MissingResourceError(
                    f"TaskDefinition: '{reference}' was not found ({message})"
                ) from e
            raise AwsError(f"ECS {retry.error_code(e)} describing {reference}: {message}") from e
        return dict(response["taskDefinition"]), list(response.get("tags") or [])

    def register(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            response = retry.call(
                "RegisterTaskDefinition", lambda: self.client.register_task_definition(**request)
            )
        except ClientError as e:
            message = e.response.get("Error", {}).get("Message", "")
            raise AwsError(
                f"ECS {retry.error_code(e)} registering family {request.get('family')}: {message}"
            ) from e
        registered = dict(response["taskDefinition"])
        logger.info(
            "registered task definition", extra={"arn": registered.get("taskDefinitionArn")}
        )
        return registered

    def deregister(self, arn: str) -> None:
        """Already INACTIVE or gone is fine: the goal is that it no longer is ACTIVE."""
        logger.info("deregistering task definition", extra={"arn": arn})
        try:
            retry.call(
                "DeregisterTaskDefinition",
                lambda: self.client.deregister_task_definition(taskDefinition=arn),
            )
        except ClientError as e:
            message = e.response.get("Error", {}).get("Message", "")
            if retry.error_code(e) in ("ClientException", "InvalidParameterException"):
                return
            raise AwsError(f"ECS {retry.error_code(e)} deregistering {arn}: {message}") from e

    def active(self, family: str) -> set[str]:
        """The ARNs of the ACTIVE revisions of ``family`` (exactly that family)."""
        arns: set[str] = set()
        token: str | None = None
        while True:
            more = {"nextToken": token} if token else {}
            try:
                page = retry.call(
                    "ListTaskDefinitions",
                    lambda: self.client.list_task_definitions(
                        familyPrefix=family, status="ACTIVE", **more  # noqa: B023
                    ),
                )
            except ClientError as e:
                message = e.response.get("Error", {}).get("Message", "")
                raise AwsError(
                    f"ECS {retry.error_code(e)} listing family {family}: {message}"
                ) from e
            arns.update(
                str(a)
                for a in page.get("taskDefinitionArns", [])
                if str(a).split("/")[-1].rpartition(":")[0] == family
            )
            token = page.get("nextToken")
            if not token:
                return arns

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        logger.info("tagging task definition", extra={"arn": arn, "keys": sorted(tags)})
        try:
            retry.call(
                "TagResource",
                lambda: self.client.tag_resource(
                    resourceArn=arn, tags=[{"key": k, "value": v} for k, v in tags.items()]
                ),
            )
        except ClientError as e:
            message = e.response.get("Error", {}).get("Message", "")
            raise AwsError(f"ECS {retry.error_code(e)} tagging {arn}: {message}") from e
