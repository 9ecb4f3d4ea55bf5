"""What the lifecycle (``actions.Provider``) and a mode say to each other.

The lifecycle rules of DESIGN §5 (one response, ownership before the first write, undo on
failure, one revision per content, the two newest revisions ACTIVE, a Delete that finds its
revisions from ECS first) are written once, in ``actions``. A *mode* is a target: what it reads,
derives, writes and deletes (``modes/appmesh/``, ``modes/service_connect/``). A third target is
a package under ``modes/`` whose spec builds an object that satisfies ``Mode``, plus its line in
``registry.ENTRIES``.

Also here: what both modes read the same way (the application's task definition, an id's
revisions found from ECS alone) and the pure revision rules they share.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, NamedTuple, Protocol, TypeVar

from .ecs import model as ecs_model
from .identity import Owner, Revision
from .ports import EcsPort, TaggingPort
from .properties import Properties

logger = logging.getLogger(__name__)


# Hooks told the name of a metric, and a detail, when a mode notices something operators alarm
# on (a Delete that finished without App Mesh, and how it was gone); app.py adds the metrics'
# (observability.notices).
on_notice: list[Callable[[str, str], None]] = []


def notice(metric: str, detail: str = "") -> None:
    for hook in on_notice:
        hook(metric, detail)


class Request(NamedTuple):
    """The parts of a CloudFormation event the actions use."""

    stack_id: str
    logical_id: str
    request_id: str
    properties: Any
    physical_id: str | None = None
    old_properties: Any = None
    partition: str = "aws"
    region: str = "us-east-1"
    account: str = "123456789012"

    @property
    def owner(self) -> Owner:
        return Owner(self.stack_id, self.logical_id)

    def fallback_id(self) -> str:
        """The id of a Create that failed before it could name its resources.

        Shaped like crhelper's ids and deterministic, so a redelivered Create answers with the
        same one; a Delete recognises it as not naming anything and succeeds with no AWS call.
        """
        stack_name = self.stack_id.split("/")[1] if "/" in self.stack_id else "stack"
        return f"{stack_name}_{self.logical_id}_{self.request_id.replace('-', '')[:8].upper()}"

    def arn(self, revision: Revision) -> str:
        return revision.arn(self.partition, self.region, self.account)


class Result(NamedTuple):
    physical_id: str
    data: dict[str, str]


class Undo:
    """Compensations for what this invocation created, run newest first if it fails."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Callable[[], object]]] = []

    def add(self, what: str, step: Callable[[], object]) -> None:
        self.steps.append((what, step))

    def run(self) -> None:
        for what, step in reversed(self.steps):
            try:
                step()
            except Exception:
                # The Reason reports the original failure; a leftover is logged for operators.
                logger.exception("could not undo", extra={"undo": what})


class Chosen(NamedTuple):
    """The revision to run, and this id's revisions afterwards (newest first)."""

    revision: Revision
    revisions: list[Revision]
    registered: bool  # by this invocation (else reused: a redelivery, a no-op, a rollback)


def reused(held: list[Revision], family: str, digest: str) -> Chosen | None:
    """An identical derived task definition reuses its revision: a redelivered Create or a
    no-op Update registers nothing, and a rollback gets exactly the previous ARN back."""
    for revision in held:
        if (revision.family, revision.digest) == (family, digest):
            return Chosen(revision, [revision, *[r for r in held if r != revision]], False)
    return None


def adopted(mine: Chosen, theirs: list[Revision]) -> tuple[Chosen, Revision | None]:
    """Merge the revision this invocation chose into those that a concurrent duplicate of the
    same request recorded; and the duplicate this invocation registered, if any, to deregister.

    Both registered the same content: keep the one already recorded, so both invocations answer
    the same TaskDefinitionArn.
    """
    revision = mine.revision
    same = reused(theirs, revision.family, revision.digest)
    if same is None:
        return mine._replace(revisions=[revision, *[r for r in theirs if r != revision]]), None
    return same, (revision if same.revision != revision else None)


class Planned(Protocol):
    """What the lifecycle needs of a mode's plan: decided before the first write."""

    @property
    def physical_id(self) -> str: ...

    @property
    def task_definition(self) -> dict[str, Any]: ...  # a RegisterTaskDefinition request

    @property
    def digest(self) -> str: ...  # of the derived content (ecs_model.digest)

    @property
    def held(self) -> list[Revision]: ...  # this id's ACTIVE revisions, newest first


class ModeId(Protocol):
    """A physical id a mode issued: it says what a Delete needs, with no other state."""

    def revision_holder(self) -> str: ...  # TAG_HOLDER on this id's revisions


class Deletion(Protocol):
    """A Delete in a mode, started at once with the lifecycle's read of ECS."""

    @property
    def reads(self) -> tuple[Future[Any] | None, ...]: ...

    def revisions(self) -> set[str] | None:
        """The revisions this id's target records besides those ECS's tags show; None when the
        id the stack holds now still uses them (kept). Reads the answers to ``reads``."""
        ...

    def finish(self) -> None:
        """What the mode deletes outside ECS, after the revisions went."""
        ...


PlanT = TypeVar("PlanT", bound=Planned)
IdT = TypeVar("IdT", bound=ModeId)


class Mode(Protocol[PlanT, IdT]):
    """One target. Every method but ``write`` and ``finish`` of the deletion writes nothing."""

    # The properties whose values the answer repeats: what a Reason tells the user to shorten
    # when the answer would not fit in CloudFormation's response (``actions``).
    shorten: str

    def parse_id(self, text: str | None) -> IdT | None:
        """This mode's id, or None for an id of another form."""
        ...

    def unchanged(self, request: Request, props: Properties, me: IdT) -> Result | None:
        """The answer to an Update whose properties did not change, if it can be had cheaper
        than the full path (None: take the full path)."""
        ...

    def prepare(self, request: Request, props: Properties) -> PlanT:
        """Read (independent reads at once), check and derive: everything before a write."""
        ...

    def claim(self, request: Request, plan: PlanT) -> None:
        """Refuse, after the id is announced and before any write, what the id may not take
        over (a name that another holder created)."""
        ...

    def write(self, request: Request, plan: PlanT, chosen: Chosen, undo: Undo) -> Chosen:
        """Everything but the revision: with an undo for each thing created. Returns the
        revisions as the target now records them (a concurrent duplicate may have won)."""
        ...

    def data(self, request: Request, plan: PlanT, revision: Revision) -> dict[str, str]:
        """The attributes (Fn::GetAtt)."""
        ...

    def start_delete(self, request: Request, me: IdT) -> Deletion: ...


def read_base(ecs: EcsPort, props: Properties) -> dict[str, Any]:
    """The application's task definition, as a RegisterTaskDefinition request."""
    if isinstance(props.task_definition, str):
        described, base_tags = ecs.describe(props.task_definition)
        return ecs_model.register_request_from_described(described, base_tags)
    return dict(props.task_definition)


def revisions_in_ecs(
    tagging: TaggingPort, ecs: EcsPort, owner: Owner, holder: str
) -> dict[str, dict[str, str]]:
    """The ACTIVE revisions an id registered, with their tags, found from ECS alone (DESIGN §9).

    The tagging API may list deregistered revisions too: ListTaskDefinitions (ACTIVE) filters
    them, one call per family, and only when there is anything to filter.
    """
    tagged = tagging.task_definitions(owner.revision_tags(holder))
    families = sorted({Revision.of_arn(arn).family for arn in tagged})
    active: set[str] = set()
    for family in families:
        active |= ecs.active(family)
    return {arn: tags for arn, tags in tagged.items() if arn in active}


def ecs_tags(*layers: Mapping[str, str]) -> list[dict[str, str]]:
    """Tags in ECS's shape; a later layer wins (the base's, the user's, the owner's)."""
    merged: dict[str, str] = {}
    for layer in layers:
        merged.update(layer)
    return [{"key": k, "value": v} for k, v in merged.items()]
