"""The pure rules of ``mode`` (the contract between the lifecycle and the modes), exactly: the
fallback id a failed Create answers with, which revision a content reuses, what a concurrent
duplicate's revisions make of this invocation's, and the notice hooks.

(docs/testing.md, "Mutation score": each mutant of mode.py that survived the fast tier is
killed here or by tests/fast, or listed as equivalent.)
"""

from __future__ import annotations

import pytest
from meshed_crystal import mode
from meshed_crystal.identity import Revision
from meshed_crystal.mode import Chosen, Request, adopted, reused

STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/crystal-stack/6b1e7a40-3c2d-11ef-9f1a"
UUID = "7f0c2a3e-9b1d-4c5e-8f60-1a2b3c4d5e6f"


def request(stack_id: str = STACK, request_id: str = UUID) -> Request:
    return Request(stack_id=stack_id, logical_id="Crystal", request_id=request_id, properties={})


# -- The fallback id (a Create that failed before it could name its resources) ----------------


def test_the_fallback_id_is_crhelpers_shape_stack_name_logical_id_and_the_request() -> None:
    # <stack name>_<logical id>_<the request id's first 8 characters, upper case>
    assert request().fallback_id() == "crystal-stack_Crystal_7F0C2A3E"
    # Deterministic: a redelivered Create answers with the same id
    assert request().fallback_id() == request().fallback_id()


def test_the_fallback_id_of_a_stack_id_that_is_not_an_arn_says_stack() -> None:
    # A malformed event's StackId (protocol answers it with the fallback id too)
    assert request(stack_id="crystal-stack").fallback_id() == "stack_Crystal_7F0C2A3E"


def test_the_fallback_id_takes_eight_characters_of_the_request_id_without_its_dashes() -> None:
    # CloudFormation's request ids are UUIDs; a malformed event's may be anything
    assert request(request_id="ab-cd-ef-gh-ij").fallback_id() == "crystal-stack_Crystal_ABCDEFGH"


# -- One revision per content -----------------------------------------------------------------

OLD = Revision("ecsdemo-crystal-mesh", 1, "d-old")
NEW = Revision("ecsdemo-crystal-mesh", 2, "d-new")


def test_a_content_held_already_reuses_its_revision_which_goes_first_and_registers_nothing() -> (
    None
):
    # A rollback: the previous content's revision comes back, the newest first afterwards
    assert reused([NEW, OLD], OLD.family, OLD.digest) == Chosen(OLD, [OLD, NEW], registered=False)
    assert reused([NEW, OLD], NEW.family, NEW.digest) == Chosen(NEW, [NEW, OLD], registered=False)


def test_a_new_content_or_family_reuses_nothing() -> None:
    assert reused([NEW, OLD], NEW.family, "d-other") is None
    assert reused([NEW, OLD], "crystal-other", NEW.digest) is None


# -- A concurrent duplicate of the same request ----------------------------------------------


def test_a_revision_the_duplicate_did_not_record_goes_first_before_theirs() -> None:
    mine = Chosen(NEW, [NEW], registered=True)
    assert adopted(mine, [OLD]) == (Chosen(NEW, [NEW, OLD], registered=True), None)
    assert adopted(mine, []) == (mine, None)


def test_the_same_content_recorded_by_the_duplicate_is_kept_and_mine_is_to_deregister() -> None:
    theirs = Revision(NEW.family, 3, NEW.digest)
    mine = Chosen(NEW, [NEW, OLD], registered=True)
    kept, duplicate = adopted(mine, [theirs, OLD])
    assert kept == Chosen(theirs, [theirs, OLD], registered=False)
    assert duplicate == NEW


def test_my_own_revision_recorded_already_is_kept_and_nothing_is_deregistered() -> None:
    # The duplicate recorded the very revision this invocation runs (both reused it)
    mine = Chosen(NEW, [NEW, OLD], registered=False)
    assert adopted(mine, [NEW, OLD]) == (Chosen(NEW, [NEW, OLD], registered=False), None)


# -- Notices ----------------------------------------------------------------------------------


def test_a_notice_tells_every_hook_its_metric_and_detail_empty_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(
        mode, "on_notice", [lambda m, d: seen.append((m, d)), lambda m, d: seen.append((d, m))]
    )
    mode.notice("AppMeshUnavailable", "http")
    mode.notice("Other")
    assert seen == [
        ("AppMeshUnavailable", "http"),
        ("http", "AppMeshUnavailable"),
        ("Other", ""),
        ("", "Other"),
    ]
