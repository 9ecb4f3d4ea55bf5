"""``plan.md`` of ``tasks.py migrate``: what a platform team reviews in a pull request.

Two Mermaid diagrams GitHub renders (the fleet: who calls whom, in which mesh with which egress
filter, the cycles, what is blocked and who stays; then the steps in order), the steps as a
table, the blockers with their manual way, and the notes (values the plan took from where).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scripts.migrate import Plan


def _label(text: str) -> str:
    """Text inside a Mermaid ``"..."`` label."""
    return text.replace('"', "#quot;").replace("|", "#124;")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def graph(plan: Plan) -> list[str]:
    fleet = plan.fleet
    services = fleet.services
    ids = {name: f"s{i}" for i, name in enumerate(sorted(services))}
    blocked = {b.service for b in plan.blockers}
    in_cycle = {name for cycle in plan.cycles for name in cycle}
    lines = ["```mermaid", "flowchart LR"]
    meshes: dict[str, list[str]] = {}
    for name, service in sorted(services.items()):
        meshes.setdefault(
            f"{service.mesh} (egress {service.egress or 'unknown'})"
            if service.mode == "AppMesh" and service.mesh
            else "already Service Connect"
            if service.mode != "AppMesh"
            else "mesh unknown",
            [],
        ).append(name)
    for i, (title, names) in enumerate(sorted(meshes.items())):
        lines.append(f'  subgraph m{i}["{_label(title)}"]')
        for name in names:
            stack = Path(services[name].template.path).name
            lines.append(f'    {ids[name]}["{_label(name)}<br/>{_label(stack)}"]')
        lines.append("  end")
    outside_ids = {client: f"o{i}" for i, client in enumerate(sorted(fleet.outside))}
    for client, oid in outside_ids.items():
        lines.append(f'  {oid}(["{_label(client)}<br/>stays in App Mesh"])')
    unlisted_step = {
        s.service: s.n for s in plan.steps if s.action == "unlist" and s.service is not None
    }
    for name in sorted(services):
        for backend in services[name].backends:
            if backend not in ids:
                continue
            if name in unlisted_step:
                lines.append(
                    f'  {ids[name]} -.->|"by DNS after step {unlisted_step[name]}"| {ids[backend]}'
                )
            else:
                lines.append(f"  {ids[name]} --> {ids[backend]}")
    for client, oid in outside_ids.items():
        for backend in fleet.outside[client]:
            if backend in ids:
                lines.append(f"  {oid} --> {ids[backend]}")
    lines.append("  classDef blocked fill:#fdd,stroke:#c00,color:#600")
    lines.append("  classDef cycle stroke:#a60,stroke-width:3px,stroke-dasharray:6 3")
    lines.append("  classDef outside fill:#eee,stroke:#666,color:#333")
    for name in sorted(in_cycle & set(ids)):
        lines.append(f"  class {ids[name]} cycle")
    for name in sorted(blocked & set(ids)):
        lines.append(f"  class {ids[name]} blocked")
    for oid in outside_ids.values():
        lines.append(f"  class {oid} outside")
    lines.append("```")
    return lines


def services_table(plan: Plan) -> list[str]:
    """What the plan read about each service: the graph's facts and what its switch removes."""
    fleet = plan.fleet
    lines = [
        "| service | stack template | mode, mesh (egress) | backends | CloudMapAttributes | "
        "ECS services | its switch removes | exports it removes (imported by) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, service in sorted(fleet.services.items()):
        exports = []
        for export in service.exports:
            importers = sorted(
                {f"`{Path(i.template.path).name}`" for i in fleet.imports if i.name == export}
            )
            exports.append(f"{export} ({', '.join(importers) or 'no importer'})")
        mesh = (
            f"{service.mode}, {service.mesh} ({service.egress or 'unknown'})"
            if service.mesh
            else service.mode
        )
        removes = [*(f"{p} (policy)" for p in service.policies), *service.outputs]
        lines.append(
            f"| {_cell(name)} | `{_cell(service.template.path)}` | {mesh} | "
            f"{_cell(', '.join(service.backends) or '-')} | "
            f"{'yes' if service.filtered else 'no'} | {', '.join(service.ecs_services) or '-'} | "
            f"{_cell(', '.join(removes) or '-')} | {_cell('; '.join(exports) or '-')} |"
        )
    return lines


def order(plan: Plan) -> list[str]:
    lines = ["```mermaid", "flowchart TD"]
    for step in plan.steps:
        stack = Path(step.template).stem
        lines.append(f'  n{step.n}["{step.n}. {step.action} {_label(stack)}"]')
    for before, after in zip(plan.steps, plan.steps[1:], strict=False):
        lines.append(f"  n{before.n} --> n{after.n}")
    if not plan.steps:
        lines.append('  none["no step"]')
    lines.append("```")
    return lines


def markdown(plan: Plan) -> str:
    fleet = plan.fleet
    lines = [
        "# Moving the fleet off App Mesh",
        "",
        f"Planned by `python3 tasks.py migrate` from {len(fleet.templates)} templates, with no "
        "AWS call: nothing has been deployed. Each step is one stack update of the stack deployed "
        "from its template, with the template written for it (every other byte of the stack's "
        "template kept). Run them in order, one at a time; before each, "
        "`python3 tasks.py migrate --check DIR --step N` reads the account and says whether it "
        "may start. Why this order: DESIGN §10 and docs/migration.md.",
        "",
        "## The fleet",
        "",
        "An arrow is a client listing a backend in its `Backends` (dotted: called by DNS once its "
        "node lists no backend). Red: blocked (below). Thick dashed border: in a cycle. Grey: a "
        "meshed client that stays in App Mesh.",
        "",
        *graph(plan),
        "",
        *services_table(plan),
        "",
        "## The steps",
        "",
        *order(plan),
        "",
        "| n | action | stack template | service | template to deploy | why |",
        "|---|---|---|---|---|---|",
    ]
    for step in plan.steps:
        lines.append(
            f"| {step.n} | {step.action} | `{_cell(step.template)}` | {_cell(step.service or '-')}"
            f" | `{_cell(Path(step.output).name)}` | {_cell(step.why)} |"
        )
    lines += ["", "## Blockers", ""]
    if plan.blockers:
        lines += [f"- **{b.service}**: {b.reason}" for b in plan.blockers]
    else:
        lines.append("None: every service of the given templates has a step.")
    if fleet.notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in fleet.notes)]
    return "\n".join(lines) + "\n"
