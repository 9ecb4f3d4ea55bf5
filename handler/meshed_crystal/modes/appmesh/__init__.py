"""``Mode: AppMesh`` (DESIGN §1-§5, §9): the virtual node, the virtual service, the proxied
revision. The spec only; the code is imported when an event needs this mode."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshed_crystal.errors import Collector
from meshed_crystal.registry import Adapters, ModeSpec


def _settings(environ: Mapping[str, str]) -> Any:
    from . import mode

    return mode.settings(environ)


def _parse(props: Mapping[str, Any], found: Collector, active: bool) -> Any:
    from . import properties

    return properties.parse(props, found, active)


def _build(settings: Any, adapters: Adapters) -> Any:
    from . import mode

    return mode.build(settings, adapters)


SPEC = ModeSpec(
    name="AppMesh",
    properties=(
        "MeshName",
        "MeshArn",
        "CloudMapServiceArn",
        "CloudMapNamespaceName",
        "CloudMapServiceName",
        "CloudMapAttributes",
        "TaskDefinition",
        "Family",
        "AppContainerName",
        "VirtualNodeName",
        "VirtualServiceName",
        "Listeners",
        "Backends",
        "AccessLogPath",
        "Proxy",
        "Envoy",
        "XRay",
        "Tags",
    ),
    attributes=(
        "Mode",
        "TaskDefinitionArn",
        "TaskDefinitionFamily",
        "TaskDefinitionRevision",
        "VirtualNodeArn",
        "VirtualNodeName",
        "VirtualServiceArn",
        "VirtualServiceName",
        "MeshName",
        "MeshArn",
        "EnvoyImage",
    ),
    adapters=("appmesh", "ecs", "cloudmap", "cloudformation"),
    id_prefix="meshed-crystal:",
    settings=_settings,
    build=_build,
    parse=_parse,
    default=True,
)
