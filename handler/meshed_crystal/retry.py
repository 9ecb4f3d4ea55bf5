"""Retrying throttled AWS calls with backoff inside the invocation's time budget (DESIGN §5.6).

botocore's own retries are turned off (see ``adapters.clients``): its backoff does not know
when the Lambda must answer CloudFormation. The handler sets a deadline per invocation; a call
that is still throttled when the next wait would cross it raises :class:`ThrottledError`, one
whose connection kept failing :class:`ConnectionFailedError` (never "throttled", DESIGN §9).
"""

from __future__ import annotations

import contextvars
import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

import botocore.exceptions
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from .errors import ConnectionFailedError, ThrottledError

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Not LimitExceededException: App Mesh uses it for quotas (too many virtual services in a mesh),
# which no amount of waiting fixes; retrying it would turn a clear Reason into "throttled".
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ThrottledException",
        "RequestThrottled",
    }
)
_deadline: contextvars.ContextVar[float] = contextvars.ContextVar("deadline", default=float("inf"))
# Lets tests and benchmarks observe retries without mocking: called with (operation, code).
on_retry: list[Callable[[str, str], None]] = []

BASE_DELAY = 0.2
MAX_DELAY = 5.0
# Errors a caller marks as suspect (they may mean the service is gone for good, DESIGN §9) are
# retried this many times in all, a few seconds, rather than until the deadline.
SUSPECT_ATTEMPTS = 4


def set_deadline(monotonic_deadline: float) -> contextvars.Token[float]:
    return _deadline.set(monotonic_deadline)


def remaining() -> float:
    return _deadline.get() - time.monotonic()


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_connection_failure(error: BaseException) -> bool:
    """No answer came: botocore's connection-level errors. ``ConnectionError``: refused, a name
    that does not resolve, a connect timeout, TLS, a proxy; ``HTTPClientError``: closed or reset
    before the answer (``ConnectionClosedError``), a read timeout, any other failure of the
    HTTP exchange itself."""
    return isinstance(error, ConnectionError | HTTPClientError)


# The names ``call`` reports a connection failure's retry with (its class): the hooks of
# ``on_retry`` tell them from throttling codes (the metrics count them apart).
CONNECTION_FAILURES = frozenset(
    name
    for name, value in vars(botocore.exceptions).items()
    if isinstance(value, type) and issubclass(value, ConnectionError | HTTPClientError)
)


def is_throttle(error: Exception) -> bool:
    """Retried: throttling, a server error, or a connection that failed before an answer."""
    # A connection dropped before the answer (ConnectionClosedError) is retried too: a retried
    # RegisterTaskDefinition may then leave a duplicate revision, which carries this resource's
    # tags and so is deregistered by its Delete (found from ECS), not leaked.
    if is_connection_failure(error) or _is_throttling(error):
        return True
    return isinstance(error, ClientError) and _status(error) in (500, 502, 503, 504)


def _is_throttling(error: Exception) -> bool:
    """Throttling proper (a code of AWS's for it, 429, or ECS's concurrent registrations), as
    against a server error: a Reason says "throttled" only of the first."""
    if not isinstance(error, ClientError):
        return False
    message = str(error.response.get("Error", {}).get("Message", ""))
    # ECS answers simultaneous registrations in one family with a ClientException.
    return (
        error_code(error) in THROTTLING_CODES
        or "Too many concurrent attempts" in message
        or _status(error) == 429
    )


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def call(
    operation: str, fn: Callable[[], T], *, suspect: Callable[[Exception], bool] | None = None
) -> T:
    """``fn()``, retried while it is throttled and time is left.

    A retryable error for which ``suspect`` is true is retried at most ``SUSPECT_ATTEMPTS``
    times in all and then raised as it is, for the caller to classify.
    """
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as error:
            if not is_throttle(error):
                raise
            attempt += 1
            if suspect is not None and attempt >= SUSPECT_ATTEMPTS and suspect(error):
                raise
            # Full jitter: parallel resources (one stack, many Custom::MeshedCrystal) spread out.
            delay = random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2**attempt))
            code = error_code(error) if isinstance(error, ClientError) else type(error).__name__
            lost = is_connection_failure(error)
            if remaining() - delay <= 0:
                if lost:
                    what = "lost its connection to AWS before an answer"
                elif _is_throttling(error):
                    what = "was throttled by AWS"
                else:  # a 5xx: the service failed, it did not throttle
                    what = "kept failing with a server error from AWS"
                failure = ConnectionFailedError if lost else ThrottledError
                raise failure(
                    f"{operation} {what} ({code}) {attempt} times and the time budget ran out; "
                    "retry the stack operation later"
                ) from error
            logger.info(
                "connection failed, retrying" if lost else "throttled, retrying",
                extra={"operation": operation, "code": code, "attempt": attempt},
            )
            for hook in on_retry:
                hook(operation, code)
            time.sleep(delay)
