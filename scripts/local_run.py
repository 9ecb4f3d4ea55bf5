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
    python3 tasks.py local --appmesh-gone 410 my-create.json my-delete.json
                                                # App Mesh goes away after the Creates

Your own events may name your own service: what they reference and the workshop platform lacks
(the mesh, the Cloud Map namespace and service, a Service Connect namespace by name, the
application's task definition by family, family:revision or ARN) is made in the emulator first,
one line each (tests/support/provision.py). An Update or Delete without PhysicalResourceId takes
the id an earlier Create of the same LogicalResourceId returned in the run; an Update without
OldResourceProperties takes the properties the stack holds.

The function's JSON log lines go to a file (its path is printed at the end), or with --logs to
stderr, apart from this output. The provider's settings come from the environment as in Lambda:
APPMESH_RETIRED (auto, true, false), ENVOY_IMAGE, ALLOWED_MESHES, POWERTOOLS_LOG_LEVEL.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

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
# Outputs the workshop's stack exported, from the resource's attributes: printed for the
# workshop's own events only (a user's events are labelled with their logical id).
WORKSHOP_OUTPUTS = {
    "MeshCrystalVSARN": "VirtualServiceArn",
    "MeshCrystalVSName": "VirtualServiceName",
}
WORKSHOP_EVENTS = {path.resolve() for path in DEFAULT_EVENTS + MIGRATION_EVENTS}
LOG_FILE = REPO / ".local-run" / "function.log"
# How App Mesh goes away (tests/support/appmesh_gone.py's switches), DESIGN §9.
APPMESH_GONE = {
    "reset": "every connection reset before an answer",
    "refused": "every connection refused",
    "404": "every call answered by a 404 page without an App Mesh error code",
    "410": "every call answered by a 410 Gone page without an App Mesh error code",
    "access-denied": "every call denied by IAM (AccessDeniedException)",
    "no-sdk": "the SDK ships no appmesh client",
}


def _fake_aws_environment(endpoint_url: str, region: str) -> None:
    # The function's clients use boto3's standard configuration: pointing them at the emulator
    # is only environment, no code change.
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            # The log lines go to a file of their own (or, with --logs, to stderr).
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    os.environ.pop("AWS_PROFILE", None)


# A stack's ARN, as CloudFormation sends it: the run's region and stack come from it.
STACK_ID = re.compile(r"^arn:aws[\w-]*:cloudformation:[a-z0-9-]+:\d{12}:stack/[^/]+/.+$")
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
    if not STACK_ID.match(str(event["StackId"])):
        raise EventFileError(
            f"{path}: StackId is not a stack ARN "
            "(arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>, as CloudFormation sends)"
        )
    if not isinstance(event.get("ResourceProperties"), dict):
        state = "is not an object" if "ResourceProperties" in event else "is missing"
        raise EventFileError(
            f"{path}: ResourceProperties {state}: CloudFormation sends the resource's "
            "Properties there in every event (Create, Update and Delete), each scalar a string"
        )
    return event


def _check_run(events: list[tuple[Path, dict[str, Any]]]) -> None:
    """The events are of one stack, and an Update or Delete names the id it acts on: given, or
    returned by an earlier Create of the same logical id in this run (the run fills it in)."""
    stacks = list(dict.fromkeys(str(event["StackId"]).split("/")[1] for _, event in events))
    if len(stacks) > 1:
        raise EventFileError(
            f"{events[0][0]}: the events are of {len(stacks)} stacks ({', '.join(stacks)}): one "
            "run plays one stack (its region, the ids it holds); run each stack's events apart"
        )
    created: set[str] = set()
    for path, event in events:
        kind, logical = event["RequestType"], str(event["LogicalResourceId"])
        if kind == "Create":
            created.add(logical)
        elif not event.get("PhysicalResourceId") and logical not in created:
            article = "an" if kind == "Update" else "a"
            raise EventFileError(
                f"{path}: {article} {kind} without PhysicalResourceId: give the id the Create "
                f"returned, or put a Create of {logical} before it in the same run"
            )
        elif kind == "Delete" and not event.get("PhysicalResourceId"):
            created.discard(logical)  # the stack no longer holds it


def _region(events: list[tuple[Path, dict[str, Any]]]) -> str:
    """The region of the events' stack (the function runs where its stack is)."""
    return str(events[0][1]["StackId"]).split(":")[3]


def _print_response(
    name: str, body: dict[str, Any], logical_id: str, *, workshop: bool, note: str = ""
) -> None:
    print(f"\n{name}: {body['Status']}")
    if note:
        print(f"  ({note})")
    print(f"  PhysicalResourceId = {body['PhysicalResourceId']}")
    if body.get("Reason"):
        print(f"  Reason = {body['Reason']}")
    data = body.get("Data") or {}
    if workshop:
        for output, attribute in WORKSHOP_OUTPUTS.items():
            if attribute in data:
                print(f"{output} = {data[attribute]}")
    for key in sorted(data):
        print(f"  {logical_id}.{key} = {data[key]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 tasks.py local",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "events", nargs="*", type=Path, help="event files (default: the three in events/)"
    )
    parser.add_argument(
        "--migrate",
        action="store_true",
        help="App Mesh mode, then the switch to Service Connect and the cleanup Delete",
    )
    parser.add_argument(
        "--appmesh-gone",
        choices=list(APPMESH_GONE),
        metavar="MODE",
        help="App Mesh goes away after the last Create, as after its end of support: "
        + "; ".join(f"{mode}: {what}" for mode, what in APPMESH_GONE.items()),
    )
    parser.add_argument(
        "--appmesh-retired",
        choices=("auto", "true", "false"),
        help="with --appmesh-gone: the provider's AppMeshRetired once App Mesh is gone (the "
        "function redeployed with the parameter changed; before, APPMESH_RETIRED or auto)",
    )
    parser.add_argument(
        "--logs",
        action="store_true",
        help="the function's JSON log lines on stderr (default: into .local-run/function.log)",
    )
    args = parser.parse_args(argv)
    if args.appmesh_retired and not args.appmesh_gone:
        parser.error("--appmesh-retired applies once App Mesh is gone: give --appmesh-gone MODE")
    chosen = args.events or (MIGRATION_EVENTS if args.migrate else DEFAULT_EVENTS)
    try:
        events = [(path, _load_event(path)) for path in chosen]
        _check_run(events)
    except EventFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sys.path[:0] = [str(REPO / "handler"), str(REPO)]
    if args.migrate and not args.events:
        _print_fleet_plan()

    from tests.support.emulator import start_server

    # The emulator's per-request access log would bury the responses.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    region = _region(events)
    emulator = start_server()
    try:
        _fake_aws_environment(emulator.endpoint_url, region)
        with _gone_endpoint(args.appmesh_gone) as gone, _log_sink(args.logs) as sink:
            return _run(events, emulator.endpoint_url, region, gone, args, sink)
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


@contextlib.contextmanager
def _gone_endpoint(mode: str | None) -> Iterator[Any]:
    """With --appmesh-gone: every App Mesh client (the platform's, the function's) goes through
    the switchable endpoint from the start, so the function's cached client follows the switch."""
    if mode is None:
        yield None
        return
    from tests.support.appmesh_gone import appmesh_gone

    with appmesh_gone() as gone:
        yield gone


@contextlib.contextmanager
def _log_sink(to_stderr: bool) -> Iterator[TextIO]:
    if to_stderr:
        yield sys.stderr
        return
    LOG_FILE.parent.mkdir(exist_ok=True)
    with LOG_FILE.open("w", encoding="utf-8") as sink:
        yield sink


def _load_function(sink: TextIO, *, fresh: bool = False) -> Callable[..., Any]:
    """The Lambda handler, its log lines written to ``sink``; ``fresh``: a cold start (a new
    process reads its environment and builds its clients again)."""
    # Powertools' logger takes sys.stdout as its stream when it is built (at import): the
    # function's first line ("starting") is written then.
    with contextlib.redirect_stdout(sink):
        from meshed_crystal import app

        if fresh:
            app = importlib.reload(app)
    for name in (app.logger.name, "meshed_crystal", "crhelper", "botocore"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(sink)
    handler_function: Callable[..., Any] = app.lambda_handler
    return handler_function


def _switch_off_app_mesh(gone: Any, mode: str) -> None:
    if mode == "reset":
        gone.reset_connections()
    elif mode == "refused":
        gone.refuse_connections()
    elif mode in ("404", "410"):
        gone.answer_status(int(mode))
    elif mode == "access-denied":
        gone.access_denied()
    else:
        gone.no_sdk_service()


def _run(
    events: list[tuple[Path, dict[str, Any]]],
    endpoint_url: str,
    region: str,
    gone: Any,
    args: argparse.Namespace,
    sink: TextIO,
) -> int:
    gone_mode: str | None = args.appmesh_gone
    import boto3

    from tests.support import moto_cloudformation
    from tests.support.cfn_driver import CloudFormation, ResponseEndpoint
    from tests.support.platform import build_workshop_platform
    from tests.support.provision import provision_for

    session = boto3.Session(region_name=region)
    platform = build_workshop_platform(session)
    print(f"emulator: {endpoint_url} (moto server mode, loopback only), region {region}")
    account = str(events[0][1]["StackId"]).split(":")[4]
    if account != platform.account:
        print(
            f"  (the events' stack is in account {account}; the emulator has one account, "
            f"{platform.account}, which the function's ARNs name)"
        )
    _print_platform(platform)
    made = provision_for(session, platform, _all_properties(events))
    if made:
        print("what your events name and the workshop platform lacks (+ made, ! not made):")
        for line in made:
            print(f"  {line}")
    retired = os.environ.get("APPMESH_RETIRED", "auto")
    print(f"provider: AppMeshRetired = {retired} (environment APPMESH_RETIRED: auto, true, false)")
    handler = _load_function(sink)
    last_create = max(
        (i for i, (_, event) in enumerate(events) if event["RequestType"] == "Create"), default=-1
    )
    with ResponseEndpoint() as endpoint:
        cloudformation = CloudFormation(handler, endpoint, region=region)
        # The emulated CloudFormation knows the events' stack, as the tests' does: a Delete
        # asks it which id the stack holds (DESIGN §5.4).
        cloudformation.stack_id = str(events[0][1]["StackId"])
        cloudformation.stack_name = cloudformation.stack_id.split("/")[1]
        failed = 0
        with moto_cloudformation.serving(cloudformation):
            for index, (path, event) in enumerate(events):
                if gone is not None and gone_mode is not None and index == last_create + 1:
                    _switch_off_app_mesh(gone, gone_mode)
                    if args.appmesh_retired:
                        os.environ["APPMESH_RETIRED"] = args.appmesh_retired
                    print(
                        f"\nApp Mesh is gone now (--appmesh-gone {gone_mode}): "
                        f"{APPMESH_GONE[gone_mode]}; the function starts afresh with "
                        f"AppMeshRetired = {os.environ.get('APPMESH_RETIRED', 'auto')}"
                    )
                    cloudformation.handler = _load_function(sink, fresh=True)
                failed += _send(cloudformation, endpoint, path, event, gone)
    if sink is not sys.stderr:
        sink.flush()
        count = sum(1 for _ in LOG_FILE.open(encoding="utf-8"))
        shown = LOG_FILE.relative_to(REPO)
        print(f"\nfunction log: {count} JSON lines in {shown} (--logs: on stderr instead)")
    return 1 if failed else 0


def _all_properties(events: list[tuple[Path, dict[str, Any]]]) -> Iterator[Any]:
    for _, event in events:
        yield event["ResourceProperties"]
        if isinstance(event.get("OldResourceProperties"), dict):
            yield event["OldResourceProperties"]


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


def _state(gone: Any) -> dict[str, set[str]]:
    """What the resource can create, read from the emulator as an operator would (App Mesh
    read directly, also while it is gone for the function)."""
    with gone.bypassed() if gone is not None else contextlib.nullcontext():
        return _read_state()


def _read_state() -> dict[str, set[str]]:
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


def _send(cloudformation: Any, endpoint: Any, path: Path, event: dict[str, Any], gone: Any) -> int:
    """Send one event; 1 if its response is FAILED."""
    before = _state(gone)
    logical = str(event["LogicalResourceId"])
    filled = []
    if event["RequestType"] != "Create" and not event.get("PhysicalResourceId"):
        event["PhysicalResourceId"] = cloudformation.physical_id(logical)
        filled.append("PhysicalResourceId")
    if event["RequestType"] == "Update" and "OldResourceProperties" not in event:
        with contextlib.suppress(KeyError):
            event["OldResourceProperties"] = cloudformation.properties(logical)
            filled.append("OldResourceProperties")
    # The presigned S3 URL of a saved event points at AWS; answer locally instead.
    event["ResponseURL"] = endpoint.response_url(
        str(event.get("StackId")), logical, str(event.get("RequestId"))
    )
    body = cloudformation.invoke(event, remaining_ms=600_000)
    workshop = path.resolve() in WORKSHOP_EVENTS
    note = f"{' and '.join(filled)}: not in the file, so what the stack holds" if filled else ""
    name = f"{event.get('RequestType')} ({path.name})"
    _print_response(name, body, logical, workshop=workshop, note=note)
    _print_changes(before, _state(gone))
    return int(body["Status"] != "SUCCESS")


if __name__ == "__main__":
    sys.exit(main())
