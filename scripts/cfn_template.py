"""Read CloudFormation templates as CloudFormation would, from the text alone (no AWS call).

Shared by the commands that reason about a user's templates (``tasks.py migrate``, ``tasks.py
plan TEMPLATE``). Two parts:

**Loading.** :func:`load` (a file) and :func:`loads` (a text) read YAML with the short-form
intrinsics (``!Ref``, ``!Sub``, ``!GetAtt a.b``, ``!ImportValue``, ``!If``, ``!Join``,
``!Select``, ``!Split``, ``!FindInMap``, ``!Equals``, ...) or JSON into a :class:`Template`
whose ``data`` is the long form (``{"Fn::GetAtt": ["a", "b"]}``, ``{"Ref": "X"}``): plain dicts,
lists, strings, ints, floats, bools and None, as ``json.loads`` of the same template would give.
Timestamps stay strings (``Version: 2012-10-17`` is the text, not a date). For every node the
template keeps where it is in the text: ``template.span(path)`` is the :class:`Span` (character
offsets ``start``/``end`` into ``template.text``, and 1-based ``line``/``column`` of both ends)
of the value at ``path``, a tuple of keys and list indexes (``("Resources", "Crystal",
"Properties", "Mode")``); ``template.key_span(path)`` is the span of that value's key in its
mapping. The argument of a short-form tag has the tag node's span (``!Ref X`` at path ``p`` and
``X`` at ``(*p, "Ref")``). So a writer edits the original text at these offsets and keeps every
other byte: comments, order, quoting, short-form tags. Duplicate keys are refused (CloudFormation
refuses them too).

**Resolving.** A :class:`Resolver` over one or more templates computes values from the templates
alone: ``resolver.resolve(template, node)`` (a node of ``template.data``, or a path) gives the
value with every intrinsic evaluated, or an :class:`Unresolved` (anywhere in the result, never
raised) that says why: the value exists only at deploy time (an ARN, an id) or the templates do
not say. Nothing is guessed. What it evaluates:

* ``Ref`` of a parameter: the value given (``overrides``, by stack), else its ``Default``; a
  ``CommaDelimitedList`` or ``List<...>`` parameter is a list. Without either: Unresolved.
* ``Ref`` of a pseudo parameter: the value given in ``pseudo`` (``AWS::Region``, ...), else
  Unresolved with a placeholder (``us-east-1``, ``123456789012``, ``aws``, ...).
  ``AWS::StackName``: given as ``overrides[stack]["AWS::StackName"]``, or bound by an import
  (below). ``Ref AWS::NoValue`` removes the key or list item, as CloudFormation does.
* ``Ref``/``Fn::GetAtt`` of a resource, where the name is derivable from the template:
  ``AWS::ServiceDiscovery::Service`` ``Name``; ``AWS::AppMesh::Mesh`` ``MeshName``; the
  ``Custom::MeshedCrystal`` attributes that are names, by the function's own defaults
  (``VirtualServiceName`` = ``<Cloud Map service>.<namespace>``, ``VirtualNodeName``,
  ``MeshName``, ``Mode``, ``ClientAliasDnsName``, ``NamespaceName``). Everything else (ARNs,
  ids) is Unresolved with an ``origin`` (:class:`Origin`: template, logical id, attribute), so a
  reader can still follow what the value *is*: :meth:`Resolver.cloud_map_names` gives the
  (namespace name, service name) of a value that is a Cloud Map service's ARN or id, across
  imports.
* ``Fn::Sub`` (both forms, ``${!Literal}`` kept), ``Fn::Join``, ``Fn::Select``, ``Fn::Split``,
  ``Fn::FindInMap``, ``Fn::If`` with its condition (``Fn::Equals``, ``Fn::And``, ``Fn::Or``,
  ``Fn::Not``, ``Condition``), ``Fn::ImportValue`` against the exports (``Outputs`` with
  ``Export.Name``) of the other loaded templates. An import whose name matches no export but
  matches exactly one template's export written with an unknown ``${AWS::StackName}`` binds that
  template's stack name; the binding is recorded in ``resolver.notes`` (said, never silent).
* A string made of unresolved parts is Unresolved; its ``placeholder`` is the string with the
  parts' placeholders, when every part has one. Unsupported functions (``Fn::GetAZs``,
  ``Fn::Cidr``, ``Fn::Base64``, ``Fn::Transform``, ...): Unresolved naming the function.

Also on a :class:`Template`: ``get(path)``, ``section("Outputs")``, ``resources``,
``resources_of_type(type)``, ``name`` (the file's stem, the ``STACK`` of ``--parameter
STACK.KEY=VALUE``). On a :class:`Resolver`: ``parameter(template, name)``, ``stack_name(template)``,
``exports()`` (export name -> (template, output)), ``export_names(template)``,
``cloud_map_names(template, node)``, ``namespace_name(template, node)``, ``notes``. The default
names of a ``Custom::MeshedCrystal`` follow the function's rule (App Mesh mode's ``_names`` and
Service Connect mode's wiring; tests/unit/test_migrate.py holds them equal).

:func:`cloudformation_strings` turns a resolved value into what a custom resource receives
(every scalar a string); :func:`placeheld` puts each Unresolved's placeholder in its place (for a
parser that needs a value of the right shape) and says which had none.
``python3 -m scripts.cfn_template TEMPLATE [PATH [OTHER_TEMPLATE ...]]`` prints a template's
resolved value (or one path's, ``Resources/Crystal/Properties``) for a look.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml  # type: ignore[import-untyped]

__all__ = [
    "NO_VALUE",
    "Origin",
    "Resolver",
    "Span",
    "Template",
    "TemplateError",
    "Unresolved",
    "cloudformation_strings",
    "find_unresolved",
    "load",
    "loads",
    "placeheld",
]

Key = str | int
Path_ = tuple[Key, ...]


class TemplateError(Exception):
    """The text is no template (not YAML/JSON, duplicate keys, an unknown short-form tag)."""


@dataclass(frozen=True)
class Span:
    """Where a node is in the text: character offsets and 1-based line/column of both ends."""

    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True)
class Origin:
    """What an unresolved value is: ``Fn::GetAtt logical_id.attribute`` (``Ref``: attribute
    ``""``) of a resource of ``template``."""

    template: str
    logical_id: str
    attribute: str


@dataclass(frozen=True)
class Unresolved:
    """A value the templates alone do not give, and why.

    ``placeholder``: a value of the right shape to stand in for it (an ARN of the right kind, the
    default Region), when there is one; ``origin``: the resource attribute it is, when known."""

    reason: str
    placeholder: str | None = None
    origin: Origin | None = None

    def __str__(self) -> str:
        return f"<unresolved: {self.reason}>"


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()
"""``Ref AWS::NoValue``: removed from the mapping or list that holds it."""

# Short-form tags and their long form. ``!GetAtt a.b`` (a scalar) is split at the first dot.
_TAGS: Final = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    **{
        f"!{name}": f"Fn::{name}"
        for name in (
            "And",
            "Base64",
            "Cidr",
            "Equals",
            "FindInMap",
            "ForEach",
            "GetAtt",
            "GetAZs",
            "If",
            "ImportValue",
            "Join",
            "Length",
            "Not",
            "Or",
            "Select",
            "Split",
            "Sub",
            "ToJsonString",
            "Transform",
        )
    },
}

PSEUDO_PLACEHOLDERS: Final = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "STACK",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/STACK/00000000",
    "AWS::NotificationARNs": "",
}


# --------------------------------------------------------------------------- loading


@dataclass
class Template:
    """One template: its text, its long-form data and where each node is in the text."""

    path: str
    """As given (a file path, or a name for a text)."""
    text: str
    data: dict[str, Any]
    spans: dict[Path_, Span] = field(repr=False)
    key_spans: dict[Path_, Span] = field(repr=False)

    @property
    def name(self) -> str:
        """The stack's short name for ``--parameter STACK.KEY=VALUE``: the file's stem."""
        return Path(self.path).stem

    def span(self, path: Sequence[Key]) -> Span:
        return self.spans[tuple(path)]

    def key_span(self, path: Sequence[Key]) -> Span:
        return self.key_spans[tuple(path)]

    def get(self, path: Sequence[Key]) -> Any:
        node: Any = self.data
        for key in path:
            node = node[key]
        return node

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        return value if isinstance(value, dict) else {}

    @property
    def resources(self) -> dict[str, Any]:
        return self.section("Resources")

    def resources_of_type(self, type_: str) -> list[str]:
        return [
            logical
            for logical, spec in self.resources.items()
            if isinstance(spec, dict) and spec.get("Type") == type_
        ]


def load(path: str | Path) -> Template:
    return loads(Path(path).read_text(encoding="utf-8"), path=str(path))


def loads(text: str, *, path: str = "<template>") -> Template:
    """The template in ``text`` (YAML or JSON)."""
    # JSON may indent with tabs, which YAML refuses; outside strings (where JSON escapes them)
    # a tab is only whitespace, and a space keeps every offset.
    source = text.replace("\t", " ") if text.lstrip().startswith("{") else text
    try:
        node = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise TemplateError(f"{path}: not YAML or JSON: {error}") from error
    builder = _Builder(path)
    data = builder.build(node, ()) if node is not None else None
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: a template is a mapping at the top")
    return Template(path, text, data, builder.spans, builder.key_spans)


def _span(node: Any) -> Span:
    start, end = node.start_mark, node.end_mark
    return Span(
        start.index, end.index, start.line + 1, start.column + 1, end.line + 1, end.column + 1
    )


_STANDARD = "tag:yaml.org,2002:"


class _Builder:
    def __init__(self, path: str) -> None:
        self.path = path
        self.spans: dict[Path_, Span] = {}
        self.key_spans: dict[Path_, Span] = {}
        self._constructor = yaml.SafeLoader("")

    def _where(self, node: Any) -> str:
        return f"{self.path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"

    def build(self, node: Any, path: Path_) -> Any:
        self.spans[path] = _span(node)
        tag = node.tag
        if tag.startswith("!"):
            if tag not in _TAGS:
                raise TemplateError(f"{self._where(node)}: unknown tag {tag}")
            name = _TAGS[tag]
            inner = (*path, name)
            if tag == "!GetAtt" and isinstance(node, yaml.ScalarNode):
                self.spans[inner] = _span(node)
                logical, _, attribute = str(node.value).partition(".")
                return {name: [logical, attribute]}
            return {name: self._plain(node, inner)}
        return self._plain(node, path)

    def _plain(self, node: Any, path: Path_) -> Any:
        self.spans[path] = _span(node)
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self._scalar(key_node)
                key = key if isinstance(key, str) else str(key)
                if key in result:
                    raise TemplateError(f"{self._where(key_node)}: duplicate key {key!r}")
                self.key_spans[(*path, key)] = _span(key_node)
                result[key] = self.build(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: Any) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise TemplateError(f"{self._where(node)}: a key must be a scalar")
        tag = node.tag
        if tag.startswith("!") or tag in (f"{_STANDARD}str", f"{_STANDARD}timestamp"):
            return str(node.value)
        if tag in (f"{_STANDARD}int", f"{_STANDARD}float", f"{_STANDARD}bool", f"{_STANDARD}null"):
            return self._constructor.construct_object(node)
        return str(node.value)


# --------------------------------------------------------------------------- resolving


def find_unresolved(value: Any) -> Unresolved | None:
    """The first Unresolved in a resolved value, or None."""
    if isinstance(value, Unresolved):
        return value
    if isinstance(value, dict):
        values: Any = value.values()
    elif isinstance(value, list):
        values = value
    else:
        return None
    for item in values:
        found = find_unresolved(item)
        if found is not None:
            return found
    return None


def placeheld(
    value: Any,
    path: str = "",
    missing: list[str] | None = None,
    replaced: list[tuple[str, Unresolved]] | None = None,
) -> Any:
    """A resolved value with each Unresolved replaced by its placeholder, or by the string
    ``"placeholder"`` where it has none; ``"<path>: <reason>"`` of each of those is appended to
    ``missing``, and ``(path, Unresolved)`` of every one replaced to ``replaced`` (what ``plan``
    lists as placeholders). For code that needs a value of the right shape (a parser), never for
    a value shown as the template's."""
    if isinstance(value, Unresolved):
        if replaced is not None:
            replaced.append((path, value))
        if value.placeholder is None:
            if missing is not None:
                missing.append(f"{path}: {value.reason}")
            return "placeholder"
        return value.placeholder
    if isinstance(value, dict):
        return {
            k: placeheld(v, f"{path}.{k}" if path else k, missing, replaced)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [placeheld(v, f"{path}[{i}]", missing, replaced) for i, v in enumerate(value)]
    return value


def cloudformation_strings(value: Any) -> Any:
    """A resolved value as a custom resource receives it: every scalar a string."""
    if isinstance(value, dict):
        return {k: cloudformation_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cloudformation_strings(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


_SUB: Final = re.compile(r"\$\{([^}]*)\}")
_STACK_MARK: Final = "\x00STACK\x00"


class _Unresolvable(Exception):  # noqa: N818 (a control-flow signal, not an error to report)
    def __init__(self, unresolved: Unresolved) -> None:
        super().__init__(unresolved.reason)
        self.unresolved = unresolved


@dataclass(frozen=True)
class _Export:
    template: Template
    output: str
    value: Any  # the output's Value node (unresolved)


class Resolver:
    """Values of the given templates, from the templates alone (see the module's docstring).

    ``overrides``: per stack (``Template.name``, or the path as given), parameter values as
    given (``{"crystal": {"PlatformStackName": "prod-platform"}}``); ``AWS::StackName`` there
    names the stack. ``pseudo``: pseudo parameters known for every stack (``AWS::Region``)."""

    def __init__(
        self,
        templates: Sequence[Template],
        overrides: Mapping[str, Mapping[str, str]] | None = None,
        pseudo: Mapping[str, str] | None = None,
    ) -> None:
        self.templates = list(templates)
        self.overrides = {k: dict(v) for k, v in (overrides or {}).items()}
        self.pseudo = dict(pseudo or {})
        self.notes: list[str] = []
        self._stack_names: dict[str, str] = {}
        for template in self.templates:
            given = self._given(template).get("AWS::StackName")
            if given is not None:
                self._stack_names[template.path] = given

    # -- public ----------------------------------------------------------------------

    def resolve(self, template: Template, node_or_path: Any) -> Any:
        """The value with every intrinsic evaluated; Unresolved parts stay in it."""
        if isinstance(node_or_path, tuple):
            node_or_path = template.get(node_or_path)
        return self._value(template, node_or_path, ())

    def parameter(self, template: Template, name: str) -> Any:
        return self._ref(template, name, ())

    def stack_name(self, template: Template) -> str | None:
        return self._stack_names.get(template.path)

    def exports(self) -> dict[str, tuple[Template, str]]:
        """Export name -> (template, output logical id), for every export whose name resolves."""
        found: dict[str, tuple[Template, str]] = {}
        for export_name, export in self._exports().items():
            found[export_name] = (export.template, export.output)
        return found

    def export_names(self, template: Template) -> dict[str, Any]:
        """Output logical id -> its export's name (resolved, or Unresolved) for ``template``."""
        names: dict[str, Any] = {}
        for output, spec in template.section("Outputs").items():
            if isinstance(spec, dict) and isinstance(spec.get("Export"), dict):
                names[output] = self._value(template, spec["Export"].get("Name"), ())
        return names

    def cloud_map_names(self, template: Template, node: Any) -> tuple[str, str] | Unresolved:
        """(namespace name, service name) of a value that is a Cloud Map service's ARN or id."""
        value = self._value(template, node, ())
        origin = value.origin if isinstance(value, Unresolved) else None
        if origin is None:
            return Unresolved(
                f"{_text(node)} is not a Cloud Map service of the given templates"
                if not isinstance(value, Unresolved)
                else value.reason
            )
        owner = self._template(origin.template)
        spec = owner.resources.get(origin.logical_id) or {}
        if spec.get("Type") != "AWS::ServiceDiscovery::Service":
            return Unresolved(
                f"{origin.logical_id} is a {spec.get('Type')}, not a Cloud Map service"
            )
        props = spec.get("Properties") or {}
        name = self._value(owner, props.get("Name"), ())
        if not isinstance(name, str):
            return _as_unresolved(name, f"{origin.logical_id}'s Name")
        namespace = self.namespace_name(owner, props.get("NamespaceId"))
        if isinstance(namespace, Unresolved):
            return namespace
        return namespace, name

    def namespace_name(self, template: Template, node: Any) -> str | Unresolved:
        """The name of the Cloud Map namespace a value (its id or ARN) stands for."""
        value = self._value(template, node, ())
        origin = value.origin if isinstance(value, Unresolved) else None
        if origin is None:
            return _as_unresolved(value, "the Cloud Map namespace")
        owner = self._template(origin.template)
        spec = owner.resources.get(origin.logical_id) or {}
        if not str(spec.get("Type", "")).startswith("AWS::ServiceDiscovery::") or not str(
            spec.get("Type", "")
        ).endswith("Namespace"):
            return Unresolved(f"{origin.logical_id} is a {spec.get('Type')}, not a namespace")
        name = self._value(owner, (spec.get("Properties") or {}).get("Name"), ())
        return name if isinstance(name, str) else _as_unresolved(name, "the namespace's Name")

    # -- evaluation ------------------------------------------------------------------

    def _template(self, path: str) -> Template:
        return next(t for t in self.templates if t.path == path)

    def _given(self, template: Template) -> dict[str, str]:
        for key in (template.path, template.name):
            if key in self.overrides:
                return self.overrides[key]
        return {}

    def _value(self, template: Template, node: Any, seen: tuple[str, ...]) -> Any:
        try:
            return self._eval(template, node, seen)
        except _Unresolvable as failed:
            return failed.unresolved

    def _eval(self, template: Template, node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            items = [self._value(template, item, seen) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self._ref(template, arg, seen)
            if key == "Condition" and isinstance(arg, str):
                return self._condition(template, arg, seen)
            if key.startswith("Fn::"):
                try:
                    return self._function(template, key, arg, seen)
                except (ValueError, TypeError, IndexError, AttributeError) as error:
                    # A function written with the wrong shape of arguments.
                    raise _Unresolvable(Unresolved(f"{key} of {_text(arg)}: {error}")) from None
        entries = {k: self._value(template, v, seen) for k, v in node.items()}
        return {k: v for k, v in entries.items() if v is not NO_VALUE}

    def _strict(self, template: Template, node: Any, seen: tuple[str, ...]) -> Any:
        """The value, or raise its Unresolved (a function of an unresolved argument is too)."""
        value = self._eval(template, node, seen)
        found = find_unresolved(value)
        if found is not None:
            raise _Unresolvable(found)
        return value

    def _ref(self, template: Template, name: Any, seen: tuple[str, ...]) -> Any:
        if not isinstance(name, str):
            raise _Unresolvable(Unresolved(f"Ref of {_text(name)}"))
        if name == "AWS::NoValue":
            return NO_VALUE
        if name.startswith("AWS::"):
            return self._pseudo(template, name)
        parameters = template.section("Parameters")
        if name in parameters:
            return self._parameter(template, name, parameters[name] or {})
        if name in template.resources:
            return self._attribute(template, name, "", seen)
        raise _Unresolvable(
            Unresolved(f"{template.path}: Ref {name}: no such parameter or resource")
        )

    def _pseudo(self, template: Template, name: str) -> Any:
        if name == "AWS::StackName" and template.path in self._stack_names:
            return self._stack_names[template.path]
        if name in self.pseudo:
            return self.pseudo[name]
        given = self._given(template)
        if name in given:
            return given[name]
        return Unresolved(
            f"{name} of {template.name} is known at deploy time"
            + (
                f" (give --parameter {template.name}.{name}=...)"
                if name == "AWS::StackName"
                else ""
            ),
            PSEUDO_PLACEHOLDERS.get(name),
        )

    def _parameter(self, template: Template, name: str, spec: Mapping[str, Any]) -> Any:
        given = self._given(template)
        if name in given:
            value: Any = given[name]
        elif "Default" in spec:
            value = cloudformation_strings(spec["Default"])
            if isinstance(value, list):
                value = ",".join(value)
        else:
            return Unresolved(
                f"parameter {name} of {template.name} has no default "
                f"(give --parameter {template.name}.{name}=VALUE)"
            )
        type_ = str(spec.get("Type", "String"))
        if type_ == "CommaDelimitedList" or type_.startswith("List<"):
            return [] if value == "" else [part.strip() for part in str(value).split(",")]
        return str(value)

    def _condition(self, template: Template, name: str, seen: tuple[str, ...]) -> bool:
        conditions = template.section("Conditions")
        if name not in conditions:
            raise _Unresolvable(Unresolved(f"{template.path}: no condition {name}"))
        if name in seen:
            raise _Unresolvable(Unresolved(f"condition {name} depends on itself"))
        value = self._strict(template, conditions[name], (*seen, name))
        if not isinstance(value, bool):
            raise _Unresolvable(Unresolved(f"condition {name} is not a condition"))
        return value

    def _function(self, template: Template, key: str, arg: Any, seen: tuple[str, ...]) -> Any:
        if key == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            logical, attribute = (self._strict(template, part, seen) for part in parts)
            return self._attribute(template, str(logical), str(attribute), seen)
        if key == "Fn::Sub":
            return self._sub(template, arg, seen)
        if key == "Fn::Join":
            separator, items = arg
            values = self._eval(template, items, seen)
            if isinstance(values, Unresolved) or not isinstance(values, list):
                raise _Unresolvable(_as_unresolved(values, "Fn::Join's list"))
            return _concat(str(separator), [_scalar(v) for v in values])
        if key == "Fn::Select":
            index, items = (self._strict(template, part, seen) for part in arg)
            if not isinstance(items, list) or not str(index).isdigit():
                raise _Unresolvable(Unresolved("Fn::Select of no list"))
            if int(index) >= len(items):
                raise _Unresolvable(Unresolved(f"Fn::Select: index {index} of {len(items)} items"))
            return items[int(index)]
        if key == "Fn::Split":
            separator, text = (self._strict(template, part, seen) for part in arg)
            return str(text).split(str(separator))
        if key == "Fn::ImportValue":
            return self._import(template, self._strict(template, arg, seen), seen)
        if key == "Fn::If":
            name, if_true, if_false = arg
            return self._eval(
                template, if_true if self._condition(template, name, seen) else if_false, seen
            )
        if key == "Fn::Equals":
            left, right = (self._strict(template, part, seen) for part in arg)
            return cloudformation_strings(left) == cloudformation_strings(right)
        if key == "Fn::Not":
            return not self._strict(template, arg[0], seen)
        if key == "Fn::And":
            return all(self._strict(template, part, seen) for part in arg)
        if key == "Fn::Or":
            return any(self._strict(template, part, seen) for part in arg)
        if key == "Fn::FindInMap":
            mapping, first, second = (self._strict(template, part, seen) for part in arg[:3])
            try:
                return template.section("Mappings")[mapping][first][second]
            except (KeyError, TypeError):
                raise _Unresolvable(
                    Unresolved(f"Fn::FindInMap {mapping}.{first}.{second}")
                ) from None
        raise _Unresolvable(Unresolved(f"{key} is not evaluated from the template alone"))

    def _sub(self, template: Template, arg: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(arg, list):
            text, variables = arg[0], arg[1] if len(arg) > 1 else {}
        else:
            text, variables = arg, {}
        if not isinstance(text, str):
            raise _Unresolvable(Unresolved(f"Fn::Sub of {_text(text)}"))
        parts: list[Any] = []
        position = 0
        for match in _SUB.finditer(text):
            parts.append(text[position : match.start()])
            position = match.end()
            name = match[1]
            if name.startswith("!"):
                parts.append("${" + name[1:] + "}")
            elif name in variables:
                parts.append(_scalar(self._value(template, variables[name], seen)))
            elif "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                parts.append(_scalar(self._value_of(template, logical, attribute, seen)))
            else:
                parts.append(_scalar(self._value(template, {"Ref": name}, seen)))
        parts.append(text[position:])
        return _concat("", parts)

    def _value_of(
        self, template: Template, logical: str, attribute: str, seen: tuple[str, ...]
    ) -> Any:
        try:
            return self._attribute(template, logical, attribute, seen)
        except _Unresolvable as failed:
            return failed.unresolved

    # -- resources -------------------------------------------------------------------

    def _attribute(
        self, template: Template, logical: str, attribute: str, seen: tuple[str, ...]
    ) -> Any:
        spec = template.resources.get(logical)
        what = f"{logical}.{attribute}" if attribute else f"Ref {logical}"
        if not isinstance(spec, dict):
            raise _Unresolvable(Unresolved(f"{template.path}: {what}: no such resource"))
        marker = f"{template.path}#{logical}.{attribute}"
        if marker in seen:
            raise _Unresolvable(Unresolved(f"{what} depends on itself"))
        seen = (*seen, marker)
        origin = Origin(template.path, logical, attribute)
        type_ = str(spec.get("Type"))
        props = spec.get("Properties") or {}
        derived = self._derived(template, logical, type_, attribute, props, seen)
        if derived is not None:
            return derived
        return Unresolved(
            f"{what} ({type_}) is known at deploy time", _placeholder(type_, attribute), origin
        )

    def _derived(
        self,
        template: Template,
        logical: str,
        type_: str,
        attribute: str,
        props: Mapping[str, Any],
        seen: tuple[str, ...],
    ) -> Any:
        """A name the template gives for ``Fn::GetAtt logical.attribute`` (None: none)."""
        if type_ == "AWS::ServiceDiscovery::Service" and attribute == "Name":
            return self._eval(template, props.get("Name"), seen) if "Name" in props else None
        if type_ == "AWS::AppMesh::Mesh" and attribute == "MeshName":
            return self._eval(template, props["MeshName"], seen) if "MeshName" in props else None
        if type_ in ("AWS::ECS::Cluster",) and attribute == "" and "ClusterName" in props:
            return self._eval(template, props["ClusterName"], seen)
        if type_ == "Custom::MeshedCrystal":
            return self._meshed_crystal(template, logical, attribute, props, seen)
        return None

    def _meshed_crystal(
        self,
        template: Template,
        logical: str,
        attribute: str,
        props: Mapping[str, Any],
        seen: tuple[str, ...],
    ) -> Any:
        """The resource's own defaults for its name attributes (DESIGN §4 and §8)."""
        mode = self._eval(template, props.get("Mode", "AppMesh"), seen)
        if attribute == "Mode":
            return mode
        if attribute == "MeshName" and "MeshName" in props:
            return self._eval(template, props["MeshName"], seen)
        sc = props.get("ServiceConnect") if isinstance(props.get("ServiceConnect"), dict) else {}
        alias = (sc or {}).get("ClientAlias") if isinstance(sc, dict) else None
        if attribute in ("VirtualServiceName", "ClientAliasDnsName"):
            if mode == "ServiceConnect" and isinstance(alias, dict) and "DnsName" in alias:
                return self._eval(template, alias["DnsName"], seen)
            if "VirtualServiceName" in props:
                return self._eval(template, props["VirtualServiceName"], seen)
            names = self._names(template, props, seen)
            return f"{names[1]}.{names[0]}"
        if attribute == "VirtualNodeName":
            if "VirtualNodeName" in props:
                return self._eval(template, props["VirtualNodeName"], seen)
            return self._names(template, props, seen)[1]
        if attribute == "NamespaceName" and not (isinstance(sc, dict) and "Namespace" in sc):
            return self._names(template, props, seen)[0]
        return None

    def _names(
        self, template: Template, props: Mapping[str, Any], seen: tuple[str, ...]
    ) -> tuple[str, str]:
        """(namespace, service) of the resource's Cloud Map service."""
        if "CloudMapServiceArn" in props:
            names = self.cloud_map_names(template, props["CloudMapServiceArn"])
            if isinstance(names, Unresolved):
                raise _Unresolvable(names)
            return names
        namespace = self._strict(template, props.get("CloudMapNamespaceName"), seen)
        service = self._strict(template, props.get("CloudMapServiceName"), seen)
        return str(namespace), str(service)

    # -- exports and imports ---------------------------------------------------------

    def _exports(self) -> dict[str, _Export]:
        found: dict[str, _Export] = {}
        for template in self.templates:
            for output, spec in template.section("Outputs").items():
                if not (isinstance(spec, dict) and isinstance(spec.get("Export"), dict)):
                    continue
                name = self._value(template, spec["Export"].get("Name"), ())
                if isinstance(name, str):
                    found[name] = _Export(template, output, spec.get("Value"))
        return found

    def _import(self, template: Template, name: Any, seen: tuple[str, ...]) -> Any:
        exports = self._exports()
        if str(name) not in exports:
            self._bind_stack_name(str(name))
            exports = self._exports()
        export = exports.get(str(name))
        if export is None:
            raise _Unresolvable(Unresolved(f"Fn::ImportValue {name}: no given template exports it"))
        marker = f"import:{name}"
        if marker in seen:
            raise _Unresolvable(Unresolved(f"export {name} depends on itself"))
        return self._eval(export.template, export.value, (*seen, marker))

    def _bind_stack_name(self, name: str) -> None:
        """Bind the stack name of the one template whose export, written with its unknown
        ``${AWS::StackName}``, matches ``name``."""
        matches: list[tuple[Template, str]] = []
        for template in self.templates:
            if template.path in self._stack_names or "AWS::StackName" in self.pseudo:
                continue
            self._stack_names[template.path] = _STACK_MARK
            try:
                for value in self.export_names(template).values():
                    if not isinstance(value, str) or _STACK_MARK not in value:
                        continue
                    pattern = "^" + re.escape(value).replace(re.escape(_STACK_MARK), "(.+)") + "$"
                    match = re.match(pattern, name)
                    if match and len(set(match.groups())) == 1:
                        matches.append((template, match[1]))
                        break
            finally:
                del self._stack_names[template.path]
        if len(matches) == 1:
            template, stack = matches[0]
            self._stack_names[template.path] = stack
            self.notes.append(
                f"{template.path}: stack name taken as {stack!r}: the only given template "
                f"whose export matches the import {name!r} "
                f"(give --parameter {template.name}.AWS::StackName=NAME to set it)"
            )


def _text(node: Any) -> str:
    return json.dumps(node, default=str)[:80]


def _as_unresolved(value: Any, what: str) -> Unresolved:
    if isinstance(value, Unresolved):
        return value
    found = find_unresolved(value)
    return found if found is not None else Unresolved(f"{what} is {_text(value)}, not a name")


def _scalar(value: Any) -> Any:
    if isinstance(value, Unresolved | str):
        return value
    if isinstance(value, bool | int | float):
        return cloudformation_strings(value)
    return Unresolved(f"{_text(value)} in a string")


def _concat(separator: str, parts: Sequence[Any]) -> Any:
    """The parts joined; Unresolved (with a placeholder when every part has one) if any is."""
    unresolved = [p for p in parts if isinstance(p, Unresolved)]
    if not unresolved:
        return separator.join(str(p) for p in parts)
    placeholders = [p.placeholder if isinstance(p, Unresolved) else p for p in parts]
    placeholder = separator.join(str(p) for p in placeholders) if None not in placeholders else None
    reason = "; ".join(dict.fromkeys(u.reason for u in unresolved))
    return Unresolved(reason, placeholder, unresolved[0].origin if len(parts) == 1 else None)


def _placeholder(type_: str, attribute: str) -> str | None:
    """A value of the right shape for an attribute known at deploy time."""
    region, account = "us-east-1", "123456789012"
    service, _, kind = type_.partition("::")[2].partition("::")
    if type_ == "AWS::ServiceDiscovery::Service":
        return (
            f"arn:aws:servicediscovery:{region}:{account}:service/srv-placeholder"
            if attribute in ("", "Arn")
            else "srv-placeholder"
        )
    if type_.startswith("AWS::ServiceDiscovery::") and type_.endswith("Namespace"):
        return (
            f"arn:aws:servicediscovery:{region}:{account}:namespace/ns-placeholder"
            if attribute == "Arn"
            else "ns-placeholder"
        )
    if type_ == "AWS::ECS::TaskDefinition" and attribute in ("", "TaskDefinitionArn"):
        return f"arn:aws:ecs:{region}:{account}:task-definition/placeholder:1"
    if type_ == "AWS::AppMesh::Mesh" and attribute in ("", "Arn"):
        return f"arn:aws:appmesh:{region}:{account}:mesh/placeholder"
    if type_ == "AWS::IAM::Role" and attribute in ("Arn", ""):
        # IAM is global: its ARNs have no region (arn:aws:iam::<account>:role/<name>).
        return f"arn:aws:iam::{account}:role/placeholder" if attribute == "Arn" else "placeholder"
    if attribute in ("Arn", "") and service and kind:
        return f"arn:aws:{service.lower()}:{region}:{account}:{kind.lower()}/placeholder"
    return None


def main(argv: Sequence[str]) -> int:
    template = load(argv[0])
    resolver = Resolver([template, *(load(p) for p in argv[2:])])
    path = (
        tuple(int(k) if k.isdigit() else k for k in argv[1].split("/"))
        if len(argv) > 1 and argv[1]
        else ()
    )
    print(json.dumps(resolver.resolve(template, path), indent=2, default=str))
    for note in resolver.notes:
        print("note:", note)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
