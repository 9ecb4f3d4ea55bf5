"""moto's CloudFormation, answering ``DescribeStackResource`` for the driver's stacks.

The CloudFormation driver (:mod:`tests.support.cfn_driver`) plays CloudFormation: which physical
id its stack holds for a logical id *is* CloudFormation's state. The handler's Delete asks
CloudFormation for it (``DescribeStackResource``, DESIGN §5.4), so the emulator must answer from
the driver. :func:`serving` registers a driver's stack; the answer has the real API's shape
(``StackResourceDetail``) and its errors (``ValidationError`` "Stack with id X does not exist",
"Resource X does not exist for stack Y"). Stacks moto itself knows keep moto's behaviour.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult

from tests.support.cfn_driver import CloudFormation

__all__ = ["serving"]

_lock = threading.Lock()
_stacks: dict[str, CloudFormation] = {}
_original = CloudFormationResponse.describe_stack_resource


def _find(name_or_id: str) -> CloudFormation | None:
    with _lock:
        for driver in _stacks.values():
            # Like CloudFormation: by stack id, or by the name of a stack that exists.
            if name_or_id in (driver.stack_id, driver.stack_name):
                return driver
    return None


def _describe_stack_resource(self: CloudFormationResponse) -> Any:
    stack_name = str(self._get_param("StackName"))
    logical_id = str(self._get_param("LogicalResourceId"))
    driver = _find(stack_name)
    if driver is None or driver.region != self.region or driver.account != self.current_account:
        return _original(self)
    resource = driver.stack_resource(logical_id)
    if resource is None:
        raise ValidationError(
            stack_name, f"Resource {logical_id} does not exist for stack {stack_name}"
        )
    return ActionResult(
        {
            "StackResourceDetail": {
                "StackName": driver.stack_name,
                "StackId": driver.stack_id,
                "LogicalResourceId": logical_id,
                "PhysicalResourceId": resource.physical_id,
                "ResourceType": resource.resource_type,
                "LastUpdatedTimestamp": resource.updated_at,
                "ResourceStatus": resource.status,
                "Metadata": "{}",
                "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
            }
        }
    )


def install() -> None:
    """Idempotent: route DescribeStackResource through the driver registry."""
    CloudFormationResponse.describe_stack_resource = _describe_stack_resource  # type: ignore[method-assign]


@contextmanager
def serving(driver: CloudFormation) -> Iterator[CloudFormation]:
    """While active, the emulator's CloudFormation knows ``driver``'s stack."""
    install()
    with _lock:
        _stacks[driver.stack_id] = driver
    try:
        yield driver
    finally:
        with _lock:
            _stacks.pop(driver.stack_id, None)
