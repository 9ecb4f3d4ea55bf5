"""`python3 tasks.py local`: the README's first command, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "local_run.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
    )


@pytest.mark.slow
def test_the_migration_runs_locally_with_every_response_success() -> None:
    done = run("--migrate")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    # First the plan of the workshop's whole fleet (python3 tasks.py migrate)
    assert "The workshop's fleet: python3 tasks.py migrate " in out
    plan = [line.split()[:2] for line in out.splitlines()[1:6]]
    assert plan == [
        ["n", "action"],
        ["1", "switch"],
        ["2", "switch"],
        ["3", "switch"],
        ["4", "redeploy"],
    ]
    assert "Update (switch-to-service-connect.json): SUCCESS" in out
    assert "PhysicalResourceId = meshed-crystal-sc:123456789012:Crystal:" in out
    assert "ClientAliasDnsName = ecsdemo-crystal.service.local" in out
    assert "Delete (delete-app-mesh-id.json): SUCCESS" in out
    assert "FAILED" not in out
    # What each invocation created or removed, one line each, and the platform's ids
    assert "  + virtual node created: ecs-mesh/ecsdemo-crystal" in out
    assert "  + revision registered: arn:aws:ecs:us-east-1:123456789012:task-definition/" in out
    assert "  - virtual service deleted: ecs-mesh/ecsdemo-crystal.service.local" in out
    assert "  CloudMapServiceArn = arn:aws:servicediscovery:" in out


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "no such file"),
        ("{", "not JSON (line 1"),
        ("[]", "not a CloudFormation event"),
        ('{"RequestType": "Create"}', "missing ResponseURL, StackId, RequestId"),
    ],
    ids=["missing", "not JSON", "not an object", "no CloudFormation fields"],
)
def test_a_bad_event_file_gives_one_line_naming_it(
    tmp_path: Path, content: str | None, says: str
) -> None:
    path = tmp_path / "event.json"
    if content is not None:
        path.write_text(content)
    done = run(str(path))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: {path}: ")
    assert says in lines[0]
    assert "Traceback" not in done.stderr


# -- a user's own service (not the workshop's crystal) -------------------------------------------

LOCAL_EVENTS = REPO / "tests" / "data" / "local-events"
PAYMENTS = [str(LOCAL_EVENTS / f"payments-{kind}.json") for kind in ("create", "update", "delete")]
PAYMENTS_CREATE_DELETE = [PAYMENTS[0], PAYMENTS[2]]
NODEJS = [str(LOCAL_EVENTS / f"nodejs-{kind}.json") for kind in ("create", "delete")]
PAYMENTS_VS = "payments-mesh/payments.payments.internal"


def run_env(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
        env={**{k: v for k, v in os.environ.items() if k != "APPMESH_RETIRED"}, **env},
    )


def no_json_lines(text: str) -> bool:
    return not any(line.lstrip().startswith('{"level"') for line in text.splitlines())


@pytest.mark.slow
def test_a_users_own_service_is_made_in_the_emulator_and_labelled_with_its_logical_id() -> None:
    done = run(*PAYMENTS)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    # The events' region (eu-west-1, from StackId), and what they name that the platform lacks
    assert "region eu-west-1" in out
    made = out.split(
        "what your events name and the workshop platform lacks (+ made, ! not made):\n"
    )[1]
    mesh, namespace, service, task_definition = made.splitlines()[:4]
    assert mesh == "  + App Mesh mesh payments-mesh"
    assert namespace.startswith("  + Cloud Map namespace payments.internal (private DNS, ns-")
    assert service.startswith(
        "  + Cloud Map service payments in payments.internal: "
        "arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-"
    )
    assert task_definition == (
        "  + task definition arn:aws:ecs:eu-west-1:123456789012:task-definition/payments:3: "
        "a minimal application, container api (public.ecr.aws/docker/library/busybox:stable) "
        "on port 8080, the platform's task and execution roles"
    )
    assert made.splitlines()[4].startswith("provider: ")  # each made once, for three events
    # Outputs by logical id, not the workshop's export names
    assert (
        "  Payments.VirtualServiceArn = arn:aws:appmesh:eu-west-1:123456789012:mesh/payments-mesh/"
        "virtualService/payments.payments.internal"
    ) in out
    assert (
        "  Payments.TaskDefinitionArn = "
        "arn:aws:ecs:eu-west-1:123456789012:task-definition/payments-mesh:1"
    ) in out
    assert "MeshCrystalVS" not in out
    assert "Update (payments-update.json): SUCCESS" in out
    assert "Delete (payments-delete.json): SUCCESS" in out
    # The Update and Delete files carry no PhysicalResourceId: the stack's, said so
    assert out.count("(PhysicalResourceId: not in the file, so what the stack holds)") == 2
    assert f"  - virtual service deleted: {PAYMENTS_VS}" in out
    # The function's JSON lines are in their file, not among these lines
    assert no_json_lines(out)
    assert no_json_lines(done.stderr)
    log = REPO / ".local-run" / "function.log"
    assert "function log: " in out
    assert f"JSON lines in {log.relative_to(REPO)}" in out
    assert '"message":"MeshedCrystal function starting"' in log.read_text()


@pytest.mark.slow
def test_a_service_connect_service_by_task_definition_arn_and_namespace_name() -> None:
    done = run(*NODEJS)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "  + Cloud Map service ecsdemo-nodejs in service.local: arn:aws:" in out
    assert "  + Cloud Map namespace apps.local (HTTP, for Service Connect, ns-" in out
    # Revision 2 of a new family: made as the second registration, so the ARN resolves
    assert (
        "  + task definition arn:aws:ecs:us-east-1:123456789012:task-definition/ecsdemo-nodejs:2: "
        "a minimal application, container app (public.ecr.aws/docker/library/busybox:stable) on "
        "port 3000"
    ) in out
    assert "  Nodejs.Endpoint = http://ecsdemo-nodejs.apps.local:3000" in out
    assert "  Nodejs.PortName = app-3000" in out
    # The workshop's crystal is in the platform, untouched: the service.local namespace is reused
    assert "Cloud Map namespace service.local" not in out


@pytest.mark.slow
def test_logs_puts_the_json_lines_on_stderr() -> None:
    done = run("--logs", *NODEJS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert no_json_lines(done.stdout)
    assert '"message":"MeshedCrystal function starting"' in done.stderr
    assert "function log:" not in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["reset", "refused", "404", "410", "no-sdk"])
def test_app_mesh_gone_after_the_creates_the_delete_cleans_ecs_and_succeeds(mode: str) -> None:
    done = run("--appmesh-gone", mode, *PAYMENTS_CREATE_DELETE)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    create, rest = out.split(f"\nApp Mesh is gone now (--appmesh-gone {mode}): ")
    assert "Create (payments-create.json): SUCCESS" in create
    assert f"  + virtual service created: {PAYMENTS_VS}" in create
    assert "the function starts afresh with AppMeshRetired = auto" in rest
    assert "Delete (payments-delete.json): SUCCESS" in rest
    assert "  - revision deregistered: arn:aws:ecs:eu-west-1:123456789012:task-definition/" in rest
    # App Mesh did not answer: what it holds is left (the WARNING in the log names it)
    assert "virtual service deleted" not in rest
    log = (REPO / ".local-run" / "function.log").read_text()
    assert '"level":"WARNING"' in log


@pytest.mark.slow
def test_access_denied_fails_the_delete_unless_app_mesh_is_declared_retired() -> None:
    denied = run("--appmesh-gone", "access-denied", *PAYMENTS_CREATE_DELETE)
    assert denied.returncode == 1
    assert "Delete (payments-delete.json): FAILED" in denied.stdout
    assert "set the provider's AppMeshRetired parameter to true" in denied.stdout

    retired = run(
        "--appmesh-gone", "access-denied", "--appmesh-retired", "true", *PAYMENTS_CREATE_DELETE
    )
    assert retired.returncode == 0, retired.stdout + retired.stderr
    assert "the function starts afresh with AppMeshRetired = true" in retired.stdout
    assert "Delete (payments-delete.json): SUCCESS" in retired.stdout


@pytest.mark.slow
def test_appmesh_retired_from_the_environment_is_the_providers_setting() -> None:
    # false: every App Mesh error but not-found fails, a 410 page too (DESIGN §9)
    done = run_env("--appmesh-gone", "410", *PAYMENTS_CREATE_DELETE, APPMESH_RETIRED="false")
    assert done.returncode == 1
    assert "provider: AppMeshRetired = false (environment APPMESH_RETIRED" in done.stdout
    assert "Create (payments-create.json): SUCCESS" in done.stdout
    assert "Delete (payments-delete.json): FAILED" in done.stdout


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            lambda e: e.pop("ResourceProperties"),
            "ResourceProperties is missing: CloudFormation sends the resource's Properties there",
        ),
        (
            lambda e: e.update(ResourceProperties="MeshName=payments-mesh"),
            "ResourceProperties is not an object",
        ),
        (
            lambda e: e.update(StackId="payments-stack"),
            "StackId is not a stack ARN (arn:aws:cloudformation:<region>:<account>:stack/",
        ),
        (
            lambda e: e.update(RequestType="Update"),
            "an Update without PhysicalResourceId: give the id the Create returned, or put a "
            "Create of Payments before it in the same run",
        ),
    ],
    ids=[
        "no ResourceProperties",
        "not an object",
        "StackId not an ARN",
        "Update without PhysicalResourceId",
    ],
)
def test_an_event_the_run_cannot_send_is_one_line_before_the_platform_starts(
    tmp_path: Path, change: Any, says: str
) -> None:
    event = json.loads(Path(PAYMENTS[0]).read_text())
    change(event)
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    done = run(str(path))
    assert done.returncode == 2
    assert done.stdout == ""  # no emulator, no platform
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"error: {path}: {says}")


def test_a_delete_then_an_update_without_id_is_refused_before_the_platform(tmp_path: Path) -> None:
    # After the run's Delete, the stack holds no Payments: the Update has no id to take
    done = run(PAYMENTS[0], PAYMENTS[2], PAYMENTS[1])
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"error: {PAYMENTS[1]}: an Update without PhysicalResourceId: give the id the Create "
        "returned, or put a Create of Payments before it in the same run\n"
    )


def test_appmesh_retired_needs_appmesh_gone() -> None:
    done = run("--appmesh-retired", "true")
    assert done.returncode == 2
    assert "--appmesh-retired applies once App Mesh is gone: give --appmesh-gone MODE" in (
        done.stderr
    )


@pytest.mark.slow
def test_what_the_run_cannot_make_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    event = json.loads(Path(PAYMENTS[0]).read_text())
    properties = event["ResourceProperties"]
    del properties["CloudMapNamespaceName"], properties["CloudMapServiceName"]
    properties["CloudMapServiceArn"] = (
        "arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-payments01"
    )
    path = tmp_path / "create.json"
    path.write_text(json.dumps(event))
    done = run(str(path))
    assert done.returncode == 1  # the Create fails as in AWS: the service does not exist
    assert (
        "  ! Cloud Map service srv-payments01 (CloudMapServiceArn) is not in the emulator, and "
        "only Cloud Map knows its names: give CloudMapNamespaceName and CloudMapServiceName in "
        "your local events instead"
    ) in done.stdout
    assert "  + App Mesh mesh payments-mesh" in done.stdout
    assert "Create (create.json): FAILED" in done.stdout


def test_events_of_two_stacks_are_one_line_before_the_platform() -> None:
    done = run(NODEJS[0], PAYMENTS[0])
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"error: {NODEJS[0]}: the events are of 2 stacks (nodejs-stack, payments-stack): one run "
        "plays one stack (its region, the ids it holds); run each stack's events apart\n"
    )
