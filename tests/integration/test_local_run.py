"""`python3 tasks.py local`: the README's first command, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
