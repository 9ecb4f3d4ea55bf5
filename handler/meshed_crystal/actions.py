"""Create, Update and Delete of a Custom::MeshedCrystal (DESIGN §5): the lifecycle, once for
every mode.

The flow of every write request: parse and validate the properties (pure), pick the mode
(``Mode``), let it read what exists and decide, and only then write. A request that fails after
its first write undoes what it created itself, so a failed Create leaves nothing behind and a
failed Update leaves the stack's resources as the rollback expects. What each mode reads,
derives, writes and deletes is its own package's (``modes/appmesh/``, ``modes/service_connect/``),
found through ``registry``; the contract between them is ``mode``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from . import parallel, protocol, registry
from .adapters.ecs import Ecs
from .adapters.tagging import Tagging
from .errors import PropertyError
from .identity import TAG_HOLDER, Revision, issued_by_a_mode
from .mode import Chosen, Mode, PlanT, Request, Result, Undo, reused, revisions_in_ecs
from .ports import EcsPort, TaggingPort
from .properties import parse_properties, user_properties
from .registry import Adapters

__all__ = ["Provider", "Request", "Result"]

logger = logging.getLogger(__name__)

# The current revision and the one it replaced stay ACTIVE (rollbacks); older ones go.
ACTIVE_REVISIONS = 2
# The widest revision number an answer is measured with before the first write: ECS allows
# 1,000,000 revisions per family (its quota), so 7 digits always suffice.
WIDEST_REVISION = 9_999_999


def check_answer_fits(request: Request, mode: Mode[PlanT, Any], plan: PlanT) -> None:
    """Refuse, before any write, an answer CloudFormation would reject (DESIGN §4): its body,
    as encoded (JSON escapes count), over 4096 bytes, measured with the widest revision
    number. A resource created but never acknowledged is worse than a clear refusal. Every
    mode's Create and Update, and the ``plan`` command, check here."""
    widest = Revision(str(plan.task_definition["family"]), WIDEST_REVISION, plan.digest)
    data = mode.data(request, plan, widest)
    body = protocol.response_body(
        status=protocol.SUCCESS,
        reason="",
        physical_id=plan.physical_id,
        stack_id=request.stack_id,
        request_id=request.request_id,
        logical_id=request.logical_id,
        data=data,
    )
    size = protocol.encoded_size(body)
    if size > protocol.MAX_BODY_BYTES:
        raise PropertyError(
            "",
            f"the response to CloudFormation would be {size} bytes, over its "
            f"{protocol.MAX_BODY_BYTES}-byte limit: shorten {mode.shorten} (or the logical id)",
        )


def _quiet(physical_id: str) -> None:
    """Default for ``announce``: nobody needs to know the id before the result."""


class Provider:
    """The lifecycle. AWS adapters are injected (tests: the emulator's, or the fakes of
    ``tests/support/fakes.py``, any that satisfy ``ports``) or built lazily (Lambda), and so is
    each mode (``registry``): an event imports and builds only the mode it needs.

    ``environ`` holds the modes' deployment settings (the function's environment: ENVOY_IMAGE,
    ALLOWED_MESHES, APPMESH_RETIRED; each mode's spec reads its own). Adapters are given by
    their name (``ecs=``, ``appmesh=``, ...) and passed to the modes as they are.
    """

    def __init__(self, *, environ: Mapping[str, str] | None = None, **adapters: object) -> None:
        unknown = sorted(set(adapters) - registry.adapter_names())
        if unknown:
            raise TypeError(f"Provider() got adapters no mode takes: {', '.join(unknown)}")
        self.adapters = Adapters(**adapters)
        self.environ = dict(environ or {})
        self.ecs: EcsPort = self.adapters.get("ecs", Ecs)
        self.tagging: TaggingPort = self.adapters.get("tagging", Tagging)
        # The modes built so far, by the value of the Mode property.
        self.modes: dict[str, Mode[Any, Any]] = {}

    def mode(self, name: str) -> Mode[Any, Any]:
        """The mode ``name`` (a registered one), built on first use."""
        if name not in self.modes:
            spec = registry.specs()[name]
            self.modes[name] = spec.build(spec.settings(self.environ), self.adapters)
        return self.modes[name]

    # -- Create / Update ---------------------------------------------------------------------

    def create(self, request: Request, announce: Callable[[str], None] = _quiet) -> Result:
        props = parse_properties(request.properties)
        mode = self.mode(props.mode)
        plan = mode.prepare(request, props)
        check_answer_fits(request, mode, plan)
        announce(plan.physical_id)
        mode.claim(request, plan)
        undo = Undo()
        try:
            chosen = self._revision(plan.task_definition, plan.digest, plan.held, undo)
            chosen = mode.write(request, plan, chosen, undo)
        except BaseException:
            undo.run()
            raise
        # Only once everything else stands: revisions older than the previous one go.
        self._deregister(sorted(request.arn(r) for r in chosen.revisions[ACTIVE_REVISIONS:]))
        return Result(plan.physical_id, mode.data(request, plan, chosen.revision))

    def update(self, request: Request, announce: Callable[[str], None] = _quiet) -> Result:
        """In place when the id stays the same; otherwise a replacement under a new id.

        A replacement never removes the old id's resources: CloudFormation sends a Delete for
        the old id once the stack update succeeded (or for the new id if it failed).
        """
        unchanged = self._unchanged(request)
        if unchanged is not None:
            return unchanged
        return self.create(request, announce)

    def _unchanged(self, request: Request) -> Result | None:
        """The answer to an Update whose properties did not change, if the mode has a cheaper
        one than the full path.

        CloudFormation sends one when only its own keys changed (ServiceTimeout): nothing needs
        to be derived again.
        """
        found = self._mode_of(request.physical_id)
        if found is None or request.old_properties is None:
            return None
        mode, me = found
        try:
            new = user_properties(request.properties)
            old = user_properties(request.old_properties)
        except AttributeError:
            return None
        if new != old:
            return None
        return mode.unchanged(request, parse_properties(request.properties), me)

    def _revision(
        self, content: dict[str, Any], digest: str, held: list[Revision], undo: Undo
    ) -> Chosen:
        """The revision to run: one with this content already (see ``mode.reused``), or one
        registered now (undone if the request fails)."""
        family = str(content["family"])
        same = reused(held, family, digest)
        if same is not None:
            return same
        registered = self.ecs.register(content)
        revision = Revision(family, int(registered["revision"]), digest)
        arn = str(registered["taskDefinitionArn"])
        undo.add("deregister revision", lambda: self.ecs.deregister(arn))
        return Chosen(revision, [revision, *held], registered=True)

    # -- Delete ------------------------------------------------------------------------------

    def delete(self, request: Request) -> None:
        """Remove what the physical id names: its revisions found from ECS alone (their tags)
        first, whatever the mode's target answers (DESIGN §9), then what the mode deletes.

        The mode's own reads run at once with ECS's. It may keep the revisions (the id the
        stack holds since a replacement uses them) or name more that its target records.
        """
        found = self._mode_of(request.physical_id)
        if found is None:
            if issued_by_a_mode(request.physical_id) and not registry.of_id(request.physical_id):
                # A mode removed from this provider (README, "Removing App Mesh"): succeed, or
                # the stack could never be deleted, but say what is left behind.
                logger.warning(
                    "physical id was issued by a mode this provider no longer has (it has %s); "
                    "nothing deleted: what the id made stays, its ECS task definition revisions "
                    "tagged %s among them, to remove by hand",
                    ", ".join(registry.names()),
                    TAG_HOLDER,
                )
                return
            logger.info("physical id was never issued by this resource; nothing to delete")
            return
        mode, me = found
        in_ecs = parallel.start(
            revisions_in_ecs, self.tagging, self.ecs, request.owner, me.revision_holder()
        )
        deletion = mode.start_delete(request, me)
        parallel.settle((in_ecs, *deletion.reads))
        revisions = set(in_ecs.result())
        recorded = deletion.revisions()
        if recorded is not None:
            self._deregister(sorted(revisions | recorded))
        deletion.finish()

    def _mode_of(self, physical_id: str | None) -> tuple[Mode[Any, Any], Any] | None:
        """The mode that issued the id, and the id as it reads it (None: no mode did)."""
        spec = registry.of_id(physical_id)
        if spec is None:
            return None
        mode = self.mode(spec.name)
        me = mode.parse_id(physical_id)
        return None if me is None else (mode, me)

    def _deregister(self, arns: list[str]) -> None:
        """At once: the deregistrations do not depend on each other."""
        deregistrations = [parallel.start(self.ecs.deregister, arn) for arn in arns]
        parallel.settle(deregistrations)
        for deregistration in deregistrations:
            deregistration.result()  # the first failure, in order
