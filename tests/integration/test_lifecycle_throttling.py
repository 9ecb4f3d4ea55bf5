"""Throttling (DESIGN §5.6): retried with backoff inside the time budget; past it, a Reason that
says so. The emulator raises the services' real throttling errors (tests/support/faults.py)."""

from __future__ import annotations

import pytest
from meshed_crystal import retry

from tests.integration import aws_state
from tests.integration.lifecycle import FAMILY, LOGICAL, failed, fast, ok, workshop
from tests.support.cfn_driver import CloudFormation
from tests.support.faults import Faults
from tests.support.platform import Platform

# Every call of a Create: the mesh's service list answers for the (absent) service too.
CREATE_CALLS = [
    ("appmesh", "ListVirtualServices"),
    ("servicediscovery", "GetService"),
    ("servicediscovery", "GetNamespace"),
    ("ecs", "DescribeTaskDefinition"),
    ("ecs", "RegisterTaskDefinition"),
    ("appmesh", "DescribeVirtualNode"),
    ("appmesh", "CreateVirtualNode"),
    ("appmesh", "CreateVirtualService"),
]
DELETE_CALLS = [
    ("appmesh", "ListTagsForResource"),
    ("cloudformation", "DescribeStackResource"),
    ("appmesh", "DeleteVirtualService"),
    ("appmesh", "DeleteVirtualNode"),
    ("ecs", "DeregisterTaskDefinition"),
]
TOO_MANY_CONCURRENT = (
    "ClientException",
    "Too many concurrent attempts to create a new revision of the specified family.",
)


def throttle(service: str, style: str) -> tuple[str, str]:
    """The error a service sends when it throttles, in one of its styles."""
    if style == "ThrottlingException":
        # CloudFormation (query protocol) calls it "Throttling".
        code = "Throttling" if service == "cloudformation" else "ThrottlingException"
        return code, "Rate exceeded"
    if style == "TooManyRequestsException" and service == "appmesh":
        return "TooManyRequestsException", "Too many requests."
    if style == "TooManyConcurrentAttempts" and service == "ecs":
        return TOO_MANY_CONCURRENT
    return throttle(service, "ThrottlingException")


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Backoff as the product does it, on a shorter scale; returns the retries it reported."""
    monkeypatch.setattr(retry, "BASE_DELAY", 0.005)
    retries: list[tuple[str, str]] = []
    monkeypatch.setattr(retry, "on_retry", [lambda op, code: retries.append((op, code))])
    return retries


@pytest.mark.parametrize(
    "style", ["ThrottlingException", "TooManyRequestsException", "TooManyConcurrentAttempts"]
)
def test_throttling_on_every_call_is_retried_and_the_requests_succeed(
    cfn: CloudFormation,
    platform: Platform,
    faults: Faults,
    quick_backoff: list[tuple[str, str]],
    style: str,
) -> None:
    # Given every call of a Create is throttled twice before it goes through
    for service, operation in CREATE_CALLS:
        faults.fail(service, operation, *throttle(service, style), times=2)
    # When the stack creates the resource
    ok(fast(cfn).create(LOGICAL, workshop(platform)))
    # Then each throttled call was retried until it succeeded
    assert all(faults.pending(s, o) == 0 for s, o in CREATE_CALLS)
    assert len(faults.injected) == 2 * len(CREATE_CALLS)
    assert len(quick_backoff) == len(faults.injected)
    # Given every call of the Delete is throttled twice as well
    injected_before = len(faults.injected)
    for service, operation in DELETE_CALLS:
        faults.fail(service, operation, *throttle(service, style), times=2)
    # When the stack deletes it, it succeeds and everything is gone
    ok(cfn.delete(LOGICAL))
    assert len(faults.injected) - injected_before == 2 * len(DELETE_CALLS)
    assert aws_state.node_names() == []
    assert aws_state.service_names() == []
    assert aws_state.active_revisions(FAMILY) == []


def test_throttling_past_the_time_budget_fails_saying_it_was_throttled(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    # Given App Mesh throttles CreateVirtualNode for longer than the Lambda has
    faults.fail(
        "appmesh", "CreateVirtualNode", "TooManyRequestsException", "Slow down", times=10_000
    )
    # When the stack creates the resource with 6 s left (1 s of budget for the work)
    body = cfn.invoke(fast(cfn).event("Create", LOGICAL, workshop(platform)), remaining_ms=6_000)
    # Then it failed in time, saying it was throttled, after backing off more than once
    reason = failed(body)
    assert "CreateVirtualNode was throttled by AWS (TooManyRequestsException)" in reason
    assert "time budget ran out" in reason
    assert 1 < len(faults.injected) < 100
    # And nothing is left behind
    assert aws_state.node_names() == []
    assert aws_state.active_revisions(FAMILY) == []
