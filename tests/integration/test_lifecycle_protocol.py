"""What Lambda and CloudFormation do to an invocation (DESIGN §5.1, §5.2): concurrent duplicates,
malformed events, exceptions, a response PUT that fails, and a Lambda about to time out.
Whatever happens: exactly one response per invocation, with a non-empty PhysicalResourceId."""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest
from meshed_crystal import actions, app, protocol
from meshed_crystal.modes.appmesh import taskdef

from tests.conftest import ENVOY_IMAGE
from tests.integration import aws_state
from tests.integration.lifecycle import (
    FAMILY,
    LOGICAL,
    NODE,
    SERVICE,
    all_revisions,
    failed,
    fast,
    ok,
    workshop,
)
from tests.support.cfn_driver import CloudFormation, LambdaContext, RequestType, ResponseEndpoint
from tests.support.containers import cold_start
from tests.support.faults import Faults, is_write
from tests.support.platform import Platform

REAL_ID = f"meshed-crystal:123456789012:ecs-mesh:{NODE}:{SERVICE}"

# -- 2. Concurrent duplicates -----------------------------------------------------------------


def test_one_create_delivered_twice_at_once_makes_one_node_one_service_one_revision(
    cfn: CloudFormation, platform: Platform, endpoint: ResponseEndpoint, faults: Faults
) -> None:
    # Given two Lambda containers, and one Create event that Lambda delivers to both at once
    containers = [cold_start(ENVOY_IMAGE), cold_start(ENVOY_IMAGE)]
    event = cfn.event("Create", LOGICAL, workshop(platform))
    # Both invocations read "no node yet" before either writes: the race at its worst. (A
    # barrier on DescribeVirtualNode would not do: it holds the calls before the emulator runs
    # them, and one invocation could then register and create the node before the other's
    # describe ran. The gate holds each invocation's first write until both have read.)
    gate = faults.reads_before_writes(parties=2)
    errors: list[BaseException] = []

    def run(container: Any) -> None:
        try:
            container.lambda_handler(
                event, LambdaContext(function_arn=cfn.service_token, remaining_ms=60_000)
            )
        except BaseException as error:  # reported below; a raising handler is a bug
            errors.append(error)

    threads = [threading.Thread(target=run, args=(c,)) for c in containers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert endpoint.wait_for_delivery(event["ResponseURL"], count=2)
    # (the interleaving was the intended one: the gate opened on the second invocation's first
    # write, which came after both invocations had read the node)
    assert not gate.broken
    writes = [i for i, (_, operation) in enumerate(faults.calls) if is_write(operation)]
    assert faults.calls[: writes[1]].count(("appmesh", "DescribeVirtualNode")) == 2
    # Then both raced to create the node (one of them lost with a ConflictException)...
    assert faults.calls.count(("appmesh", "CreateVirtualNode")) == 2
    # ...and both answered SUCCESS with the same id and attributes
    bodies = [put.body for put in endpoint.delivered_for(event["ResponseURL"])]
    assert len(bodies) == 2
    assert bodies[0] is not None
    assert bodies[1] is not None
    data = ok(bodies[0])
    assert bodies[1]["Data"] == data
    assert bodies[0]["PhysicalResourceId"] == bodies[1]["PhysicalResourceId"] == REAL_ID
    # And there is one node, one service and one ACTIVE revision: the one both answered
    assert aws_state.node_names() == [NODE]
    assert aws_state.service_names() == [SERVICE]
    assert aws_state.active_revisions(FAMILY) == [data["TaskDefinitionArn"]]
    # And the Delete CloudFormation eventually sends removes everything
    cfn._track(event, bodies[0])  # CloudFormation kept the response it read
    ok(fast(cfn).delete(LOGICAL))
    assert aws_state.node_names() == []
    assert aws_state.service_names() == []
    assert aws_state.active_revisions(FAMILY) == []


# -- 9. Exactly one response per invocation ---------------------------------------------------


def _without(event: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != key}


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: _without(e, "StackId"), "the event lacks StackId"),
        (lambda e: _without(e, "RequestId"), "the event lacks RequestId"),
        (lambda e: _without(e, "LogicalResourceId"), "the event lacks LogicalResourceId"),
        (lambda e: _without(e, "ResourceType"), "the event lacks ResourceType"),
        (lambda e: {**e, "RequestType": "Destroy"}, "unknown RequestType 'Destroy'"),
        (lambda e: {**e, "RequestType": ""}, "the event lacks RequestType"),
        (
            lambda e: {**e, "RequestType": "Update"},
            "an Update event without PhysicalResourceId",
        ),
        (lambda e: {**e, "ResourceProperties": "MeshName=ecs-mesh"}, "not an object"),
        (lambda e: {**e, "ResourceProperties": ["ecs-mesh"]}, "not an object"),
        (lambda e: _without(e, "ResourceProperties"), ""),
    ],
    ids=[
        "no StackId",
        "no RequestId",
        "no LogicalResourceId",
        "no ResourceType",
        "unknown RequestType",
        "empty RequestType",
        "Update without id",
        "properties a string",
        "properties a list",
        "no properties",
    ],
)
def test_a_malformed_event_gets_exactly_one_failed_response(
    cfn: CloudFormation, platform: Platform, mutate: Any, reason: str
) -> None:
    # Given a Create event broken in one way
    event = mutate(fast(cfn).event("Create", LOGICAL, workshop(platform)))
    # When it is invoked
    bodies = cfn.invoke_raw(event)
    # Then exactly one FAILED response arrived, with an id and a Reason that says what is wrong
    assert cfn.last_handler_error is None
    assert len(bodies) == 1
    body = bodies[0]
    assert body["Status"] == "FAILED"
    assert isinstance(body["PhysicalResourceId"], str)
    assert body["PhysicalResourceId"]
    assert reason in body["Reason"]
    # And nothing was created
    assert aws_state.node_names() == []
    assert all_revisions() == []


# crhelper's own keys (crhelper 2.0.12's polling: it adds them to the event it re-invokes the
# function with). CloudFormation never sends them; crhelper reads them from any event.
CRHELPER_KEYS: dict[str, dict[str, Any]] = {
    "CrHelperPoll": {"CrHelperPoll": True},
    "CrHelperData": {
        "CrHelperData": {"TaskDefinitionArn": "arn:aws:ecs:us-east-1:999999999999:x", "Own": "1"}
    },
    "every crhelper key": {
        "CrHelperPoll": True,
        "CrHelperData": {"Own": "1"},
        "CrHelperRule": "arn:aws:events:us-east-1:123456789012:rule/Crystal",
        "CrHelperPermission": "CrystalABCDEFGH",
    },
    # ...handled as any key CloudFormation does not send
    "an unknown key": {"Data": {"Own": "1"}, "Own": "1"},
}


@pytest.mark.parametrize("request_type", ["Create", "Update", "Delete"])
@pytest.mark.parametrize("keys", list(CRHELPER_KEYS))
def test_crhelper_private_keys_in_an_event_change_nothing(
    cfn: CloudFormation, platform: Platform, request_type: RequestType, keys: str
) -> None:
    """DESIGN §5.1: an event carrying crhelper's private keys is handled as without them, by the
    real work, with the resource's own attributes only."""
    # Given (for an Update or a Delete) a resource the stack holds
    if request_type != "Create":
        ok(fast(cfn).create(LOGICAL, workshop(platform)))
    before = aws_state.active_revisions(FAMILY)
    props = workshop(platform, Envoy={"LogLevel": "debug"} if request_type == "Update" else None)
    event = {**fast(cfn).event(request_type, LOGICAL, props), **CRHELPER_KEYS[keys]}
    # When CloudFormation's event arrives with crhelper's keys added
    body = cfn.invoke(event)
    # Then the work was done, and only the resource's own attributes were answered
    data = ok(body)
    assert not {"Own", "CrHelperPoll", "CrHelperRule", "CrHelperPermission"} & set(data)
    if request_type == "Delete":
        assert data == {}
        assert aws_state.node_names() == []
        assert aws_state.service_names() == []
        assert aws_state.active_revisions(FAMILY) == []
        return
    assert body["PhysicalResourceId"] == REAL_ID
    active = aws_state.active_revisions(FAMILY)
    assert data["TaskDefinitionArn"] in active
    assert data["TaskDefinitionArn"] not in before  # registered by this request
    assert len(active) == len(before) + 1
    assert aws_state.node_names() == [NODE]
    assert aws_state.service_names() == [SERVICE]


def test_an_id_whose_encoding_exceeds_the_limit_still_gets_an_answer_within_it(
    cfn: CloudFormation, platform: Platform, endpoint: ResponseEndpoint
) -> None:
    # Given a Delete whose physical id is 772 NUL characters (4632 bytes once JSON-escaped;
    # an id this resource never issued, so nothing to delete)
    event = fast(cfn).event("Delete", LOGICAL, workshop(platform), physical_id="\x00" * 772)
    # When it is invoked, one answer arrives that CloudFormation accepts (the driver checks the
    # 4096 bytes of the encoded body): FAILED, since the id cannot be echoed whole
    reason = failed(cfn.invoke(event))
    assert reason == "the response would exceed CloudFormation's 4096-byte limit"
    assert len(endpoint.delivered_for(event["ResponseURL"])[0].raw_body) <= 4096


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("where", "request_type"),
    [
        ("reading properties", "Create"),
        ("deriving the task definition", "Create"),
        ("creating the service", "Create"),
        ("updating the node", "Update"),
        ("deleting the node", "Delete"),
        ("shaping the response", "Create"),
    ],
)
def test_an_exception_anywhere_still_gets_exactly_one_response(
    cfn: CloudFormation,
    platform: Platform,
    where: str,
    request_type: str,
) -> None:
    # (the bug is patched in for the one request, and fixed before CloudFormation's next one)
    fast(cfn)
    if request_type != "Create":
        ok(cfn.create(LOGICAL, workshop(platform)))
    # Given a bug that raises at one point of the work
    patch = {
        "reading properties": (actions, "parse_properties"),
        "deriving the task definition": (taskdef, "derive"),
        "creating the service": (cast(Any, app.provider.mode("AppMesh")).appmesh, "create_service"),
        "updating the node": (cast(Any, app.provider.mode("AppMesh")).appmesh, "update_node"),
        "deleting the node": (cast(Any, app.provider.mode("AppMesh")).appmesh, "delete_node"),
        "shaping the response": (app.resource, "_cfn_response"),
    }[where]
    with pytest.MonkeyPatch.context() as bug:
        bug.setattr(*patch, _boom)
        # When the stack sends its request
        if request_type == "Create":
            body = cfn.create(LOGICAL, workshop(platform))
        elif request_type == "Update":
            props = workshop(platform, Backends=["ecsdemo-nodejs.service.local"])
            body = cfn.update(LOGICAL, props)
        else:
            body = cfn.delete(LOGICAL)
    # Then exactly one FAILED response (the driver checks "one" and the id), saying it is a bug
    assert "RuntimeError" in failed(body)
    if request_type == "Create":
        if where != "shaping the response":
            # And a Create that failed in its work left nothing behind
            assert aws_state.node_names() == []
            assert aws_state.service_names() == []
            assert aws_state.active_revisions(FAMILY) == []
        else:
            # (the work had finished: the FAILED id names it, for the Delete below)
            assert body["PhysicalResourceId"] == REAL_ID
        # And after the Delete CloudFormation sends next, nothing is left
        ok(cfn.delete(LOGICAL, physical_id=body["PhysicalResourceId"]))
        assert aws_state.node_names() == []
        assert aws_state.service_names() == []
        assert aws_state.active_revisions(FAMILY) == []
    else:
        assert body["PhysicalResourceId"] == cfn.physical_id(LOGICAL)


@pytest.mark.parametrize(("failures", "mode"), [(1, "500"), (3, "500"), (1, "reset"), (2, "reset")])
def test_a_response_put_that_fails_transiently_is_retried_until_delivered(
    cfn: CloudFormation,
    platform: Platform,
    endpoint: ResponseEndpoint,
    monkeypatch: pytest.MonkeyPatch,
    failures: int,
    mode: Any,
) -> None:
    monkeypatch.setattr(protocol, "PUT_FIRST_DELAY_S", 0.01)
    # Given S3 fails the first PUT attempts
    endpoint.fail_next(failures, mode)
    # When the stack creates the resource
    event = fast(cfn).event("Create", LOGICAL, workshop(platform))
    body = cfn.invoke(event)
    # Then the response was retried and delivered exactly once
    ok(body)
    attempts = endpoint.puts_for(event["ResponseURL"])
    assert [p.outcome for p in attempts] == [mode] * failures + ["200"]


def test_response_put_retries_are_bounded(
    cfn: CloudFormation,
    platform: Platform,
    endpoint: ResponseEndpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(protocol, "PUT_FIRST_DELAY_S", 0.01)
    # Given S3 keeps failing
    endpoint.fail_next(protocol.PUT_ATTEMPTS + 5, "500")
    # When the stack creates the resource
    event = fast(cfn).event("Create", LOGICAL, workshop(platform))
    cfn.invoke_raw(event)
    # Then the handler gave up after a bounded number of attempts, and returned
    assert cfn.last_handler_error is None
    assert len(endpoint.puts_for(event["ResponseURL"])) == protocol.PUT_ATTEMPTS


def test_a_lambda_about_to_time_out_answers_failed_in_time_and_only_once(
    cfn: CloudFormation, platform: Platform, faults: Faults, endpoint: ResponseEndpoint
) -> None:
    # Given a Lambda with 5.5 s left (it answers 4 s before the deadline) and App Mesh slow to
    # create the service
    faults.delay("appmesh", "CreateVirtualService", seconds=2.5)
    event = cfn.event("Create", LOGICAL, workshop(platform))
    # When the stack creates the resource (listening long after the work ends, for a duplicate)
    body = cfn.invoke(event, remaining_ms=5_500, grace_s=1.0)
    # Then the response is FAILED, sent before the deadline, with the id of what it creates
    assert "Timed out" in failed(body)
    assert body["PhysicalResourceId"] == REAL_ID
    # And the work that went on after it sent nothing more
    assert len(endpoint.puts_for(event["ResponseURL"])) == 1
    assert aws_state.service_names() == [SERVICE]
    # And the Delete CloudFormation sends next removes what the late work created
    ok(fast(cfn).delete(LOGICAL, physical_id=body["PhysicalResourceId"]))
    assert aws_state.node_names() == []
    assert aws_state.service_names() == []
    assert aws_state.active_revisions(FAMILY) == []
