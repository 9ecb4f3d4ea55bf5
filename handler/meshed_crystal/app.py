"""Lambda entry point: crhelper wiring only. The work is in ``actions``."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from aws_lambda_powertools import Logger

from . import mode, observability, retry
from .actions import Provider, Request
from .logs import configure_logging
from .protocol import RESPONSE_MARGIN_S, Resource, put_response
from .version import __version__

logger = Logger(service=observability.SERVICE)
configure_logging(logger)
logger.info("MeshedCrystal function starting", extra={"version": __version__})
# Each mode reads its settings from the environment (the stack's parameters) when an event
# first needs it.
provider = Provider(environ=os.environ)
# Once per process, however many times this module is loaded (tests load it afresh).
if observability.notices.seen not in mode.on_notice:
    mode.on_notice.append(observability.notices.seen)
# What the invocation answered CloudFormation, for the metrics.
_outcome: dict[str, str] = {}


def _send(url: str, body: bytes, deadline: float) -> bool:
    _outcome["status"] = str(json.loads(body).get("Status", "FAILED"))
    return put_response(url, body, deadline)


resource = Resource(fallback_id=lambda event: _request(event, None).fallback_id(), sender=_send)


def _request(event: Any, context: Any) -> Request:
    arn = str(getattr(context, "invoked_function_arn", "") or "").split(":")
    return Request(
        stack_id=str(event.get("StackId", "")),
        logical_id=str(event.get("LogicalResourceId", "")),
        request_id=str(event.get("RequestId", "")),
        properties=event.get("ResourceProperties"),
        physical_id=event.get("PhysicalResourceId"),
        old_properties=event.get("OldResourceProperties"),
        partition=arn[1] if len(arn) > 4 else "aws",
        region=arn[3] if len(arn) > 4 else os.environ.get("AWS_REGION", "us-east-1"),
        account=arn[4] if len(arn) > 4 else "123456789012",
    )


def _start(event: dict[str, Any], context: Any) -> Request:
    # The work stops retrying throttled calls in time for the response to go out.
    budget = context.get_remaining_time_in_millis() / 1000.0 - RESPONSE_MARGIN_S - 1.0
    retry.set_deadline(time.monotonic() + budget)
    return _request(event, context)


@resource.create
def create(event: dict[str, Any], context: Any) -> str:
    result = provider.create(_start(event, context), announce=resource.announce)
    resource.Data.update(result.data)
    return result.physical_id


@resource.update
def update(event: dict[str, Any], context: Any) -> str:
    result = provider.update(_start(event, context), announce=resource.announce)
    resource.Data.update(result.data)
    return result.physical_id


@resource.delete
def delete(event: dict[str, Any], context: Any) -> str:
    request = _start(event, context)
    provider.delete(request)
    return str(request.physical_id)


@observability.traced
def lambda_handler(event: Any, context: Any) -> None:
    keys = event if isinstance(event, dict) else {}
    started = time.monotonic()
    _outcome.clear()
    with logger.append_context_keys(
        stack_id=keys.get("StackId"),
        logical_id=keys.get("LogicalResourceId"),
        cfn_request_id=keys.get("RequestId"),
        request_type=keys.get("RequestType"),
        function_request_id=getattr(context, "aws_request_id", None),
    ):
        resource(event, context)
        observability.record(
            keys.get("RequestType"),
            _outcome.get("status", "NoResponse"),
            time.monotonic() - started,
        )
