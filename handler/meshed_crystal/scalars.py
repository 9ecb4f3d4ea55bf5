"""Reading CloudFormation property values.

CloudFormation delivers every scalar as a string ("3000", "true"), also inside lists and maps,
while a template author testing with ``sam local invoke`` may write real JSON numbers. Every
reader here accepts both and raises :class:`PropertyError` naming the path and the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any, NoReturn

from .errors import Collector, Mistake, PropertyError, excerpt
from .rules import INTEGER_TEXT as _INTEGER

# No bound this resource checks needs more digits; a longer number is out of range, and is never
# handed to int() (which refuses more than 4300 digits).
_MAX_DIGITS = 20


def fail(
    path: str, rule: str, *, suggestion: str | None = None, choices: tuple[str, ...] = ()
) -> NoReturn:
    raise PropertyError(path, rule, suggestion=suggestion, choices=choices)


def type_name(value: Any) -> str:
    """A value as a message shows it: its kind for containers, else a short quotation."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()  # as the template author wrote it, not Python's True
    if isinstance(value, int | float):
        return excerpt(value)
    return f"'{excerpt(value)}'"


def quote(value: Any) -> str:
    """A user's value quoted in a rule: at most a short excerpt."""
    return f"'{excerpt(value)}'"


def as_str(value: Any, path: str, *, allow_empty: bool = False, max_len: int | None = None) -> str:
    # Numbers are accepted as strings: a template author may write `Path: 200` in YAML.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        fail(path, f"{type_name(value)} is not a string")
    if isinstance(value, int) and value.bit_length() > 200:
        fail(path, f"{type_name(value)} is not a string")
    text = value if isinstance(value, str) else str(value)
    if not text and not allow_empty:
        fail(path, "must not be empty")
    if max_len is not None and len(text) > max_len:
        fail(path, f"is {len(text)} characters long (at most {max_len})")
    return text


def as_int(
    value: Any,
    path: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    what: str = "an integer",
) -> int:
    if isinstance(value, bool):
        fail(path, f"{value!r} is not {what}")
    bounds = f"{minimum if minimum is not None else '…'}-{maximum if maximum is not None else '…'}"
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        text = value.strip()
        if len(text.lstrip("+-").lstrip("0")) > _MAX_DIGITS:
            fail(path, f"{quote(value)} is not {what} ({bounds})")
        number = int(text)
    else:
        fail(path, f"{type_name(value)} is not {what}")
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        fail(path, f"{quote(value)} is not {what} ({bounds})")
    return number


def as_port(value: Any, path: str) -> int:
    return as_int(value, path, minimum=1, maximum=65535, what="a port")


def as_bool(value: Any, path: str) -> bool:
    """The one boolean rule of every property, inline task definitions included: true or false,
    in any case, as a JSON boolean or as the string CloudFormation sends ("true", "False")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    fail(path, f"{type_name(value)} is not a boolean (true or false)")


def as_enum(value: Any, path: str, allowed: Iterable[str]) -> str:
    choices = list(allowed)
    text = as_str(value, path)
    if text.lower() not in {c.lower() for c in choices}:
        fail(path, f"{quote(text)} is not one of {', '.join(choices)}", choices=tuple(choices))
    return next(c for c in choices if c.lower() == text.lower())


def as_list(value: Any, path: str, *, max_items: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        fail(path, f"{type_name(value)} is not a list")
    if max_items is not None and len(value) > max_items:
        fail(path, f"has {len(value)} items (at most {max_items})")
    return value


def as_object(value: Any, path: str, allowed: Iterable[str] = ()) -> Mapping[str, Any]:
    """An object; when ``allowed`` is given, any other key is an error that names it."""
    if not isinstance(value, Mapping):
        fail(path, f"{type_name(value)} is not an object")
    known = list(allowed)
    if known:
        check_keys(value, known, path)
    return value


def check_keys(value: Mapping[str, Any], allowed: list[str], path: str) -> None:
    """Every unknown key, each named (with the closest known one)."""
    unknown: list[tuple[str, str]] = []
    for key in value:
        if key not in allowed:
            meant = closest(str(key)[:100], allowed)
            hint = f" (did you mean {meant}?)" if meant else ""
            unknown.append(Mistake(join(path, str(key)), f"unknown property{hint}", meant))
    if unknown:
        raise PropertyError.of(unknown)


def closest(given: str, candidates: Sequence[str], *, ignore_case: bool = False) -> str | None:
    """The candidate closest to ``given``, if any is close."""
    import difflib  # only on this error path: ~1.4 ms of every cold start otherwise

    # In lower case, "networkmode" is as close to "NetworkMode" as "NetworkMode" is.
    by_form = {(c.lower() if ignore_case else c): c for c in candidates}
    # A name cut short ("Mesh", "CloudMap") most likely meant the first name it begins, in the
    # candidates' (documented) order: MeshName before MeshArn, although difflib finds the shorter
    # MeshArn closer.
    started = [c for c in candidates if len(given) >= 3 and c.lower().startswith(given.lower())]
    if started:
        return started[0]
    close = difflib.get_close_matches(given.lower() if ignore_case else given, list(by_form), n=1)
    return by_form[close[0]] if close else None


def suggestion(given: str, candidates: Sequence[str], *, ignore_case: bool = False) -> str:
    """`` (did you mean X?)`` for the closest candidate, or nothing."""
    meant = closest(given, candidates, ignore_case=ignore_case)
    return f" (did you mean {meant}?)" if meant else ""


def as_string_map(value: Any, path: str) -> dict[str, str]:
    mapping = as_object(value, path)
    collector = Collector()
    result: dict[str, str] = {}
    for k, v in mapping.items():
        result[str(k)] = collector.run(partial(as_str, v, join(path, str(k)), allow_empty=True), "")
    collector.raise_any()
    return result


def join(path: str, key: str | int) -> str:
    """A property path; a user's long key is shortened to an excerpt."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = excerpt(key)
    return f"{path}.{key}" if path else key
