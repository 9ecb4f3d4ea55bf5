"""Run Custom::MeshedCrystal locally, exactly as CloudFormation would, with no AWS account.

Starts moto in server mode on 127.0.0.1 (App Mesh extended by the test support), builds the ECS
workshop's platform in it, then sends each event file through the Lambda handler: the real
CloudFormation protocol, with the ResponseURL pointed at a local HTTPS endpoint. Prints each
response the way the workshop printed its stack outputs; exits 1 if any response is FAILED.

    python3 tasks.py local                      # events/create.json, update.json, delete.json
    python3 tasks.py local --migrate            # App Mesh, then the switch to Service Connect,
                                                # after the plan of the workshop's whole fleet
                                                # (python3 tasks.py migrate)
    python3 tasks.py local my-event.json ...    # your own events (the Docker-free
                                                # equivalent of `sam local invoke -e`)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_EVENTS = [REPO / "events" / name for name in ("create.json", "update.json", "delete.json")]
# The migration (DESIGN §8): the workshop's crystal in App Mesh mode, the one-line switch to
# Service Connect (a replacement), CloudFormation's cleanup Delete of the App Mesh id, then the
# stack's Delete.
MIGRATION_EVENTS = [
    REPO / "events" / name
    for name in (
        "create.json",
        "update.json",
        "switch-to-service-connect.json",
        "delete-app-mesh-id.json",
        "delete-service-connect.json",
    )
]
# Outputs the workshop's stack exported, from the resource's attributes.
WORKSHOP_OUTPUTS = {
    "MeshCrystalVSARN": "VirtualServiceArn",
    "MeshCrystalVSName": "VirtualServiceName",
}


def _fake_aws_environment(endpoint_url: str) -> None:
    # The function's clients use boto3's standard configuration: pointing them at the emulator
    # is only environment, no code change.
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    os.environ.pop("AWS_PROFILE", None)


# The fields CloudFormation puts in every custom resource event (docs/reference.md).
EVENT_FIELDS = ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId")


class EventFileError(Exception):
    """An event file that cannot be sent: missing, not JSON, or not a CloudFormation event."""


def _load_event(path: Path) -> dict[str, Any]:
    try:
        event = json.loads(path.read_text())
    except FileNotFoundError:
        raise EventFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise EventFileError(f"{path}: cannot be read ({e})") from None
    except json.JSONDecodeError as e:
        where = f"line {e.lineno}, column {e.colno}"
        raise EventFileError(f"{path}: not JSON ({where}: {e.msg})") from None
    if not isinstance(event, dict):
        raise EventFileError(f"{path}: not a CloudFormation event (a JSON object)")
    missing = [f for f in EVENT_FIELDS if not event.get(f)]
    if missing:
        raise EventFileError(
            f"{path}: not a CloudFormation event: missing {', '.join(missing)} "
            "(see docs/reference.md, 'Events')"
        )
    return event


def _print_response(name: str, body: dict[str, Any]) -> None:
    print(f"\n{name}: {body['Status']}")
    print(f"  PhysicalResourceId = {body['PhysicalResourceId']}")
    if body.get("Reason"):
        print(f"  Reason = {body['Reason']}")
    data = body.get("Data") or {}
    for output, attribute in WORKSHOP_OUTPUTS.items():
        if attribute in data:
            print(f"{output} = {data[attribute]}")
    for key in sorted(data):
        print(f"  {key} = {data[key]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "events", nargs="*", type=Path, help="event files (default: the three in events/)"
    )
    parser.add_argument(
        "--migrate",
        action="store_true",
        help="App Mesh mode, then the switch to Service Connect and the cleanup Delete",
    )
    args = parser.parse_args(argv)
    chosen = args.events or (MIGRATION_EVENTS if args.migrate else DEFAULT_EVENTS)
    try:
        events = [(path, _load_event(path)) for path in chosen]
    except EventFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sys.path[:0] = [str(REPO / "handler"), str(REPO)]
    if args.migrate and not args.events:
        _print_fleet_plan()

    from tests.support.emulator import start_server

    # The emulator's per-request access log would bury the responses.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    emulator = start_server()
    try:
        _fake_aws_environment(emulator.endpoint_url)
        import boto3
        from meshed_crystal.app import lambda_handler

        from tests.support.cfn_driver import CloudFormation, ResponseEndpoint
        from tests.support.platform import build_workshop_platform

        platform = build_workshop_platform(boto3.Session(region_name="us-east-1"))
        print(f"emulator: {emulator.endpoint_url} (moto server mode, loopback only)")
        _print_platform(platform)
        failed = 0
        from tests.support import moto_cloudformation

        with ResponseEndpoint() as endpoint:
            cloudformation = CloudFormation(lambda_handler, endpoint)
            # The emulated CloudFormation knows the events' stack, as the tests' does: a Delete
            # asks it which id the stack holds (DESIGN §5.4).
            cloudformation.stack_id = str(events[0][1]["StackId"])
            cloudformation.stack_name = cloudformation.stack_id.split("/")[1]
            with moto_cloudformation.serving(cloudformation):
                failed = _send_all(cloudformation, endpoint, events)
        return 1 if failed else 0
    finally:
        emulator.stop()


def _print_fleet_plan() -> None:
    """What ``python3 tasks.py migrate`` plans for the workshop's three services: the examples'
    platform and crystal, with nodejs and the App Mesh-era frontend made from crystal's template
    (tests/support/fleets.py)."""
    import tempfile

    from scripts import migrate
    from tests.support.fleets import EXAMPLES, service_template

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "nodejs.yaml").write_text(service_template("nodejs"))
        (folder / "frontend.yaml").write_text(
            service_template("frontend", ["crystal", "nodejs"], imported=["crystal"])
        )
        given = [
            str(EXAMPLES / "platform.yaml"),
            str(EXAMPLES / "crystal.yaml"),
            str(folder / "nodejs.yaml"),
            str(folder / "frontend.yaml"),
        ]
        print("The workshop's fleet: python3 tasks.py migrate " + " ".join(given) + " --out DIR")
        migrate.main([*given, "--out", str(folder / "plan")])
    print()


def _print_platform(platform: Any) -> None:
    """The emulated platform's ids, so every form of the README's template can be tried."""
    print("platform (what a template of yours can reference):")
    for label, value in (
        ("MeshName", platform.mesh_name),
        ("MeshArn", platform.mesh_arn),
        ("CloudMapNamespaceName", platform.namespace_name),
        ("CloudMap namespace id", platform.namespace_id),
        ("CloudMapServiceName", platform.cloud_map_service_name),
        ("CloudMapServiceArn", platform.cloud_map_service_arn),
        ("TaskDefinition (the app's)", platform.app_task_definition_arn),
        ("task role", platform.task_role_arn),
        ("execution role", platform.execution_role_arn),
        ("log group", platform.log_group_name),
        ("ECS cluster", platform.cluster_arn),
    ):
        print(f"  {label} = {value}")


def _state() -> dict[str, set[str]]:
    """What the resource can create, read from the emulator as an operator would."""
    import boto3

    appmesh, ecs = boto3.client("appmesh"), boto3.client("ecs")
    kinds = ("revision", "virtual node", "virtual service")
    state: dict[str, set[str]] = {kind: set() for kind in kinds}
    for page in ecs.get_paginator("list_task_definitions").paginate(status="ACTIVE"):
        state["revision"].update(page["taskDefinitionArns"])
    for mesh in appmesh.list_meshes()["meshes"]:
        name = mesh["meshName"]
        nodes = appmesh.list_virtual_nodes(meshName=name)["virtualNodes"]
        state["virtual node"].update(f"{name}/{n['virtualNodeName']}" for n in nodes)
        services = appmesh.list_virtual_services(meshName=name)["virtualServices"]
        state["virtual service"].update(f"{name}/{s['virtualServiceName']}" for s in services)
    return state


def _print_changes(before: dict[str, set[str]], after: dict[str, set[str]]) -> None:
    """One line per thing the invocation created or removed."""
    changed = False
    verbs = {"revision": ("registered", "deregistered"), "virtual node": ("created", "deleted")}
    for kind in after:
        made, gone = verbs.get(kind, ("created", "deleted"))
        for item in sorted(after[kind] - before[kind]):
            print(f"  + {kind} {made}: {item}")
            changed = True
        for item in sorted(before[kind] - after[kind]):
            print(f"  - {kind} {gone}: {item}")
            changed = True
    if not changed:
        print("  (nothing created or removed)")


def _send_all(cloudformation: Any, endpoint: Any, events: list[tuple[Path, dict[str, Any]]]) -> int:
    failed = 0
    for path, event in events:
        before = _state()
        # The presigned S3 URL of a saved event points at AWS; answer locally instead.
        event["ResponseURL"] = endpoint.response_url(
            str(event.get("StackId")),
            str(event.get("LogicalResourceId")),
            str(event.get("RequestId")),
        )
        body = cloudformation.invoke(event, remaining_ms=600_000)
        _print_response(f"{event.get('RequestType')} ({path.name})", body)
        _print_changes(before, _state())
        failed += body["Status"] != "SUCCESS"
    return failed


if __name__ == "__main__":
    sys.exit(main())
