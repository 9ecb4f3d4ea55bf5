"""Reading CloudFormation property values.

CloudFormation delivers every scalar as a string ("3000", "true"), also inside lists and maps,
while a template author testing with ``sam local invoke`` may write real JSON numbers. Every
reader here accepts both and raises :class:`PropertyError` naming the path and the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

from .errors import PropertyError


def fail(path: str, rule: str) -> NoReturn:
    raise PropertyError(path, rule)


def type_name(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"{value!r}"


def as_str(value: Any, path: str, *, allow_empty: bool = False, max_len: int | None = None) -> str:
    # Numbers are accepted as strings: a template author may write `Path: 200` in YAML.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
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
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        number = int(value.strip())
    else:
        fail(path, f"{type_name(value)} is not {what}")
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        bounds = (
            f"{minimum if minimum is not None else '…'}-{maximum if maximum is not None else '…'}"
        )
        fail(path, f"'{value}' is not {what} ({bounds})")
    return number


def as_port(value: Any, path: str) -> int:
    return as_int(value, path, minimum=1, maximum=65535, what="a port")


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def as_bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    fail(path, f"{type_name(value)} is not a boolean (true or false)")


def as_enum(value: Any, path: str, allowed: Iterable[str]) -> str:
    choices = list(allowed)
    text = as_str(value, path)
    if text.lower() not in {c.lower() for c in choices}:
        fail(path, f"'{text}' is not one of {', '.join(choices)}")
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
    for key in value:
        if key not in allowed:
            fail(join(path, key), f"unknown property{suggestion(key, allowed)}")


def suggestion(given: str, candidates: Sequence[str], *, ignore_case: bool = False) -> str:
    """`` (did you mean X?)`` for the closest candidate, or nothing."""
    import difflib  # only on this error path: ~1.4 ms of every cold start otherwise

    # In lower case, "networkmode" is as close to "NetworkMode" as "NetworkMode" is.
    by_form = {(c.lower() if ignore_case else c): c for c in candidates}
    close = difflib.get_close_matches(given.lower() if ignore_case else given, list(by_form), n=1)
    return f" (did you mean {by_form[close[0]]}?)" if close else ""


def as_string_map(value: Any, path: str) -> dict[str, str]:
    mapping = as_object(value, path)
    return {
        as_str(k, path): as_str(v, join(path, str(k)), allow_empty=True) for k, v in mapping.items()
    }


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key
