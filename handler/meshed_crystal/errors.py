"""One exception class per failure kind.

Every message is written for the person reading the stack's events: it names the property path
or the AWS resource and says what to do. The handler turns any of these into a FAILED response
whose Reason is ``str(error)``; anything else is an unexpected bug and is reported as such.
"""

from __future__ import annotations


class MeshedCrystalError(Exception):
    """Base class: a failure the resource knows how to explain."""


class PropertyError(MeshedCrystalError):
    """A resource property breaks a rule. Raised before any AWS write."""

    def __init__(self, path: str, rule: str) -> None:
        self.path = path
        self.rule = rule
        super().__init__(f"{path}: {rule}" if path else rule)


class MissingResourceError(MeshedCrystalError):
    """Something the properties point at (mesh, Cloud Map service, task definition) is absent."""


class OwnershipError(MeshedCrystalError):
    """A name is already taken by a resource this resource did not create."""


class ResourceInUseError(MeshedCrystalError):
    """Other mesh resources still use what a Delete wants to remove."""


class ThrottledError(MeshedCrystalError):
    """AWS kept throttling until the time budget ran out."""


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
