"""A stack update of a template fragment, played as CloudFormation plays it.

The CloudFormation driver (:mod:`tests.support.cfn_driver`) plays the custom-resource protocol
for one resource at a time. :class:`Stack` plays a whole stack operation over a small template
(a mapping of logical ids to ``{"Type", "Properties", "DependsOn"}``) with three resource types:

* ``Custom::MeshedCrystal``: through the driver, i.e. the real Lambda handler and a real response;
  its ``Fn::GetAtt`` values are the response's ``Data``.
* ``AWS::ECS::Service``: through the emulator's ECS API (``CreateService``/``UpdateService``/
  ``DeleteService``), with ``TaskDefinition``, ``DesiredCount``, ``ServiceRegistries``,
  ``ServiceConnectConfiguration`` and ``ForceNewDeployment``.
* ``AWS::IAM::RolePolicy``: ``PutRolePolicy``/``DeleteRolePolicy`` (the workshop's Envoy policy,
  which reads ``!GetAtt Crystal.VirtualNodeArn``).

What it models, each from CloudFormation's documented behaviour:

* Resources are created/updated in dependency order (``GetAtt`` and ``DependsOn``), one at a
  time; a resource whose resolved properties did not change is not touched.
* ``GetAtt`` of an attribute a custom resource's response lacks fails the resource that reads it
  with CloudFormation's own error, which names the attribute ("CustomResource attribute error:
  Vendor response doesn't contain <attr> key in object <stack id>|<logical id>|<request id> in S3
  bucket cloudformation-custom-resource-storage-<region>", as reported in aws/aws-cdk#19831).
* A custom resource whose Update returns a new ``PhysicalResourceId`` was replaced. Removed
  resources and the old ids of replaced ones are deleted in the cleanup phase, only after every
  resource was updated, in reverse dependency order (dependants first). A failed cleanup Delete
  does not fail the update (the stack is ``UPDATE_COMPLETE``; the event is ``DELETE_FAILED``).
* A failure rolls back: resources updated in place are updated back (a custom resource with the
  properties swapped), a replaced custom resource's old id is held again without any event, and
  in the rollback's cleanup the new ids and the resources this update created are deleted.
* ``AWS::ECS::Service`` updates are one ``UpdateService`` with what changed; integer and boolean
  properties are converted from the strings ``GetAtt`` gives (``ClientAliases[].Port``), as
  CloudFormation converts them by the resource schema. A removed ``ServiceRegistries`` is sent as
  ``[]`` and a removed ``ServiceConnectConfiguration`` as ``{"enabled": false}``: the API's
  documented ways to remove them (what CloudFormation's handler sends is not documented).
  A changed ``ServiceName`` or ``Cluster`` (a replacement) is not modelled.

What an operator reads about the stack (``DescribeStacks``, ``DescribeStackEvents``,
``GetTemplate``) is answered from it by the emulator while ``moto_cloudformation.playing`` is
active: its operations (each with a status, a finish time and time-stamped events) and the text
of the template last deployed with success (``deploy``'s ``body``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import boto3
from botocore.exceptions import ClientError

from tests.support.cfn_driver import CloudFormation

__all__ = ["GetAtt", "Stack", "StackEvent", "StackOperation", "attribute_error"]

CUSTOM: Final = "Custom::MeshedCrystal"
ECS_SERVICE: Final = "AWS::ECS::Service"
ROLE_POLICY: Final = "AWS::IAM::RolePolicy"
_TYPES: Final = (CUSTOM, ECS_SERVICE, ROLE_POLICY)
# CloudFormation converts these from strings by the AWS::ECS::Service schema.
_INT_KEYS: Final = frozenset({"Port", "DesiredCount", "ContainerPort"})
_BOOL_KEYS: Final = frozenset({"Enabled", "EnableForceNewDeployment"})


@dataclass(frozen=True)
class GetAtt:
    """``!GetAtt LogicalId.Attribute``."""

    logical_id: str
    attribute: str


@dataclass(frozen=True)
class StackEvent:
    """One resource event of the operation (what ``DescribeStackEvents`` would list)."""

    logical_id: str
    physical_id: str
    status: str
    reason: str = ""
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC), compare=False)


@dataclass
class StackOperation:
    """The outcome of one :meth:`Stack.deploy`."""

    status: str
    """``CREATE_COMPLETE``, ``UPDATE_COMPLETE``, ``ROLLBACK_COMPLETE`` or
    ``UPDATE_ROLLBACK_COMPLETE``."""
    reason: str = ""
    """The failure that started the rollback (empty when the operation succeeded)."""
    events: list[StackEvent] = field(default_factory=list)
    finished: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def cleanup(self) -> list[StackEvent]:
        """The Deletes of the cleanup phase (after success, or of the rollback)."""
        return [e for e in self.events if e.status.startswith("DELETE_")]

    @property
    def failed_cleanup(self) -> list[StackEvent]:
        return [e for e in self.events if e.status == "DELETE_FAILED"]


class StackOperationError(Exception):
    def __init__(self, logical_id: str, reason: str, leftover: _Resource | None = None) -> None:
        super().__init__(reason)
        self.logical_id = logical_id
        self.reason = reason
        self.leftover = leftover
        """A custom resource whose Create failed: its id is deleted in the rollback."""


def attribute_error(stack_id: str, logical_id: str, request_id: str, attribute: str) -> str:
    """CloudFormation's error for a ``GetAtt`` that the custom resource's response lacks."""
    region = stack_id.split(":")[3].replace("-", "")
    return (
        f"CustomResource attribute error: Vendor response doesn't contain {attribute} key in "
        f"object {stack_id}|{logical_id}|{request_id} in S3 bucket "
        f"cloudformation-custom-resource-storage-{region}"
    )


@dataclass
class _Resource:
    type: str
    physical_id: str
    properties: dict[str, Any]
    """Resolved (no GetAtt left)."""
    data: dict[str, str] = field(default_factory=dict)
    request_id: str = ""


class Stack:
    """One stack: its template and what it holds, played over the driver and the emulator."""

    def __init__(self, cfn: CloudFormation, *, cluster: str) -> None:
        self.cfn = cfn
        self.cluster = cluster
        self.template: dict[str, dict[str, Any]] = {}
        self.template_body: str | None = None
        """The text of the template last deployed with success (``deploy``'s ``body``): what
        ``GetTemplate`` answers."""
        self.created = datetime.now(UTC)
        self._held: dict[str, _Resource] = {}
        self.operations: list[StackOperation] = []

    # -- what the stack holds ------------------------------------------------------------

    def physical_id(self, logical_id: str) -> str:
        return self._held[logical_id].physical_id

    def attributes(self, logical_id: str) -> dict[str, str]:
        return dict(self._held[logical_id].data)

    def holds(self, logical_id: str) -> bool:
        return logical_id in self._held

    def resource_type(self, logical_id: str) -> str:
        return self._held[logical_id].type

    # -- the operation -------------------------------------------------------------------

    def deploy(
        self, template: Mapping[str, Mapping[str, Any]], *, body: str | None = None
    ) -> StackOperation:
        """Create the stack (first call) or update it to ``template`` (whose text is ``body``,
        when the caller has it)."""
        creating = not self._held and not self.template
        for logical_id, resource in template.items():
            if resource["Type"] not in _TYPES:
                raise NotImplementedError(f"{logical_id}: {resource['Type']} is not modelled")
        new_template = {k: dict(v) for k, v in template.items()}
        before = dict(self._held)
        operation = StackOperation(status="")
        # (logical id, what happened, the resource before) in the order it happened
        done: list[tuple[str, str, _Resource | None]] = []
        try:
            for logical_id in _order(new_template):
                spec = new_template[logical_id]
                properties = self._resolve(logical_id, spec.get("Properties") or {})
                old = self._held.get(logical_id)
                if old is not None and old.type == spec["Type"] and old.properties == properties:
                    continue
                action = self._apply(logical_id, spec["Type"], properties, old, operation)
                done.append((logical_id, action, old))
        except StackOperationError as failure:
            operation.events.append(
                StackEvent(
                    failure.logical_id,
                    failure.leftover.physical_id
                    if failure.leftover is not None
                    else self._held[failure.logical_id].physical_id
                    if failure.logical_id in self._held
                    else "",
                    "CREATE_FAILED" if failure.logical_id not in before else "UPDATE_FAILED",
                    failure.reason,
                )
            )
            operation.reason = failure.reason
            self._roll_back(done, operation, failure)
            operation.status = "ROLLBACK_COMPLETE" if creating else "UPDATE_ROLLBACK_COMPLETE"
            operation.finished = datetime.now(UTC)
            self.operations.append(operation)
            return operation
        # Cleanup: removed resources and replaced ids, dependants first (old template's order).
        old_template = self.template
        for logical_id in reversed(_order(old_template)):
            old = before.get(logical_id)
            if old is None:
                continue
            if logical_id not in new_template:
                self._delete(logical_id, old, operation)
                self._held.pop(logical_id, None)
            elif self._held[logical_id].physical_id != old.physical_id:
                self._delete(logical_id, old, operation)
        self.template = new_template
        if body is not None:
            self.template_body = body
        operation.status = "CREATE_COMPLETE" if creating else "UPDATE_COMPLETE"
        operation.finished = datetime.now(UTC)
        self.operations.append(operation)
        return operation

    # -- resolution ----------------------------------------------------------------------

    def _resolve(self, logical_id: str, value: Any) -> Any:
        if isinstance(value, GetAtt):
            held = self._held.get(value.logical_id)
            if held is None or held.type != CUSTOM:
                raise NotImplementedError(f"GetAtt {value.logical_id}.{value.attribute}")
            if value.attribute not in held.data:
                raise StackOperationError(
                    logical_id,
                    attribute_error(
                        self.cfn.stack_id, value.logical_id, held.request_id, value.attribute
                    ),
                )
            return held.data[value.attribute]
        if isinstance(value, Mapping):
            return {k: self._resolve(logical_id, v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._resolve(logical_id, v) for v in value]
        return value

    # -- applying one resource -----------------------------------------------------------

    def _apply(
        self,
        logical_id: str,
        type_: str,
        properties: dict[str, Any],
        old: _Resource | None,
        operation: StackOperation,
    ) -> str:
        if type_ == CUSTOM:
            return self._apply_custom(logical_id, properties, old, operation)
        if type_ == ECS_SERVICE:
            physical = self._ecs_apply(logical_id, properties, old)
        else:
            physical = self._policy_apply(logical_id, properties, old)
        self._held[logical_id] = _Resource(type_, physical, properties)
        status = "CREATE_COMPLETE" if old is None else "UPDATE_COMPLETE"
        operation.events.append(StackEvent(logical_id, physical, status))
        return "created" if old is None else "updated"

    def _apply_custom(
        self,
        logical_id: str,
        properties: dict[str, Any],
        old: _Resource | None,
        operation: StackOperation,
    ) -> str:
        if old is None:
            body = self.cfn.create(logical_id, properties)
        else:
            body = self.cfn.update(
                logical_id, properties, old_properties=old.properties, physical_id=old.physical_id
            )
        physical = str(body["PhysicalResourceId"])
        if body["Status"] != "SUCCESS":
            raise StackOperationError(
                logical_id,
                _custom_failure(body),
                # CloudFormation deletes, in the rollback, the id a FAILED Create carried.
                _Resource(CUSTOM, physical, properties) if old is None else None,
            )
        self._held[logical_id] = _Resource(
            CUSTOM, physical, properties, dict(body.get("Data") or {}), str(body["RequestId"])
        )
        status = "CREATE_COMPLETE" if old is None else "UPDATE_COMPLETE"
        operation.events.append(StackEvent(logical_id, physical, status))
        if old is None:
            return "created"
        return "updated" if physical == old.physical_id else "replaced"

    def _delete(self, logical_id: str, resource: _Resource, operation: StackOperation) -> None:
        reason = ""
        if resource.type == CUSTOM:
            body = self.cfn.delete(
                logical_id, physical_id=resource.physical_id, properties=resource.properties
            )
            if body["Status"] != "SUCCESS":
                reason = _custom_failure(body)
        else:
            try:
                if resource.type == ECS_SERVICE:
                    ecs = boto3.client("ecs")
                    ecs.delete_service(
                        cluster=self.cluster, service=resource.physical_id, force=True
                    )
                else:
                    boto3.client("iam").delete_role_policy(
                        RoleName=resource.properties["RoleName"],
                        PolicyName=resource.properties["PolicyName"],
                    )
            except ClientError as error:
                reason = _handler_message(error, "Ecs" if resource.type == ECS_SERVICE else "Iam")
        status = "DELETE_FAILED" if reason else "DELETE_COMPLETE"
        operation.events.append(StackEvent(logical_id, resource.physical_id, status, reason))

    def _roll_back(
        self,
        done: Sequence[tuple[str, str, _Resource | None]],
        operation: StackOperation,
        failure: StackOperationError,
    ) -> None:
        to_delete: list[tuple[str, _Resource]] = []
        if failure.leftover is not None:
            to_delete.append((failure.logical_id, failure.leftover))
        for logical_id, action, old in reversed(done):
            new = self._held[logical_id]
            if action == "created":
                to_delete.append((logical_id, new))
                del self._held[logical_id]
            elif action == "replaced":
                assert old is not None
                # No event to the old resource: the stack holds it again.
                self.cfn.revert_to(logical_id, old.physical_id, old.properties)
                self._held[logical_id] = old
                to_delete.append((logical_id, new))
            else:
                assert old is not None
                try:
                    if new.type == CUSTOM:
                        body = self.cfn.update(
                            logical_id, old.properties, old_properties=new.properties
                        )
                        if body["Status"] != "SUCCESS":
                            raise StackOperationError(logical_id, _custom_failure(body))
                    elif new.type == ECS_SERVICE:
                        self._ecs_apply(logical_id, old.properties, new)
                    else:
                        self._policy_apply(logical_id, old.properties, new)
                except (StackOperationError, ClientError) as error:
                    operation.events.append(
                        StackEvent(logical_id, new.physical_id, "UPDATE_FAILED", str(error))
                    )
                    continue
                self._held[logical_id] = old
                operation.events.append(
                    StackEvent(logical_id, old.physical_id, "UPDATE_COMPLETE", "rollback")
                )
        # The rollback's cleanup phase: the new ids and what this update created.
        for logical_id, resource in to_delete:
            self._delete(logical_id, resource, operation)

    # -- AWS::ECS::Service -----------------------------------------------------------------

    def _ecs_apply(self, logical_id: str, props: Mapping[str, Any], old: _Resource | None) -> str:
        ecs = boto3.client("ecs")
        try:
            if old is None:
                request: dict[str, Any] = {
                    "cluster": self.cluster,
                    "serviceName": props["ServiceName"],
                    "taskDefinition": props["TaskDefinition"],
                    "desiredCount": int(props.get("DesiredCount", 1)),
                }
                for key in ("ServiceRegistries", "ServiceConnectConfiguration"):
                    if key in props:
                        request[_camel(key)] = _api(props[key])
                return str(ecs.create_service(**request)["service"]["serviceArn"])
            before = old.properties
            for key in ("ServiceName", "Cluster"):
                if props.get(key) != before.get(key):
                    raise NotImplementedError(f"{logical_id}: a changed {key} is a replacement")
            update: dict[str, Any] = {"cluster": self.cluster, "service": old.physical_id}
            if props.get("TaskDefinition") != before.get("TaskDefinition"):
                update["taskDefinition"] = props["TaskDefinition"]
            if props.get("DesiredCount") != before.get("DesiredCount"):
                update["desiredCount"] = int(props.get("DesiredCount", 1))
            if props.get("ServiceRegistries") != before.get("ServiceRegistries"):
                update["serviceRegistries"] = _api(props.get("ServiceRegistries") or [])
            if props.get("ServiceConnectConfiguration") != before.get(
                "ServiceConnectConfiguration"
            ):
                update["serviceConnectConfiguration"] = _api(
                    props.get("ServiceConnectConfiguration") or {"Enabled": False}
                )
            force = props.get("ForceNewDeployment") or {}
            if force != (before.get("ForceNewDeployment") or {}) and _api(force).get(
                "enableForceNewDeployment"
            ):
                update["forceNewDeployment"] = True
            return str(ecs.update_service(**update)["service"]["serviceArn"])
        except ClientError as error:
            raise StackOperationError(logical_id, _handler_message(error, "Ecs")) from error

    # -- AWS::IAM::RolePolicy --------------------------------------------------------------

    def _policy_apply(
        self, logical_id: str, props: Mapping[str, Any], old: _Resource | None
    ) -> str:
        iam = boto3.client("iam")
        try:
            iam.put_role_policy(
                RoleName=props["RoleName"],
                PolicyName=props["PolicyName"],
                PolicyDocument=json.dumps(props["PolicyDocument"]),
            )
        except ClientError as error:
            raise StackOperationError(logical_id, _handler_message(error, "Iam")) from error
        return old.physical_id if old is not None else f"{self.cfn.stack_name}-{logical_id}"


def _order(template: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Logical ids, each after what it depends on (GetAtt, DependsOn); else template order."""
    ordered: list[str] = []

    def deps(value: Any) -> set[str]:
        if isinstance(value, GetAtt):
            return {value.logical_id}
        if isinstance(value, Mapping):
            return set().union(*(deps(v) for v in value.values())) if value else set()
        if isinstance(value, list | tuple):
            return set().union(*(deps(v) for v in value)) if value else set()
        return set()

    def visit(logical_id: str, path: tuple[str, ...]) -> None:
        if logical_id in ordered:
            return
        if logical_id in path:
            raise ValueError(f"circular dependency: {' -> '.join((*path, logical_id))}")
        spec = template[logical_id]
        depends_on = spec.get("DependsOn") or []
        needed = deps(spec.get("Properties") or {}) | set(
            [depends_on] if isinstance(depends_on, str) else depends_on
        )
        for dependency in sorted(needed & set(template)):
            visit(dependency, (*path, logical_id))
        ordered.append(logical_id)

    for logical_id in template:
        visit(logical_id, ())
    return ordered


def _camel(key: str) -> str:
    return key[:1].lower() + key[1:]


def _api(value: Any, key: str = "") -> Any:
    """CloudFormation's property value as the ECS API takes it (keys camelCase, typed)."""
    if isinstance(value, Mapping):
        return {_camel(k): _api(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_api(v, key) for v in value]
    if key in _INT_KEYS and isinstance(value, str):
        return int(value)
    if key in _BOOL_KEYS and isinstance(value, str):
        return value.lower() == "true"
    return value


def _custom_failure(body: Mapping[str, Any]) -> str:
    """How CloudFormation reports a custom resource's FAILED response."""
    return (
        "Received response status [FAILED] from custom resource. Message returned: "
        f"{body.get('Reason', '')} (RequestId: {body['RequestId']})"
    )


def _handler_message(error: ClientError, service: str) -> str:
    """How CloudFormation reports a resource handler's service error."""
    err = error.response.get("Error", {})
    meta = error.response.get("ResponseMetadata", {})
    return (
        f'Resource handler returned message: "{err.get("Message", "")} (Service: {service}, '
        f"Status Code: {meta.get('HTTPStatusCode', 400)}, Request ID: "
        f'{meta.get("RequestId", "")})" (RequestToken: {uuid.uuid4()}, '
        f"HandlerErrorCode: InvalidRequest)"
    )
