"""The cfn-lint rules shipped in lint/ (``cfn-lint --append-rules lint/``): run as a user runs them,
and their attribute lists held to what the resource really returns."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.integration.lifecycle import LOGICAL, fast, ok, workshop
from tests.integration.test_template import ROOT, tool
from tests.support.cfn_driver import CloudFormation
from tests.support.platform import Platform
from tests.unit.test_lint_properties import rules_module

BAD = ROOT / "tests" / "data" / "lint-bad.yaml"
PAYMENTS = ROOT / "tests" / "data" / "lint-payments.yaml"
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
    # Only the warnings the switched example earns: it keeps its App Mesh properties so that
    # the switch is the one line `Mode: ServiceConnect` (README), each one inert
    assert result.returncode == 4, result.stdout + result.stderr  # cfn-lint: warnings only
    assert [rule for rule, _ in findings(result.stdout)] == ["W9103", "W9103"]
    example = str(ROOT / "examples" / "crystal-service-connect.yaml")
    assert all(line.startswith(f"{example}:") for line in result.stdout.splitlines())
    assert "Crystal: MeshName is inert in ServiceConnect mode" in result.stdout
    assert "Crystal: CloudMapAttributes is inert in ServiceConnect mode" in result.stdout


def test_attribute_lists_are_what_the_resource_returns(
    cfn: CloudFormation, platform: Platform
) -> None:
    attributes = rules_module().ATTRIBUTES
    app_mesh = ok(fast(cfn).create(LOGICAL, workshop(platform)))
    connected = ok(fast(cfn).create("Connected", workshop(platform, Mode="ServiceConnect")))
    assert set(app_mesh) == attributes["AppMesh"]
    assert set(connected) == attributes["ServiceConnect"]


def marked(template: Path) -> list[tuple[str, int]]:
    return [
        (marker[1], number)
        for number, text in enumerate(template.read_text(encoding="utf-8").splitlines(), start=1)
        if (marker := re.search(r"# ([EW]9\d{3}):", text))
    ]


def test_what_the_task_definition_and_the_mode_show_is_found_in_a_users_template() -> None:
    # Not the workshop: a payments API whose task definition is an AWS::ECS::TaskDefinition of
    # the same template, a Service Connect nodejs with an inline one, and a third in ECS
    expected = marked(PAYMENTS)
    assert len(expected) == 11
    result = lint(PAYMENTS)
    assert result.returncode == 6  # cfn-lint: errors (2) and warnings (4)
    assert sorted(findings(result.stdout)) == sorted(expected), result.stdout + result.stderr


def test_the_task_definitions_rules_run_by_the_functions_code() -> None:
    output = lint(PAYMENTS).stdout
    assert (
        "Payments: Listeners[0].Port: '9090' is not a port the app container maps (it maps 8080)"
    ) in output
    assert (
        "Payments: CloudMapAttributes.ECS_TASK_DEFINITION_FAMILY: 'payments-api' is not the "
        "family this resource registers its tasks' revisions in ('payments-api-mesh')"
    ) in output
    assert "Nodejs: TaskDefinition: has no task-level memory" in output
    # YAML's unquoted yes arrives as "true", as the deployed resource would say
    assert "Ledger: Mode: 'true' is not one of AppMesh, ServiceConnect" in output
    # ApiImage has no value in the template: nothing is said about the image
    assert "image" not in output.lower()


def test_inert_properties_are_warnings_naming_the_way() -> None:
    output = lint(PAYMENTS).stdout
    assert "W9103:Custom::MeshedCrystal Payments: ServiceConnect is inert in AppMesh mode" in output
    assert "W9103:Custom::MeshedCrystal Nodejs: MeshName is inert in ServiceConnect mode" in output
    assert (
        "Nodejs: Listeners[0].HealthCheck is inert in ServiceConnect mode: Service Connect has no "
        "listener health check"
    ) in output


def test_an_attribute_of_the_other_mode_says_how_to_fix_it() -> None:
    output = lint(PAYMENTS).stdout
    lines = {int(line.split(":")[1]): line for line in output.splitlines() if ":E9102:" in line}
    expected = dict((number, rule) for rule, number in marked(PAYMENTS) if rule == "E9102")
    assert sorted(lines) == sorted(expected)
    policy, exported, service, endpoint = (lines[n] for n in sorted(lines))
    assert "remove this statement: it is the Envoy policy (appmesh:StreamAggregatedResources" in (
        policy
    )
    assert "this output is exported: change the stacks that import it (Fn::ImportValue) first" in (
        exported
    )
    assert "read ClientAliasDnsName or Endpoint (what clients call) instead" in service
    assert all("docs/migration.md" in line for line in (policy, exported, service))
    assert "it exists once Payments has Mode: ServiceConnect" in endpoint


def test_tasks_py_lint_runs_cfn_lint_with_the_rules() -> None:
    done = subprocess.run(
        [sys.executable, "tasks.py", "lint", str(PAYMENTS), "--format", "parseable"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 6
    assert sorted(findings(done.stdout.split("\n", 1)[1])) == sorted(marked(PAYMENTS))
    usage = subprocess.run(
        [sys.executable, "tasks.py", "lint"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert usage.returncode == 2
    assert usage.stdout == "usage: python3 tasks.py lint TEMPLATE... [cfn-lint options]\n"
