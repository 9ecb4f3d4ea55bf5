"""Server errors (HTTP 5xx) and lost connections are transient: like throttling (DESIGN §5.6) they
are retried with backoff inside the time budget (meshed_crystal.retry.is_throttle). The emulator
answers them as the services and botocore would (tests/support/faults.py)."""

from __future__ import annotations

import pytest
from meshed_crystal import retry

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
from tests.support.cfn_driver import CloudFormation
from tests.support.faults import Connection, Faults
from tests.support.platform import Platform


@pytest.fixture
def retries(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Backoff as the product does it, on a shorter scale; returns the retries it reported."""
    monkeypatch.setattr(retry, "BASE_DELAY", 0.005)
    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(retry, "on_retry", [lambda op, code: seen.append((op, code))])
    return seen


SERVER_ERRORS = {
    # App Mesh models both with their status: 503 and 500
    "App Mesh 503": (
        "appmesh",
        "CreateVirtualNode",
        "ServiceUnavailableException",
        "The request has failed due to a temporary failure of the service.",
        None,
    ),
    "App Mesh 500": (
        "appmesh",
        "DescribeVirtualNode",
        "InternalServerErrorException",
        "The request processing has failed because of an unknown error.",
        None,
    ),
    # ECS's model gives ServerException no status; ECS sends it as a 500
    "ECS 500": ("ecs", "RegisterTaskDefinition", "ServerException", "Server error.", 500),
    # an answer with no modelled code at all, e.g. from a load balancer in front of the service
    "Cloud Map 502": ("servicediscovery", "GetService", "BadGateway", "Bad Gateway", 502),
    "App Mesh 504": ("appmesh", "CreateVirtualService", "GatewayTimeout", "Timeout", 504),
}


@pytest.mark.parametrize("case", list(SERVER_ERRORS), ids=list(SERVER_ERRORS))
def test_a_server_error_is_retried_and_the_create_succeeds(
    cfn: CloudFormation,
    platform: Platform,
    faults: Faults,
    retries: list[tuple[str, str]],
    case: str,
) -> None:
    service, operation, code, message, status = SERVER_ERRORS[case]
    # Given a service that answers a call of the Create with a 5xx, twice
    faults.fail(service, operation, code, message, times=2, status=status)
    # When the stack creates the resource
    ok(fast(cfn).create(LOGICAL, workshop(platform)))
    # Then the call was retried until it went through
    assert faults.injected == [(service, operation, code)] * 2
    assert retries == [(operation, code)] * 2
    assert aws_state.node_names() == [NODE]
    assert aws_state.service_names() == [SERVICE]
    assert len(aws_state.active_revisions(FAMILY)) == 1


def test_a_refused_connection_is_retried_and_the_create_and_delete_succeed(
    cfn: CloudFormation, platform: Platform, faults: Faults, retries: list[tuple[str, str]]
) -> None:
    # Given the first connections of two calls of the Create are refused
    faults.disconnect("appmesh", "ListVirtualServices", "refused", times=2)
    faults.disconnect("ecs", "RegisterTaskDefinition", "refused")
    # When the stack creates the resource, it succeeds after retrying them
    ok(fast(cfn).create(LOGICAL, workshop(platform)))
    assert sorted(retries) == sorted(
        [("ListVirtualServices", "EndpointConnectionError")] * 2
        + [("RegisterTaskDefinition", "EndpointConnectionError")]
    )
    assert len(aws_state.active_revisions(FAMILY)) == 1
    # And a Delete whose node deletion lost its connection once succeeds as well
    faults.disconnect("appmesh", "DeleteVirtualNode", "refused")
    ok(cfn.delete(LOGICAL))
    assert aws_state.node_names() == []
    assert aws_state.active_revisions(FAMILY) == []


@pytest.mark.parametrize("how", ["closed"])
def test_a_connection_closed_before_the_answer_is_retried(
    cfn: CloudFormation,
    platform: Platform,
    faults: Faults,
    retries: list[tuple[str, str]],
    how: Connection,
) -> None:
    # Given the answer to the Create's first read is lost on the way back
    faults.disconnect("appmesh", "ListVirtualServices", how)
    # When the stack creates the resource, it succeeds after retrying the read
    ok(fast(cfn).create(LOGICAL, workshop(platform)))
    assert retries == [("ListVirtualServices", "ConnectionClosedError")]


def test_server_errors_past_the_time_budget_fail_saying_so(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    # Given App Mesh answers 503 for longer than the Lambda has
    faults.fail(
        "appmesh", "CreateVirtualNode", "ServiceUnavailableException", "Unavailable", times=10_000
    )
    # When the stack creates the resource with 6 s left (1 s of budget for the work)
    body = cfn.invoke(fast(cfn).event("Create", LOGICAL, workshop(platform)), remaining_ms=6_000)
    # Then it failed in time, naming the call and the error, and left nothing behind
    reason = failed(body)
    assert "CreateVirtualNode" in reason
    assert "ServiceUnavailableException" in reason
    assert 1 < len(faults.injected) < 100
    assert aws_state.node_names() == []
    assert aws_state.active_revisions(FAMILY) == []


# -- A lost connection: retried for ECS, Cloud Map and CloudFormation; App Mesh gone (§9) ------

# More failures in a row than the few attempts a suspected absence of App Mesh gets.
MORE_THAN_SUSPECT = retry.SUSPECT_ATTEMPTS + 1
CREATE_CONNECTIONS: dict[str, tuple[str, str, Connection]] = {
    "ECS closed": ("ecs", "RegisterTaskDefinition", "closed"),
    "ECS refused": ("ecs", "DescribeTaskDefinition", "refused"),
    "Cloud Map closed": ("servicediscovery", "GetService", "closed"),
}


@pytest.mark.parametrize("case", list(CREATE_CONNECTIONS))
def test_a_connection_of_ecs_or_cloud_map_failing_again_and_again_is_retried(
    cfn: CloudFormation,
    platform: Platform,
    faults: Faults,
    retries: list[tuple[str, str]],
    case: str,
) -> None:
    service, operation, how = CREATE_CONNECTIONS[case]
    # Given a call of the Create whose connection fails more often than App Mesh's may
    faults.disconnect(service, operation, how, times=MORE_THAN_SUSPECT)
    # When the stack creates the resource, it succeeds after retrying it every time
    data = ok(fast(cfn).create(LOGICAL, workshop(platform)))
    code = "ConnectionClosedError" if how == "closed" else "EndpointConnectionError"
    assert retries == [(operation, code)] * MORE_THAN_SUSPECT
    assert aws_state.node_names() == [NODE]
    # (a registration whose answer was lost registered a revision each time: this resource's,
    # by its tags, so its Delete removes them too)
    assert data["TaskDefinitionArn"] in aws_state.active_revisions(FAMILY)
    ok(cfn.delete(LOGICAL))
    assert aws_state.active_revisions(FAMILY) == []


def test_a_connection_of_cloudformation_failing_again_and_again_is_retried(
    cfn: CloudFormation, platform: Platform, faults: Faults, retries: list[tuple[str, str]]
) -> None:
    ok(fast(cfn).create(LOGICAL, workshop(platform)))
    # Given the Delete's read of the stack loses its connection more often than App Mesh's may
    faults.disconnect("cloudformation", "DescribeStackResource", "closed", times=MORE_THAN_SUSPECT)
    # When the stack deletes the resource, it succeeds and removes everything
    ok(cfn.delete(LOGICAL))
    assert retries == [("DescribeStackResource", "ConnectionClosedError")] * MORE_THAN_SUSPECT
    assert aws_state.node_names() == []
    assert aws_state.active_revisions(FAMILY) == []


def test_an_app_mesh_connection_failing_the_few_suspect_attempts_means_app_mesh_is_gone(
    cfn: CloudFormation, platform: Platform, faults: Faults, retries: list[tuple[str, str]]
) -> None:
    # Given App Mesh's connection is closed before the answer as often (AppMeshRetired: auto)
    faults.disconnect("appmesh", "ListVirtualServices", "closed", times=MORE_THAN_SUSPECT)
    # When the stack creates the resource
    reason = failed(fast(cfn).create(LOGICAL, workshop(platform)))
    # Then after the few attempts App Mesh is unreachable: the Reason names the way out
    assert retries == [("ListVirtualServices", "ConnectionClosedError")] * (
        retry.SUSPECT_ATTEMPTS - 1
    )
    assert "App Mesh is unavailable" in reason
    assert "ConnectionClosedError" in reason
    assert "Mode: ServiceConnect" in reason
    assert "throttled" not in reason
    assert all_revisions() == []


@pytest.mark.parametrize("how", ["closed", "refused"])
def test_a_connection_failing_past_the_time_budget_fails_saying_so_never_throttled(
    cfn: CloudFormation, platform: Platform, faults: Faults, how: Connection
) -> None:
    # Given every connection of ECS's registration fails for longer than the Lambda has
    faults.disconnect("ecs", "RegisterTaskDefinition", how, times=10_000)
    # When the stack creates the resource with 6 s left (1 s of budget for the work)
    body = cfn.invoke(fast(cfn).event("Create", LOGICAL, workshop(platform)), remaining_ms=6_000)
    # Then it failed in time, saying the connection was lost, not that AWS throttled it
    reason = failed(body)
    code = "ConnectionClosedError" if how == "closed" else "EndpointConnectionError"
    assert f"RegisterTaskDefinition lost its connection to AWS before an answer ({code})" in reason
    assert "retry the stack operation later" in reason
    assert "throttl" not in reason
    assert "App Mesh" not in reason
    assert aws_state.node_names() == []
