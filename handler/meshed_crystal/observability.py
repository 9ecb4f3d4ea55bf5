"""Metrics and tracing (Powertools). Nothing here may fail a request or raise after a response.

Metrics are CloudWatch EMF lines on stdout: per request type and outcome, a count and a
duration, plus the number of throttled AWS calls that were retried. The tracer is active in AWS
(the template turns X-Ray on) and off locally (``POWERTOOLS_TRACE_DISABLED=true``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from . import retry

logger = logging.getLogger(__name__)

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "meshed-crystal")
# Only botocore is patched (its calls are the subsegments worth seeing); patching every module
# X-Ray supports imports them all at cold start.
tracer = Tracer(service=SERVICE, patch_modules=["botocore"])
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "MeshedCrystal"), service=SERVICE
)


class ThrottleCounter:
    """Counts the throttled calls ``retry`` retried during the current invocation."""

    def __init__(self) -> None:
        self.count = 0
        retry.on_retry.append(self._seen)

    def _seen(self, _operation: str, _code: str) -> None:
        self.count += 1

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


throttles = ThrottleCounter()


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
        metrics.flush_metrics()
    except Exception:
        logger.exception("could not emit metrics")
