"""A third mode is a package under ``modes/`` plus one line in the registry, and nothing else.

The mode here is trivial: ``Mode: TaskOnly`` registers the application's task definition in a
family of its own (``<application family>-task``) and returns the revision; it writes nothing
else. The package is copied (scripts/without_mode.py ``copy_package``) with this mode added and
registered; the copy differs from ``handler/`` by that folder and that line only. A fresh
interpreter with the copy first on the path then runs the deployed entry point against the
emulator: Create, a redelivered Create, an Update, a Delete, and the lint rules' view of it.
"""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import meshed_crystal

from scripts.without_mode import copy_package

REPO = Path(__file__).resolve().parents[2]
# The package under test: handler/'s, or a copy (tasks.py test --without-mode appmesh).
PACKAGE = Path(meshed_crystal.__file__).parent

SPEC = '''"""``Mode: TaskOnly``: the application's task definition, in a family of its own."""

from __future__ import annotations

from typing import Any

from meshed_crystal.registry import Adapters, ModeSpec


def _build(settings: Any, adapters: Adapters) -> Any:
    from . import mode

    return mode.TaskOnly(adapters)


SPEC = ModeSpec(
    name="TaskOnly",
    properties=("TaskDefinition", "Family", "AppContainerName", "Tags"),
    attributes=("Mode", "TaskDefinitionArn", "TaskDefinitionFamily", "TaskDefinitionRevision"),
    adapters=("ecs", "tagging"),
    id_prefix="meshed-crystal-task:",
    settings=lambda environ: None,
    build=_build,
)
'''

MODE = '''"""What ``Mode: TaskOnly`` reads, derives and registers: one revision, nothing else."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, NamedTuple

from meshed_crystal.adapters.ecs import Ecs
from meshed_crystal.adapters.tagging import Tagging
from meshed_crystal.ecs import model
from meshed_crystal.ecs.taskdef import app_container, check_ecs_rules, derived_family
from meshed_crystal.identity import PREFIX, Revision, tag_value
from meshed_crystal.mode import Chosen, Request, Result, Undo, ecs_tags, read_base
from meshed_crystal.mode import revisions_in_ecs
from meshed_crystal.properties import Properties
from meshed_crystal.registry import Adapters

TAG_DIGEST = f"{PREFIX}:digest"


class TaskOnlyId(NamedTuple):
    account: str
    logical_id: str
    stack: str

    def __str__(self) -> str:
        return f"{PREFIX}-task:{self.account}:{self.logical_id}:{self.stack}"

    def revision_holder(self) -> str:
        return tag_value(f"task-only/{self}")


class Plan(NamedTuple):
    id: TaskOnlyId
    task_definition: dict[str, Any]
    digest: str
    held: list[Revision]

    @property
    def physical_id(self) -> str:
        return str(self.id)


class NothingElse:
    reads: tuple[Future[Any] | None, ...] = ()

    def revisions(self) -> set[str] | None:
        return set()

    def finish(self) -> None:
        pass


class TaskOnly:
    shorten = "Family (or the application's family)"

    def __init__(self, adapters: Adapters) -> None:
        self.ecs = adapters.get("ecs", Ecs)
        self.tagging = adapters.get("tagging", Tagging)

    def parse_id(self, text: str | None) -> TaskOnlyId | None:
        parts = (text or "").split(":")
        if len(parts) != 4 or parts[0] != f"{PREFIX}-task":
            return None
        return TaskOnlyId(parts[1], parts[2], parts[3])

    def unchanged(self, request: Request, props: Properties, me: TaskOnlyId) -> Result | None:
        return None

    def prepare(self, request: Request, props: Properties) -> Plan:
        me = TaskOnlyId(request.account, request.logical_id, request.stack_id.rsplit("/")[-1])
        base = read_base(self.ecs, props)
        app_container(base, props)
        found = revisions_in_ecs(self.tagging, self.ecs, request.owner, me.revision_holder())
        held = []
        for arn, tags in found.items():
            family, _, number = arn.split("/")[-1].rpartition(":")
            held.append(Revision(family, int(number), tags.get(TAG_DIGEST, "")))
        held.sort(key=lambda r: r.number, reverse=True)
        inline = not isinstance(props.task_definition, str)
        content = dict(base)
        content["family"] = derived_family(props, str(base["family"]), inline, suffix="-task")
        base_tags = {t["key"]: t["value"] for t in base.get("tags") or []}
        owner_tags = request.owner.revision_tags(me.revision_holder())
        content["tags"] = ecs_tags(base_tags, dict(props.tags), owner_tags)
        check_ecs_rules(content)
        digest = model.digest(content)
        content["tags"] = [*content["tags"], *ecs_tags({TAG_DIGEST: digest})]
        return Plan(me, content, digest, held)

    def claim(self, request: Request, plan: Plan) -> None:
        pass

    def write(self, request: Request, plan: Plan, chosen: Chosen, undo: Undo) -> Chosen:
        return chosen

    def data(self, request: Request, plan: Plan, revision: Revision) -> dict[str, str]:
        return {
            "Mode": "TaskOnly",
            "TaskDefinitionArn": request.arn(revision),
            "TaskDefinitionFamily": revision.family,
            "TaskDefinitionRevision": str(revision.number),
        }

    def start_delete(self, request: Request, me: TaskOnlyId) -> NothingElse:
        return NothingElse()
'''

# The child: the emulator and the platform, then the entry point of the copy; each event's
# answer and the task-only family's ACTIVE revisions after it, as JSON lines.
CHILD = """
import json, sys
import boto3
from moto import mock_aws
from tests.support import moto_appmesh, moto_cloudformation, moto_ecs_rules, moto_service_connect
from tests.support.cfn_driver import CloudFormation, ResponseEndpoint
from tests.support.platform import build_workshop_platform

moto_appmesh.install(); moto_service_connect.install(); moto_ecs_rules.install()
with mock_aws(), ResponseEndpoint() as endpoint:
    platform = build_workshop_platform(boto3.Session(region_name="us-east-1"))
    from meshed_crystal import app, registry
    print("RESULT", json.dumps({"modes": list(registry.names()), "file": registry.__file__}))
    props = {"Mode": "TaskOnly", "TaskDefinition": platform.app_task_definition_arn}
    tagged = {**props, "Tags": [{"Key": "team", "Value": "crystal"}]}
    other = {**props, "Family": "other-task"}
    ecs = boto3.client("ecs", region_name="us-east-1")

    def revisions():
        listed = ecs.list_task_definitions(familyPrefix="ecsdemo-crystal-task", status="ACTIVE")
        return sorted(listed["taskDefinitionArns"])

    with moto_cloudformation.serving(CloudFormation(app.lambda_handler, endpoint)) as cfn:
        cfn.grace_s = 0.2
        for name, send in (
            ("create", lambda: cfn.create("Crystal", props)),
            ("again", lambda: cfn.create("Crystal", props)),
            ("update", lambda: cfn.update("Crystal", tagged)),
            ("inert", lambda: cfn.create("Other", {**other, "ServiceConnect": {"PortName": "p"}})),
            ("delete", lambda: cfn.delete("Crystal")),
        ):
            body = send()
            print("RESULT", json.dumps({"event": name, "body": body, "revisions": revisions()}))
"""


def run_child(package: Path) -> list[dict[str, Any]]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(package), str(REPO)]),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop("AWS_PROFILE", None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    return [
        json.loads(line.removeprefix("RESULT ")) for line in lines if line.startswith("RESULT ")
    ]


def differences(left: Path, right: Path) -> list[str]:
    """Files that differ or exist on one side only (caches aside), relative to the roots."""
    found: list[str] = []

    def walk(compared: filecmp.dircmp[str], prefix: str) -> None:
        skip = {"__pycache__"}
        found.extend(prefix + n for n in compared.left_only + compared.right_only if n not in skip)
        found.extend(prefix + n for n in compared.diff_files)
        for name, sub in compared.subdirs.items():
            if name not in skip:
                walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(left, right), "")
    return sorted(found)


def test_a_third_mode_is_a_folder_and_a_registry_line(tmp_path: Path) -> None:
    # Given the package with a third mode added beside the others
    package = copy_package(
        tmp_path / "handler",
        add={"task_only": {"__init__.py": SPEC, "mode.py": MODE}},
        source=PACKAGE,
    )
    # Then nothing but its folder and the registry changed
    assert differences(PACKAGE, package / "meshed_crystal") == [
        "modes/task_only",
        "registry.py",
    ]
    # When CloudFormation sends its events through the deployed entry point
    lines = run_child(package)
    assert lines[0]["modes"][0] == "TaskOnly"
    assert lines[0]["file"].startswith(str(package))
    events = {line["event"]: line for line in lines[1:]}
    # Then the Create registers one revision in the mode's own family and returns it
    created = events["create"]["body"]
    assert created["Status"] == "SUCCESS", created.get("Reason")
    assert created["PhysicalResourceId"].startswith("meshed-crystal-task:123456789012:Crystal:")
    data = created["Data"]
    assert sorted(data) == [
        "Mode",
        "TaskDefinitionArn",
        "TaskDefinitionFamily",
        "TaskDefinitionRevision",
    ]
    assert (data["Mode"], data["TaskDefinitionFamily"]) == ("TaskOnly", "ecsdemo-crystal-task")
    assert events["create"]["revisions"] == [data["TaskDefinitionArn"]]
    # The lifecycle's rules hold for it unchanged: a redelivered Create reuses the revision
    assert events["again"]["body"]["Data"] == data
    assert events["again"]["revisions"] == [data["TaskDefinitionArn"]]
    # An Update registers a new revision and keeps the previous one ACTIVE (rollback)
    updated = events["update"]["body"]
    assert updated["Status"] == "SUCCESS", updated.get("Reason")
    assert updated["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert updated["Data"]["TaskDefinitionRevision"] == "2"
    assert events["update"]["revisions"] == sorted(
        [data["TaskDefinitionArn"], updated["Data"]["TaskDefinitionArn"]]
    )
    # Other modes' properties are validated and inert in it, as in Service Connect mode
    inert = events["inert"]["body"]
    assert inert["Status"] == "SUCCESS", inert.get("Reason")
    assert inert["Data"]["TaskDefinitionFamily"] == "other-task"
    # And a Delete finds its revisions from ECS and deregisters them
    assert events["delete"]["body"]["Status"] == "SUCCESS"
    assert events["delete"]["revisions"] == []


def test_the_lint_rules_know_a_third_mode_from_its_spec(tmp_path: Path) -> None:
    package = copy_package(
        tmp_path / "handler",
        add={"task_only": {"__init__.py": SPEC, "mode.py": MODE}},
        source=PACKAGE,
    )
    # The copy's package is loaded first (the rules then add handler/ to the path: unused).
    check = (
        "import sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(1, 'lint');"
        "import meshed_crystal.registry, meshed_crystal_rules as r, json;"
        "print(json.dumps({'attributes': sorted(r.ATTRIBUTES['TaskOnly']),"
        " 'problem': r._attribute_problem('Crystal', 'PortName', 'TaskOnly'),"
        " 'mistakes': r.check_properties({'Mode': 'TaskOnly', 'TaskDefinition': 'app',"
        " 'Famly': 'x'})}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", check, str(package)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["attributes"] == [
        "Mode",
        "TaskDefinitionArn",
        "TaskDefinitionFamily",
        "TaskDefinitionRevision",
    ]
    assert (
        "returns no PortName in TaskOnly mode (an attribute of ServiceConnect mode)"
        in (found["problem"])
    )
    assert [path for path, _ in found["mistakes"]] == [["Famly"]]
