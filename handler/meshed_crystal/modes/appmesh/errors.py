"""App Mesh mode's own failure: App Mesh gone (DESIGN §9)."""

from __future__ import annotations

from meshed_crystal.errors import MeshedCrystalError


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
