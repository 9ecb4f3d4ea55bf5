"""cfn-lint rules for ``Custom::MeshedCrystal``: the resource's own validation, before deploying.

    cfn-lint --append-rules lint/ template.yaml

cfn-lint (1.x) imports every ``*.py`` in the ``--append-rules`` folder whose name starts with a
letter and instantiates each ``CloudFormationLintRule`` subclass it defines. This module defines
two rules, in cfn-lint's range for custom rules:

``E9101`` — the properties of every ``Custom::MeshedCrystal`` go through the resource's own
    ``meshed_crystal.properties.parse_properties`` (the code the function runs: same rules, same
    messages), each mistake reported at its own line with its property path.

``E9102`` — ``Fn::GetAtt`` (and ``${Resource.Attribute}`` in ``Fn::Sub``) of a
    ``Custom::MeshedCrystal`` must name an attribute the resource returns in its ``Mode``
    (DESIGN §4 and §8): an App Mesh attribute of a ``ServiceConnect`` resource (or the reverse)
    would fail the stack operation only after the resource was created.

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

_HANDLER = str(Path(__file__).resolve().parent.parent / "handler")
if _HANDLER not in sys.path:
    sys.path.insert(0, _HANDLER)

from meshed_crystal.errors import PropertyError  # noqa: E402
from meshed_crystal.properties import CLOUDFORMATION_KEYS, parse_properties  # noqa: E402

RESOURCE_TYPE = "Custom::MeshedCrystal"
# DESIGN §4 and §8: what Fn::GetAtt may read, per Mode.
ATTRIBUTES: Mapping[str, frozenset[str]] = {
    "AppMesh": frozenset(
        {
            "Mode",
            "TaskDefinitionArn",
            "TaskDefinitionFamily",
            "TaskDefinitionRevision",
            "VirtualNodeArn",
            "VirtualNodeName",
            "VirtualServiceArn",
            "VirtualServiceName",
            "MeshName",
            "MeshArn",
            "EnvoyImage",
        }
    ),
    "ServiceConnect": frozenset(
        {
            "Mode",
            "TaskDefinitionArn",
            "TaskDefinitionFamily",
            "TaskDefinitionRevision",
            "PortName",
            "AppProtocol",
            "DiscoveryName",
            "ClientAliasDnsName",
            "ClientAliasPort",
            "NamespaceArn",
            "NamespaceName",
            "Endpoint",
            "VirtualServiceName",
        }
    ),
}

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
    """cfn-lint's nodes (str/dict/list subclasses carrying marks) as plain values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
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
    mode = properties.get("Mode", "AppMesh")
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
            for path, message in check_properties(properties):
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
        "an attribute the resource returns in its Mode (AppMesh or ServiceConnect)"
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
            message = _attribute_problem(name, attribute, modes[name])
            if message:
                matches.append(RuleMatch(path, message))
        return matches


def _attribute_problem(name: str, attribute: str, mode: str | None) -> str | None:
    known = ATTRIBUTES[mode] if mode else ATTRIBUTES["AppMesh"] | ATTRIBUTES["ServiceConnect"]
    if attribute in known:
        return None
    other = next((m for m in ATTRIBUTES if m != mode and attribute in ATTRIBUTES[m]), None)
    if mode and other:
        return (
            f"{RESOURCE_TYPE} {name} returns no {attribute} in {mode} mode (an attribute of "
            f"{other} mode); {mode} mode returns: {', '.join(sorted(ATTRIBUTES[mode]))}"
        )
    return (
        f"{RESOURCE_TYPE} {name} has no attribute {attribute}; "
        f"{mode + ' mode' if mode else 'AppMesh or ServiceConnect mode'} returns: "
        f"{', '.join(sorted(known))}"
    )


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
