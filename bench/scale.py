"""50 Custom::MeshedCrystal resources created at once against ECS's real throttle.

``python -m bench.scale ENDPOINT_URL OUT.json N`` (run by ``python -m bench`` against an
emulator started with ``--ecs-throttle``). Each resource is its own Lambda container: a fresh
copy of ``meshed_crystal.app`` (its own provider, resource and response state) whose clients
come from its own boto3 session; all N are invoked in parallel threads, each with its own
Cloud Map service, virtual node and virtual service. Groups of five share a proxied family, so
both of ECS's errors happen: "Rate exceeded" and "Too many concurrent attempts".
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from collections import Counter
from types import ModuleType
from typing import Any

from bench.common import (
    HANDLER,
    TIMEOUT_MS,
    Silenced,
    apply_environment,
    aws_environment,
    event_properties,
    use_repo_paths,
    write_json,
)

GROUP = 5
JOIN_TIMEOUT_S = TIMEOUT_MS / 1000 + 60


def _container(index: int, service_clients: dict[str, Any]) -> ModuleType:
    """A fresh copy of the entry module: what a new Lambda container would import."""
    from meshed_crystal.actions import Provider
    from meshed_crystal.adapters.cloudformation import CloudFormation
    from meshed_crystal.adapters.cloudmap import CloudMap
    from meshed_crystal.adapters.ecs import Ecs
    from meshed_crystal.modes.appmesh.adapter import AppMesh

    name = f"meshed_crystal._bench_container_{index}"
    spec = importlib.util.spec_from_file_location(name, HANDLER / "meshed_crystal" / "app.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot load meshed_crystal/app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    module.provider = Provider(  # type: ignore[attr-defined]
        appmesh=AppMesh(service_clients["appmesh"]),
        ecs=Ecs(service_clients["ecs"]),
        cloudmap=CloudMap(service_clients["servicediscovery"]),
        cloudformation=CloudFormation(service_clients["cloudformation"]),
        environ=module.provider.environ,
    )
    return module


def main(argv: list[str]) -> int:
    endpoint_url, out, count = argv[0], argv[1], int(argv[2])
    use_repo_paths()
    apply_environment(aws_environment(endpoint_url))

    import boto3
    from meshed_crystal import retry
    from meshed_crystal.adapters.clients import CONFIG

    from tests.support.cfn_driver import CloudFormation, LambdaContext, ResponseEndpoint
    from tests.support.platform import build_workshop_platform

    platform = build_workshop_platform(boto3.Session())
    sd = boto3.client("servicediscovery")
    for i in range(count):
        sd.create_service(
            Name=f"crystal-{i}",
            NamespaceId=platform.namespace_id,
            DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}]},
        )
    containers = []
    for i in range(count):
        session = boto3.Session()
        clients = {
            s: session.client(s, config=CONFIG)
            for s in ("appmesh", "ecs", "servicediscovery", "cloudformation")
        }
        containers.append(_container(i, clients))

    retries: Counter[str] = Counter()
    lock = threading.Lock()

    def seen(_operation: str, code: str) -> None:
        with lock:
            retries[code] += 1

    retry.on_retry.append(seen)
    base = event_properties("create.json")
    durations: list[float] = [float("nan")] * count
    start = threading.Barrier(count + 1)

    with ResponseEndpoint() as endpoint:
        cfn = CloudFormation(lambda _e, _c: None, endpoint, stack_name="crystal-fleet")
        events = []
        for i in range(count):
            props = {
                **base,
                "CloudMapServiceName": f"crystal-{i}",
                "Family": f"crystal-group-{i // GROUP}-mesh",
                "CloudMapAttributes": {"ECS_TASK_DEFINITION_FAMILY": f"crystal-group-{i // GROUP}"},
            }
            events.append(cfn.event("Create", f"Crystal{i}", props))

        def invoke(i: int) -> None:
            context = LambdaContext(function_arn=cfn.service_token, remaining_ms=TIMEOUT_MS)
            start.wait()
            began = time.monotonic()
            containers[i].lambda_handler(events[i], context)
            durations[i] = time.monotonic() - began

        threads = [threading.Thread(target=invoke, args=(i,), daemon=True) for i in range(count)]
        with Silenced():
            for thread in threads:
                thread.start()
            start.wait()
            began = time.monotonic()
            for thread in threads:
                thread.join(JOIN_TIMEOUT_S - (time.monotonic() - began))
            wall = time.monotonic() - began
        statuses: Counter[str] = Counter()
        for event in events:
            delivered = endpoint.delivered_for(event["ResponseURL"])
            statuses[
                str((delivered[0].body or {}).get("Status")) if len(delivered) == 1 else "none"
            ] += 1
    write_json(
        out,
        {
            "count": count,
            "wall_s": wall,
            "durations": durations,
            "statuses": dict(statuses),
            "retries": dict(retries),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
