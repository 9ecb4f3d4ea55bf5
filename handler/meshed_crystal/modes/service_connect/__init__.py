"""``Mode: ServiceConnect`` (DESIGN §8): the way off App Mesh. The spec only; the code is
imported when an event needs this mode."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshed_crystal.errors import Collector
from meshed_crystal.registry import Adapters, ModeSpec


def _settings(environ: Mapping[str, str]) -> Any:
    return None  # no deployment setting of its own


def _parse(props: Mapping[str, Any], found: Collector, active: bool) -> Any:
    from . import properties

    return properties.parse(props, found, active)


def _build(settings: Any, adapters: Adapters) -> Any:
    from . import mode

    return mode.build(settings, adapters)


SPEC = ModeSpec(
    name="ServiceConnect",
    properties=(
        "ServiceConnect",
        "CloudMapServiceArn",
        "CloudMapNamespaceName",
        "CloudMapServiceName",
        "TaskDefinition",
        "Family",
        "AppContainerName",
        "VirtualServiceName",
        "Listeners",
        "Tags",
    ),
    attributes=(
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
    ),
    adapters=("ecs", "cloudmap", "tagging"),
    id_prefix="meshed-crystal-sc:",
    settings=_settings,
    build=_build,
    parse=_parse,
)
