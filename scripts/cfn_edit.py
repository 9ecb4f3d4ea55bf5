"""Edit a template's text where it must change and keep every other byte (comments, order,
quoting, short-form tags): the writer of ``tasks.py migrate``'s step templates.

An :class:`Editor` collects edits against one loaded :class:`~scripts.cfn_template.Template`
(positions from its spans) and :meth:`Editor.text` applies them at once:

* :meth:`~Editor.remove` a mapping entry (key and value) or a list item. In block YAML the whole
  lines go, with the comment lines directly above at the same indentation (they describe it) and
  one blank separator line if the removal would leave two. A mapping or list left empty is
  removed from its own parent instead (CloudFormation refuses ``Outputs:`` with nothing under
  it). In JSON the member and one comma go.
* :meth:`~Editor.insert` a mapping entry: at the end of the mapping, or before a given key; the
  value is written in the template's own style (block YAML with short-form intrinsics, or JSON).
* :meth:`~Editor.replace` a scalar value.

Flow-style YAML (``{A: 1}`` on one line) is only edited by :meth:`~Editor.replace`; anything else
there raises :class:`EditError` naming the place, for the caller to report as a manual step.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from scripts.cfn_template import Key, Template

__all__ = ["EditError", "Editor", "render_yaml"]


class EditError(Exception):
    """The edit cannot be made in this template's text (the message says where)."""


class _Edit(NamedTuple):
    start: int
    end: int
    text: str


# Plain YAML scalars that read back as the same string (no quoting needed).
_PLAIN = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./: -]*$")
_NOT_PLAIN = re.compile(
    r"^(true|false|yes|no|on|off|null|~|y|n|[-+]?[0-9][0-9_.:eE+-]*)$", re.IGNORECASE
)
_SHORT = {"Ref": "!Ref", "Fn::Sub": "!Sub", "Fn::ImportValue": "!ImportValue"}


def _scalar_yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if (
        _PLAIN.match(text)
        and not _NOT_PLAIN.match(text)
        and not text.endswith(":")
        and ": " not in text
    ):
        return text
    return json.dumps(text)


def render_yaml(value: Any, indent: int) -> list[str]:
    """``value`` (long form) as block YAML lines after a ``key:`` at ``indent`` spaces: the
    first line is what follows the colon (``""`` when the value is a block on the next lines)."""
    pad = " " * (indent + 2)
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Fn::GetAtt" and isinstance(arg, list):
            return [f" !GetAtt {arg[0]}.{arg[1]}"]
        if key in _SHORT and not isinstance(arg, dict | list):
            return [f" {_SHORT[key]} {_scalar_yaml(arg)}"]
    if isinstance(value, dict):
        lines = [""]
        for key, item in value.items():
            rendered = render_yaml(item, indent + 2)
            lines.append(f"{pad}{key}:{rendered[0]}")
            lines.extend(rendered[1:])
        return lines
    if isinstance(value, list):
        lines = [""]
        for item in value:
            rendered = render_yaml(item, indent + 2)
            if rendered[0] == "" and isinstance(item, dict) and len(rendered) > 1:
                # "- Key: value" then the item's other keys, aligned under the first
                lines.append(f"{pad}- {rendered[1].lstrip()}")
                lines.extend(rendered[2:])
            else:
                lines.append(f"{pad}-{rendered[0]}")
                lines.extend(rendered[1:])
        return lines
    return [f" {_scalar_yaml(value)}"]


class Editor:
    """Edits of one template's text (see the module's docstring)."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self.text_in = template.text
        self.is_json = template.text.lstrip().startswith("{")
        self._edits: list[_Edit] = []
        self._removed: set[tuple[Key, ...]] = set()
        self._starts: list[int] = []
        position = 0
        for line in self.text_in.splitlines(keepends=True):
            self._starts.append(position)
            position += len(line)
        self._starts.append(position)
        self._lines = self.text_in.splitlines(keepends=True)

    # -- public ------------------------------------------------------------------------

    def text(self) -> str:
        edits = sorted([*self._edits, *self._json_removals()], key=lambda e: (e.start, -e.end))
        kept: list[_Edit] = []
        for edit in edits:
            if (
                kept
                and kept[-1].text == ""
                and edit.start >= kept[-1].start
                and (edit.end <= kept[-1].end)
            ):
                continue  # inside a removed entry (its parent went too)
            kept.append(edit)
        for before, after in itertools.pairwise(kept):
            if after.start < before.end:
                raise EditError(f"{self.template.path}: overlapping edits")
        out = self.text_in
        for edit in reversed(kept):
            out = out[: edit.start] + edit.text + out[edit.end :]
        return out

    def replace(self, path: Sequence[Key], text: str) -> None:
        span = self.template.span(path)
        self._edits.append(_Edit(span.start, span.end, json.dumps(text) if self.is_json else text))

    def remove(self, path: Sequence[Key]) -> None:
        """Remove the mapping entry or list item at ``path`` (its parent too if left empty)."""
        path = tuple(path)
        if path in self._removed or any(path[: i + 1] in self._removed for i in range(len(path))):
            return
        parent = path[:-1]
        siblings = self.template.get(parent)
        keys = list(range(len(siblings))) if isinstance(siblings, list) else list(siblings)
        if parent and all((*parent, k) in self._removed or k == path[-1] for k in keys):
            self.remove(parent)
            return
        self._removed.add(path)
        if not self.is_json:
            self._remove_yaml(path)

    def insert(
        self, mapping: Sequence[Key], key: str, value: Any, *, before: str | None = None
    ) -> None:
        """Add ``key: value`` to the mapping at ``mapping``: before the entry ``before``, else
        at its end."""
        mapping = tuple(mapping)
        entries = self.template.get(mapping)
        if not isinstance(entries, dict) or not entries:
            raise EditError(f"{self.template.path}: {_where(mapping)} is no mapping with entries")
        if self.is_json:
            self._insert_json(mapping, key, value, entries, before)
            return
        anchor = before if before is not None else list(entries)[-1]
        line, indent = self._key_line((*mapping, anchor))
        rendered = render_yaml(value, indent)
        block = "".join(
            f"{text}\n" for text in [" " * indent + f"{key}:{rendered[0]}", *rendered[1:]]
        )
        if before is not None:
            # Above the comment lines that describe the entry it goes before
            while line > 0 and self._comment_at(line - 1) == indent:
                line -= 1
            self._edits.append(_Edit(self._starts[line], self._starts[line], block))
            return
        end = self._block_end(line, indent)
        self._edits.append(_Edit(self._starts[end], self._starts[end], block))

    # -- YAML ------------------------------------------------------------------------------

    def _key_line(self, path: tuple[Key, ...]) -> tuple[int, int]:
        """(0-based line, indentation) of the entry or item at ``path``, block style only."""
        if isinstance(path[-1], int):
            span = self.template.span(path)
            line = span.line - 1
            prefix = self._lines[line][: span.column - 1]
            if not re.fullmatch(r"\s*(-\s+)+", prefix):
                raise EditError(f"{self.template.path}:{span.line}: a flow-style list item")
            return line, len(prefix) - len(prefix.lstrip()) + prefix.lstrip().rfind("-")
        span = self.template.key_span(path)
        line = span.line - 1
        prefix = self._lines[line][: span.column - 1]
        if prefix.strip():
            if not re.fullmatch(r"\s*(-\s+)+", prefix):
                raise EditError(f"{self.template.path}:{span.line}: a flow-style mapping entry")
            if path[-1] != next(iter(self.template.get(path[:-1]))):
                raise EditError(f"{self.template.path}:{span.line}: unexpected layout")
        return line, span.column - 1

    def _is_blank(self, line: int) -> bool:
        return not self._lines[line].strip()

    def _comment_at(self, line: int) -> int | None:
        text = self._lines[line]
        stripped = text.lstrip()
        return len(text) - len(stripped) if stripped.startswith("#") else None

    def _indent(self, line: int) -> int:
        text = self._lines[line]
        return len(text) - len(text.lstrip())

    def _block_end(self, line: int, indent: int) -> int:
        """The line after the entry at ``line``: its deeper lines, without the blank and comment
        lines that separate it from what follows (those belong to the next entry)."""
        end = line + 1
        count = len(self._lines)
        while end < count and (
            self._is_blank(end) or self._comment_at(end) is not None or self._indent(end) > indent
        ):
            end += 1
        while end - 1 > line:
            comment = self._comment_at(end - 1)
            if not (self._is_blank(end - 1) or (comment is not None and comment <= indent)):
                break
            end -= 1
        return end

    def _remove_yaml(self, path: tuple[Key, ...]) -> None:
        line, indent = self._key_line(path)
        if isinstance(path[-1], str) and self._lines[line][:indent].strip():
            raise EditError(
                f"{self.template.path}:{line + 1}: {_where(path)} is the first key of a list "
                "item; edit it by hand"
            )
        start = line
        while start > 0 and self._comment_at(start - 1) == indent:
            start -= 1
        end = self._block_end(line, indent)
        if (
            start > 0
            and self._is_blank(start - 1)
            and (end == len(self._lines) or self._is_blank(end))
        ):
            end = min(end + 1, len(self._lines))
        self._edits.append(_Edit(self._starts[start], self._starts[end], ""))

    # -- JSON ------------------------------------------------------------------------------

    def _json_removals(self) -> list[_Edit]:
        """The removed JSON members with their separators, per container: a member after a kept
        one goes with the comma before it; one before every kept member, with the comma after."""
        if not self.is_json:
            return []
        edits: list[_Edit] = []
        parents = {path[:-1] for path in self._removed}
        for parent in parents:
            if parent in self._removed or any(
                parent[:i] in self._removed for i in range(len(parent))
            ):
                continue
            container = self.template.get(parent)
            keys: list[Key] = (
                list(range(len(container))) if isinstance(container, list) else list(container)
            )
            spans = []
            for key in keys:
                path = (*parent, key)
                start = (
                    self.template.key_span(path).start
                    if isinstance(key, str)
                    else self.template.span(path).start
                )
                spans.append((start, self.template.span(path).end, path in self._removed))
            seen_kept = False
            for i, (start, end, removed) in enumerate(spans):
                if not removed:
                    seen_kept = True
                elif seen_kept or i + 1 == len(spans):
                    edits.append(_Edit(spans[i - 1][1], end, ""))
                else:
                    edits.append(_Edit(start, spans[i + 1][0], ""))
        return edits

    def _insert_json(
        self,
        mapping: tuple[Key, ...],
        key: str,
        value: Any,
        entries: dict[str, Any],
        before: str | None,
    ) -> None:
        member = f"{json.dumps(key)}: {json.dumps(value)}"
        if before is not None:
            start = self.template.key_span((*mapping, before)).start
            self._edits.append(_Edit(start, start, f"{member}, "))
            return
        end = self.template.span((*mapping, list(entries)[-1])).end
        self._edits.append(_Edit(end, end, f", {member}"))


def _where(path: Sequence[Key]) -> str:
    return "/".join(str(k) for k in path) or "the template"
