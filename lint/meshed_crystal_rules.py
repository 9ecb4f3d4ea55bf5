"""cfn-lint rules for ``Custom::MeshedCrystal``: the resource's own validation, before deploying.

    python3 tasks.py lint template.yaml       # cfn-lint template.yaml --append-rules lint/

cfn-lint (1.x) imports every ``*.py`` in the ``--append-rules`` folder whose name starts with a
letter and instantiates each ``CloudFormationLintRule`` subclass it defines. This module defines
three rules, in cfn-lint's range for custom rules:

``E9101`` — the properties of every ``Custom::MeshedCrystal`` go through the resource's own
    ``meshed_crystal.properties.parse_properties`` (the code the function runs: same rules, same
    messages), each mistake reported at its own line with its property path. When they pass and
    the template holds the task definition (inline, or an ``AWS::ECS::TaskDefinition`` of the
    same template that ``TaskDefinition`` references), the rules the function checks with it
    before its first write run too: :func:`template_checks` reads the resource with
    ``scripts/plan.py`` (through the shared template reader ``scripts/cfn_template.py``) and
    plans it with the function's own mode code, no AWS call. A rule broken at a value the
    template does not give (a parameter without default) is not reported.

``E9102`` — ``Fn::GetAtt`` (and ``${Resource.Attribute}`` in ``Fn::Sub``) of a
    ``Custom::MeshedCrystal`` must name an attribute the resource returns in its ``Mode``
    (DESIGN §4 and §8): an App Mesh attribute of a ``ServiceConnect`` resource (or the reverse)
    would fail the stack operation only after the resource was created. The message says how to
    fix it where it is read (an Envoy policy statement, an export, another attribute).

``W9103`` — a property inert in the resource's ``Mode``: validated, not used (DESIGN §2, §8).

How values that arrive at deploy time are handled. A template holds intrinsic functions (``Ref``,
``Fn::*``, ``Condition``) where CloudFormation will send a string; the parser would refuse them as
objects. Each intrinsic is replaced by a *placeholder*, chosen per path by trial: the first of a
short list of candidates (a plain name, a number unique to that intrinsic, ``true``, ARNs of the
kinds the properties take, an IP, an absolute path, an empty list or object) that the parser
accepts at that path. ``!Ref AWS::NoValue`` removes the property, as CloudFormation does. When no
candidate fits, the checks that depend on that value are skipped rather than guessed: nothing more
is reported for that resource. So a finding is only ever about what the template itself writes.

Every mistake, not only the first. ``parse_properties`` reports every mistake it can see at once,
but a mistake can hide others (a misspelt ``Mode`` decides which rules apply); so the rule reports
the first, then neutralises the offending value (an unknown property is dropped; a wrong value
is dropped, or replaced by a placeholder where the property is required) and parses again, until
the properties pass. A property required only because its misspelt twin was dropped is not
reported a second time. The rule reads the structured mistake (``errors.Mistake``: path, rule,
the suggested name, the allowed choices), never the message text.

The handler's code is imported from ``../handler`` relative to this file: run cfn-lint from an
environment with the function's requirements (the project's ``.venv``), e.g.
``.venv/bin/cfn-lint --append-rules lint/ examples/*.yaml``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch  # type: ignore[import-untyped]

_REPO = Path(__file__).resolve().parent.parent
# The function's code (handler/), and the plan command's (scripts/plan.py), which runs the
# function's pre-write rules on a template's resource with no AWS call.
for _path in (str(_REPO / "handler"), str(_REPO)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from meshed_crystal import registry  # noqa: E402
from meshed_crystal.errors import PropertyError  # noqa: E402
from meshed_crystal.properties import CLOUDFORMATION_KEYS, parse_properties  # noqa: E402

RESOURCE_TYPE = "Custom::MeshedCrystal"
# DESIGN §4 and §8: what Fn::GetAtt may read, per Mode (each mode's spec says).
ATTRIBUTES: Mapping[str, frozenset[str]] = {
    name: frozenset(spec.attributes) for name, spec in registry.specs().items()
}
ALL_ATTRIBUTES = frozenset().union(*ATTRIBUTES.values())

Key = str | int
PropertyPath = tuple[Key, ...]

_DELETE = object()  # a candidate: the property is removed
# Rounds of parse-and-neutralise per resource: each round settles one value.
_MAX_ROUNDS = 200
_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)\.([A-Za-z0-9.]+)\}")


def _candidates(serial: int) -> list[Any]:
    """Placeholders tried, in order, for a value that arrives at deploy time."""
    return [
        "placeholder",
        str(20000 + serial),  # a port, a size, a user id: distinct per intrinsic
        "2",  # thresholds (2-10)
        "true",
        "http",
        "/placeholder",
        "10.0.0.1",
        "arn:aws:appmesh:us-east-1:123456789012:mesh/placeholder",
        "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-placeholder",
        "arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-placeholder",
        "arn:aws:ecs:us-east-1:123456789012:task-definition/placeholder:1",
        [],
        {},
        _DELETE,
    ]


def is_intrinsic(value: Any) -> bool:
    if not isinstance(value, Mapping) or len(value) != 1:
        return False
    key = str(next(iter(value)))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def _plain(value: Any) -> Any:
    """cfn-lint's nodes (str/dict/list subclasses carrying marks) as plain values, each scalar a
    string as CloudFormation sends it: YAML's unquoted ``yes`` (a boolean) arrives as ``"true"``,
    so ``Mode: yes`` is reported as the deployed resource would report it."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return str(value)
    return value


def _intrinsics(value: Any, path: PropertyPath = ()) -> Iterator[tuple[PropertyPath, Any]]:
    if is_intrinsic(value):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _intrinsics(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _intrinsics(item, (*path, index))


def _with(value: Any, path: PropertyPath, replacement: Any) -> Any:
    """A copy of ``value`` with ``path`` set (or removed, for ``_DELETE``)."""
    if not path:
        return replacement
    head, rest = path[0], path[1:]
    if isinstance(value, Mapping) and isinstance(head, str):
        copy = dict(value)
        if rest:
            if head in copy:
                copy[head] = _with(copy[head], rest, replacement)
        elif replacement is _DELETE:
            copy.pop(head, None)
        else:
            copy[head] = replacement
        return copy
    if isinstance(value, list) and isinstance(head, int) and head < len(value):
        copy_list = list(value)
        if rest:
            copy_list[head] = _with(copy_list[head], rest, replacement)
        elif replacement is _DELETE:
            copy_list[head] = {}  # keeps the other indexes (and so the paths) as they are
        else:
            copy_list[head] = replacement
        return copy_list
    return value


def property_path(text: str, value: Any) -> PropertyPath:
    """``Listeners[0].HealthCheck.Port`` as keys, read against ``value`` (keys may hold dots)."""
    path: list[Key] = []
    rest = text
    while rest:
        index = re.match(r"^\[(\d+)\]\.?", rest)
        if index:
            path.append(int(index[1]))
            rest = rest[index.end() :]
            value = (
                value[int(index[1])]
                if isinstance(value, list) and int(index[1]) < len(value)
                else None
            )
            continue
        key = None
        if isinstance(value, Mapping):
            for candidate in sorted(value, key=len, reverse=True):
                if rest == candidate or rest.startswith((f"{candidate}.", f"{candidate}[")):
                    key = candidate
                    break
        if key is None:
            key = re.split(r"[.\[]", rest, maxsplit=1)[0]
        path.append(key)
        rest = rest[len(key) :].removeprefix(".")
        value = value.get(key) if isinstance(value, Mapping) else None
    return tuple(path)


def check_properties(properties: Any) -> list[tuple[PropertyPath, str]]:
    """Every mistake in a resource's ``Properties`` as (property path, message)."""
    if is_intrinsic(properties):
        return []
    if not isinstance(properties, Mapping):
        try:
            parse_properties(properties)
        except PropertyError as error:
            return [((), str(error))]
        return []
    original = {k: v for k, v in _plain(properties).items() if k not in CLOUDFORMATION_KEYS}
    # path -> (candidates, index): values settled by a placeholder (or removed).
    settled: dict[PropertyPath, tuple[list[Any], int]] = {}
    deploy_time: set[PropertyPath] = set()
    for serial, (path, value) in enumerate(_intrinsics(original)):
        no_value = value == {"Ref": "AWS::NoValue"}
        settled[path] = ([_DELETE] if no_value else _candidates(serial), 0)
        deploy_time.add(path)
    findings: list[tuple[PropertyPath, str]] = []
    misspelt: set[str] = set()
    for _ in range(_MAX_ROUNDS):
        trial: Any = original
        for path, (candidates, index) in settled.items():
            trial = _with(trial, path, candidates[index])
        try:
            parse_properties(trial)
        except PropertyError as error:
            path = property_path(error.path, trial)
            owner = next((p for p in settled if path[: len(p)] == p), None)
            if owner is not None or (len(path) == 1 and path[0] in misspelt):
                # A placeholder (or a dropped mistake) does not fit here: try the next one.
                owner = owner or path
                candidates, index = settled.get(owner, (_candidates(len(settled)), -1))
                if index + 1 >= len(candidates):
                    return findings  # nothing fits: the checks that depend on it are skipped
                settled[owner] = (candidates, index + 1)
                continue
            mistake = error.mistake
            findings.append((path, mistake.rule if mistake.path else str(error)))
            if mistake.suggestion and len(path) == 1:
                misspelt.add(mistake.suggestion)
            choices = _choices(trial, path, mistake.choices)
            settled[path] = ([*choices, _DELETE, *_candidates(len(settled))], 0)
        else:
            return findings
    return findings


def _choices(trial: Any, path: PropertyPath, choices: tuple[str, ...]) -> list[str]:
    """For a value that is not one of a list: the choices, the closest first (a misspelt
    ``Mode`` most likely meant the closest one, and the checks after it depend on which)."""
    if not choices:
        return []
    import difflib

    given = trial
    for key in path:
        try:
            given = given[key]
        except (KeyError, IndexError, TypeError):
            given = None
            break
    close = difflib.get_close_matches(str(given), list(choices), n=len(choices), cutoff=0)
    return [*close, *(c for c in choices if c not in close)]


def mode_of(properties: Any) -> str | None:
    """The resource's Mode, or None when it arrives at deploy time (or is not a known one)."""
    if not isinstance(properties, Mapping):
        return None
    mode = properties.get("Mode", registry.default())
    if not isinstance(mode, str):
        return None
    return next((m for m in ATTRIBUTES if m.lower() == mode.lower()), None)


class MeshedCrystalProperties(CloudFormationLintRule):  # type: ignore[misc]
    """Custom::MeshedCrystal properties checked by the resource's own validation."""

    id = "E9101"
    shortdesc = "Custom::MeshedCrystal properties are valid"
    description = (
        "Checks each Custom::MeshedCrystal resource's properties with the resource's own "
        "validation (meshed_crystal.properties.parse_properties), intrinsic functions accepted "
        "where a value arrives at deploy time"
    )
    source_url = "docs/reference.md"
    tags: ClassVar[list[str]] = ["resources", "custom", "meshed-crystal"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        for name, resource in cfn.get_resources([RESOURCE_TYPE]).items():
            if not isinstance(resource, Mapping):
                continue
            properties = resource.get("Properties")
            base: list[Key] = ["Resources", name, "Properties"]
            if properties is None:
                properties = {}
                base = ["Resources", name]
            findings = check_properties(properties)
            if not findings and isinstance(properties, Mapping):
                findings = template_checks(_template(cfn), name)
            for path, message in findings:
                shown = ".".join(f"[{k}]" if isinstance(k, int) else str(k) for k in path).replace(
                    ".[", "["
                )
                matches.append(
                    RuleMatch(
                        [*base, *_existing(properties, path)],
                        f"{RESOURCE_TYPE} {name}: {shown + ': ' if shown else ''}{message}",
                    )
                )
        return matches


def _template(cfn: Any) -> Any:
    """cfn-lint's template (already in the long form) as scripts/cfn_template.py's Template."""
    from scripts.cfn_template import Template

    return Template(
        path=str(getattr(cfn, "filename", None) or "template"),
        text="",
        data=_plain(cfn.template),
        spans={},
        key_spans={},
    )


def template_checks(template: Any, name: str) -> list[tuple[PropertyPath, str]]:
    """The function's rules that need more than the properties (the task definition: inline, or
    an AWS::ECS::TaskDefinition of the same template; the Cloud Map names), run by the plan
    command's code (the function's own modes, no AWS call) on what the template says. Nothing
    when the template does not hold the task definition (it is read at deploy time), nor for a
    rule broken only where a value is known at deploy time."""
    from meshed_crystal.errors import MeshedCrystalError, PropertyError

    from scripts import plan

    options = plan.Options()
    try:
        read = plan.read_resource(template, name, {}, options)
    except (plan.PlanError, MeshedCrystalError):
        return []
    if read.base is None and isinstance(read.properties.get("TaskDefinition"), str):
        return []  # a task definition in ECS: only a deploy can read it
    # Names only Cloud Map knows stand in as placeholders: no rule here depends on them
    # beyond their form, which these placeholders keep.
    names = read.cloud_map_names or ("placeholder.local", "placeholder")
    try:
        plan.plan(read.properties, read.base, options._replace(cloud_map_names=names))
    except PropertyError as error:
        mistakes: list[tuple[str, str]] = list(error.errors)
    except plan.PlanError:
        return []
    except MeshedCrystalError as error:
        mistakes = [("", str(error))]
    else:
        return []
    uncertain = [u.lower() for u in read.uncertain]
    found: list[tuple[PropertyPath, str]] = []
    for at, rule in mistakes:
        where = at.lower()
        if where and any(where.startswith(u) for u in uncertain):
            continue  # about a value the template does not give
        if where.startswith("taskdefinition") and read.base is not None:
            # read.base is set only for a task definition the template declares elsewhere
            rule = f"{rule} (the task definition is {read.base_name})"
        properties = template.get(("Resources", name, "Properties"))
        found.append((property_path(at, properties) if at else (), rule))
    return found


def _existing(value: Any, path: PropertyPath) -> list[Key]:
    """The longest prefix of ``path`` the template has (a missing property: its parent's line)."""
    found: list[Key] = []
    for key in path:
        in_mapping = isinstance(value, Mapping) and isinstance(key, str) and key in value
        in_list = isinstance(value, list) and isinstance(key, int) and key < len(value)
        if not (in_mapping or in_list):
            break
        value = value[key]
        found.append(key)
    return found


class MeshedCrystalAttributes(CloudFormationLintRule):  # type: ignore[misc]
    """Fn::GetAtt of a Custom::MeshedCrystal names an attribute of its Mode."""

    id = "E9102"
    shortdesc = "Custom::MeshedCrystal attributes exist in the resource's Mode"
    description = (
        "Fn::GetAtt (and ${Resource.Attribute} in Fn::Sub) of a Custom::MeshedCrystal must name "
        "an attribute the resource returns in its Mode"
    )
    source_url = "docs/reference.md"
    tags: ClassVar[list[str]] = ["resources", "custom", "meshed-crystal", "getatt"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        resources = cfn.get_resources([RESOURCE_TYPE])
        modes = {
            name: mode_of(resource.get("Properties") if isinstance(resource, Mapping) else None)
            for name, resource in resources.items()
        }
        matches: list[RuleMatch] = []
        for path, name, attribute in _references(cfn.template):
            if name not in modes or not isinstance(attribute, str):
                continue
            message = _attribute_problem(name, attribute, modes[name], cfn.template, path)
            if message:
                matches.append(RuleMatch(path, message))
        return matches


# What a Service Connect resource returns in place of an App Mesh attribute, if anything.
_COUNTERPARTS: Mapping[str, str] = {
    "VirtualServiceArn": "ClientAliasDnsName or Endpoint (what clients call)",
    "VirtualNodeName": "DiscoveryName",
    "MeshName": "NamespaceName",
    "MeshArn": "NamespaceArn",
}


def _attribute_problem(
    name: str,
    attribute: str,
    mode: str | None,
    template: Any = None,
    path: list[Key] | None = None,
) -> str | None:
    known = ATTRIBUTES[mode] if mode else ALL_ATTRIBUTES
    if attribute in known:
        return None
    other = next((m for m in ATTRIBUTES if m != mode and attribute in ATTRIBUTES[m]), None)
    if mode and other:
        return (
            f"{RESOURCE_TYPE} {name} returns no {attribute} in {mode} mode (an attribute of "
            f"{other} mode): {_fix(name, attribute, mode, template, path or [])}"
        )
    return (
        f"{RESOURCE_TYPE} {name} has no attribute {attribute}; "
        f"{mode + ' mode' if mode else ' or '.join(ATTRIBUTES) + ' mode'} returns: "
        f"{', '.join(sorted(known))}"
    )


def _fix(name: str, attribute: str, mode: str, template: Any, path: list[Key]) -> str:
    """How to fix a read of the other mode's attribute, from where the read is."""
    if mode == "AppMesh":
        return (
            f"it exists once {name} has Mode: ServiceConnect; set that in the same update, or "
            "remove this reference"
        )
    where = [str(k) for k in path]
    resource = template.get("Resources", {}).get(where[1]) if where[:1] == ["Resources"] else None
    kind = str(resource.get("Type", "")) if isinstance(resource, Mapping) else ""
    output = (
        template.get("Outputs", {}).get(where[1]) if where[:1] == ["Outputs"] and template else None
    )
    if "PolicyDocument" in where or kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        fix = (
            "remove this statement: it is the Envoy policy (appmesh:StreamAggregatedResources "
            "on the virtual node), and Service Connect's proxy needs none"
        )
    elif isinstance(output, Mapping) and "Export" in output:
        fix = (
            "this output is exported: change the stacks that import it (Fn::ImportValue) "
            "first, then remove the output or give it a ServiceConnect attribute"
        )
        if attribute in _COUNTERPARTS:
            fix += f" ({_COUNTERPARTS[attribute]})"
    elif attribute in _COUNTERPARTS:
        fix = f"read {_COUNTERPARTS[attribute]} instead"
    else:
        fix = "remove this reference: ServiceConnect mode has no counterpart"
    return f"{fix} (the order of a move: docs/migration.md)"


def _references(value: Any, path: tuple[Key, ...] = ()) -> Iterator[tuple[list[Key], str, Any]]:
    """Every (path, resource, attribute) a GetAtt or a Sub reference reads."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = (*path, key)
            if key == "Fn::GetAtt":
                target = item
                if isinstance(target, str) and "." in target:
                    target = target.split(".", 1)
                if isinstance(target, list) and len(target) == 2 and isinstance(target[0], str):
                    yield [*here], target[0], target[1]
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) and item else item
                if isinstance(text, str):
                    for reference in _SUB_REFERENCE.finditer(text):
                        yield [*here], reference[1], reference[2]
            yield from _references(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _references(item, (*path, index))


class MeshedCrystalInert(CloudFormationLintRule):  # type: ignore[misc]
    """A property the resource's Mode validates and does not use."""

    id = "W9103"
    shortdesc = "Custom::MeshedCrystal properties inert in the resource's Mode"
    description = (
        "A Custom::MeshedCrystal property that its Mode validates and ignores: the App Mesh-only "
        "properties and a listener's HealthCheck in ServiceConnect mode (the function names them "
        "in a warning), ServiceConnect in AppMesh mode"
    )
    source_url = "docs/reference.md"
    tags: ClassVar[list[str]] = ["resources", "custom", "meshed-crystal"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        from meshed_crystal.modes.service_connect.mode import inert_properties

        matches: list[RuleMatch] = []
        for name, resource in cfn.get_resources([RESOURCE_TYPE]).items():
            properties = resource.get("Properties") if isinstance(resource, Mapping) else None
            mode = mode_of(properties)
            if mode is None or not isinstance(properties, Mapping):
                continue
            if mode == "ServiceConnect":
                # The function's own list (the names its warning gives).
                inert = inert_properties(_plain(properties))
                why = (
                    "App Mesh only: validated and ignored in ServiceConnect mode; remove it once "
                    "App Mesh is left for good (docs/migration.md)"
                )
            else:
                # DESIGN §2: ServiceConnect is validated (and inert) in AppMesh mode.
                inert = ["ServiceConnect"] if properties.get("ServiceConnect") is not None else []
                why = "used in ServiceConnect mode only: validated and ignored in AppMesh mode"
            for text in inert:
                path = property_path(text, properties)
                what = (
                    "Service Connect has no listener health check (give the container a "
                    "HealthCheck in the task definition: ECS runs it)"
                    if text.endswith(".HealthCheck")
                    else why
                )
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", *_existing(properties, path)],
                        f"{RESOURCE_TYPE} {name}: {text} is inert in {mode} mode: {what}",
                    )
                )
        return matches
