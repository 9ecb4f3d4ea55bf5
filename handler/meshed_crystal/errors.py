"""One exception class per failure kind.

Every message is written for the person reading the stack's events: it names the property path
or the AWS resource and says what to do. The handler turns any of these into a FAILED response
whose Reason is ``str(error)``; anything else is an unexpected bug and is reported as such.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class MeshedCrystalError(Exception):
    """Base class: a failure the resource knows how to explain."""


# A Reason holds every mistake that fits: CloudFormation refuses a response body over 4096 bytes,
# and the rest of the body (ids, stack ARN) takes up to ~1000 of them.
MAX_REASON_CHARS = 3000
# How much of a user's value (or key) a message quotes.
EXCERPT_CHARS = 60


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A short, printable quotation of a user's value: never the whole of a long one.

    ``str()`` of an integer of more than 4300 digits raises in Python; such a number is described
    by its size instead.
    """
    if isinstance(value, bool) or value is None:
        text = str(value).lower() if value is not None else "null"
    elif isinstance(value, int) and value.bit_length() > 200:
        return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
    elif isinstance(value, str | int | float):
        text = str(value)
    elif isinstance(value, dict):
        return "an object"
    elif isinstance(value, list | tuple):
        return "a list"
    else:
        text = type(value).__name__
    text = "".join(c if c.isprintable() else "?" for c in text[: limit + 1])
    return text if len(text) <= limit else text[:limit] + "…"


class Mistake(tuple[str, str]):
    """One mistake: ``(path, rule)``, plus what a tool needs besides the message.

    ``suggestion`` is the value the author most likely meant (the known property name closest to
    an unknown one), ``choices`` the values a property takes. The lint rules read these instead
    of parsing the message. A Mistake equals the plain ``(path, rule)`` tuple.
    """

    suggestion: str | None
    choices: tuple[str, ...]

    def __new__(
        cls,
        path: str,
        rule: str,
        suggestion: str | None = None,
        choices: tuple[str, ...] = (),
    ) -> Mistake:
        mistake = super().__new__(cls, (path, rule))
        mistake.suggestion = suggestion
        mistake.choices = choices
        return mistake

    @property
    def path(self) -> str:
        return self[0]

    @property
    def rule(self) -> str:
        return self[1]


def format_mistakes(errors: list[tuple[str, str]], limit: int = MAX_REASON_CHARS) -> str:
    """``path: rule`` for each mistake, as many as fit in ``limit`` characters."""
    lines = [f"{path}: {rule}" if path else rule for path, rule in errors]
    if len(lines) == 1:
        return lines[0] if len(lines[0]) <= limit else lines[0][: limit - 1] + "…"
    text = f"{len(lines)} mistakes: "
    for shown, line in enumerate(lines):
        more = f" ... and {len(lines) - shown} more"
        piece = ("" if shown == 0 else "; ") + line
        if len(text) + len(piece) + len(more) > limit:
            return text + more
        text += piece
    return text


class PropertyError(MeshedCrystalError):
    """Resource properties break rules. Raised before any AWS write.

    ``errors`` lists every mistake found, as (path, rule); ``path`` and ``rule`` are the first's.
    The message (the Reason) lists as many as fit in CloudFormation's response.
    """

    def __init__(
        self,
        path: str,
        rule: str,
        *,
        errors: list[tuple[str, str]] | None = None,
        suggestion: str | None = None,
        choices: tuple[str, ...] = (),
    ) -> None:
        self.errors: list[Mistake] = [
            e if isinstance(e, Mistake) else Mistake(*e)
            for e in (errors or [Mistake(path, rule, suggestion, choices)])
        ]
        self.mistake = self.errors[0]
        self.path, self.rule = self.mistake
        super().__init__(format_mistakes(list(self.errors)))

    @classmethod
    def of(cls, errors: list[tuple[str, str]]) -> PropertyError:
        """One error carrying several mistakes (at least one)."""
        return cls(errors[0][0], errors[0][1], errors=errors)


class Collector:
    """Runs readers and checks, gathering every PropertyError instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[Mistake] = []

    def run(self, step: Callable[[], Any], default: Any) -> Any:
        """``step()``, or ``default`` when it raised PropertyError (whose mistakes are kept)."""
        try:
            return step()
        except PropertyError as error:
            self.errors.extend(error.errors)
            return default

    def add(self, path: str, rule: str) -> None:
        self.errors.append(Mistake(path, rule))

    def raise_any(self) -> None:
        if self.errors:
            raise PropertyError.of(list(self.errors))


class MissingResourceError(MeshedCrystalError):
    """Something the properties point at (mesh, Cloud Map service, task definition) is absent."""


class OwnershipError(MeshedCrystalError):
    """A name is already taken by a resource this resource did not create."""


class ResourceInUseError(MeshedCrystalError):
    """Other mesh resources still use what a Delete wants to remove."""


class TransientError(MeshedCrystalError):
    """An AWS call kept failing in a way that passes until the time budget ran out: retrying
    the stack operation later is the fix."""


class ThrottledError(TransientError):
    """AWS kept throttling (or answering with a server error) until the time budget ran out."""


class ConnectionFailedError(TransientError):
    """Every connection to AWS failed before an answer (refused, reset or closed, timed out)
    until the time budget ran out. Never called throttling (DESIGN §9)."""


class AwsError(MeshedCrystalError):
    """An AWS call failed for a reason the resource cannot act on; the message quotes AWS."""


class AppMeshUnavailableError(MeshedCrystalError):
    """App Mesh cannot be used: unreachable, answering without an App Mesh error, missing from
    the SDK, denied, or retired by the provider's ``AppMeshRetired`` setting (DESIGN §9).

    ``kind`` says which: a Delete in ``auto`` mode finishes without App Mesh for every kind but
    ``access-denied`` (a permissions mistake must not pass for a retired service).
    """

    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind
        self.detail = detail
        way_out = (
            "move this resource to Amazon ECS Service Connect by setting `Mode: ServiceConnect` "
            "(see docs/migration.md)"
        )
        if kind == "access-denied":
            super().__init__(
                f"App Mesh denied the call ({detail}): check the function's IAM permissions; if "
                "App Mesh is retired in this account, set the provider's AppMeshRetired "
                f"parameter to true, and {way_out}"
            )
        else:
            super().__init__(
                f"App Mesh is unavailable ({detail}). AWS App Mesh reached its end of support "
                f"on 2026-09-30: {way_out}"
            )
