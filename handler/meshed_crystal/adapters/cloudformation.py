"""CloudFormation: which physical id the stack currently holds for a logical id."""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from meshed_crystal import retry
from meshed_crystal.errors import TransientError

from .clients import LazyClient

logger = logging.getLogger(__name__)


class StackAnswer(NamedTuple):
    """What CloudFormation said about the stack's resource.

    ``known`` is False when it could not say (denied, throttled, failing): a Delete must then
    decide from what the resources' own state shows, and never fail open (DESIGN §5.4).
    """

    known: bool
    physical_id: str | None = None


class CloudFormation(LazyClient):
    def __init__(self, client: Any | None = None) -> None:
        super().__init__("cloudformation", client)

    def current_physical_id(self, stack_id: str, logical_id: str) -> StackAnswer:
        """The id the stack holds now; known and None when the stack or resource is gone."""
        try:
            response = retry.call(
                "DescribeStackResource",
                lambda: self.client.describe_stack_resource(
                    StackName=stack_id, LogicalResourceId=logical_id
                ),
            )
        except ClientError as e:
            code = retry.error_code(e)
            message = str(e.response.get("Error", {}).get("Message", ""))
            # CloudFormation's answer for a stack or resource that does not exist (any more).
            if code == "ValidationError" and "does not exist" in message:
                logger.info("stack resource does not exist", extra={"code": code})
                return StackAnswer(known=True)
            logger.warning("stack resource not readable", extra={"code": code})
            return StackAnswer(known=False)
        except TransientError as e:
            cause = type(e.__cause__).__name__ if e.__cause__ is not None else type(e).__name__
            logger.warning("stack resource not readable", extra={"code": cause})
            return StackAnswer(known=False)
        detail = response.get("StackResourceDetail") or {}
        return StackAnswer(known=True, physical_id=detail.get("PhysicalResourceId") or None)
