"""ECS task definitions."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from meshed_crystal import retry
from meshed_crystal.errors import AwsError, MissingResourceError
from meshed_crystal.identity import Revision

from .clients import LazyClient

if TYPE_CHECKING:
    from mypy_boto3_ecs.type_defs import TaskDefinitionTypeDef

# One INFO line per write (DESIGN: an operator reads what an invocation did from its log).
logger = logging.getLogger(__name__)


class Ecs(LazyClient):
    def __init__(self, client: Any | None = None) -> None:
        super().__init__("ecs", client)

    def describe(self, reference: str) -> tuple[TaskDefinitionTypeDef, list[dict[str, str]]]:
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
            refused = self._refusal(e, "DescribeTaskDefinition", reference)
            if refused is not None:
                raise refused from e
            # A malformed reference is InvalidParameterException; a missing one ClientException.
            if retry.error_code(e) == "InvalidParameterException" or self._gone(e):
                raise MissingResourceError(
                    f"TaskDefinition: '{reference}' was not found ({message})"
                ) from e
            raise AwsError(f"ECS {retry.error_code(e)} describing {reference}: {message}") from e
        described = cast("TaskDefinitionTypeDef", dict(response["taskDefinition"]))
        return described, list(response.get("tags") or [])

    # ECS answers "not found" and "not allowed" alike with ClientException (its model says so):
    # only the message tells them apart. A permission mistake must never pass for "gone".
    _GONE = (
        "unable to describe task definition",  # DescribeTaskDefinition, missing or INACTIVE
        "does not exist",  # "The specified task definition does not exist."
        "revision is missing",
        "not found",
        "inactive",
    )

    @classmethod
    def _gone(cls, error: ClientError) -> bool:
        message = str(error.response.get("Error", {}).get("Message", "")).lower()
        return retry.error_code(error) == "ClientException" and any(
            words in message for words in cls._GONE
        )

    @staticmethod
    def _refusal(error: ClientError, operation: str, target: str) -> AwsError | None:
        """The error to raise when ECS refused the call for want of a permission, else None."""
        code = retry.error_code(error)
        message = str(error.response.get("Error", {}).get("Message", ""))
        if not (
            code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation")
            or "not authorized to perform" in message
        ):
            return None
        # IAM's wording: "User: <arn> is not authorized to perform: ecs:<Action> on resource: ..."
        named = message.partition("perform: ")[2].split()
        permission = named[0] if named else f"ecs:{operation}"
        return AwsError(
            f"ECS refused {operation} on {target}: the provider's role lacks {permission} "
            f"(grant it in the function's policy, template.yaml). ECS said: {code}: {message}"
        )

    def register(self, request: dict[str, Any]) -> TaskDefinitionTypeDef:
        try:
            response = retry.call(
                "RegisterTaskDefinition", lambda: self.client.register_task_definition(**request)
            )
        except ClientError as e:
            message = e.response.get("Error", {}).get("Message", "")
            raise AwsError(
                f"ECS {retry.error_code(e)} registering family {request.get('family')}: {message}"
            ) from e
        registered = cast("TaskDefinitionTypeDef", dict(response["taskDefinition"]))
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
            refused = self._refusal(e, "DeregisterTaskDefinition", arn)
            if refused is not None:
                raise refused from e
            if retry.error_code(e) == "InvalidParameterException" or self._gone(e):
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
                        familyPrefix=family,
                        status="ACTIVE",
                        **more,  # noqa: B023
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
                if Revision.of_arn(str(a)).family == family
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
