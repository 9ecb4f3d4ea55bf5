"""One cold start, in a fresh interpreter: ``python bench/cold.py product|floor SPEC.json``.

Run as a script (not ``-m``) by ``python -m bench``, once per measurement, so nothing is
imported before it starts. Both modes read the same spec and print one JSON line:
``ready`` (``time.monotonic()``, system-wide on Linux, when the response was delivered),
``imported`` (when the code was loaded) and ``maxrss_kib`` (peak RSS of the process).

* ``product``: import ``meshed_crystal.app`` (which builds the provider and the resource),
  then one invocation of ``lambda_handler`` with the spec's event: the AWS calls against the
  emulator and the response PUT to the local HTTPS endpoint. With ``record`` in the spec (an
  unmeasured run), the AWS calls it made are written there, for the floor to replay.
* ``floor``: import boto3 and create the clients of the spec's ``services`` (the issue's floor:
  nothing more). With ``calls``/``put`` in the spec, it then also makes the same AWS calls and
  PUTs the same response body.
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
import time
from typing import Any

STARTED = time.monotonic()


class Context:
    """What the Lambda runtime hands the handler."""

    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:meshed-crystal"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    function_name = "meshed-crystal"
    memory_limit_in_mb = 256

    def __init__(self, remaining_ms: int) -> None:
        self.deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def product(spec: dict[str, Any]) -> float:
    sys.path.insert(0, spec["handler_path"])
    calls: list[list[Any]] = []
    if spec.get("record"):
        _record(calls)
    from meshed_crystal import app

    imported = time.monotonic()
    app.lambda_handler(spec["event"], Context(int(spec["remaining_ms"])))
    if spec.get("record"):
        with open(spec["record"], "w") as out:
            json.dump(calls, out, default=str)
    return imported


def _record(calls: list[list[Any]]) -> None:
    """Every AWS call the product makes: [service, operation, parameters]."""
    import copy
    import threading

    from meshed_crystal import sdk

    pending: dict[int, dict[str, Any]] = {}  # per thread: the calls may run concurrently
    events = sdk.botocore_session().get_component("event_emitter")

    def params(params: dict[str, Any], **_: Any) -> None:
        pending[threading.get_ident()] = copy.deepcopy(params)

    def call(model: Any, **_: Any) -> None:
        params = pending.pop(threading.get_ident(), {})
        calls.append([model.service_model.service_name, model.name, params])

    events.register("before-parameter-build", params)
    events.register("before-call", call)


def floor(spec: dict[str, Any]) -> float:
    import http.client
    from urllib.parse import urlsplit

    import boto3
    from botocore import xform_name
    from botocore.config import Config
    from botocore.exceptions import ClientError

    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)
    clients = {service: boto3.client(service, config=config) for service in spec["services"]}
    imported = time.monotonic()
    for service, operation, params in spec["calls"]:
        with contextlib.suppress(ClientError):
            getattr(clients[service], xform_name(operation))(**params)
    if not spec["put"]:
        return imported
    parts = urlsplit(spec["event"]["ResponseURL"])
    body = json.dumps(spec["body"]).encode()
    connection = http.client.HTTPSConnection(parts.netloc, timeout=10)
    try:
        connection.request(
            "PUT",
            f"{parts.path}?{parts.query}",
            body=body,
            headers={"content-type": "", "content-length": str(len(body))},
        )
        connection.getresponse().read()
    finally:
        connection.close()
    return imported


def main(argv: list[str]) -> int:
    mode, spec_path = argv
    with open(spec_path) as spec_file:
        spec = json.load(spec_file)
    imported = product(spec) if mode == "product" else floor(spec)
    ready = time.monotonic()
    result = {
        "started": STARTED,
        "imported": imported,
        "ready": ready,
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    sys.stdout.flush()
    sys.stderr.write("BENCH " + json.dumps(result) + "\n")
    sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
