"""Retrying throttled calls (DESIGN §5.6), without the emulator: which errors are retried, how
long the waits are, and what is raised when time runs out (docs/testing.md, "Mutation score")."""

from __future__ import annotations

import contextvars
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectionError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ProxyConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSLError,
)
from meshed_crystal import retry
from meshed_crystal.adapters.appmesh import unavailable
from meshed_crystal.errors import ConnectionFailedError, ThrottledError


def client_error(code: str = "", message: str = "", status: int | None = None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": message}}
    if status is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": status}
    return ClientError(response, "Operation")  # type: ignore[arg-type]


class Waits:
    """time.sleep and random.uniform as the retry loop calls them."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.bounds: list[tuple[float, float]] = []


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[Waits]:
    recorded = Waits()

    def uniform(low: float, high: float) -> float:
        recorded.bounds.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", uniform)
    monkeypatch.setattr(time, "sleep", recorded.sleeps.append)
    token = retry.set_deadline(time.monotonic() + 3600)
    yield recorded
    retry._deadline.reset(token)


def failing(errors: list[Exception], result: str = "done") -> Callable[[], str]:
    """A call that raises each of ERRORS in turn, then returns RESULT."""
    pending = list(errors)

    def fn() -> str:
        if pending:
            raise pending.pop(0)
        return result

    return fn


def test_the_throttling_codes() -> None:
    assert (
        frozenset(
            {
                "ThrottlingException",
                "Throttling",
                "TooManyRequestsException",
                "RequestLimitExceeded",
                "ThrottledException",
                "RequestThrottled",
            }
        )
        == retry.THROTTLING_CODES
    )
    assert (retry.BASE_DELAY, retry.MAX_DELAY, retry.SUSPECT_ATTEMPTS) == (0.2, 5.0, 4)


@pytest.mark.parametrize("code", sorted(retry.THROTTLING_CODES))
def test_throttling_codes_are_retried(code: str) -> None:
    assert retry.is_throttle(client_error(code, status=400))


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_server_side_statuses_are_retried(status: int) -> None:
    assert retry.is_throttle(client_error("Whatever", status=status))


@pytest.mark.parametrize("status", [200, 400, 403, 404, 409, 501, 505])
def test_other_statuses_are_not(status: int) -> None:
    assert not retry.is_throttle(client_error("Whatever", status=status))


def test_what_is_and_is_not_a_throttle() -> None:
    assert retry.is_throttle(
        client_error("ClientException", "Too many concurrent attempts to create a new revision")
    )
    assert not retry.is_throttle(client_error("ClientException", "too many concurrent attempts"))
    assert not retry.is_throttle(client_error("LimitExceededException", status=400))
    assert not retry.is_throttle(client_error())  # no status at all: 0
    assert not retry.is_throttle(ClientError({}, "Operation"))
    assert retry.is_throttle(EndpointConnectionError(endpoint_url="https://x"))
    assert retry.is_throttle(ConnectionError(error=OSError("reset")))
    assert retry.is_throttle(ReadTimeoutError(endpoint_url="https://x"))
    assert retry.is_throttle(ConnectionClosedError(endpoint_url="https://x"))
    assert not retry.is_throttle(ValueError("Throttling"))


def test_error_code() -> None:
    assert retry.error_code(client_error("Throttling")) == "Throttling"
    assert retry.error_code(ClientError({}, "Operation")) == ""


def test_a_call_that_succeeds_is_called_once(waits: Waits) -> None:
    assert retry.call("Op", failing([])) == "done"
    assert waits.sleeps == []


def test_an_error_that_is_not_a_throttle_is_raised_at_once(waits: Waits) -> None:
    error = client_error("ValidationException", status=400)
    with pytest.raises(ClientError) as raised:
        retry.call("Op", failing([error]))
    assert raised.value is error
    assert waits.sleeps == []


def test_backoff_doubles_from_the_base_delay_up_to_the_cap(
    waits: Waits, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[str, str]] = []
    retry.on_retry.append(lambda operation, code: seen.append((operation, code)))
    try:
        with caplog.at_level(logging.INFO, logger=retry.__name__):
            errors: list[Exception] = [client_error("Throttling", status=400)] * 6
            errors.append(ReadTimeoutError(endpoint_url="https://x"))
            assert retry.call("Op", failing(errors)) == "done"
    finally:
        retry.on_retry.clear()
    # Full jitter: uniform(0, min(5, 0.2 * 2**attempt)); uniform answers its upper bound here.
    assert waits.bounds == [(0, 0.4), (0, 0.8), (0, 1.6), (0, 3.2), (0, 5.0), (0, 5.0), (0, 5.0)]
    assert waits.sleeps == [0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
    assert seen == [("Op", "Throttling")] * 6 + [("Op", "ReadTimeoutError")]
    records = [r for r in caplog.records if r.name == retry.__name__]
    assert [r.getMessage() for r in records] == ["throttled, retrying"] * 6 + [
        "connection failed, retrying"
    ]
    assert [(r.operation, r.code, r.attempt) for r in records][:2] == [  # type: ignore[attr-defined]
        ("Op", "Throttling", 1),
        ("Op", "Throttling", 2),
    ]


def test_when_the_next_wait_would_cross_the_deadline_the_call_fails_as_throttled(
    waits: Waits,
) -> None:
    token = retry.set_deadline(time.monotonic() + 1.0)
    try:
        error = client_error("Throttling", status=400)
        with pytest.raises(ThrottledError) as raised:
            retry.call("DescribeThings", failing([error] * 10))
    finally:
        retry._deadline.reset(token)
    # The waits take no time here: 0.4 and 0.8 fit in the second left, 1.6 does not.
    assert waits.sleeps == [0.4, 0.8]
    assert str(raised.value) == (
        "DescribeThings was throttled by AWS (Throttling) 3 times and the time budget ran out; "
        "retry the stack operation later"
    )
    assert raised.value.__cause__ is error


def test_a_wait_that_ends_exactly_at_the_deadline_is_not_taken(
    waits: Waits, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retry, "remaining", lambda: 0.4)
    with pytest.raises(ConnectionFailedError, match=r"\(ReadTimeoutError\) 1 times"):
        retry.call("Op", failing([ReadTimeoutError(endpoint_url="https://x")]))
    assert waits.sleeps == []


def test_remaining_counts_down_to_the_deadline() -> None:
    # In a context of its own: an invocation earlier in this process set the deadline in the
    # test runner's context (the driver runs the handler in this thread).
    def check() -> None:
        assert retry.remaining() == float("inf")
        retry.set_deadline(time.monotonic() + 10)
        assert 9 < retry.remaining() <= 10

    contextvars.Context().run(check)


def test_a_suspect_error_is_raised_as_it_is_after_the_suspect_attempts(waits: Waits) -> None:
    error = client_error("ServiceUnavailable", status=503)
    suspected: list[Exception] = []

    def suspect(e: Exception) -> bool:
        suspected.append(e)
        return True

    with pytest.raises(ClientError) as raised:
        retry.call("Op", failing([error] * 10), suspect=suspect)
    assert raised.value is error
    # Four attempts in all: three waits, then the fourth failure is raised.
    assert len(waits.sleeps) == retry.SUSPECT_ATTEMPTS - 1
    assert suspected == [error]


def test_an_error_the_caller_does_not_suspect_is_retried_on(waits: Waits) -> None:
    error = client_error("ServiceUnavailable", status=503)
    result = retry.call("Op", failing([error] * 6), suspect=lambda e: False)
    assert result == "done"
    assert len(waits.sleeps) == 6


# -- A lost connection is not throttling (DESIGN §9) ---------------------------------------------

# Each of botocore's connection-level errors, as botocore raises it (botocore/httpsession.py).
CONNECTION_FAILURES: dict[str, BotoCoreError] = {
    "refused or no such name": EndpointConnectionError(endpoint_url="https://x"),
    "connect timeout": ConnectTimeoutError(endpoint_url="https://x"),
    "TLS": SSLError(endpoint_url="https://x", error=OSError("handshake")),
    "proxy": ProxyConnectionError(proxy_url="http://proxy", error=OSError("refused")),
    "closed or reset": ConnectionClosedError(endpoint_url="https://x"),
    "read timeout": ReadTimeoutError(endpoint_url="https://x"),
    "body cut off": ResponseStreamingError(error=OSError("reset")),
    "any other HTTP failure": HTTPClientError(error=OSError("boom")),
    "bare ConnectionError": ConnectionError(error=OSError("reset")),
}


@pytest.mark.parametrize("kind", list(CONNECTION_FAILURES))
def test_every_connection_level_error_is_a_connection_failure_and_retried(kind: str) -> None:
    error = CONNECTION_FAILURES[kind]
    assert retry.is_connection_failure(error)
    assert retry.is_throttle(error)


def test_answers_and_other_sdk_errors_are_not_connection_failures() -> None:
    assert not retry.is_connection_failure(client_error("Throttling", status=400))
    assert not retry.is_connection_failure(client_error("Whatever", status=503))
    assert not retry.is_connection_failure(NoCredentialsError())
    assert not retry.is_connection_failure(OSError("reset"))


@pytest.mark.parametrize("kind", list(CONNECTION_FAILURES))
def test_a_connection_failing_past_the_deadline_is_never_called_throttled(
    waits: Waits, kind: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = CONNECTION_FAILURES[kind]
    # A second left whatever the machine's speed (the waits take no time): 0.4 and 0.8 fit.
    monkeypatch.setattr(retry, "remaining", lambda: 1.0)
    with (
        caplog.at_level(logging.INFO, logger=retry.__name__),
        pytest.raises(ConnectionFailedError) as raised,
    ):
        retry.call("ListThings", failing([error] * 10))
    name = type(error).__name__
    assert str(raised.value) == (
        f"ListThings lost its connection to AWS before an answer ({name}) 3 times and the time "
        "budget ran out; retry the stack operation later"
    )
    assert not isinstance(raised.value, ThrottledError)
    assert raised.value.__cause__ is error
    assert "throttl" not in " ".join(r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("kind", list(CONNECTION_FAILURES))
def test_app_mesh_reads_every_connection_failure_as_unreachable(kind: str) -> None:
    gone = unavailable(CONNECTION_FAILURES[kind])
    assert gone is not None
    assert gone.kind == "unreachable"
    assert type(CONNECTION_FAILURES[kind]).__name__ in str(gone)
    assert "Mode: ServiceConnect" in str(gone)
    assert "throttl" not in str(gone)


def test_the_names_a_connection_failure_is_reported_with() -> None:
    # What ``call`` passes to the on_retry hooks (the metrics count these apart from throttling)
    for error in CONNECTION_FAILURES.values():
        assert type(error).__name__ in retry.CONNECTION_FAILURES
    assert "ClientError" not in retry.CONNECTION_FAILURES
    assert "NoCredentialsError" not in retry.CONNECTION_FAILURES
    assert not retry.CONNECTION_FAILURES & retry.THROTTLING_CODES


@pytest.mark.parametrize(
    ("code", "status", "said"),
    [
        ("ServiceUnavailableException", 503, "kept failing with a server error from AWS"),
        ("InternalFailure", 500, "kept failing with a server error from AWS"),
        ("SomethingElse", 429, "was throttled by AWS"),
        ("ClientException", 400, "was throttled by AWS"),  # ECS: "Too many concurrent attempts"
    ],
)
def test_a_server_error_past_the_budget_is_not_called_throttling(
    waits: Waits, monkeypatch: pytest.MonkeyPatch, code: str, status: int, said: str
) -> None:
    monkeypatch.setattr(retry, "remaining", lambda: 0.0)
    error = client_error(code, status=status)
    if code == "ClientException":
        error.response["Error"]["Message"] = "Too many concurrent attempts to create a new revision"
    with pytest.raises(ThrottledError) as raised:
        retry.call("DescribeThings", failing([error]))
    assert str(raised.value).startswith(f"DescribeThings {said} ({code}) 1 times")
