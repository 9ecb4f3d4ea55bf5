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
