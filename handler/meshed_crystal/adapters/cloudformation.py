"""CloudFormation: which physical id the stack currently holds for a logical id."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from meshed_crystal import retry

from .clients import LazyClient

logger = logging.getLogger(__name__)


class CloudFormation(LazyClient):
    def __init__(self, client: Any | None = None) -> None:
        super().__init__("cloudformation", client)

    def current_physical_id(self, stack_id: str, logical_id: str) -> str | None:
        """None when the stack or the resource is gone, or CloudFormation cannot tell.

        A Delete uses this only to hand shared names back to the id the stack holds after a
        rollback; when CloudFormation cannot answer, deleting what this id created is right.
        """
        try:
            response = retry.call(
                "DescribeStackResource",
                lambda: self.client.describe_stack_resource(
                    StackName=stack_id, LogicalResourceId=logical_id
                ),
            )
        except ClientError as e:
            logger.info("stack resource not readable", extra={"code": retry.error_code(e)})
            return None
        detail = response.get("StackResourceDetail") or {}
        return detail.get("PhysicalResourceId") or None
