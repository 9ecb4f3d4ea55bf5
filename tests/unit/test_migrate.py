"""``tasks.py migrate``, pure: the graph, the plan, the blockers, the written templates, the
command's options and exit codes. (Played as stack updates: tests/integration/
test_fleet_migration.py.)"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import pytest

from scripts import migrate
from scripts.cfn_template import load, loads
from tests.support.fleets import EXAMPLES, dns_name, platform_template, service_template


def fleet_dir(tmp_path: Path, graph: dict[str, list[str]], platform: str | None = None) -> Path:
    directory = tmp_path / "fleet"
    directory.mkdir()
    (directory / "platform.yaml").write_text(platform or platform_template())
    for name, backends in graph.items():
        (directory / f"{name}.yaml").write_text(service_template(name, backends))
    return directory


def run(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any], Path]:
    out = tmp_path / "out"
    code = migrate.main([*args, "--out", str(out)])
    return code, json.loads((out / "plan.json").read_text()), out


def test_crystal_alone_is_switched_into_the_examples_target_shape(tmp_path: Path) -> None:
    code, plan, out = run(tmp_path, str(EXAMPLES / "platform.yaml"), str(EXAMPLES / "crystal.yaml"))
    assert code == 0
    assert plan == {
        "steps": [
            {
                "n": 1,
                "action": "switch",
                "template": str(EXAMPLES / "crystal.yaml"),
                "service": "ecsdemo-crystal.service.local",
                "output": str(out / "01-switch-crystal.yaml"),
                "why": "no meshed client lists it; its clients reach it by its Cloud Map DNS "
                "name (ServiceRegistries kept) until they are Service Connect clients started "
                "after this step",
            }
        ],
        "blockers": [],
    }
    written = load(out / "01-switch-crystal.yaml")
    target = load(EXAMPLES / "crystal-service-connect.yaml")
    assert written.resources.keys() == target.resources.keys()
    for logical in written.resources:
        if logical == "CrystalTaskRole":  # only its Description differs
            continue
        mine, theirs = written.resources[logical], target.resources[logical]
        if logical == "CrystalService":
            del theirs["Properties"]["ServiceConnectConfiguration"]["LogConfiguration"]
        assert mine == theirs, logical
    assert written.section("Outputs").keys() == {"MeshCrystalVSName", "CrystalTaskDefinitionArn"}


def test_the_written_template_keeps_every_other_byte(tmp_path: Path) -> None:
    run(tmp_path, str(EXAMPLES / "platform.yaml"), str(EXAMPLES / "crystal.yaml"))
    before = EXAMPLES.joinpath("crystal.yaml").read_text().splitlines()
    after = (tmp_path / "out" / "01-switch-crystal.yaml").read_text().splitlines()
    diff = list(difflib.unified_diff(before, after, n=0, lineterm=""))
    removed = [line[1:] for line in diff if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff if line.startswith("+") and not line.startswith("+++")]
    assert added == [
        "      Mode: ServiceConnect",
        "      ServiceConnectConfiguration:",
        "        Enabled: true",
        "        Namespace: !GetAtt Crystal.NamespaceArn",
        "        Services:",
        "          - PortName: !GetAtt Crystal.PortName",
        "            DiscoveryName: !GetAtt Crystal.DiscoveryName",
        "            ClientAliases:",
        "              - DnsName: !GetAtt Crystal.ClientAliasDnsName",
        "                Port: !GetAtt Crystal.ClientAliasPort",
    ]
    # Removed: the Envoy policy (with its comment), the DependsOn on it (with its comment), the
    # App Mesh-only outputs (with their comment); nothing else
    assert removed[:4] == [
        "  # Separate from the role: the role is part of the task definition the custom "
        "resource reads,",
        "  # and this policy needs the node the custom resource creates (inline in the role, it "
        "would be a",
        "  # circular dependency).",
        "  CrystalEnvoyPolicy:",
    ]
    assert "    DependsOn: CrystalEnvoyPolicy" in removed
    assert "  MeshCrystalVSARN:" in removed
    assert "  CrystalVirtualNodeArn:" in removed
    assert len(removed) == 15 + 2 + 6 + 2
    assert all(not line.startswith("      ") or "Envoy" not in line for line in added)


def test_parameters_name_stacks_and_change_what_is_imported(tmp_path: Path) -> None:
    platform, crystal = str(EXAMPLES / "platform.yaml"), str(EXAMPLES / "crystal.yaml")
    code, plan, _ = run(
        tmp_path,
        platform,
        crystal,
        "--parameter",
        "platform.AWS::StackName=prod-platform",
        "--parameter",
        "crystal.PlatformStackName=prod-platform",
    )
    assert code == 0
    assert [s["action"] for s in plan["steps"]] == ["switch"]
    # The importer's default no longer meets the platform's given name: said, not guessed
    code, plan, _ = run(tmp_path, platform, crystal, "--parameter=platform.AWS::StackName=other")
    assert code == 1
    assert plan["steps"] == []
    [blocker] = plan["blockers"]
    assert blocker["service"] == f"{crystal}#Crystal"
    assert blocker["reason"] == (
        "cannot tell from the templates: MeshName: Fn::ImportValue "
        "meshed-crystal-platform-MeshName: no given template exports it"
    )


def test_the_table_and_the_notes_are_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = fleet_dir(tmp_path, {"crystal": [], "frontend": ["crystal"]})
    code, _, out = run(tmp_path, str(directory))
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["n", "action", "template", "service", "output", "why"]
    assert lines[1].split()[:5] == [
        "1",
        "switch",
        str(directory / "frontend.yaml"),
        dns_name("frontend"),
        "01-switch-frontend.yaml",
    ]
    assert lines[3].split()[:2] == ["3", "redeploy"]
    assert lines[-2].startswith(f"note: {directory / 'platform.yaml'}: stack name taken as")
    assert lines[-1] == f"wrote {out / 'plan.json'}, plan.md and 3 templates"
    picture = (out / "plan.md").read_text()
    assert picture.count("```mermaid") == 2
    assert "  s1 --> s0\n" in picture  # frontend lists crystal
    assert '  n1["1. switch frontend"]\n' in picture
    assert "| 3 | redeploy |" in picture


_RAW_MESH = """
  LegacyNode:
    Type: AWS::AppMesh::VirtualNode
    Properties:
      MeshName: ecs-mesh
      VirtualNodeName: legacy
      Spec:
        Listeners:
          - PortMapping: {Port: 8080, Protocol: http}
            TLS:
              Mode: STRICT
              Certificate: {File: {CertificateChain: /c.pem, PrivateKey: /k.pem}}
        Backends:
          - VirtualService: {VirtualServiceName: ecsdemo-shared.service.local}
        ServiceDiscovery: {DNS: {Hostname: legacy.service.local}}
  LegacyService:
    Type: AWS::AppMesh::VirtualService
    Properties:
      MeshName: ecs-mesh
      VirtualServiceName: legacy.service.local
      Spec: {Provider: {VirtualNode: {VirtualNodeName: legacy}}}
  Router:
    Type: AWS::AppMesh::VirtualRouter
    Properties:
      MeshName: ecs-mesh
      VirtualRouterName: split
      Spec: {Listeners: [{PortMapping: {Port: 80, Protocol: http}}]}
  Split:
    Type: AWS::AppMesh::VirtualService
    Properties:
      MeshName: ecs-mesh
      VirtualServiceName: split.service.local
      Spec: {Provider: {VirtualRouter: {VirtualRouterName: split}}}
  SplitRoute:
    Type: AWS::AppMesh::Route
    Properties:
      MeshName: ecs-mesh
      VirtualRouterName: split
      RouteName: split
      Spec:
        HttpRoute:
          Match: {Prefix: /}
          Action:
            WeightedTargets:
              - {VirtualNode: ecsdemo-routed, Weight: 1}
  ToGated:
    Type: AWS::AppMesh::GatewayRoute
    Properties:
      MeshName: ecs-mesh
      VirtualGatewayName: ecs-mesh-gateway
      GatewayRouteName: to-gated
      Spec:
        HttpRoute:
          Match: {Prefix: /}
          Action: {Target: {VirtualService: {VirtualServiceName: ecsdemo-gated.service.local}}}
"""


def test_what_no_order_makes_safe_is_a_blocker_with_its_reason(tmp_path: Path) -> None:
    platform = platform_template().replace("\nOutputs:\n", f"{_RAW_MESH}\nOutputs:\n")
    graph: dict[str, list[str]] = {
        "shared": [],
        "gated": [],
        "tls-client": [],
        "router-client": [],
        "reader": [],
        "routed": [],
    }
    directory = fleet_dir(tmp_path, graph, platform)
    for name, backend in (("tls-client", "legacy"), ("router-client", "split")):
        path = directory / f"{name}.yaml"
        path.write_text(
            path.read_text().replace(
                "        ECS_TASK_DEFINITION_FAMILY: ecsdemo-" + name + "-mesh\n",
                "        ECS_TASK_DEFINITION_FAMILY: ecsdemo-"
                + name
                + f"-mesh\n      Backends:\n        - {backend}.service.local\n",
            )
        )
    reader = directory / "reader.yaml"
    reader.write_text(
        reader.read_text().replace(
            "\nOutputs:\n",
            "\n  NodeParameter:\n    Type: AWS::SSM::Parameter\n    Properties:\n"
            "      Type: String\n      Value: !GetAtt Reader.VirtualNodeArn\n\nOutputs:\n",
        )
    )
    code, plan, _ = run(tmp_path, str(directory))

    assert code == 1
    blocked = {b["service"]: b["reason"] for b in plan["blockers"]}
    assert blocked[dns_name("gated")].startswith(
        "a gateway route targets ecsdemo-gated.service.local: move that ingress"
    )
    assert blocked[dns_name("tls-client")].startswith(
        "its backend legacy.service.local enforces TLS (STRICT)"
    )
    assert blocked[dns_name("router-client")].startswith(
        "its backend split.service.local is served by a virtual router"
    )
    assert blocked[dns_name("routed")].startswith(
        "a virtual router's route sends traffic to its node ecsdemo-routed: the cleanup Delete"
    )
    assert blocked[dns_name("reader")] == (
        "Resources/NodeParameter/Properties/Value reads Reader.VirtualNodeArn, which the "
        "resource does not return in ServiceConnect mode: edit it by hand"
    )
    # shared's meshed client is the platform's raw node, which stays
    assert blocked[dns_name("shared")].startswith(
        "its meshed client platform/LegacyNode stays in the mesh (outside the set)"
    )
    assert [(s["action"], Path(s["template"]).stem) for s in plan["steps"]] == [
        ("unfilter", "shared")
    ]


def test_an_import_only_a_person_can_remove_blocks_the_switch(tmp_path: Path) -> None:
    directory = fleet_dir(tmp_path, {"crystal": [], "user": []})
    user = directory / "user.yaml"
    user.write_text(
        user.read_text().replace(
            "      Description: Pulls images",
            "      Path: !ImportValue MeshCrystalVSARN\n      Description: Pulls images",
        )
    )
    code, plan, _ = run(tmp_path, str(directory))
    assert code == 1
    [blocker] = plan["blockers"]
    assert blocker == {
        "service": dns_name("crystal"),
        "reason": f"{user} imports MeshCrystalVSARN at Resources/UserExecutionRole/Properties/"
        "Path, and the switch removes that export: remove the import by hand first",
    }


def test_a_json_template_is_planned_and_written_as_json(tmp_path: Path) -> None:
    directory = fleet_dir(tmp_path, {"frontend": ["crystal"]})
    crystal = load(EXAMPLES / "crystal.yaml")
    (directory / "crystal.json").write_text(json.dumps(crystal.data, indent=2))
    code, plan, out = run(tmp_path, str(directory))
    assert code == 0
    assert [(s["action"], Path(s["output"]).name) for s in plan["steps"]] == [
        ("switch", "01-switch-frontend.yaml"),
        ("switch", "02-switch-crystal.json"),
        ("redeploy", "03-redeploy-frontend.yaml"),
    ]
    written = loads((out / "02-switch-crystal.json").read_text(), path="x.json")
    json.loads(written.text)
    yaml_written = load(EXAMPLES / "crystal.yaml")
    assert written.get(("Resources", "Crystal", "Properties", "Mode")) == "ServiceConnect"
    assert "CrystalEnvoyPolicy" not in written.resources
    assert "DependsOn" not in written.resources["CrystalService"]
    assert written.get(("Resources", "CrystalService", "Properties", "ServiceConnectConfiguration"))
    assert written.section("Outputs").keys() == {"MeshCrystalVSName", "CrystalTaskDefinitionArn"}
    assert yaml_written.resources.keys() - written.resources.keys() == {"CrystalEnvoyPolicy"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere.yaml", "--out", "o"], "migrate: nowhere.yaml: no such file or directory"),
        ([str(EXAMPLES / "crystal.yaml")], "migrate: give the templates (or directories) and"),
        (
            [str(EXAMPLES / "crystal.yaml"), "--out", "o", "--parameter", "x=1"],
            "migrate: --parameter x=1: expected STACK.KEY=VALUE",
        ),
        (
            [str(EXAMPLES / "crystal.yaml"), "--out", "o", "--keep", "nothing.local"],
            "migrate: --keep nothing.local: no service of the given templates has that name",
        ),
        (["--check", "o"], "migrate: --check needs --step N"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert migrate.main(args) == 2
    assert capsys.readouterr().err.startswith(message)


def test_two_templates_of_one_stack_name_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "crystal.yaml").write_text(service_template("crystal"))
    with pytest.raises(migrate.MigrateError, match="two templates are named crystal"):
        migrate.read_templates([str(tmp_path / "a"), str(EXAMPLES / "crystal.yaml")])


def test_a_backend_no_template_defines_is_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = fleet_dir(tmp_path, {"web": []})
    web = directory / "web.yaml"
    web.write_text(
        web.read_text().replace(
            "ECS_TASK_DEFINITION_FAMILY: ecsdemo-web-mesh\n",
            "ECS_TASK_DEFINITION_FAMILY: ecsdemo-web-mesh\n"
            "      Backends:\n        - payments.partner.local\n",
        )
    )
    code, plan, _ = run(tmp_path, str(directory))
    assert code == 0
    assert [s["action"] for s in plan["steps"]] == ["switch"]
    assert (
        f"note: {dns_name('web')} calls payments.partner.local, which no given template "
        "defines: after its switch"
    ) in capsys.readouterr().out


def test_the_resolvers_default_names_are_the_functions(tmp_path: Path) -> None:
    """cfn_template's GetAtt of a resource's name attributes and the function's own naming rule
    (appmesh_mode, used by migrate for each service) give the same names."""
    from concurrent.futures import Future

    from meshed_crystal.appmesh_mode import AppMeshMode
    from meshed_crystal.properties import parse_properties

    from scripts.cfn_template import Resolver

    for extra, expected in (
        ({}, ("ecsdemo-x", "ecsdemo-x.ns.local")),
        ({"VirtualNodeName": "node"}, ("node", "ecsdemo-x.ns.local")),
        ({"VirtualServiceName": "vs.example"}, ("ecsdemo-x", "vs.example")),
    ):
        props = {
            "MeshName": "m",
            "CloudMapNamespaceName": "ns.local",
            "CloudMapServiceName": "ecsdemo-x",
            "TaskDefinition": "app:1",
            **extra,
        }
        template = loads(
            json.dumps(
                {
                    "Resources": {"X": {"Type": "Custom::MeshedCrystal", "Properties": props}},
                    "Outputs": {
                        "N": {"Value": {"Fn::GetAtt": ["X", "VirtualNodeName"]}},
                        "S": {"Value": {"Fn::GetAtt": ["X", "VirtualServiceName"]}},
                    },
                }
            ),
            path="t.json",
        )
        outputs = Resolver([template]).resolve(template, ("Outputs",))
        future: Future[tuple[str, str]] = Future()
        future.set_result(("ns.local", "ecsdemo-x"))
        functions = AppMeshMode._names(parse_properties(props), future)
        assert (outputs["N"]["Value"], outputs["S"]["Value"]) == functions == expected


@pytest.mark.parametrize(
    ("port", "blocked"),
    [
        ("!Ref AppPort", None),  # known at deploy time only: not the plan's business
        ('"70000"', "its properties would fail: Listeners[0].Port: '70000' is not a port"),
    ],
)
def test_properties_off_the_graph_only_block_when_the_template_is_wrong(
    tmp_path: Path, port: str, blocked: str | None
) -> None:
    directory = fleet_dir(tmp_path, {"web": []})
    web = directory / "web.yaml"
    web.write_text(
        web.read_text()
        .replace(
            "      TaskDefinition: !Ref WebTaskDefinition\n",
            "      TaskDefinition: !Ref WebTaskDefinition\n"
            f"      Listeners:\n        - Port: {port}\n",
        )
        .replace("Parameters:\n", "Parameters:\n  AppPort:\n    Type: Number\n", 1)
    )
    code, plan, _ = run(tmp_path, str(directory))
    if blocked is None:
        assert (code, [s["action"] for s in plan["steps"]]) == (0, ["switch"])
    else:
        assert code == 1
        assert plan["blockers"][0]["reason"].startswith(blocked)


def test_plan_md_draws_cycles_blockers_and_who_stays(tmp_path: Path) -> None:
    directory = fleet_dir(
        tmp_path,
        {"alpha": ["beta"], "beta": ["alpha"], "legacy": ["gamma"], "gamma": []},
        platform_template("DROP_ALL"),
    )
    code, plan, out = run(tmp_path, str(directory), "--keep", dns_name("legacy"))
    assert code == 1
    picture = (out / "plan.md").read_text()
    # ids by name order: alpha s0, beta s1, gamma s2; legacy (kept) is o0
    assert '  subgraph m0["ecs-mesh (egress DROP_ALL)"]\n' in picture
    assert '  o0(["ecsdemo-legacy.service.local (--keep)<br/>stays in App Mesh"])\n' in picture
    assert "  s0 --> s1\n  s1 --> s0\n  o0 --> s2\n" in picture
    assert "  class s0 cycle\n  class s1 cycle\n" in picture
    assert "  class s0 blocked\n  class s1 blocked\n  class s2 blocked\n" in picture
    assert '  n1["1. unfilter gamma"]\n' in picture
    assert f"- **{dns_name('alpha')}**: in the cycle " in picture
    assert [s["action"] for s in plan["steps"]] == ["unfilter"]


def test_a_backend_without_dns_keeps_its_clients_in_the_mesh(tmp_path: Path) -> None:
    """A client that switched calls its still-meshed backend by DNS: without ServiceRegistries
    nothing answers, so neither may move."""
    directory = fleet_dir(tmp_path, {"web": ["api"], "api": []})
    api = directory / "api.yaml"
    text = api.read_text()
    start = text.index("      ServiceRegistries:\n")
    api.write_text(text[:start] + text[text.index("\nOutputs:", start) :])
    code, plan, _ = run(tmp_path, str(directory))
    assert code == 1
    assert plan["steps"] == [
        {
            "n": 1,
            "action": "unfilter",
            "template": str(api),
            "service": dns_name("api"),
            "output": str(tmp_path / "out" / "01-unfilter-api.yaml"),
            "why": "a meshed client stays: without CloudMapAttributes its node discovers every "
            "task of its Cloud Map service, so that client's Envoy still finds the tasks after "
            "a switch",
        }
    ]
    blocked = {b["service"]: b["reason"] for b in plan["blockers"]}
    assert blocked[dns_name("web")].startswith(
        f"it calls {dns_name('api')}, whose name may not resolve in DNS (no ECS service "
        "registers its tasks in ApiCloudMapService (ServiceRegistries))"
    )
    assert blocked[dns_name("api")].startswith(f"its meshed client {dns_name('web')} stays")


def test_a_new_plan_replaces_the_steps_of_an_earlier_one(tmp_path: Path) -> None:
    directory = fleet_dir(tmp_path, {"crystal": [], "frontend": ["crystal"]})
    run(tmp_path, str(directory))
    out = tmp_path / "out"
    (out / "notes.txt").write_text("mine")
    assert len(list(out.glob("0*"))) == 3
    run(tmp_path, str(directory / "platform.yaml"), str(directory / "crystal.yaml"))
    assert sorted(p.name for p in out.iterdir()) == [
        "01-switch-crystal.yaml",
        "notes.txt",
        "plan.json",
        "plan.md",
    ]


def test_long_form_getatt_spelt_as_one_string_is_understood(tmp_path: Path) -> None:
    """``Fn::GetAtt: Crystal.TaskDefinitionArn`` (a string) is the same as the list form."""
    text = EXAMPLES.joinpath("crystal.yaml").read_text()
    text = text.replace(
        "TaskDefinition: !GetAtt Crystal.TaskDefinitionArn",
        "TaskDefinition:\n        Fn::GetAtt: Crystal.TaskDefinitionArn",
    ).replace(
        "Resource: !GetAtt Crystal.VirtualNodeArn",
        "Resource:\n              Fn::GetAtt: Crystal.VirtualNodeArn",
    )
    (tmp_path / "crystal.yaml").write_text(text)
    code, plan, out = run(tmp_path, str(EXAMPLES / "platform.yaml"), str(tmp_path / "crystal.yaml"))
    assert code == 0, plan["blockers"]
    written = load(out / "01-switch-crystal.yaml")
    assert "CrystalEnvoyPolicy" not in written.resources
    assert "ServiceConnectConfiguration" in written.get(
        ("Resources", "CrystalService", "Properties")
    )


def test_plan_md_lists_what_each_switch_removes_and_who_imports_it(tmp_path: Path) -> None:
    directory = fleet_dir(tmp_path, {"crystal": [], "frontend": ["crystal"]})
    frontend = directory / "frontend.yaml"
    frontend.write_text(
        frontend.read_text() + "  Imported:\n    Value: !ImportValue MeshCrystalVSARN\n"
    )
    run(tmp_path, str(directory))
    picture = (tmp_path / "out" / "plan.md").read_text()
    assert (
        f"| {dns_name('crystal')} | `{directory / 'crystal.yaml'}` | AppMesh, ecs-mesh "
        "(ALLOW_ALL) | - | yes | CrystalService | CrystalEnvoyPolicy (policy), "
        "MeshCrystalVSARN, CrystalVirtualNodeArn | MeshCrystalVSARN (`frontend.yaml`) |"
    ) in picture


def test_check_without_a_region_says_it_cannot_read_the_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_CONFIG_FILE", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    run(tmp_path, str(EXAMPLES / "platform.yaml"), str(EXAMPLES / "crystal.yaml"))
    capsys.readouterr()
    out = str(tmp_path / "out")
    # Step 1 needs no read at all
    assert migrate.main(["--check", out, "--step", "1"]) == 0
    assert capsys.readouterr().out.startswith("step 1 may start: switch crystal with ")
    assert migrate.main(["--check", out, "--step", "2"]) == 2
    assert capsys.readouterr().out == (
        "migrate --check: cannot read the account: You must specify a region.\n"
    )
