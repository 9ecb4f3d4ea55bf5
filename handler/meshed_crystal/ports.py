"""What the lifecycle and the modes need of AWS: one ``Protocol`` per adapter (``adapters/``).

The adapters satisfy them against boto3; the in-memory fakes of ``tests/support/fakes.py``
satisfy them in the fast tier, and one contract suite (``tests/integration/test_port_contract.py``)
holds both to the same behaviour. App Mesh's port is ``adapters/appmesh_port.py``, next to its
adapter, so that it leaves with the App Mesh mode.

What a port returns where the adapter hands on a boto3 shape is typed with the boto3 stubs'
TypeDefs (imported for the type checker only: the function ships without the stubs); elsewhere
the project's own shapes. The errors are the adapters' (``errors.py``), never botocore's: a
caller of a port never sees a ``ClientError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mypy_boto3_ecs.type_defs import TaskDefinitionTypeDef
    from mypy_boto3_servicediscovery.type_defs import ServiceSummaryTypeDef

    from .adapters.cloudformation import StackAnswer
    from .adapters.cloudmap import Namespace


class EcsPort(Protocol):
    """ECS task definitions."""

    def describe(self, reference: str) -> tuple[TaskDefinitionTypeDef, list[dict[str, str]]]:
        """The task definition (ARN, family:revision, or the family's latest ACTIVE) and its
        tags (``{"key", "value"}``). MissingResourceError when there is none (or it is
        INACTIVE); AwsError naming the permission when ECS refused."""
        ...

    def register(self, request: dict[str, Any]) -> TaskDefinitionTypeDef:
        """Registers a revision (``request``: RegisterTaskDefinition's input, tags included);
        AwsError when ECS refuses it."""
        ...

    def deregister(self, arn: str) -> None:
        """The revision is no longer ACTIVE: already INACTIVE or never there is fine."""
        ...

    def active(self, family: str) -> set[str]:
        """The ARNs of the ACTIVE revisions of exactly ``family``."""
        ...

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        """Adds or overwrites tags on a revision."""
        ...


class CloudMapPort(Protocol):
    """AWS Cloud Map: namespaces and services, looked up (never written)."""

    def names_by_id(self, service_id: str) -> tuple[str, str]:
        """(namespace name, service name) of a service; MissingResourceError if it is gone."""
        ...

    def namespace_of(self, service_id: str) -> Namespace:
        """The namespace of a service (MissingResourceError as ``names_by_id``)."""
        ...

    def namespace(self, name_or_id: str, *, is_id: bool, path: str) -> Namespace:
        """A namespace by id or by name; MissingResourceError naming ``path``."""
        ...

    def service_named(self, namespace_id: str, name: str) -> ServiceSummaryTypeDef | None:
        """The namespace's service called ``name`` (ListServices' summary), or None."""
        ...

    def tags(self, arn: str) -> dict[str, str]:
        """A Cloud Map resource's tags."""
        ...

    def check_names(self, namespace_name: str, service_name: str) -> None:
        """MissingResourceError (naming the property) unless the namespace has the service."""
        ...


class CloudFormationPort(Protocol):
    def current_physical_id(self, stack_id: str, logical_id: str) -> StackAnswer:
        """The id the stack holds now: known and None when the stack or resource is gone, not
        known when CloudFormation could not say (denied, throttled, failing). Never raises."""
        ...


class TaggingPort(Protocol):
    """Resource Groups Tagging API (no boto3 stubs for it in requirements-dev.txt: the
    project's shape, ARN -> tags)."""

    def task_definitions(self, tags: dict[str, str]) -> dict[str, dict[str, str]]:
        """The ECS task definitions that carry all of ``tags``, ACTIVE or not: ARN -> tags."""
        ...
