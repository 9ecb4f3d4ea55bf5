"""Metrics and tracing (Powertools). Nothing here may fail a request or raise after a response.

Metrics are CloudWatch EMF lines on stdout: per request type and outcome, a count and a
duration, plus the number of throttled AWS calls that were retried, ``ConnectionRetries`` when
calls whose connection failed were retried, and ``AppMeshUnavailable`` when a Delete finished
without App Mesh (DESIGN §9). Tracing is opt-in (the
template's Tracing parameter): only then is the X-Ray SDK imported and botocore patched.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from . import retry

logger = logging.getLogger(__name__)

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "meshed-crystal")
Handler = TypeVar("Handler", bound=Callable[..., Any])


def tracing_enabled() -> bool:
    """Powertools' own switch, read the way Powertools reads it (unset: on)."""
    setting = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower()
    return setting not in ("1", "true", "yes", "on", "y", "t")


def traced(handler: Handler) -> Handler:
    """The handler under Powertools Tracer when tracing is on, else the handler itself.

    With tracing off the X-Ray SDK (about 40 ms of a cold start) is never imported. Only
    botocore is patched: its calls are the subsegments worth seeing, and patching every module
    X-Ray supports imports them all.
    """
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service=SERVICE, patch_modules=["botocore"])
    wrapped: Handler = tracer.capture_lambda_handler(capture_response=False)(handler)
    return wrapped


metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "MeshedCrystal"), service=SERVICE
)


class Counter:
    """Counts events of the current invocation (its ``seen`` is a hook)."""

    def __init__(self) -> None:
        self.count = 0

    def seen(self, *_: object) -> None:
        self.count += 1

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


# Throttled calls ``retry`` retried, and those whose connection failed (never counted as
# throttled, DESIGN §9); Deletes that finished without App Mesh (app.py hooks it).
throttles = Counter()
lost_connections = Counter()


def _retried(operation: str, code: str) -> None:
    (lost_connections if code in retry.CONNECTION_FAILURES else throttles).seen()


retry.on_retry.append(_retried)
appmesh_unavailable = Counter()


def record(request_type: Any, outcome: str, seconds: float) -> None:
    """Emit the invocation's metrics; errors are logged, never raised."""
    try:
        # A disabled Metrics does not clear on flush: start each invocation from a clean set.
        metrics.clear_metrics()
        kind = request_type if request_type in ("Create", "Update", "Delete") else "Malformed"
        metrics.add_dimension(name="RequestType", value=str(kind))
        metrics.add_dimension(name="Outcome", value=outcome)
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Duration", unit=MetricUnit.Milliseconds, value=seconds * 1000)
        metrics.add_metric(name="ThrottledRetries", unit=MetricUnit.Count, value=throttles.take())
        lost = lost_connections.take()
        if lost:
            metrics.add_metric(name="ConnectionRetries", unit=MetricUnit.Count, value=lost)
        unavailable = appmesh_unavailable.take()
        if unavailable:
            # Only when it happened: an alarm on its presence needs no math.
            metrics.add_metric(name="AppMeshUnavailable", unit=MetricUnit.Count, value=unavailable)
        metrics.flush_metrics()
    except Exception:
        logger.exception("could not emit metrics")
