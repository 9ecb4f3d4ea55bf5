"""The cfn-lint rules' property check (lint/meshed_crystal_rules.py), pure: no cfn-lint run.

The rules run as a user runs them in tests/integration/test_lint_rules.py."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

RULES = Path(__file__).resolve().parents[2] / "lint"


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


def test_rule_ids_are_in_cfn_lints_custom_range() -> None:
    module = rules_module()
    ids = [
        value.id
        for value in vars(module).values()
        if isinstance(value, type) and value.__module__ == module.__name__ and hasattr(value, "id")
    ]
    assert sorted(ids) == ["E9101", "E9102", "W9103"]
    assert all(re.fullmatch(r"[EW]9\d{3}", rule_id) for rule_id in ids)


_SIZED = """
Parameters:
  Cpu: {Type: String}
Resources:
  App:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: app
      NetworkMode: awsvpc
      RequiresCompatibilities: [FARGATE]
      Cpu: CPU
      Memory: "3"
      TaskRoleArn: arn:aws:iam::123456789012:role/app
      ContainerDefinitions:
        - {Name: app, Image: app:1, PortMappings: [{ContainerPort: 8080}]}
  Svc:
    Type: Custom::MeshedCrystal
    Properties:
      MeshName: m
      CloudMapNamespaceName: n.local
      CloudMapServiceName: s
      TaskDefinition: !Ref App
"""


@pytest.mark.parametrize(
    ("cpu", "expected"),
    [
        # The template gives the size: a Fargate size it is not, found at its path
        ('"256"', [(("TaskDefinition", "Memory"), "'3' MiB is not a memory size Fargate offers")]),
        # The size arrives at deploy time (a parameter without default): nothing said about it
        ("!Ref Cpu", []),
    ],
)
def test_task_definition_rules_skip_what_arrives_at_deploy_time(
    cpu: str, expected: list[tuple[tuple[str, ...], str]]
) -> None:
    from scripts.cfn_template import loads

    template = loads(_SIZED.replace("CPU", cpu), path="sized.yaml")
    found = rules_module().template_checks(template, "Svc")
    assert [(path, rule.split(" with ")[0]) for path, rule in found] == expected
