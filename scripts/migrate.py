"""Plan and write a fleet's move off App Mesh (DESIGN §10), from its templates alone.

    python3 tasks.py migrate TEMPLATE_OR_DIR... --out DIR [--parameter STACK.KEY=VALUE]...
                             [--keep SERVICE]...
    python3 tasks.py migrate --check DIR --step N [--stack TEMPLATE=STACK_NAME]...

**Planning** reads the templates (YAML with short-form intrinsics, or JSON; a directory: every
``*.yaml``, ``*.yml``, ``*.json`` and ``*.template`` in it): the platform stack and every stack
that holds a ``Custom::MeshedCrystal``. No AWS call; nothing deployed. Values come from the
templates (:mod:`scripts.cfn_template`): parameter defaults or ``--parameter STACK.KEY=VALUE``
(``STACK`` is a template's file name without its extension; ``STACK.AWS::StackName=NAME`` names
the stack), exports imported between the given templates, ``!Sub``/``!Ref``/``!GetAtt`` of names,
and the resource's own defaults, computed by the function's own code (its properties parser and
its naming rule). It finds:

* **the fleet's graph**: each ``Custom::MeshedCrystal`` in App Mesh mode is a service, known by
  its virtual service name; its ``Backends`` are edges client -> backend; its
  ``CloudMapAttributes``; the mesh it is in and that mesh's egress filter (the platform's
  ``AWS::AppMesh::Mesh``; App Mesh's default is ``DROP_ALL``); the ECS services that run its
  task definition; its Envoy IAM policies; the outputs of App Mesh-only attributes, their exports
  and who imports them;
* **the plan**: ordered steps, each one stack update that CloudFormation rolls back on its own:
  ``unlist`` (drop every backend of one node of a cycle, in an ``ALLOW_ALL`` mesh: App Mesh then
  lets it reach every name through Envoy's pass-through, by DNS), ``unfilter`` (drop
  ``CloudMapAttributes`` of a backend whose meshed client stays), ``unimport`` (remove an import
  of an export that a switch removes), ``switch`` (``Mode: ServiceConnect``, the ECS service's
  ``ServiceConnectConfiguration`` from the resource's attributes, the Envoy policy and App
  Mesh-only outputs removed), ``redeploy`` (a switched client whose backends switched after its
  tasks started). What no order makes safe is a **blocker** with its reason and the manual way.

``--keep SERVICE`` (a virtual service name) leaves a service in App Mesh: it is a meshed client
that stays, like an ``AWS::AppMesh::VirtualNode`` of the given templates.

It prints the plan as a table and writes, to ``DIR``: ``plan.json`` (``{"steps": [{"n", "action",
"template", "service", "output", "why"}], "blockers": [{"service", "reason"}]}``), ``plan.md``
(the graph as a Mermaid diagram, the steps, the blockers), and each step's template
(``NN-ACTION-STACK.yaml``): the stack's template after that step, every other byte of the input
kept. Exit status: 0, or 1 when there are blockers (the steps are still written), 2 for a usage
or template error.

**Checking** (``--check DIR --step N``) reads the account, never writes: for every step before
``N``, its stack is ``UPDATE_COMPLETE`` (or ``CREATE_COMPLETE``) with no ``DELETE_FAILED``
cleanup event, and the ECS services of the switched and redeployed stacks have one deployment,
``COMPLETED``, with Service Connect enabled. It says whether step ``N`` may start (exit 0) or
what is wrong (exit 1). A stack's name is its template's file name without the extension unless
``--stack TEMPLATE=NAME`` says otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
for _path in (str(REPO / "handler"), str(REPO / "lint"), str(REPO)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from meshed_crystal.appmesh_mode import AppMeshMode  # noqa: E402
from meshed_crystal.errors import PropertyError  # noqa: E402
from meshed_crystal.properties import Properties, parse_properties  # noqa: E402

from scripts.cfn_edit import EditError, Editor  # noqa: E402
from scripts.cfn_template import (  # noqa: E402
    Key,
    Resolver,
    Template,
    TemplateError,
    Unresolved,
    cloudformation_strings,
    load,
    loads,
    placeheld,
)

CUSTOM = "Custom::MeshedCrystal"
ECS_SERVICE = "AWS::ECS::Service"


def _attributes_by_mode() -> Mapping[str, frozenset[str]]:
    """The attributes per Mode, from their one home: the lint rules (DESIGN §4 and §8)."""
    spec = importlib.util.spec_from_file_location(
        "meshed_crystal_rules", REPO / "lint" / "meshed_crystal_rules.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    attributes: Mapping[str, frozenset[str]] = module.ATTRIBUTES
    return attributes


_ATTRIBUTES = _attributes_by_mode()
# Attributes a resource returns in App Mesh mode only: what reads them must go before the switch.
APP_MESH_ONLY = _ATTRIBUTES["AppMesh"] - _ATTRIBUTES["ServiceConnect"]
POLICY_TYPES = ("AWS::IAM::RolePolicy", "AWS::IAM::Policy")
TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json", ".template")
RUNBOOK = "docs/migration.md"

Path_ = tuple[Key, ...]


class MigrateError(Exception):
    """A usage or template error: the message says what to give."""


# --------------------------------------------------------------------------- the fleet


@dataclass
class Service:
    """One ``Custom::MeshedCrystal`` of the given templates."""

    template: Template
    logical: str
    name: str | None = None
    node: str | None = None  # its virtual node's name
    mode: str = "AppMesh"
    backends: list[str] = field(default_factory=list)
    filtered: bool = False  # CloudMapAttributes set
    mesh: str | None = None
    egress: str | None = None  # ALLOW_ALL, DROP_ALL, None: unknown
    dns: str | None = None  # None: its name resolves in Cloud Map DNS; else why not
    ecs_services: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)  # removed by the switch
    outputs: list[str] = field(default_factory=list)  # removed by the switch
    exports: list[str] = field(default_factory=list)  # export names the switch removes
    problems: list[str] = field(default_factory=list)  # blockers of its own

    @property
    def key(self) -> str:
        return self.name or f"{self.template.path}#{self.logical}"


@dataclass
class Import:
    """An ``Fn::ImportValue`` of a given template."""

    template: Template
    path: Path_
    name: str


@dataclass
class Fleet:
    templates: list[Template]
    resolver: Resolver
    services: dict[str, Service]
    outside: dict[str, list[str]]  # staying meshed client -> the names it lists
    imports: list[Import]
    strict_tls: set[str]
    routed: set[str]  # names provided by a virtual router
    gateway_targets: set[str]
    route_targets: set[str]
    notes: list[str]


def read_templates(paths: Sequence[str]) -> list[Template]:
    files: list[str] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files.extend(
                str(path / child.name)
                for child in sorted(path.iterdir())
                if child.suffix in TEMPLATE_SUFFIXES and child.is_file()
            )
        elif path.is_file():
            files.append(given)
        else:
            raise MigrateError(f"{given}: no such file or directory")
    templates = [load(file) for file in files]
    names = [t.name for t in templates]
    for name in set(names):
        if names.count(name) > 1:
            raise MigrateError(f"two templates are named {name}: give one template per stack")
    return templates


def _walk(value: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, (*path, i))


def _attribute_reads(template: Template, logical: str) -> list[tuple[Path_, str]]:
    """(path, attribute) of every ``Fn::GetAtt logical.attribute`` and ``${logical.attribute}``."""
    found: list[tuple[Path_, str]] = []
    for path, node in _walk(template.data):
        if not isinstance(node, dict) or len(node) != 1:
            continue
        ((key, arg),) = node.items()
        if key == "Fn::GetAtt" and isinstance(arg, str):
            arg = arg.split(".", 1)  # the long form's string spelling
        if key == "Fn::GetAtt" and isinstance(arg, list) and arg and arg[0] == logical:
            found.append((path, str(arg[1]) if len(arg) > 1 else ""))
        elif key == "Fn::Sub":
            text = arg[0] if isinstance(arg, list) and arg else arg
            if isinstance(text, str):
                for word in text.split("${")[1:]:
                    reference = word.split("}", 1)[0]
                    if reference.startswith(f"{logical}."):
                        found.append((path, reference.split(".", 1)[1]))
    return found


# The properties whose values decide the graph: the rest may stay placeholders.
_GRAPH_PROPERTIES = (
    "Mode",
    "Backends",
    "VirtualServiceName",
    "CloudMapServiceArn",
    "CloudMapNamespaceName",
    "CloudMapServiceName",
    "MeshName",
    "MeshArn",
)


def _names(props: Properties, cloud_map: tuple[str, str] | None) -> tuple[str, str] | None:
    """(virtual node, virtual service) by the function's own naming rule (App Mesh mode):
    VirtualNodeName / VirtualServiceName, else the Cloud Map service and
    ``<Cloud Map service>.<namespace>``; None when that needs names the templates lack."""
    future: Future[tuple[str, str]] = Future()
    if cloud_map is None:
        future.set_exception(LookupError("no Cloud Map names"))
    else:
        future.set_result(cloud_map)
    return AppMeshMode._names(props, future)


def analyse(
    templates: Sequence[Template],
    overrides: Mapping[str, Mapping[str, str]] | None = None,
    keep: Sequence[str] = (),
) -> Fleet:
    resolver = Resolver(templates, overrides)
    meshes: dict[str, str] = {}
    strict_tls: set[str] = set()
    routed: set[str] = set()
    gateway_targets: set[str] = set()
    route_targets: set[str] = set()  # virtual node names a route's weighted targets name
    outside: dict[str, list[str]] = {}
    node_services: dict[str, list[str]] = {}  # raw virtual node name -> virtual services
    for template in templates:
        for logical, spec in template.resources.items():
            type_ = spec.get("Type") if isinstance(spec, dict) else None
            props = resolver.resolve(template, spec.get("Properties") if type_ else None) or {}
            if not isinstance(props, dict):
                continue
            spec_ = props.get("Spec") or {}
            if type_ == "AWS::AppMesh::Mesh" and isinstance(props.get("MeshName"), str):
                egress = (spec_.get("EgressFilter") or {}).get("Type", "DROP_ALL")
                meshes[props["MeshName"]] = egress if isinstance(egress, str) else "unknown"
            elif type_ == "AWS::AppMesh::VirtualNode":
                node = props.get("VirtualNodeName")
                listed = [
                    b.get("VirtualService", {}).get("VirtualServiceName")
                    for b in spec_.get("Backends") or []
                    if isinstance(b, dict)
                ]
                outside[f"{template.name}/{logical}"] = [n for n in listed if isinstance(n, str)]
                for listener in spec_.get("Listeners") or []:
                    tls = listener.get("TLS") if isinstance(listener, dict) else None
                    if isinstance(tls, dict) and tls.get("Mode") == "STRICT" and node:
                        strict_tls.add(f"node:{node}")
            elif type_ == "AWS::AppMesh::VirtualService":
                provider = spec_.get("Provider") or {}
                name = props.get("VirtualServiceName")
                if isinstance(name, str) and "VirtualRouter" in provider:
                    routed.add(name)
                node = (provider.get("VirtualNode") or {}).get("VirtualNodeName")
                if isinstance(name, str) and isinstance(node, str):
                    node_services.setdefault(node, []).append(name)
            elif type_ == "AWS::AppMesh::GatewayRoute":
                for _, value in _walk(spec_):
                    if isinstance(value, dict) and isinstance(value.get("VirtualServiceName"), str):
                        gateway_targets.add(value["VirtualServiceName"])
            elif type_ == "AWS::AppMesh::Route":
                for _, value in _walk(spec_):
                    if isinstance(value, dict) and isinstance(value.get("VirtualNode"), str):
                        route_targets.add(value["VirtualNode"])
    strict_tls = {
        name
        for marker in strict_tls
        for name in node_services.get(marker.removeprefix("node:"), [])
    }
    imports: list[Import] = []
    for template in templates:
        for path, node in _walk(template.data):
            if isinstance(node, dict) and set(node) == {"Fn::ImportValue"}:
                name = resolver.resolve(template, node["Fn::ImportValue"])
                if isinstance(name, str):
                    imports.append(Import(template, path, name))
    services: dict[str, Service] = {}
    for template in templates:
        for logical in template.resources_of_type(CUSTOM):
            service = _service(resolver, template, logical, meshes)
            if service.key in services:
                other = services[service.key]
                service.problems.append(
                    f"{service.key} is also the name of {other.logical} in {other.template.path} "
                    "(two versions of one stack? give one template per stack)"
                )
                service.name = None
            services[service.key] = service
    for name in keep:
        if name not in services:
            raise MigrateError(f"--keep {name}: no service of the given templates has that name")
        outside[f"{name} (--keep)"] = list(services[name].backends)
        del services[name]
    fleet = Fleet(
        list(templates),
        resolver,
        services,
        outside,
        imports,
        strict_tls,
        routed,
        gateway_targets,
        route_targets,
        list(resolver.notes),
    )
    for service in services.values():
        _check(fleet, service)
    return fleet


def _service(
    resolver: Resolver, template: Template, logical: str, meshes: Mapping[str, str]
) -> Service:
    service = Service(template, logical)
    base = ("Resources", logical, "Properties")
    raw = template.get(base) if isinstance(template.get(base), dict) else {}
    resolved = resolver.resolve(template, base)
    wanted: list[str] = []
    guessed: set[str] = set()  # properties off the graph holding a value known at deploy time
    props_in: dict[str, Any] = {}
    for key, value in (resolved or {}).items():
        unknown: list[str] = []
        props_in[key] = placeheld(value, key, unknown)
        if key in _GRAPH_PROPERTIES:
            wanted.extend(unknown)
        elif unknown:
            guessed.add(key)
    for problem in wanted:
        service.problems.append(f"cannot tell from the templates: {problem}")
    try:
        props = parse_properties(cloudformation_strings(props_in))
    except PropertyError as error:
        # A stand-in the parser refuses where the template has a deploy-time value says
        # nothing about the template: parse without those properties (they do not make the
        # graph); a mistake the template itself writes is reported.
        keys = {re.split(r"[.\[]", path, maxsplit=1)[0] for path, _ in error.errors}
        try:
            if not keys <= guessed:
                raise
            props = parse_properties(
                cloudformation_strings({k: v for k, v in props_in.items() if k not in keys})
            )
        except PropertyError as again:
            service.problems.append(f"its properties would fail: {again}")
            return service
    service.mode = props.mode
    service.backends = list(props.backends)
    service.filtered = bool(props.cloud_map_attributes)
    service.mesh = props.mesh_name or None
    service.egress = meshes.get(props.mesh_name) if props.mesh_name else None
    cloud_map: tuple[str, str] | Unresolved | None = None
    if "CloudMapServiceArn" in raw:
        cloud_map = resolver.cloud_map_names(template, raw["CloudMapServiceArn"])
    elif props.cloud_map_namespace_name and props.cloud_map_service_name:
        cloud_map = (props.cloud_map_namespace_name, props.cloud_map_service_name)
    if isinstance(cloud_map, Unresolved):
        if not props.virtual_service_name:
            service.problems.append(f"cannot tell its virtual service name: {cloud_map.reason}")
        service.dns = cloud_map.reason
        cloud_map = None
    names = _names(props, cloud_map) if not wanted else None
    if names is not None:
        service.node, service.name = names
    if service.name and cloud_map is not None:
        service.dns = _dns(resolver, template, raw, service.name, cloud_map)
    return service


def _dns(
    resolver: Resolver,
    template: Template,
    raw: Mapping[str, Any],
    name: str,
    cloud_map: tuple[str, str],
) -> str | None:
    """None when ``name`` resolves in Cloud Map DNS to the service's tasks; else why not."""
    if name != f"{cloud_map[1]}.{cloud_map[0]}":
        return f"its virtual service name {name} is not its Cloud Map DNS name"
    value = resolver.resolve(template, raw.get("CloudMapServiceArn"))
    origin = value.origin if isinstance(value, Unresolved) else None
    owner = next((t for t in resolver.templates if origin and t.path == origin.template), None)
    if origin is None or owner is None:
        return "its Cloud Map service is in no given template: cannot tell it has DNS records"
    spec = owner.resources[origin.logical_id].get("Properties") or {}
    records = (spec.get("DnsConfig") or {}).get("DnsRecords") or []
    if not any(isinstance(r, dict) and r.get("Type") in ("A", "AAAA") for r in records):
        return f"its Cloud Map service {origin.logical_id} has no A or AAAA DNS record"
    for logical in template.resources_of_type(ECS_SERVICE):
        for registry in (
            template.resources[logical].get("Properties", {}).get("ServiceRegistries") or []
        ):
            arn = resolver.resolve(template, registry.get("RegistryArn"))
            if isinstance(arn, Unresolved) and arn.origin == origin:
                return None
    return f"no ECS service registers its tasks in {origin.logical_id} (ServiceRegistries)"


def _check(fleet: Fleet, service: Service) -> None:
    """What the switch of ``service`` changes in its template, and its blockers."""
    template, logical = service.template, service.logical
    if service.mode != "AppMesh":
        return
    if service.node is not None and service.node in fleet.route_targets:
        service.problems.append(
            f"a virtual router's route sends traffic to its node {service.node}: the cleanup "
            "Delete of the node would fail while the route names it, and the route's clients "
            "would lose it; redesign that split first "
            f"({RUNBOOK}, App Mesh features without a Service Connect equivalent)"
        )
    if service.name in fleet.gateway_targets:
        service.problems.append(
            f"a gateway route targets {service.name}: move that ingress to a load balancer "
            f"first ({RUNBOOK}, Before you start)"
        )
    for backend in service.backends:
        if backend in fleet.strict_tls:
            service.problems.append(
                f"its backend {backend} enforces TLS (STRICT): after the switch it would call "
                "it in plain HTTP; set up Service Connect TLS first "
                f"({RUNBOOK}, App Mesh features without a Service Connect equivalent)"
            )
        if backend in fleet.routed:
            service.problems.append(
                f"its backend {backend} is served by a virtual router (routes, weights): "
                "Service Connect has no router; redesign that split first "
                f"({RUNBOOK}, App Mesh features without a Service Connect equivalent)"
            )
    for ecs in template.resources_of_type(ECS_SERVICE):
        ecs_props = template.resources[ecs].get("Properties") or {}
        definition = ecs_props.get("TaskDefinition")
        if definition in (
            {"Fn::GetAtt": [logical, "TaskDefinitionArn"]},
            {"Fn::GetAtt": f"{logical}.TaskDefinitionArn"},  # the long form's string spelling
        ):
            service.ecs_services.append(ecs)
            if "ServiceConnectConfiguration" in ecs_props:
                service.problems.append(
                    f"{ecs} already has a ServiceConnectConfiguration: switch it by hand"
                )
    if not service.ecs_services:
        service.problems.append(
            f"no AWS::ECS::Service of {template.path} runs !GetAtt {logical}.TaskDefinitionArn: "
            "wire its ServiceConnectConfiguration by hand (examples/crystal-service-connect.yaml)"
        )
    for path, attribute in _attribute_reads(template, logical):
        if attribute not in APP_MESH_ONLY:
            continue
        where = path[:2]
        if where[0] == "Outputs":
            if where[1] not in service.outputs:
                service.outputs.append(str(where[1]))
            continue
        spec = template.resources.get(str(where[1])) if where[0] == "Resources" else None
        if isinstance(spec, dict) and spec.get("Type") in POLICY_TYPES and _envoy_only(spec):
            if where[1] not in service.policies:
                service.policies.append(str(where[1]))
            continue
        service.problems.append(
            f"{'/'.join(map(str, path))} reads {logical}.{attribute}, which the resource does not "
            "return in ServiceConnect mode: edit it by hand"
        )
    export_names = fleet.resolver.export_names(template)
    for output in service.outputs:
        name = export_names.get(output)
        if isinstance(name, str):
            service.exports.append(name)
            for found in fleet.imports:
                if found.name == name and _unimport_path(found) is None:
                    service.problems.append(
                        f"{found.template.path} imports {name} at "
                        f"{'/'.join(map(str, found.path))}, and the switch removes that export: "
                        "remove the import by hand first"
                    )
        elif isinstance(name, Unresolved):
            service.problems.append(f"cannot tell the export name of output {output}: {name}")


def _envoy_only(spec: Mapping[str, Any]) -> bool:
    """A policy that grants App Mesh actions only (Envoy's), so removing it removes nothing else."""
    document = (spec.get("Properties") or {}).get("PolicyDocument") or {}
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        return False
    for statement in statements:
        actions = statement.get("Action") if isinstance(statement, dict) else None
        actions = [actions] if isinstance(actions, str) else actions
        if not isinstance(actions, list) or not all(
            isinstance(a, str) and a.startswith("appmesh:") for a in actions
        ):
            return False
    return True


def _unimport_path(found: Import) -> Path_ | None:
    """What to remove to drop an import: its output, or its item of a list with other items;
    None when only a person can say."""
    if found.path[0] == "Outputs" and len(found.path) >= 2:
        return found.path[:2]
    for depth in range(len(found.path) - 1, 0, -1):
        if isinstance(found.path[depth], int):
            items = found.template.get(found.path[:depth])
            if isinstance(items, list) and len(items) > 1:
                return found.path[: depth + 1]
            return None
    return None


# --------------------------------------------------------------------------- the plan


@dataclass
class Step:
    n: int
    action: str
    template: str
    service: str | None
    output: str
    why: str


@dataclass
class Blocker:
    service: str
    reason: str


@dataclass
class Plan:
    fleet: Fleet
    steps: list[Step]
    blockers: list[Blocker]
    texts: dict[str, str]  # output -> the template written
    unlisted: list[str]
    cycles: list[list[str]]

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": [
                {
                    "n": s.n,
                    "action": s.action,
                    "template": s.template,
                    "service": s.service,
                    "output": s.output,
                    "why": s.why,
                }
                for s in self.steps
            ],
            "blockers": [{"service": b.service, "reason": b.reason} for b in self.blockers],
        }


def _cycles(nodes: Sequence[str], edges: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """The strongly connected components with a cycle (Tarjan), each sorted, in name order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in nodes:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return sorted(found)


class _Planner:
    def __init__(self, fleet: Fleet, out: str) -> None:
        self.fleet = fleet
        self.out = out
        self.current = {t.path: t for t in fleet.templates}
        self.steps: list[Step] = []
        self.texts: dict[str, str] = {}
        self.blockers: list[Blocker] = []
        self.blocked: dict[str, str] = {}

    def block(self, service: str, reason: str) -> None:
        if service not in self.blocked:
            self.blocked[service] = reason
            self.blockers.append(Blocker(service, reason))

    def step(
        self, action: str, template: Template, service: str | None, why: str, edit: Any
    ) -> int:
        n = len(self.steps) + 1
        current = self.current[template.path]
        editor = Editor(current)
        edit(editor, current, n)
        text = editor.text()
        suffix = Path(template.path).suffix or ".yaml"
        output = str(Path(self.out) / f"{n:02d}-{action}-{template.name}{suffix}")
        self.current[template.path] = loads(text, path=template.path)
        self.texts[output] = text
        self.steps.append(Step(n, action, template.path, service, output, why))
        return n


def plan(fleet: Fleet, out: str) -> Plan:
    planner = _Planner(fleet, out)
    services = fleet.services
    moving = sorted(k for k, s in services.items() if s.mode == "AppMesh")
    for key in moving:
        for problem in services[key].problems:
            planner.block(key, problem)
    calls = {k: [b for b in services[k].backends] for k in moving}  # what each client calls
    edges = {k: [b for b in calls[k] if b in moving] for k in moving}  # listed, in the set
    for client in moving:
        for backend in calls[client]:
            note = (
                f"{client} calls {backend}, which no given template defines: after its switch "
                f"{client} reaches it by DNS (or Service Connect, if it is an endpoint); check "
                "that the name resolves"
            )
            if backend not in services and note not in fleet.notes:
                fleet.notes.append(note)
    # Cycles: broken by unlisting one node's backends (ALLOW_ALL), else blocked.
    unlisted: list[str] = []
    all_cycles: list[list[str]] = []
    while True:
        candidates = [k for k in moving if k not in planner.blocked]
        cycles = _cycles(candidates, edges)
        if not cycles:
            break
        cycle = cycles[0]
        all_cycles.append(cycle)
        breaker, reasons = _breaker(fleet, cycle, edges, calls)
        if breaker is None:
            for member in cycle:
                planner.block(
                    member,
                    f"in the cycle {' -> '.join([*cycle, cycle[0]])}: no order switches a backend "
                    f"after all its meshed clients, and no node can drop its backends "
                    f"({'; '.join(reasons)}). Manual way: set the mesh's egress filter to "
                    "ALLOW_ALL (AWS::AppMesh::Mesh Spec.EgressFilter) and plan again, or move one "
                    f"member blue/green ({RUNBOOK}, fallback)",
                )
            continue
        unlisted.append(breaker)
        edges[breaker] = []
    # A client that leaves the mesh before its backend calls it by DNS until a redeployment after
    # the backend's switch: a backend whose name may not resolve in DNS keeps its clients.
    for backend in moving:
        reason = services[backend].dns
        if reason is None or backend in planner.blocked:
            continue
        for client in moving:
            if backend in calls[client] and client not in planner.blocked and client != backend:
                planner.block(
                    client,
                    f"it calls {backend}, whose name may not resolve in DNS ({reason}): after "
                    "its switch it would not reach it until redeployed after that backend's "
                    "switch. Manual way: give that backend's Cloud Map service A records and its "
                    "ECS service ServiceRegistries (or give the template that has them), then "
                    "plan again",
                )
    # Clients that stay in the mesh: the blocked, the kept and the outside nodes. Their backends
    # cannot switch (the cleanup Delete of a listed virtual service fails): they lose their
    # CloudMapAttributes filter first, so a switch made by hand keeps them reachable.
    staying: dict[str, str] = dict.fromkeys(planner.blocked, "blocked itself")
    for client, listed_names in fleet.outside.items():
        for name in listed_names:
            if name in moving:
                staying.setdefault(client, "outside the set")
    unfilter: list[str] = []
    changed = True
    while changed:
        changed = False
        for client in sorted(staying):
            listed = edges.get(client) if client in moving else fleet.outside.get(client, [])
            for backend in sorted(set(listed or [])):
                if backend not in moving or backend in staying:
                    continue
                planner.block(
                    backend,
                    f"its meshed client {client} stays in the mesh ({staying[client]}): its "
                    "switch's cleanup Delete would fail (ResourceInUseException) while that "
                    "client's node lists it. Manual way: switch it after that client has left "
                    f"the mesh, or switch it and delete the leftovers by hand ({RUNBOOK}, If a "
                    "meshed client must stay)",
                )
                staying[backend] = "blocked itself"
                if services[backend].filtered:
                    unfilter.append(backend)
                changed = True
    for breaker in unlisted:
        service = services[breaker]
        names = ", ".join(sorted(calls[breaker]))
        planner.step(
            "unlist",
            service.template,
            breaker,
            f"breaks the cycle through {breaker}: its node drops all its backends ({names}), so "
            f"in the ALLOW_ALL mesh {service.mesh} Envoy passes its calls through by DNS "
            "(Cloud Map), and no node lists its backends' virtual services any more",
            lambda editor, current, n, s=service: editor.remove(
                ("Resources", s.logical, "Properties", "Backends")
            ),
        )
    for backend in sorted(set(unfilter)):
        service = services[backend]
        planner.step(
            "unfilter",
            service.template,
            backend,
            "a meshed client stays: without CloudMapAttributes its node discovers every task of "
            "its Cloud Map service, so that client's Envoy still finds the tasks after a switch",
            lambda editor, current, n, s=service: editor.remove(
                ("Resources", s.logical, "Properties", "CloudMapAttributes")
            ),
        )
    # The switches: a backend after every meshed client that lists it.
    remaining = [k for k in moving if k not in planner.blocked]
    switched_at: dict[str, int] = {}
    deployed_at: dict[str, int] = {}
    while remaining:
        ready = [k for k in remaining if all(k not in edges[c] for c in remaining if c != k)]
        if not ready:  # unreachable after the cycles were broken; never guess an order
            for k in remaining:
                planner.block(k, "no order found (a cycle the planner did not break)")
            break
        key = ready[0]
        remaining.remove(key)
        service = services[key]
        for export in service.exports:
            for found in _current_imports(planner, export):
                if found.template.path == service.template.path:
                    continue
                importer = _service_of(fleet, found.template)
                path = _unimport_path(found)
                assert path is not None  # refused in _check
                planner.step(
                    "unimport",
                    found.template,
                    importer,
                    f"the switch of {key} removes the export {export}, and CloudFormation "
                    "refuses to remove an export another stack imports",
                    lambda editor, current, n, p=path: editor.remove(p),
                )
        clients = sorted(c for c in moving if key in calls[c])
        listed_by = [c for c in clients if key in (services[c].backends or [])]
        why = (
            f"every meshed client that listed it has left the mesh or stopped listing it "
            f"({', '.join(listed_by)})"
            if listed_by
            else "no meshed client lists it"
        )
        n = planner.step(
            "switch",
            service.template,
            key,
            f"{why}; its clients reach it by its Cloud Map DNS name (ServiceRegistries kept) "
            "until they are Service Connect clients started after this step",
            lambda editor, current, n, s=service: _switch(editor, current, s),
        )
        switched_at[key] = deployed_at[key] = n
        for client in sorted(switched_at):
            waiting = [b for b in calls.get(client, []) if b in moving and b not in planner.blocked]
            if (
                client != key
                and key in waiting
                and all(b in switched_at for b in waiting)
                and any(switched_at[b] > deployed_at[client] for b in waiting)
            ):
                later = sorted(b for b in waiting if switched_at[b] > deployed_at[client])
                deployed_at[client] = planner.step(
                    "redeploy",
                    services[client].template,
                    client,
                    f"its tasks started before {', '.join(later)} became Service Connect "
                    "endpoints, and only tasks started after an endpoint exists can use it: a "
                    "new deployment reaches them through Service Connect (DNS until then)",
                    lambda editor, current, n, s=services[client]: _redeploy(editor, current, s, n),
                )
    return Plan(fleet, planner.steps, planner.blockers, planner.texts, unlisted, all_cycles)


def _breaker(
    fleet: Fleet,
    cycle: Sequence[str],
    edges: Mapping[str, Sequence[str]],
    calls: Mapping[str, Sequence[str]],
) -> tuple[str | None, list[str]]:
    """The node of ``cycle`` that can drop all its backends, or None and why none can."""
    services = fleet.services
    reasons: list[str] = []

    def weight(node: str) -> tuple[int, str]:
        inside = [b for b in edges[node] if b in cycle]
        callers = [c for c in cycle if node in edges[c]]
        return (-len(inside) * len(callers), node)

    for node in sorted(cycle, key=weight):
        service = services[node]
        if service.egress != "ALLOW_ALL":
            reasons.append(
                f"{node}'s mesh {service.mesh} has egress "
                f"{service.egress or 'unknown (its AWS::AppMesh::Mesh is not given)'}"
            )
            continue
        unresolvable = [
            f"{b}: {services[b].dns}" if b in services else f"{b}: not in the given templates"
            for b in calls[node]
            if b not in services or services[b].dns is not None
        ]
        if unresolvable:
            reasons.append(
                f"{node} calls names that may not resolve in DNS ({'; '.join(unresolvable)})"
            )
            continue
        return node, reasons
    return None, reasons


def _current_imports(planner: _Planner, export: str) -> list[Import]:
    resolver = Resolver(list(planner.current.values()), planner.fleet.resolver.overrides)
    found: list[Import] = []
    for template in planner.current.values():
        for path, node in _walk(template.data):
            if (
                isinstance(node, dict)
                and set(node) == {"Fn::ImportValue"}
                and resolver.resolve(template, node["Fn::ImportValue"]) == export
            ):
                found.append(Import(template, path, export))
    return found


def _service_of(fleet: Fleet, template: Template) -> str | None:
    for service in fleet.services.values():
        if service.template.path == template.path and service.name:
            return service.name
    return None


def _get_att(logical: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical, attribute]}


def service_connect_configuration(logical: str) -> dict[str, Any]:
    """examples/crystal-service-connect.yaml's ServiceConnectConfiguration: the resource's
    attributes only."""
    return {
        "Enabled": True,
        "Namespace": _get_att(logical, "NamespaceArn"),
        "Services": [
            {
                "PortName": _get_att(logical, "PortName"),
                "DiscoveryName": _get_att(logical, "DiscoveryName"),
                "ClientAliases": [
                    {
                        "DnsName": _get_att(logical, "ClientAliasDnsName"),
                        "Port": _get_att(logical, "ClientAliasPort"),
                    }
                ],
            }
        ],
    }


def _switch(editor: Editor, template: Template, service: Service) -> None:
    props = ("Resources", service.logical, "Properties")
    existing = template.get(props)
    if "Mode" in existing:
        editor.replace((*props, "Mode"), "ServiceConnect")
    else:
        first = next((k for k in existing if k not in ("ServiceToken", "ServiceTimeout")), None)
        editor.insert(props, "Mode", "ServiceConnect", before=first)
    removed = set(service.policies)
    for ecs in service.ecs_services:
        ecs_props = template.get(("Resources", ecs, "Properties"))
        before = "ServiceRegistries" if "ServiceRegistries" in ecs_props else None
        editor.insert(
            ("Resources", ecs, "Properties"),
            "ServiceConnectConfiguration",
            service_connect_configuration(service.logical),
            before=before,
        )
    for logical in service.policies:
        editor.remove(("Resources", logical))
    for output in service.outputs:
        editor.remove(("Outputs", output))
    for logical, spec in template.resources.items():
        if logical in removed or not isinstance(spec, dict):
            continue
        depends = spec.get("DependsOn")
        if isinstance(depends, str) and depends in removed:
            editor.remove(("Resources", logical, "DependsOn"))
        elif isinstance(depends, list):
            for i, item in enumerate(depends):
                if item in removed:
                    editor.remove(("Resources", logical, "DependsOn", i))


def _redeploy(editor: Editor, template: Template, service: Service, n: int) -> None:
    nonce = f"migrate-step-{n}"
    for ecs in service.ecs_services:
        props = ("Resources", ecs, "Properties")
        force = template.get(props).get("ForceNewDeployment")
        if isinstance(force, dict) and "ForceNewDeploymentNonce" in force:
            editor.replace((*props, "ForceNewDeployment", "ForceNewDeploymentNonce"), nonce)
        elif isinstance(force, dict):
            editor.insert((*props, "ForceNewDeployment"), "ForceNewDeploymentNonce", nonce)
        else:
            editor.insert(
                props,
                "ForceNewDeployment",
                {"EnableForceNewDeployment": True, "ForceNewDeploymentNonce": nonce},
            )


# --------------------------------------------------------------------------- output


def table(plan: Plan) -> str:
    rows = [("n", "action", "template", "service", "output", "why")]
    rows += [
        (str(s.n), s.action, s.template, s.service or "-", Path(s.output).name, s.why)
        for s in plan.steps
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for row in rows:
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  " + row[5]
        )
    return "\n".join(lines)


# What an earlier plan wrote to the folder: replaced, so no stale step is left to deploy.
_OWN_OUTPUT = re.compile(r"^\d{2,}-(switch|redeploy|unlist|unfilter|unimport)-.+$")


def write(plan: Plan, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_file() and (_OWN_OUTPUT.match(old.name) or old.name in ("plan.json", "plan.md")):
            old.unlink()
    for output, text in plan.texts.items():
        Path(output).write_text(text, encoding="utf-8")
    (out / "plan.json").write_text(json.dumps(plan.to_json(), indent=2) + "\n", encoding="utf-8")


def _overrides(values: Sequence[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for value in values:
        target, sep, given = value.partition("=")
        stack, dot, key = target.rpartition(".")
        if not sep or not dot or not stack or not key:
            raise MigrateError(f"--parameter {value}: expected STACK.KEY=VALUE")
        found.setdefault(stack, {})[key] = given
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 tasks.py migrate",
        description="Plan and write a fleet's move off App Mesh, from its templates alone.",
    )
    parser.add_argument("templates", nargs="*", help="templates, or directories of templates")
    parser.add_argument("--out", help="where to write plan.json, plan.md and the step templates")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="STACK.KEY=VALUE",
        help="a parameter's value (STACK: the template's file name without extension)",
    )
    parser.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="SERVICE",
        help="a service (virtual service name) that stays in App Mesh",
    )
    parser.add_argument("--check", metavar="DIR", help="check the account before step --step")
    parser.add_argument("--step", type=int, help="the step about to start (with --check)")
    parser.add_argument(
        "--stack",
        action="append",
        default=[],
        metavar="TEMPLATE=STACK_NAME",
        help="a template's stack name (with --check; default: its file name without extension)",
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            if args.step is None:
                raise MigrateError("--check needs --step N")
            from scripts.migrate_check import check

            return check(Path(args.check), args.step, args.stack)
        if not args.templates or not args.out:
            raise MigrateError("give the templates (or directories) and --out DIR")
        fleet = analyse(read_templates(args.templates), _overrides(args.parameter), args.keep)
        result = plan(fleet, args.out)
    except (MigrateError, TemplateError, EditError) as error:
        print(f"migrate: {error}", file=sys.stderr)
        return 2
    write(result, Path(args.out))
    from scripts.migrate_picture import markdown

    Path(args.out, "plan.md").write_text(markdown(result), encoding="utf-8")
    print(table(result))
    for blocker in result.blockers:
        print(f"BLOCKED {blocker.service}: {blocker.reason}")
    for note in fleet.notes:
        print(f"note: {note}")
    print(f"wrote {Path(args.out) / 'plan.json'}, plan.md and {len(result.steps)} templates")
    return 1 if result.blockers else 0


if __name__ == "__main__":
    sys.exit(main())
