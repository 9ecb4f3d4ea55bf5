"""The modes: which targets this build knows, each declared once in its package's ``SPEC``.

A *mode* is a target (``Mode: AppMesh``, ``Mode: ServiceConnect``): a package under ``modes/``
whose ``__init__`` defines ``SPEC``, a :class:`ModeSpec` that says, without importing the
mode's code, its ``Mode`` name, the properties it reads, the attributes it returns, the
physical ids it issues, how its deployment settings are read from the environment and how it
is built. The lifecycle (``actions``), the property parser, the cfn-lint rules, ``plan`` and the
tests read these from here.

Adding a mode is a package under ``modes/`` plus one line in ``ENTRIES``; removing one is the
reverse. Only this module imports a mode: its ``SPEC`` when the names are needed, its code
(``SPEC.build``) when an event needs that mode, so an event imports only the mode it runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

if TYPE_CHECKING:
    from meshed_crystal.errors import Collector

# The modes of this build, in the order their names are listed in messages.
ENTRIES: tuple[str, ...] = (
    "meshed_crystal.modes.appmesh",
    "meshed_crystal.modes.service_connect",
)

T = TypeVar("T")


class Adapters:
    """The AWS adapters the lifecycle and the modes share: those given (tests inject them),
    else each built on first use, so an event builds (and imports) only what its mode calls."""

    def __init__(self, **given: object) -> None:
        self._made: dict[str, object] = {k: v for k, v in given.items() if v is not None}

    def made(self) -> list[object]:
        """The adapters given or built so far."""
        return list(self._made.values())

    def get(self, name: str, make: Callable[[], T]) -> T:
        """The adapter ``name``; ``make`` builds it when none was given (a class, usually)."""
        if name not in self._made:
            self._made[name] = make()
        found: T = self._made[name]  # type: ignore[assignment]
        return found


class ModeSpec(NamedTuple):
    """What the rest of the code knows of a mode without importing it."""

    name: str  # the value of the Mode property
    # The properties the mode reads. Every registered mode's are valid in every mode: those of
    # another mode are validated and inert (DESIGN §8), so a switch is the one line Mode.
    properties: tuple[str, ...]
    attributes: tuple[str, ...]  # what Fn::GetAtt may read (DESIGN §4, §8)
    # The adapters (one per AWS service) it calls, by the name the Provider takes them by (the
    # lifecycle's own, LIFECYCLE_ADAPTERS, are there in every mode).
    adapters: tuple[str, ...]
    # The physical ids the mode issues start with it (a Delete picks the mode by it); no mode's
    # prefix starts another's.
    id_prefix: str
    # The mode's deployment settings, from the function's environment (its template
    # parameters); lazy: called when an event first needs the mode.
    settings: Callable[[Mapping[str, str]], Any]
    # The mode, from its settings and the shared adapters (it imports the mode's code).
    build: Callable[[Any, Adapters], Any]
    default: bool = False  # the mode of a resource without Mode (DESIGN §2: AppMesh)
    # Its own properties: (the raw properties, the collector of mistakes, whether the resource
    # is in this mode) -> what ``Properties.settings[name]`` holds. Called in this mode, and in
    # another when the resource gives one of this mode's own properties (validated and inert
    # there). None: the mode has no property of its own.
    parse: Callable[[Mapping[str, Any], Collector, bool], Any] | None = None


_specs: dict[str, ModeSpec] | None = None


def specs() -> dict[str, ModeSpec]:
    """The registered modes, by name (their specs only: no mode's code is imported)."""
    global _specs
    if _specs is None:
        found = [importlib.import_module(entry).SPEC for entry in ENTRIES]
        _specs = {spec.name: spec for spec in found}
    return _specs


def names() -> tuple[str, ...]:
    return tuple(specs())


def default() -> str | None:
    """The mode of a resource that gives no Mode; None: Mode is required in this build."""
    return next((spec.name for spec in specs().values() if spec.default), None)


def property_names() -> tuple[str, ...]:
    """Every property a resource may give: Mode, then each mode's, in registry order."""
    seen: dict[str, None] = {"Mode": None}
    for spec in specs().values():
        seen.update(dict.fromkeys(spec.properties))
    return tuple(seen)


def attributes(mode: str) -> tuple[str, ...]:
    return specs()[mode].attributes


# The adapters the lifecycle itself calls (a Delete's revisions in ECS), whatever the mode.
LIFECYCLE_ADAPTERS = ("ecs", "tagging")


def adapter_names() -> frozenset[str]:
    """Every adapter name a Provider may be given."""
    return frozenset(LIFECYCLE_ADAPTERS).union(*(s.adapters for s in specs().values()))


def of_id(physical_id: str | None) -> ModeSpec | None:
    """The mode whose ids look like this one (the mode itself then parses it)."""
    text = physical_id or ""
    return next((s for s in specs().values() if text.startswith(s.id_prefix)), None)
