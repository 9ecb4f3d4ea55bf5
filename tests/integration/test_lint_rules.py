"""The cfn-lint rules shipped in lint/ (``cfn-lint --append-rules lint/``): run as a user runs them,
and their attribute lists held to what the resource really returns."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.integration.lifecycle import LOGICAL, fast, ok, workshop
from tests.integration.test_template import ROOT, tool
from tests.support.cfn_driver import CloudFormation
from tests.support.platform import Platform
from tests.unit.test_lint_properties import rules_module

BAD = ROOT / "tests" / "data" / "lint-bad.yaml"
RULES = ROOT / "lint"


def lint(*templates: Path) -> subprocess.CompletedProcess[str]:
    # --append-rules takes several folders: `--` ends them before the templates.
    return subprocess.run(
        [
            tool("cfn-lint"),
            "--append-rules",
            str(RULES),
            "--format",
            "parseable",
            "--",
            *map(str, templates),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def findings(output: str) -> list[tuple[str, int]]:
    """(rule id, line) of each finding in cfn-lint's parseable format."""
    found = []
    for line in output.splitlines():
        fields = line.split(":", 5)
        assert len(fields) == 6, line
        found.append((fields[5].split(":", 1)[0], int(fields[1])))
    return found


def test_bad_template_gives_exactly_the_marked_findings() -> None:
    expected = [
        (marker[1], number)
        for number, text in enumerate(BAD.read_text(encoding="utf-8").splitlines(), start=1)
        if (marker := re.search(r"# (E9\d{3}):", text))
    ]
    assert len(expected) == 5  # typo, port, Mode, GetAtt of the other mode, unknown attribute
    result = lint(BAD)
    assert result.returncode != 0
    assert sorted(findings(result.stdout)) == sorted(expected), result.stdout + result.stderr


def test_bad_template_messages_name_the_path_and_the_rule() -> None:
    output = lint(BAD).stdout
    assert "Crystal: AppContainerNmae: unknown property (did you mean AppContainerName?)" in output
    assert "Crystal: Listeners[0].Port: '70000' is not a port (1-65535)" in output
    assert "Frontend: Mode: 'ServiceConect' is not one of AppMesh, ServiceConnect" in output
    assert "Nodejs returns no VirtualNodeArn in ServiceConnect mode" in output
    assert "Crystal has no attribute Colour" in output


def test_the_templates_and_examples_lint_clean_with_the_rules() -> None:
    templates = [ROOT / "template.yaml", *sorted((ROOT / "examples").glob("*.yaml"))]
    result = lint(*templates)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_attribute_lists_are_what_the_resource_returns(
    cfn: CloudFormation, platform: Platform
) -> None:
    attributes = rules_module().ATTRIBUTES
    app_mesh = ok(fast(cfn).create(LOGICAL, workshop(platform)))
    connected = ok(fast(cfn).create("Connected", workshop(platform, Mode="ServiceConnect")))
    assert set(app_mesh) == attributes["AppMesh"]
    assert set(connected) == attributes["ServiceConnect"]
