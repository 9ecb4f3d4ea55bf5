"""moto's CloudFormation, answering ``DescribeStackResource`` for the driver's stacks.

With :func:`playing`, also the read calls an operator makes about a stack played by
:class:`tests.support.stack.Stack` (what ``tasks.py migrate --check`` reads): ``DescribeStacks``
(its status: the last operation's), ``DescribeStackEvents`` (every operation's resource events
and one stack event each, newest first), ``GetTemplate`` (the text last deployed with success)
and ``DescribeStackResource`` of its ECS services and role policies.

The CloudFormation driver (:mod:`tests.support.cfn_driver`) plays CloudFormation: which physical
id its stack holds for a logical id *is* CloudFormation's state. The handler's Delete asks
CloudFormation for it (``DescribeStackResource``, DESIGN §5.4), so the emulator must answer from
the driver. :func:`serving` registers a driver's stack; the answer has the real API's shape
(``StackResourceDetail``) and its errors (``ValidationError`` "Stack with id X does not exist",
"Resource X does not exist for stack Y"). Stacks moto itself knows keep moto's behaviour.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult

from tests.support.cfn_driver import CloudFormation

if TYPE_CHECKING:
    from tests.support.stack import Stack

__all__ = ["serving"]

_lock = threading.Lock()
_stacks: dict[str, CloudFormation] = {}
_played: dict[str, Stack] = {}
_original = CloudFormationResponse.describe_stack_resource
_original_describe_stacks = CloudFormationResponse.describe_stacks
_original_describe_stack_events = CloudFormationResponse.describe_stack_events
_original_get_template = CloudFormationResponse.get_template


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
    played = _find_played(stack_name)
    if (
        driver.stack_resource(logical_id) is None
        and played is not None
        and played.holds(logical_id)
    ):
        # What the driver does not hold: the played stack's ECS services and role policies
        return ActionResult(
            {
                "StackResourceDetail": {
                    "StackName": driver.stack_name,
                    "StackId": driver.stack_id,
                    "LogicalResourceId": logical_id,
                    "PhysicalResourceId": played.physical_id(logical_id),
                    "ResourceType": played.resource_type(logical_id),
                    "LastUpdatedTimestamp": played.operations[-1].finished,
                    "ResourceStatus": "UPDATE_COMPLETE",
                    "Metadata": "{}",
                    "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
                }
            }
        )
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


def _find_played(name_or_id: str) -> Stack | None:
    with _lock:
        for stack in _played.values():
            if name_or_id in (stack.cfn.stack_id, stack.cfn.stack_name):
                return stack
    return None


def _not_found(name: str) -> ValidationError:
    return ValidationError(name, f"Stack with id {name} does not exist")


def _describe_stacks(self: CloudFormationResponse) -> Any:
    name = self._get_param("StackName")
    played = _find_played(str(name)) if name else None
    if played is None:
        return _original_describe_stacks(self)
    last = played.operations[-1] if played.operations else None
    if last is None:
        raise _not_found(str(name))
    description: dict[str, Any] = {
        "StackName": played.cfn.stack_name,
        "StackId": played.cfn.stack_id,
        "CreationTime": played.created,
        "LastUpdatedTime": last.finished,
        "StackStatus": last.status,
        "Tags": {},  # moto's serializer turns this mapping into the API's list
    }
    if last.reason:
        description["StackStatusReason"] = last.reason
    return ActionResult({"Stacks": [description]})


def _describe_stack_events(self: CloudFormationResponse) -> Any:
    name = str(self._get_param("StackName"))
    played = _find_played(name)
    if played is None:
        return _original_describe_stack_events(self)
    events: list[dict[str, Any]] = []
    for operation in played.operations:
        for event in operation.events:
            entry = {
                "StackId": played.cfn.stack_id,
                "EventId": str(uuid.uuid4()),
                "StackName": played.cfn.stack_name,
                "LogicalResourceId": event.logical_id,
                "PhysicalResourceId": event.physical_id,
                "ResourceType": str(
                    (played.template.get(event.logical_id) or {}).get("Type", "")
                    or "Custom::MeshedCrystal"
                ),
                "Timestamp": event.timestamp,
                "ResourceStatus": event.status,
            }
            if event.reason:
                entry["ResourceStatusReason"] = event.reason
            events.append(entry)
        events.append(
            {
                "StackId": played.cfn.stack_id,
                "EventId": str(uuid.uuid4()),
                "StackName": played.cfn.stack_name,
                "LogicalResourceId": played.cfn.stack_name,
                "PhysicalResourceId": played.cfn.stack_id,
                "ResourceType": "AWS::CloudFormation::Stack",
                "Timestamp": operation.finished,
                "ResourceStatus": operation.status,
            }
        )
    return ActionResult({"StackEvents": events[::-1]})


def _get_template(self: CloudFormationResponse) -> Any:
    name = str(self._get_param("StackName"))
    played = _find_played(name)
    if played is None:
        return _original_get_template(self)
    if played.template_body is None:
        raise _not_found(name)
    return ActionResult({"TemplateBody": played.template_body})


def install() -> None:
    """Idempotent: route the stack reads through the driver and played-stack registries."""
    CloudFormationResponse.describe_stack_resource = _describe_stack_resource  # type: ignore[method-assign]
    CloudFormationResponse.describe_stacks = _describe_stacks  # type: ignore[method-assign]
    CloudFormationResponse.describe_stack_events = _describe_stack_events  # type: ignore[method-assign]
    CloudFormationResponse.get_template = _get_template  # type: ignore[method-assign]


@contextmanager
def playing(stack: Stack) -> Iterator[Stack]:
    """While active, the emulator's CloudFormation answers the reads of ``stack`` (its driver
    must be served too: :func:`serving`)."""
    install()
    with _lock:
        _played[stack.cfn.stack_id] = stack
    try:
        yield stack
    finally:
        with _lock:
            _played.pop(stack.cfn.stack_id, None)


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
