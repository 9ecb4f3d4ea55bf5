"""The lifecycle's own rules (``actions``, DESIGN §4, §5), whatever the mode: the Provider's
adapters, the answer measured against CloudFormation's limit before any write, an Update that
changed nothing but CloudFormation's keys, an id this provider never issued, what a failed
Create leaves to operators, and a Delete that finds revisions of more than one family.

Most run in ``Mode: ServiceConnect`` (no App Mesh needed); the ones that need App Mesh mode's
paths are marked ``appmesh``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from meshed_crystal import protocol, registry
from meshed_crystal.actions import Provider, Result
from meshed_crystal.adapters.ecs import Ecs
from meshed_crystal.adapters.tagging import Tagging
from meshed_crystal.errors import AwsError, PropertyError
from meshed_crystal.modes.service_connect.mode import ServiceConnectMode

from tests.fast.lifecycle import (
    FAMILY,
    LOGICAL,
    SC_FAMILY,
    Stack,
    connected,
    provider,
    workshop,
)
from tests.support.fakes import FakeAws
from tests.support.platform import APP_FAMILY, app_task_definition_input

# -- The Provider's adapters ------------------------------------------------------------------


def test_a_provider_refuses_adapters_that_no_mode_takes(aws: FakeAws) -> None:
    with pytest.raises(TypeError) as refused:
        Provider(ecs=aws.ecs, sqs=object(), s3=object())
    assert str(refused.value) == "Provider() got adapters no mode takes: s3, sqs"


def test_a_provider_given_no_adapters_builds_its_own_aws_ones() -> None:
    # As in Lambda: built on first use, no AWS call until a request needs one
    made = Provider()
    assert isinstance(made.ecs, Ecs)
    assert isinstance(made.tagging, Tagging)


# -- The answer fits CloudFormation's response, measured before any write (DESIGN §4) ---------

WIDEST = 9_999_999  # ECS's quota: a family never reaches 1,000,000 revisions, let alone this


def family_at(aws: FakeAws, family: str, number: int) -> None:
    """ECS's next revision of ``family`` will be ``number + 1`` (a family with a long past)."""
    arn = aws.ecs.seed({"family": family, "containerDefinitions": [{"name": "x", "image": "x"}]})
    with aws.lock:
        seeded = aws.revisions.pop(arn)
        seeded.number = number
        seeded.arn = f"{arn.rpartition(':')[0]}:{number}"
        aws.revisions[seeded.arn] = seeded


def create_with_request_id(length: int) -> tuple[FakeAws, Stack, Result | PropertyError]:
    """A Create whose registered revision is the widest number, on a fresh platform. The
    request id, which the answer repeats once, moves the answer's size a byte at a time."""
    aws = FakeAws()
    aws.workshop()
    family_at(aws, SC_FAMILY, WIDEST - 1)
    stack = Stack(aws, provider(aws))
    try:
        return (
            aws,
            stack,
            stack.provider.create(stack.request(LOGICAL, connected(), request_id="r" * length)),
        )
    except PropertyError as refused:
        return aws, stack, refused


def test_the_largest_answer_accepted_is_exactly_cloudformations_4096_bytes_as_sent() -> None:
    lo, hi = 1, 5000  # accepted, refused
    assert isinstance(create_with_request_id(lo)[2], Result)
    assert isinstance(create_with_request_id(hi)[2], PropertyError)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if isinstance(create_with_request_id(mid)[2], Result):
            lo = mid
        else:
            hi = mid
    _, stack, result = create_with_request_id(lo)
    assert isinstance(result, Result)
    assert result.data["TaskDefinitionRevision"] == str(WIDEST)
    # The answer as protocol sends it: still a SUCCESS, to the byte at the limit
    sent = protocol.encode(
        protocol.response_body(
            status=protocol.SUCCESS,
            reason="",
            physical_id=result.physical_id,
            stack_id=stack.stack_id,
            request_id="r" * lo,
            logical_id=LOGICAL,
            data=result.data,
        )
    )
    assert json.loads(sent)["Status"] == "SUCCESS"
    assert len(sent) == protocol.MAX_BODY_BYTES
    # One byte more is refused before any write, saying by how much and what to shorten
    aws, _, refused = create_with_request_id(lo + 1)
    assert isinstance(refused, PropertyError)
    assert refused.path == ""
    assert str(refused) == (
        "the response to CloudFormation would be 4097 bytes, over its 4096-byte limit: "
        f"shorten {ServiceConnectMode.shorten} (or the logical id)"
    )
    assert aws.writes() == []


# -- An Update that changed nothing but CloudFormation's keys ---------------------------------


@pytest.mark.appmesh
def test_a_no_op_update_in_app_mesh_answers_from_two_reads_and_derives_nothing(
    aws: FakeAws, stack: Stack
) -> None:
    created = stack.create(workshop())
    calls = len(aws.calls)
    assert stack.update(workshop(ServiceTimeout="1200"), old=workshop()) == created
    # The node's tags (its revisions) and the service: no task definition read, no Cloud Map
    assert sorted(aws.calls[calls:]) == ["appmesh.describe_service", "appmesh.tags"]


# -- An id this provider never issued ---------------------------------------------------------


def test_an_update_of_an_id_never_issued_here_creates_announcing_the_new_id_first(
    aws: FakeAws, stack: Stack
) -> None:
    # A resource that another provider created (crhelper's id), moved to this one: the Update
    # creates under an id of its own, announced before the first write, and CloudFormation
    # then deletes the old id (which names nothing here)
    foreign = "crystal-stack_Crystal_1A2B3C4D"
    request = stack.request(LOGICAL, connected(), physical_id=foreign, old=connected())
    announced: list[tuple[str, int]] = []
    result = stack.provider.update(
        request, announce=lambda pid: announced.append((pid, len(aws.writes())))
    )
    assert result.physical_id.startswith(f"meshed-crystal-sc:{aws.account}:{LOGICAL}:")
    assert announced == [(result.physical_id, 0)]
    assert aws.active_revisions(SC_FAMILY) == [result.data["TaskDefinitionArn"]]


def test_a_delete_of_an_id_never_issued_here_says_so_in_the_log(
    aws: FakeAws, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="meshed_crystal.actions"):
        stack.delete("crystal-stack_Crystal_1A2B3C4D")
    assert aws.calls == []
    assert [r.getMessage() for r in caplog.records if r.name == "meshed_crystal.actions"] == [
        "physical id was never issued by this resource; nothing to delete"
    ]


@pytest.mark.parametrize(
    "physical_id",
    [
        # A failed Create's fallback id starts with the stack's name, which may be the product's
        "meshed-crystal-demo_Crystal_1A2B3C4D",
        # Garbled ids with a registered mode's prefix: not a removed mode's
        "meshed-crystal-sc:only-two:parts",
        "meshed-crystal-sc:",
    ],
)
def test_an_id_that_only_looks_like_a_modes_is_never_issued_not_a_removed_modes(
    aws: FakeAws, stack: Stack, caplog: pytest.LogCaptureFixture, physical_id: str
) -> None:
    with caplog.at_level(logging.INFO, logger="meshed_crystal.actions"):
        stack.delete(physical_id)
    assert aws.calls == []
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.INFO, "physical id was never issued by this resource; nothing to delete")
    ]


def removed_mode_warning(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "meshed_crystal.actions" and r.levelno == logging.WARNING
    ]


def test_a_delete_of_an_id_of_a_mode_no_longer_here_succeeds_naming_what_it_leaves(
    aws: FakeAws, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    # A mode removed from the provider (README, "Removing App Mesh"): the stack must still be
    # deletable, and the operator told what stays
    with caplog.at_level(logging.INFO, logger="meshed_crystal.actions"):
        stack.delete(f"meshed-crystal-gone:{aws.account}:{LOGICAL}:crystal-stack")
    assert aws.calls == []
    # The whole line: it is all an operator gets (the modes it has: this build's registry)
    assert removed_mode_warning(caplog) == [
        "physical id was issued by a mode this provider no longer has "
        f"(it has {', '.join(registry.names())}); nothing deleted: what the id made stays, its "
        "ECS task definition revisions tagged meshed-crystal:held-by among them, to remove by hand"
    ]


@pytest.mark.skipif("AppMesh" in registry.names(), reason="App Mesh mode is registered here")
def test_without_app_mesh_the_delete_of_an_app_mesh_id_warns_what_it_leaves(
    aws: FakeAws, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    # Runs in `tasks.py test --without-mode appmesh`: the old id's cleanup Delete after a move
    with caplog.at_level(logging.INFO, logger="meshed_crystal.actions"):
        stack.delete(f"meshed-crystal:{aws.account}:payments-mesh:payments-node:payments")
    assert aws.calls == []
    [warning] = removed_mode_warning(caplog)
    assert "(it has ServiceConnect)" in warning


# -- What a failed Create leaves to operators -------------------------------------------------


@pytest.mark.appmesh
def test_a_revision_the_undo_could_not_deregister_is_logged_naming_the_step(
    aws: FakeAws, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    failure = AwsError("App Mesh BadRequestException on virtual node: bad")
    aws.fail("appmesh.create_node", failure)
    aws.fail("ecs.deregister", AwsError("ECS ServerException deregistering: try again"))
    with caplog.at_level(logging.ERROR), pytest.raises(AwsError) as failed:
        stack.create(workshop())
    assert failed.value is failure  # the Reason reports the original failure
    assert [(r.getMessage(), getattr(r, "undo", None)) for r in caplog.records] == [
        ("could not undo", "deregister revision")
    ]
    assert len(aws.active_revisions(FAMILY)) == 1  # the leftover the log line names


# -- The application's task definition, and the revisions' families ---------------------------


def test_the_applications_own_tags_carry_over_to_the_derived_revision(aws: FakeAws) -> None:
    base = app_task_definition_input(aws.region, "arn:aws:iam::1:role/t", "arn:aws:iam::1:role/e")
    base["tags"] = [{"key": "team", "value": "crystal"}]
    assert aws.ecs.seed(base).endswith(f"{APP_FAMILY}:2")  # the application's latest
    data = Stack(aws, provider(aws)).create(connected()).data
    assert aws.revision(data["TaskDefinitionArn"]).tags["team"] == "crystal"


INLINE: dict[str, Any] = {
    "Family": "crystal-inline",
    "NetworkMode": "awsvpc",
    "RequiresCompatibilities": ["FARGATE"],
    "Cpu": "256",
    "Memory": "512",
    "ContainerDefinitions": [
        {
            "Name": "crystal",
            "Image": "public.ecr.aws/aws-containers/ecsdemo-crystal:inline",
            "Essential": "true",
            "PortMappings": [{"ContainerPort": "3000", "Protocol": "tcp"}],
        }
    ],
}


def test_an_inline_task_definition_is_the_base(aws: FakeAws, stack: Stack) -> None:
    data = stack.create(connected(TaskDefinition=INLINE)).data
    assert data["TaskDefinitionFamily"] == "crystal-inline"
    (container,) = aws.revision(data["TaskDefinitionArn"]).content["containerDefinitions"]
    assert (container["name"], container["image"]) == (
        "crystal",
        "public.ecr.aws/aws-containers/ecsdemo-crystal:inline",
    )
    assert "ecs.describe" not in aws.calls


def test_a_delete_after_a_family_change_deregisters_the_revisions_of_both_families(
    aws: FakeAws, stack: Stack
) -> None:
    first = stack.create(connected(Family="crystal-a"))
    second = stack.update(connected(Family="crystal-b"))
    assert second.physical_id == first.physical_id  # in place
    assert aws.active_revisions("crystal-a") == [first.data["TaskDefinitionArn"]]
    assert aws.active_revisions("crystal-b") == [second.data["TaskDefinitionArn"]]
    stack.delete()
    assert aws.active_revisions("crystal-a") == []
    assert aws.active_revisions("crystal-b") == []
