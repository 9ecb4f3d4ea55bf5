"""``tasks.py migrate`` proven by simulation (DESIGN §10): each plan played as stack updates.

For each fleet (real CloudFormation templates: ``examples/`` and fleets made from
``examples/crystal.yaml`` by :mod:`tests.support.fleets`), the test

1. deploys every service's App Mesh-era template as a stack (:class:`tests.support.stack.Stack`:
   the custom resources through the real Lambda handler, ECS services and role policies through
   the emulator) and checks that every client reaches every backend through the mesh;
2. plans the move with :func:`scripts.migrate.main` (the command itself, writing to a folder);
3. deploys each step's written template, in order, over its stack, and after every step asserts
   that the update and every cleanup Delete succeeded and that every client (kept ones too)
   reaches every backend it calls (:func:`tests.support.reachability.route`: the mesh, App
   Mesh's ALLOW_ALL pass-through for a node that lists no backend, Service Connect, DNS).

The templates are read back from what the command wrote, so what is proven is what a platform
team would deploy.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from scripts import migrate
from scripts.cfn_template import Resolver, Template, load
from tests.integration.lifecycle import GRACE_S
from tests.support import moto_cloudformation, reachability
from tests.support.cfn_driver import CloudFormation, ResponseEndpoint
from tests.support.fleets import EXAMPLES, dns_name, logical, service_template, write_fleet
from tests.support.fleets import stack_template as fragment
from tests.support.platform import Platform, app_task_definition_input
from tests.support.stack import Stack, StackOperation

REPO = Path(__file__).resolve().parent.parent.parent
MESH = "ecs-mesh"


@dataclass
class Member:
    """One service of the fleet: what the emulator holds for it, and its stack."""

    name: str
    cloud_map_arn: str
    task_definition_arn: str
    role_name: str
    stack: Stack

    @property
    def service(self) -> str:
        return f"ecsdemo-{self.name}"


@dataclass
class Fleet:
    platform: Platform
    platform_template: Path
    paths: dict[str, Path]  # service -> its template (as given to the command)
    graph: dict[str, list[str]]  # service -> what it calls
    members: dict[str, Member]
    current: dict[str, Template] = field(default_factory=dict)
    routes: list[dict[tuple[str, str], str | None]] = field(default_factory=list)

    def resolver(self) -> Resolver:
        return Resolver([load(self.platform_template), *self.current.values()])

    def deploy(self, name: str, text_path: Path) -> StackOperation:
        member = self.members[name]
        template = load(text_path)
        # The stack's template keeps the path the command was given (its resolver names it so).
        template = Template(
            str(self.paths[name]), template.text, template.data, template.spans, template.key_spans
        )
        self.current[name] = template
        bindings = {
            (f"{logical(name)}CloudMapService", "Arn"): member.cloud_map_arn,
            (f"{logical(name)}CloudMapService", ""): member.cloud_map_arn.rsplit("/", 1)[-1],
            (f"{logical(name)}TaskDefinition", ""): member.task_definition_arn,
            (f"{logical(name)}TaskRole", ""): member.role_name,
        }
        return member.stack.deploy(
            fragment(template, self.resolver(), bindings), body=template.text
        )

    def reach(self) -> dict[tuple[str, str], str | None]:
        """How every client reaches every backend it calls, now."""
        found = {
            (client, backend): reachability.route(
                self.platform.cluster_arn,
                self.members[client].service,
                dns_name(backend),
                self.members[backend].cloud_map_arn,
            )
            for client, backends in self.graph.items()
            for backend in backends
        }
        self.routes.append(found)
        return found


def completed(operation: StackOperation) -> StackOperation:
    """The operation succeeded and every cleanup Delete too."""
    assert operation.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), operation.reason
    assert operation.failed_cleanup == [], operation.failed_cleanup
    return operation


def _member(platform: Platform, name: str, stack: Stack) -> Member:
    iam = boto3.client("iam")
    role = iam.create_role(
        RoleName=f"{name}-task-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]
    if name == "crystal":  # the platform holds crystal's Cloud Map service and task definition
        return Member(
            name,
            platform.cloud_map_service_arn,
            platform.app_task_definition_arn,
            role["RoleName"],
            stack,
        )
    created = boto3.client("servicediscovery").create_service(
        Name=f"ecsdemo-{name}",
        NamespaceId=platform.namespace_id,
        DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 60}]},
        HealthCheckCustomConfig={"FailureThreshold": 1},
    )["Service"]
    definition = app_task_definition_input(
        platform.region, str(role["Arn"]), platform.execution_role_arn
    )
    definition["family"] = f"ecsdemo-{name}"
    definition["containerDefinitions"][0]["name"] = name
    registered = boto3.client("ecs").register_task_definition(**definition)
    return Member(
        name,
        str(created["Arn"]),
        str(registered["taskDefinition"]["taskDefinitionArn"]),
        role["RoleName"],
        stack,
    )


@pytest.fixture
def make_fleet(
    cfn: CloudFormation, platform: Platform, endpoint: ResponseEndpoint
) -> Iterator[Any]:
    """A function that deploys a fleet's App Mesh-era templates as stacks, in ``order``."""
    with ExitStack() as exits:

        def make(
            platform_template: Path,
            paths: Mapping[str, Path],
            graph: Mapping[str, Sequence[str]],
            order: Sequence[str],
        ) -> Fleet:
            egress = load(platform_template).get(
                ("Resources", "Mesh", "Properties", "Spec", "EgressFilter", "Type")
            )
            boto3.client("appmesh").update_mesh(
                meshName=MESH, spec={"egressFilter": {"type": egress}}
            )
            members = {}
            for name in paths:
                driver = CloudFormation(
                    cfn.handler, endpoint, stack_name=f"{name}-stack", grace_s=GRACE_S
                )
                exits.enter_context(moto_cloudformation.serving(driver))
                stack = exits.enter_context(
                    moto_cloudformation.playing(Stack(driver, cluster=platform.cluster_arn))
                )
                members[name] = _member(platform, name, stack)
            fleet = Fleet(
                platform,
                platform_template,
                dict(paths),
                {k: list(v) for k, v in graph.items()},
                members,
            )
            for name in order:
                completed(fleet.deploy(name, paths[name]))
            assert set(fleet.reach().values()) <= {"app-mesh"}, fleet.routes[-1]
            return fleet

        yield make


def run_plan(
    fleet: Fleet, out: Path, *args: str, templates: Sequence[Path] | None = None
) -> dict[str, Any]:
    given = templates or [fleet.platform_template, *fleet.paths.values()]
    code = migrate.main([*map(str, given), "--out", str(out), *args])
    plan = json.loads((out / "plan.json").read_text())
    assert code == (1 if plan["blockers"] else 0)
    return dict(plan)


def play(fleet: Fleet, plan: Mapping[str, Any]) -> list[dict[tuple[str, str], str | None]]:
    """Every step deployed over its stack; the routes after each."""
    by_path = {str(path): name for name, path in fleet.paths.items()}
    seen = []
    for step in plan["steps"]:
        name = by_path[step["template"]]
        operation = completed(fleet.deploy(name, Path(step["output"])))
        # An unimport may change only outputs, which the stack model does not hold
        assert operation.events or step["action"] == "unimport", f"step {step['n']}: no change"
        routes = fleet.reach()
        assert None not in routes.values(), (step, routes)
        seen.append(routes)
    for member in fleet.members.values():
        assert all(op.failed_cleanup == [] for op in member.stack.operations)
    return seen


def steps_of(plan: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(s["action"], Path(s["template"]).stem) for s in plan["steps"]]


def mesh_nodes() -> list[str]:
    listed = boto3.client("appmesh").list_virtual_nodes(meshName=MESH)["virtualNodes"]
    return sorted(n["virtualNodeName"] for n in listed)


# --------------------------------------------------------------------------- the fleets


def test_the_workshop_moves_in_the_runbooks_order(make_fleet: Any, tmp_path: Path) -> None:
    """examples/platform.yaml and examples/crystal.yaml, with nodejs (crystal's shape) and the
    App Mesh-era frontend, which lists crystal by importing MeshCrystalVSName."""
    graph = {"crystal": [], "nodejs": [], "frontend": ["crystal", "nodejs"]}
    nodejs, frontend = tmp_path / "nodejs.yaml", tmp_path / "frontend.yaml"
    nodejs.write_text(service_template("nodejs"))
    frontend.write_text(service_template("frontend", ["crystal", "nodejs"], imported=["crystal"]))
    paths = {"crystal": EXAMPLES / "crystal.yaml", "nodejs": nodejs, "frontend": frontend}
    fleet = make_fleet(EXAMPLES / "platform.yaml", paths, graph, ["crystal", "nodejs", "frontend"])

    plan = run_plan(fleet, tmp_path / "plan")

    assert steps_of(plan) == [
        ("switch", "frontend"),
        ("switch", "crystal"),
        ("switch", "nodejs"),
        ("redeploy", "frontend"),
    ]
    assert plan["blockers"] == []
    assert plan["steps"][1]["template"] == str(EXAMPLES / "crystal.yaml")
    assert plan["steps"][1]["service"] == "ecsdemo-crystal.service.local"
    routes = play(fleet, plan)
    front = [(r[("frontend", "crystal")], r[("frontend", "nodejs")]) for r in routes]
    assert front == [
        ("dns", "dns"),
        ("dns", "dns"),
        ("dns", "dns"),
        ("service-connect", "service-connect"),
    ]
    assert mesh_nodes() == []


def test_a_chain_of_four_switches_client_first_and_redeploys_each(
    make_fleet: Any, tmp_path: Path
) -> None:
    graph = {"ledger": [], "orders": ["ledger"], "api": ["orders"], "web": ["api"]}
    paths = dict(zip(graph, write_fleet(tmp_path / "fleet", graph)[1:], strict=True))
    fleet = make_fleet(tmp_path / "fleet" / "platform.yaml", paths, graph, list(graph))

    plan = run_plan(fleet, tmp_path / "plan")

    assert steps_of(plan) == [
        ("switch", "web"),
        ("switch", "api"),
        ("redeploy", "web"),
        ("switch", "orders"),
        ("redeploy", "api"),
        ("switch", "ledger"),
        ("redeploy", "orders"),
    ]
    routes = play(fleet, plan)
    assert routes[0] == {
        ("web", "api"): "dns",
        ("api", "orders"): "app-mesh",
        ("orders", "ledger"): "app-mesh",
    }
    assert routes[-1] == {
        ("web", "api"): "service-connect",
        ("api", "orders"): "service-connect",
        ("orders", "ledger"): "service-connect",
    }
    assert mesh_nodes() == []


def test_a_diamond_unimports_before_the_switch_that_removes_the_export(
    make_fleet: Any, tmp_path: Path
) -> None:
    """top calls left and right, both call bottom; top's stack also re-outputs left's imported
    virtual service ARN, which left's switch removes."""
    graph = {"bottom": [], "left": ["bottom"], "right": ["bottom"], "top": ["left", "right"]}
    written = write_fleet(tmp_path / "fleet", graph, imported=["left", "bottom"])
    top = tmp_path / "fleet" / "top.yaml"
    top.write_text(
        top.read_text()
        + "  LeftVirtualServiceArn:\n"
        + "    Description: The virtual service top calls (imported from left's stack)\n"
        + "    Value: !ImportValue MeshLeftVSARN\n"
    )
    paths = dict(zip(graph, written[1:], strict=True))
    fleet = make_fleet(tmp_path / "fleet" / "platform.yaml", paths, graph, list(graph))

    plan = run_plan(fleet, tmp_path / "plan")

    assert steps_of(plan) == [
        ("switch", "top"),
        ("unimport", "top"),
        ("switch", "left"),
        ("switch", "right"),
        ("redeploy", "top"),
        ("switch", "bottom"),
        ("redeploy", "left"),
        ("redeploy", "right"),
    ]
    unimport = plan["steps"][1]
    assert "removes the export MeshLeftVSARN" in unimport["why"]
    assert "MeshLeftVSARN" not in Path(unimport["output"]).read_text()
    routes = play(fleet, plan)
    assert routes[-1] == dict.fromkeys(routes[-1], "service-connect")
    assert mesh_nodes() == []


def test_a_cycle_in_an_allow_all_mesh_is_broken_by_unlisting_all_backends_of_one_node(
    make_fleet: Any, tmp_path: Path
) -> None:
    """alpha <-> beta, and alpha also calls gamma: unlisting only beta would leave alpha's node
    listing gamma, and App Mesh would then drop alpha's calls to beta (ALLOW_ALL applies only
    to a node that lists no backend)."""
    graph = {"gamma": [], "alpha": ["beta", "gamma"], "beta": ["alpha"]}
    paths = dict(zip(graph, write_fleet(tmp_path / "fleet", graph)[1:], strict=True))
    fleet = make_fleet(tmp_path / "fleet" / "platform.yaml", paths, graph, list(graph))

    plan = run_plan(fleet, tmp_path / "plan")

    assert steps_of(plan) == [
        ("unlist", "alpha"),
        ("switch", "beta"),
        ("switch", "alpha"),
        ("redeploy", "beta"),
        ("switch", "gamma"),
        ("redeploy", "alpha"),
    ]
    assert "Backends" not in load(Path(plan["steps"][0]["output"])).get(
        ("Resources", "Alpha", "Properties")
    )
    routes = play(fleet, plan)
    assert routes[0] == {
        ("alpha", "beta"): "app-mesh-passthrough",
        ("alpha", "gamma"): "app-mesh-passthrough",
        ("beta", "alpha"): "app-mesh",
    }
    assert routes[-1] == dict.fromkeys(routes[-1], "service-connect")
    assert mesh_nodes() == []


def test_dropping_only_the_cycles_backend_would_cut_the_node_off(
    make_fleet: Any, tmp_path: Path
) -> None:
    """The ALLOW_ALL rule the plan relies on, in the emulator's model: alpha's node listing
    gamma only reaches beta by no path at all."""
    graph = {"gamma": [], "alpha": ["beta", "gamma"], "beta": ["alpha"]}
    paths = dict(zip(graph, write_fleet(tmp_path / "fleet", graph)[1:], strict=True))
    fleet = make_fleet(tmp_path / "fleet" / "platform.yaml", paths, graph, list(graph))
    partial = tmp_path / "alpha-partial.yaml"
    partial.write_text(service_template("alpha", ["gamma"]))

    completed(fleet.deploy("alpha", partial))

    routes = fleet.reach()
    assert routes[("alpha", "beta")] is None
    assert routes[("alpha", "gamma")] == "app-mesh"


def test_a_cycle_in_a_drop_all_mesh_is_a_blocker_with_no_step(
    make_fleet: Any, tmp_path: Path
) -> None:
    graph = {"gamma": [], "alpha": ["beta", "gamma"], "beta": ["alpha"]}
    written = write_fleet(tmp_path / "fleet", graph, egress="DROP_ALL")
    paths = dict(zip(graph, written[1:], strict=True))
    fleet = make_fleet(tmp_path / "fleet" / "platform.yaml", paths, graph, list(graph))

    plan = run_plan(fleet, tmp_path / "plan")

    # gamma's meshed client alpha stays: gamma loses its filter, and is blocked too
    assert steps_of(plan) == [("unfilter", "gamma")]
    blocked = {b["service"]: b["reason"] for b in plan["blockers"]}
    assert sorted(blocked) == [dns_name(n) for n in ("alpha", "beta", "gamma")]
    cycle = f"{dns_name('alpha')} -> {dns_name('beta')} -> {dns_name('alpha')}"
    assert blocked[dns_name("alpha")].startswith(f"in the cycle {cycle}")
    assert "egress DROP_ALL" in blocked[dns_name("alpha")]
    assert "set the mesh's egress filter to ALLOW_ALL" in blocked[dns_name("beta")]
    assert blocked[dns_name("gamma")].startswith(
        f"its meshed client {dns_name('alpha')} stays in the mesh"
    )
    routes = play(fleet, plan)
    assert set(routes[-1].values()) == {"app-mesh"}
    assert mesh_nodes() == ["ecsdemo-alpha", "ecsdemo-beta", "ecsdemo-gamma"]


def test_a_service_with_a_client_outside_the_set_is_unfiltered_and_stays(
    make_fleet: Any, tmp_path: Path
) -> None:
    """legacy (kept in App Mesh: --keep) and app both call shared."""
    graph = {"shared": [], "app": ["shared"], "legacy": ["shared"]}
    paths = dict(zip(graph, write_fleet(tmp_path / "fleet", graph)[1:], strict=True))
    fleet = make_fleet(tmp_path / "fleet" / "platform.yaml", paths, graph, list(graph))

    plan = run_plan(fleet, tmp_path / "plan", "--keep", dns_name("legacy"))

    assert steps_of(plan) == [("unfilter", "shared"), ("switch", "app")]
    [blocker] = plan["blockers"]
    assert blocker["service"] == dns_name("shared")
    assert blocker["reason"].startswith(
        "its meshed client ecsdemo-legacy.service.local (--keep) stays in the mesh "
        "(outside the set)"
    )
    routes = play(fleet, plan)
    assert routes[-1] == {("app", "shared"): "dns", ("legacy", "shared"): "app-mesh"}

    # The manual way the blocker names: shared switched by hand (its template with the switch
    # edits). legacy's Envoy still finds shared's tasks (no filter any more), and the cleanup
    # Delete fails as the blocker said, naming legacy's node.
    shared_switched = tmp_path / "shared-switched.yaml"
    alone = [load(fleet.platform_template), load(plan["steps"][0]["output"])]
    edited = migrate.plan(migrate.analyse(alone), str(tmp_path / "alone"))
    [(_, text)] = edited.texts.items()
    shared_switched.write_text(text)
    operation = fleet.deploy("shared", shared_switched)
    assert operation.status == "UPDATE_COMPLETE"
    [failed] = operation.failed_cleanup
    assert "VIRTUAL_NODE: [ecsdemo-legacy]" in failed.reason


def test_every_written_template_lints_clean(tmp_path: Path) -> None:
    """cfn-lint with the project's rules, once over the templates of several plans."""
    outs = []
    fleets: list[tuple[dict[str, list[str]], dict[str, Any]]] = [
        ({"ledger": [], "orders": ["ledger"], "api": ["orders"], "web": ["api"]}, {}),
        ({"gamma": [], "alpha": ["beta", "gamma"], "beta": ["alpha"]}, {}),
        ({"bottom": [], "left": ["bottom"], "top": ["left"]}, {"imported": ["left"]}),
    ]
    for i, (graph, options) in enumerate(fleets):
        fleet = write_fleet(tmp_path / f"fleet{i}", graph, **options)
        assert migrate.main([*map(str, fleet), "--out", str(tmp_path / f"out{i}")]) == 0
        outs.extend(sorted((tmp_path / f"out{i}").glob("[0-9]*.yaml")))
    # A JSON template is written as JSON
    write_fleet(tmp_path / "json", {"frontend": ["crystal"]})
    crystal = load(EXAMPLES / "crystal.yaml")
    (tmp_path / "json" / "crystal.json").write_text(json.dumps(crystal.data, indent=2))
    assert migrate.main([str(tmp_path / "json"), "--out", str(tmp_path / "outjson")]) == 0
    outs.extend(sorted((tmp_path / "outjson").glob("[0-9]*.*")))
    assert [p.suffix for p in outs[-3:]] == [".yaml", ".json", ".yaml"]
    assert len(outs) >= 17
    result = subprocess.run(
        # W9103 (a property inert in its Mode): a switched resource keeps its App Mesh
        # properties on purpose, the step changing only what it must (DESIGN §10).
        [str(REPO / ".venv" / "bin" / "cfn-lint"), "--ignore-checks", "W9103"]
        + ["--append-rules", str(REPO / "lint"), "--"]
        + [str(p) for p in outs],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- --check


def finish_deployments() -> None:
    """What ECS does once the new tasks are healthy and the old ones drained: each service's
    deployment COMPLETED (the emulator runs no tasks, so it never gets there by itself)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ecs.models import ecs_backends

    for service in ecs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].services.values():
        for deployment in service.deployments:
            deployment["rolloutState"] = "COMPLETED"


def check(out: Path, step: int, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    stacks = [f"--stack={n}={n}-stack" for n in ("crystal", "nodejs", "frontend")]
    code = migrate.main(["--check", str(out), "--step", str(step), *stacks])
    return code, capsys.readouterr().out.splitlines()


def test_check_says_whether_each_step_may_start(
    make_fleet: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    graph = {"crystal": [], "nodejs": [], "frontend": ["crystal", "nodejs"]}
    written = write_fleet(tmp_path / "fleet", graph)
    paths = dict(zip(graph, written[1:], strict=True))
    fleet = make_fleet(written[0], paths, graph, list(graph))
    out = tmp_path / "plan"
    plan = run_plan(fleet, out)
    capsys.readouterr()

    # Step 1 may start: nothing before it
    code, lines = check(out, 1, capsys)
    assert (code, lines[-1]) == (
        0,
        f"step 1 may start: switch frontend-stack with {out / '01-switch-frontend.yaml'}",
    )
    # Step 2 may not: step 1 was not deployed
    code, lines = check(out, 2, capsys)
    assert code == 1
    assert lines == [
        "step 1 (switch frontend-stack): stack frontend-stack does not run the template of "
        f"step 1 ({out / '01-switch-frontend.yaml'}): deploy it first",
        "step 2 may NOT start: 1 problem(s) above",
    ]
    # Deployed, but ECS has not finished the deployment yet
    completed(fleet.deploy("frontend", Path(plan["steps"][0]["output"])))
    code, lines = check(out, 2, capsys)
    assert code == 1
    assert lines[0].startswith(
        "step 1 (switch frontend-stack): ECS service ecsdemo-frontend (frontend-stack/"
        "FrontendService): deployments IN_PROGRESS; wait until one is COMPLETED"
    )
    finish_deployments()
    code, lines = check(out, 2, capsys)
    assert (code, lines) == (
        0,
        [
            "step 1 (switch frontend-stack): ok",
            f"step 2 may start: switch crystal-stack with {out / '02-switch-crystal.yaml'}",
        ],
    )
    # Every step, then "done"
    for step in plan["steps"][1:]:
        completed(fleet.deploy(Path(step["template"]).stem, Path(step["output"])))
    finish_deployments()
    code, lines = check(out, len(plan["steps"]) + 1, capsys)
    assert (code, lines[-1]) == (0, "every step is done")
    assert len(lines) == 4  # one line per stack, its latest step: all ok
    assert all(line.endswith(": ok") for line in lines[:-1])


def test_check_reports_a_failed_cleanup_delete(
    make_fleet: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """crystal switched while the meshed frontend still lists it (step 1 skipped by hand)."""
    graph = {"crystal": [], "nodejs": [], "frontend": ["crystal", "nodejs"]}
    written = write_fleet(tmp_path / "fleet", graph)
    paths = dict(zip(graph, written[1:], strict=True))
    fleet = make_fleet(written[0], paths, graph, list(graph))
    out = tmp_path / "plan"
    plan = run_plan(fleet, out)
    capsys.readouterr()
    operation = fleet.deploy("crystal", Path(plan["steps"][1]["output"]))
    assert operation.status == "UPDATE_COMPLETE"
    finish_deployments()

    code, lines = check(out, 3, capsys)

    assert code == 1
    assert lines[0].startswith("step 1 (switch frontend-stack): stack frontend-stack does not run")
    assert lines[1].startswith(
        "step 2 (switch crystal-stack): stack crystal-stack: the cleanup Delete of Crystal "
    )
    assert "failed: Received response status [FAILED] from custom resource." in lines[1]
    assert "VIRTUAL_NODE: [ecsdemo-frontend]" in lines[1]
    assert lines[-1] == "step 3 may NOT start: 2 problem(s) above"


def test_check_refuses_a_step_outside_the_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan"
    out.mkdir()
    (out / "plan.json").write_text(json.dumps({"steps": [], "blockers": []}))
    assert migrate.main(["--check", str(out), "--step", "2"]) == 2
    assert capsys.readouterr().out == "migrate --check: the plan has steps 1 to 0 (and 1: done)\n"
    assert migrate.main(["--check", str(out), "--step", "1", "--stack", "x"]) == 2
    assert "--stack x: expected TEMPLATE=STACK_NAME" in capsys.readouterr().out


# --------------------------------------------------------------------------- more graphs


def _random_graph(seed: int, size: int) -> dict[str, list[str]]:
    """``size`` services, each calling up to two others (cycles included), reproducibly.
    Seed 5: ``svc0 -> svc3, svc5; svc1 -> svc0, svc5; svc2 -> svc1; svc3 -> svc0, svc1;
    svc5 -> svc3``; seed 6: ``svc0 <-> svc1``, ``svc4 <-> svc5`` and tails."""
    import random

    chooser = random.Random(seed)
    names = [f"svc{i}" for i in range(size)]
    return {
        name: sorted(chooser.sample([n for n in names if n != name], chooser.randint(0, 2)))
        for name in names
    }


@pytest.mark.parametrize(
    "graph",
    [
        # a three-cycle with a tail into it and out of it
        {"sink": [], "c": ["a"], "b": ["c"], "a": ["b", "sink"], "entry": ["a"]},
        _random_graph(5, 6),  # one strongly connected part of four, with several cycles
        _random_graph(6, 6),  # two separate two-cycles
    ],
    ids=["three-cycle-with-tails", "random-6-seed-5", "random-6-seed-6"],
)
def test_any_graph_in_an_allow_all_mesh_moves_with_every_backend_reachable(
    make_fleet: Any, tmp_path: Path, graph: dict[str, list[str]]
) -> None:
    paths = dict(zip(graph, write_fleet(tmp_path / "fleet", graph)[1:], strict=True))
    fleet = make_fleet(tmp_path / "fleet" / "platform.yaml", paths, graph, list(graph))

    plan = run_plan(fleet, tmp_path / "plan")

    assert plan["blockers"] == []
    switched = [name for action, name in steps_of(plan) if action == "switch"]
    assert sorted(switched) == sorted(graph)
    routes = play(fleet, plan)
    # At the end every call goes through Service Connect, and App Mesh holds nothing
    assert set(routes[-1].values()) <= {"service-connect"}
    assert mesh_nodes() == []


def test_the_simulation_catches_a_wrong_order(make_fleet: Any, tmp_path: Path) -> None:
    """The harness can fail: the chain's plan played backend first (ledger's switch moved to the
    front) fails at that step: orders' node still lists ledger, whose cleanup Delete fails and
    whose -sc tasks orders' Envoy no longer finds."""
    graph = {"ledger": [], "orders": ["ledger"], "api": ["orders"], "web": ["api"]}
    paths = dict(zip(graph, write_fleet(tmp_path / "fleet", graph)[1:], strict=True))
    fleet = make_fleet(tmp_path / "fleet" / "platform.yaml", paths, graph, list(graph))
    plan = run_plan(fleet, tmp_path / "plan")
    ledger = next(s for s in plan["steps"] if Path(s["template"]).stem == "ledger")
    wrong = {"steps": [ledger, *(s for s in plan["steps"] if s is not ledger)]}

    with pytest.raises(AssertionError):
        play(fleet, wrong)

    [failed] = fleet.members["ledger"].stack.operations[-1].failed_cleanup
    assert failed.logical_id == "Ledger"
    assert "VIRTUAL_NODE: [ecsdemo-orders]" in failed.reason
    routes = fleet.reach()
    assert routes[("orders", "ledger")] is None
