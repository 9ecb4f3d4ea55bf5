"""The cfn-lint rules shipped in lint/ (``cfn-lint --append-rules lint/``): run as a user runs them,
and their attribute lists held to what the resource really returns."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.integration.lifecycle import LOGICAL, fast, ok, workshop
from tests.integration.test_template import ROOT, tool
from tests.support.cfn_driver import CloudFormation
from tests.support.platform import Platform

BAD = ROOT / "tests" / "data" / "lint-bad.yaml"
RULES = ROOT / "lint"


def rules_module() -> ModuleType:
    """lint/meshed_crystal_rules.py, imported the way cfn-lint imports it (from its file)."""
    spec = importlib.util.spec_from_file_location(
        "meshed_crystal_rules", RULES / "meshed_crystal_rules.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        # Intrinsics wherever a value arrives at deploy time: a port, a threshold, two proxy
        # ports that must differ, ARNs, a list.
        (
            {
                "MeshName": {"Ref": "Mesh"},
                "CloudMapServiceArn": {"Fn::GetAtt": ["Discovery", "Arn"]},
                "TaskDefinition": {"Ref": "AppTaskDefinition"},
                "Backends": {"Fn::Split": [",", {"Ref": "Backends"}]},
                "Listeners": [
                    {"Port": {"Ref": "Port"}, "HealthCheck": {"HealthyThreshold": {"Ref": "H"}}}
                ],
                "Proxy": {"ProxyIngressPort": {"Ref": "In"}, "ProxyEgressPort": {"Ref": "Out"}},
                "ServiceToken": {"Fn::ImportValue": "MeshedCrystalServiceToken"},
            },
            [],
        ),
        # An inline task definition with intrinsics inside, and a mistake beside them.
        (
            {
                "MeshName": "ecs-mesh",
                "CloudMapNamespaceName": "service.local",
                "CloudMapServiceName": "ecsdemo-crystal",
                "TaskDefinition": {
                    "Cpu": {"Ref": "Cpu"},
                    "ContainerDefinitions": [
                        {"Name": "app", "Image": {"Ref": "Image"}, "Bogus": "1"},
                    ],
                },
            },
            [(("TaskDefinition", "ContainerDefinitions", 0, "Bogus"), "unknown property")],
        ),
        # A misspelt required property is reported once, not again as missing.
        (
            {
                "MeshName": "ecs-mesh",
                "CloudMapNamespaceName": "service.local",
                "CloudMapServiceName": "ecsdemo-crystal",
                "TaskDefinitoin": "ecsdemo-crystal",
            },
            [(("TaskDefinitoin",), "unknown property (did you mean TaskDefinition?)")],
        ),
        # Every mistake, each at its path.
        (
            {
                "MeshName": "ecs-mesh",
                "CloudMapNamespaceName": "service.local",
                "CloudMapServiceName": "ecsdemo-crystal",
                "TaskDefinition": "ecsdemo-crystal",
                "Listeners": [{"Port": "0"}, {"Port": "3000", "Protocol": "udp"}],
                "Envoy": {"LogLevel": "loud"},
            },
            [
                (("Listeners", 0, "Port"), "'0' is not a port (1-65535)"),
                (("Listeners", 1, "Protocol"), "'udp' is not one of http, http2, grpc, tcp"),
                (
                    ("Envoy", "LogLevel"),
                    "'loud' is not one of trace, debug, info, warn, warning, error, critical, off",
                ),
            ],
        ),
        # !Ref AWS::NoValue removes the property; Mode from a parameter is not guessed.
        (
            {
                "Mode": {"Ref": "Mode"},
                "MeshName": "ecs-mesh",
                "CloudMapNamespaceName": "service.local",
                "CloudMapServiceName": "ecsdemo-crystal",
                "TaskDefinition": "ecsdemo-crystal",
                "XRay": {"Ref": "AWS::NoValue"},
            },
            [],
        ),
    ],
)
def test_check_properties(properties: dict[str, Any], expected: list[Any]) -> None:
    assert rules_module().check_properties(properties) == expected


def test_attribute_lists_are_what_the_resource_returns(
    cfn: CloudFormation, platform: Platform
) -> None:
    attributes = rules_module().ATTRIBUTES
    app_mesh = ok(fast(cfn).create(LOGICAL, workshop(platform)))
    connected = ok(fast(cfn).create("Connected", workshop(platform, Mode="ServiceConnect")))
    assert set(app_mesh) == attributes["AppMesh"]
    assert set(connected) == attributes["ServiceConnect"]


def test_rule_ids_are_in_cfn_lints_custom_range() -> None:
    module = rules_module()
    ids = [
        value.id
        for value in vars(module).values()
        if isinstance(value, type) and value.__module__ == module.__name__ and hasattr(value, "id")
    ]
    assert sorted(ids) == ["E9101", "E9102"]
    assert all(re.fullmatch(r"[EW]9\d{3}", rule_id) for rule_id in ids)
