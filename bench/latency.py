"""Per-event latency and AWS calls, warm, in one process (a warm Lambda container).

``python -m bench.latency ENDPOINT_URL OUT.json REPS`` (run by ``python -m bench``). For each
repetition, on a freshly reset emulator with the workshop platform: Create, in-place Update,
no-op Update and Delete of an App Mesh-mode resource, then Create, no-op Update and Delete of a
Service Connect-mode one (the same properties plus ``Mode: ServiceConnect``), through the real
entry point (``meshed_crystal.app.lambda_handler``,
response PUT to a local HTTPS endpoint included). Then, on a freshly reset emulator again, the
floor: the very same AWS calls (operation and parameters, recorded with botocore's hooks) made
directly with boto3 clients, and the same response body PUT. Repetition 0 warms both up and is
not counted.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, SupportsIndex

from bench.calls import Call, CallRecorder, replay
from bench.common import (
    REGION,
    SERVICE_CONNECT,
    TIMEOUT_MS,
    Silenced,
    apply_environment,
    aws_environment,
    event_properties,
    mode_properties,
    use_repo_paths,
    write_json,
)
from bench.put import put

EVENTS = (
    "Create",
    "Update (in place)",
    "Update (no-op)",
    "Delete",
    "SC Create",
    "SC Update (no-op)",
    "SC Delete",
)
SERVICES = ("appmesh", "ecs", "servicediscovery", "cloudformation", "resourcegroupstaggingapi")


class SleepCounter:
    """Counts ``time.sleep`` (and crhelper's imported ``sleep``) while armed."""

    def __init__(self) -> None:
        self.calls = 0
        self.seconds = 0.0
        self.armed = False
        self._real = time.sleep

    def install(self) -> None:
        import crhelper.resource_helper as helper

        def sleep(seconds: float | SupportsIndex) -> None:
            if self.armed:
                self.calls += 1
                self.seconds += seconds if isinstance(seconds, float | int) else seconds.__index__()
            self._real(seconds)

        time.sleep = sleep
        setattr(helper, "sleep", sleep)  # noqa: B010 - crhelper did `from time import sleep`


def main(argv: list[str]) -> int:
    endpoint_url, out, reps = argv[0], argv[1], int(argv[2])
    use_repo_paths()
    apply_environment(aws_environment(endpoint_url))

    import boto3
    from botocore.config import Config

    boto3.setup_default_session()
    product_calls = CallRecorder()
    product_calls.attach(boto3.DEFAULT_SESSION.events)  # type: ignore[union-attr]
    floor_session = boto3.Session()
    floor_calls = CallRecorder()
    floor_calls.attach(floor_session.events)
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)
    floor_clients = {s: floor_session.client(s, config=config) for s in SERVICES}  # type: ignore[call-overload]
    platform_session = boto3.Session()

    from meshed_crystal import app

    from bench.emulator import reset
    from tests.support.cfn_driver import CloudFormation, ResponseEndpoint
    from tests.support.platform import build_workshop_platform

    sleeps = SleepCounter()
    sleeps.install()
    create_props = event_properties("create.json")
    update_props = event_properties("update.json")
    sc_props = mode_properties(SERVICE_CONNECT)
    results: dict[str, dict[str, Any]] = {
        name: {"product": [], "floor": [], "sleeps": 0, "sleep_s": 0.0} for name in EVENTS
    }
    durations: list[float] = []

    def timed(event: dict[str, Any], context: Any) -> None:
        sleeps.armed = True
        started = time.perf_counter()
        try:
            with Silenced():
                app.lambda_handler(event, context)
        finally:
            durations.append(time.perf_counter() - started)
            sleeps.armed = False

    with ResponseEndpoint() as endpoint:
        for rep in range(reps + 1):
            # -- the product ----------------------------------------------------------------
            reset(endpoint_url)
            build_workshop_platform(platform_session)
            cfn = CloudFormation(timed, endpoint, grace_s=0.0)
            steps: list[Callable[[CloudFormation], dict[str, Any]]] = [
                lambda c: c.create("Crystal", create_props, remaining_ms=TIMEOUT_MS),
                lambda c: c.update("Crystal", update_props, remaining_ms=TIMEOUT_MS),
                lambda c: c.update("Crystal", update_props, remaining_ms=TIMEOUT_MS),
                lambda c: c.delete("Crystal", remaining_ms=TIMEOUT_MS),
                lambda c: c.create("CrystalSC", sc_props, remaining_ms=TIMEOUT_MS),
                lambda c: c.update("CrystalSC", sc_props, remaining_ms=TIMEOUT_MS),
                lambda c: c.delete("CrystalSC", remaining_ms=TIMEOUT_MS),
            ]
            recorded: list[tuple[list[Call], dict[str, Any]]] = []
            for name, step in zip(EVENTS, steps, strict=True):
                product_calls.take()
                before = (sleeps.calls, sleeps.seconds)
                body = step(cfn)
                if body["Status"] != "SUCCESS":
                    raise RuntimeError(f"{name} answered FAILED: {body.get('Reason')}")
                calls = product_calls.take()
                recorded.append((calls, body))
                result = results[name]
                if rep:
                    result["product"].append(durations[-1])
                    result["sleeps"] += sleeps.calls - before[0]
                    result["sleep_s"] += sleeps.seconds - before[1]
                result["calls"] = [c.label() for c in calls]
                result["writes"] = sum(c.is_write for c in calls)
                result["response_bytes"] = len(json.dumps(body))
            # -- the floor: the same calls, directly ---------------------------------------
            reset(endpoint_url)
            build_workshop_platform(platform_session)
            for name, (calls, body) in zip(EVENTS, recorded, strict=True):
                url = endpoint.response_url(cfn.stack_id, "Crystal", f"floor-{rep}-{name}")
                data = json.dumps(body).encode()
                floor_calls.take()
                started = time.perf_counter()
                replay(floor_clients, calls)
                status = put(url, data)
                elapsed = time.perf_counter() - started
                if status != 200:
                    raise RuntimeError(f"floor PUT answered {status}")
                if rep:
                    results[name]["floor"].append(elapsed)
                results[name]["floor_calls"] = len(floor_calls.take())
    create_calls, create_body = recorded[0]
    create_spec = {
        "calls": [[c.service, c.operation, c.params] for c in create_calls],
        "body": create_body,
    }
    write_json(out, {"region": REGION, "reps": reps, "events": results, "create": create_spec})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
