"""The application's task definition as every mode reads it, and the rules ECS enforces when
a derived revision is registered (DESIGN §2): the application container, its ports, the family
a mode registers in, Fargate sizes, names, images, the execution role awslogs needs.

Pure: the task definition is ``RegisterTaskDefinition`` keyword arguments; a broken rule raises
:class:`PropertyError`, before any write.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Any

from meshed_crystal import rules
from meshed_crystal.errors import Collector, PropertyError, excerpt
from meshed_crystal.properties import Properties
from meshed_crystal.scalars import join

MAX_CONTAINERS = 10


def app_container(base: Mapping[str, Any], props: Properties) -> Mapping[str, Any]:
    """The application's container: named (``AppContainerName``), or the one that maps a port."""
    containers: list[Mapping[str, Any]] = list(base.get("containerDefinitions") or [])
    if props.app_container_name is not None:
        for container in containers:
            if container.get("name") == props.app_container_name:
                break
        else:
            names = ", ".join(str(c.get("name")) for c in containers) or "none"
            raise PropertyError(
                "AppContainerName",
                f"'{props.app_container_name}' is not a "
                f"container of the task definition (containers: {names})",
            )
    else:
        with_ports = [c for c in containers if c.get("portMappings")]
        if len(with_ports) != 1:
            raise PropertyError(
                "AppContainerName",
                "required: the task definition has "
                f"{len(with_ports)} containers that map a port, not exactly one",
            )
        container = with_ports[0]
    if container.get("essential", True) is False:
        raise PropertyError(
            "AppContainerName",
            f"container '{container.get('name')}' is not "
            "essential; the resource serves an essential container",
        )
    return container


def app_ports(base: Mapping[str, Any], props: Properties) -> tuple[int, ...]:
    container = app_container(base, props)
    return tuple(
        int(m["containerPort"])
        for m in container.get("portMappings") or []
        if m.get("containerPort") is not None
    )


# --- rules ECS enforces at RegisterTaskDefinition (both modes) --------------------------------

# Fargate's task sizes: cpu units -> the memory (MiB) each takes ("Task CPU and memory", Amazon
# ECS Developer Guide; the same table is in RegisterTaskDefinition's `memory` documentation).
FARGATE_SIZES: dict[int, frozenset[int]] = {
    256: frozenset({512, 1024, 2048}),
    512: frozenset(range(1024, 4097, 1024)),
    1024: frozenset(range(2048, 8193, 1024)),
    2048: frozenset(range(4096, 16385, 1024)),
    4096: frozenset(range(8192, 30721, 1024)),
    8192: frozenset(range(16384, 61441, 4096)),
    16384: frozenset(range(32768, 122881, 8192)),
}
# Where the awslogs driver needs the task execution role ("Amazon ECS task execution IAM role":
# tasks on Fargate or external instances that send logs with awslogs).
_EXECUTION_ROLE_FOR_AWSLOGS = frozenset({"FARGATE", "EXTERNAL"})
_VCPU = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*vcpu\s*$", re.IGNORECASE)
_GB = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*gb\s*$", re.IGNORECASE)
_UNITS = re.compile(r"^\s*[0-9]{1,9}\s*$")


def task_cpu_units(value: Any) -> int | None:
    """A task-level ``cpu`` as ECS reads it: CPU units, or "<n> vCPU"; None if neither."""
    text = str(value)
    if _UNITS.match(text):
        return int(text)
    match = _VCPU.match(text)
    return round(float(match[1]) * 1024) if match else None


def task_memory_mib(value: Any) -> int | None:
    """A task-level ``memory`` as ECS reads it: MiB, or "<n> GB"; None if neither."""
    text = str(value)
    if _UNITS.match(text):
        return int(text)
    match = _GB.match(text)
    return round(float(match[1]) * 1024) if match else None


def check_ecs_rules(
    base: Mapping[str, Any],
    *,
    sidecars: tuple[str, ...] = (),
    sidecars_log: bool = False,
) -> None:
    """What ECS refuses at RegisterTaskDefinition, checked on the revision a mode derives.

    ``sidecars`` are the names of the containers the mode adds; ``sidecars_log``: whether they
    log with awslogs. Pure, for every mode.
    """
    found = Collector()
    containers: list[Mapping[str, Any]] = list(base.get("containerDefinitions") or [])
    names = [str(c.get("name", "")) for c in containers]
    where = "TaskDefinition"
    for i, name in enumerate(names):
        if not rules.CONTAINER_NAME.match(name):
            found.run(
                partial(
                    rules.check_container_name, name, join(where, f"containerDefinitions[{i}].name")
                ),
                None,
            )
        elif name in names[:i]:
            found.add(
                join(where, f"containerDefinitions[{i}].name"),
                f"'{excerpt(name)}' names two containers (ECS refuses duplicate container names)",
            )
        image = str(containers[i].get("image", ""))
        found.run(
            partial(rules.check_image, image, join(where, f"containerDefinitions[{i}].image")), None
        )
    count = len(containers) + len(sidecars)
    if count > MAX_CONTAINERS:
        found.add(
            where,
            f"has {len(containers)} containers; with the {len(sidecars)} "
            f"sidecar(s) that is more than ECS's {MAX_CONTAINERS} per task definition "
            "(Amazon ECS service quotas)",
        )
    compatibilities = {str(c) for c in base.get("requiresCompatibilities") or []}
    if "FARGATE" in compatibilities:
        found.run(lambda: _check_fargate_size(base), None)
        if base.get("networkMode") not in (None, "awsvpc"):
            found.add(
                where,
                f"requires FARGATE with network mode '{excerpt(base.get('networkMode'))}'; "
                "Fargate supports awsvpc only (Amazon ECS Developer Guide, Fargate task "
                "networking)",
            )
    if compatibilities & _EXECUTION_ROLE_FOR_AWSLOGS and not base.get("executionRoleArn"):
        logging_awslogs = [
            name
            for name, c in zip(names, containers, strict=True)
            if (c.get("logConfiguration") or {}).get("logDriver") == "awslogs"
        ]
        if sidecars and sidecars_log:
            logging_awslogs += list(sidecars)
        if logging_awslogs:
            found.add(
                where,
                "has no execution role (ExecutionRoleArn), which the awslogs log driver needs "
                f"on {'/'.join(sorted(compatibilities & _EXECUTION_ROLE_FOR_AWSLOGS))} "
                f"(containers {', '.join(excerpt(n, 40) for n in logging_awslogs[:5])}; "
                "Amazon ECS Developer Guide, Amazon ECS task execution IAM role)",
            )
    found.raise_any()


def _check_fargate_size(base: Mapping[str, Any]) -> None:
    source = "Amazon ECS Developer Guide, Task CPU and memory"
    cpu_value, memory_value = base.get("cpu"), base.get("memory")
    if cpu_value is None or memory_value is None:
        missing = " and ".join(
            name for name, v in (("Cpu", cpu_value), ("Memory", memory_value)) if v is None
        )
        raise PropertyError(
            "TaskDefinition",
            f"requires FARGATE but has no task-level {missing}; Fargate requires both ({source})",
        )
    cpu, memory = task_cpu_units(cpu_value), task_memory_mib(memory_value)
    if cpu not in FARGATE_SIZES:
        raise PropertyError(
            "TaskDefinition.Cpu",
            f"'{excerpt(cpu_value)}' is not a Fargate task size (CPU units "
            f"{', '.join(map(str, FARGATE_SIZES))}; {source})",
        )
    if memory not in FARGATE_SIZES[cpu]:
        allowed = sorted(FARGATE_SIZES[cpu])
        raise PropertyError(
            "TaskDefinition.Memory",
            f"'{excerpt(memory_value)}' MiB is not a memory size Fargate offers with {cpu} CPU "
            f"units ({allowed[0]}-{allowed[-1]}: {', '.join(map(str, allowed[:4]))}"
            f"{', …' if len(allowed) > 4 else ''}; {source})",
        )


def derived_family(props: Properties, base_family: str, inline: bool, *, suffix: str) -> str:
    """The family a mode registers in: ``Family``, an inline definition's own, or
    ``<application family><suffix>``; never the application's own (its latest revision would
    then be the derived one)."""
    if props.family is not None:
        family = props.family
    elif inline:
        return base_family
    else:
        family = f"{base_family}{suffix}"
    if not inline and family == base_family:
        raise PropertyError(
            "Family",
            f"'{family}' is the application's own family; the "
            "proxied revisions need a family of their own",
        )
    return family
