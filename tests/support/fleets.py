"""Fleets of meshed services as real CloudFormation templates, for ``tasks.py migrate``.

Every service template is ``examples/crystal.yaml`` with crystal's names replaced by the
service's (``ecsdemo-<name>``, logical ids ``<Name>...``, exports ``Mesh<Name>VSARN`` and
``Mesh<Name>VSName``) and, for a client, a ``Backends`` list after its ``CloudMapAttributes``:
each backend either by its literal virtual service name or by importing the backend stack's
``Mesh<Name>VSName`` export. The platform is ``examples/platform.yaml``, its mesh's egress filter
set as asked. So the fleets are the workshop's own shape, not a toy one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from scripts.cfn_template import (
    NO_VALUE,
    Resolver,
    Template,
    Unresolved,
    cloudformation_strings,
)
from tests.support import stack

REPO: Final = Path(__file__).resolve().parent.parent.parent
EXAMPLES: Final = REPO / "examples"
_FILTER_LINE: Final = "        ECS_TASK_DEFINITION_FAMILY: ecsdemo-crystal-mesh\n"


def logical(name: str) -> str:
    """The logical id prefix of a service: ``orders`` -> ``Orders``."""
    return "".join(part.capitalize() for part in name.split("-"))


def dns_name(name: str) -> str:
    return f"ecsdemo-{name}.service.local"


def platform_template(egress: str = "ALLOW_ALL") -> str:
    text = EXAMPLES.joinpath("platform.yaml").read_text()
    assert "          Type: ALLOW_ALL\n" in text
    return text.replace("          Type: ALLOW_ALL\n", f"          Type: {egress}\n")


def service_template(
    name: str, backends: Sequence[str] = (), *, imported: Sequence[str] = ()
) -> str:
    """examples/crystal.yaml as service ``name`` listing ``backends`` (names of other services
    of the fleet); those in ``imported`` are read with ``!ImportValue Mesh<Name>VSName``."""
    text = EXAMPLES.joinpath("crystal.yaml").read_text()
    assert text.count(_FILTER_LINE) == 1
    if name != "crystal":
        # The resource type and the provider's names stay; crystal's names become the service's.
        kept, platform = "\x00", "\x01"
        text = (
            text.replace("MeshedCrystal", kept)
            .replace("meshed-crystal-platform", platform)
            .replace("ecsdemo-crystal", f"ecsdemo-{name}")
            .replace("Crystal", logical(name))
            .replace("crystal", name)
            .replace(kept, "MeshedCrystal")
            .replace(platform, "meshed-crystal-platform")
        )
    if backends:
        listed = "".join(
            f"        - !ImportValue Mesh{logical(b)}VSName\n"
            if b in imported
            else f"        - {dns_name(b)}\n"
            for b in backends
        )
        line = _FILTER_LINE.replace("crystal", name)
        text = text.replace(line, f"{line}      Backends:\n{listed}")
    return text


def write_fleet(
    directory: Path,
    graph: Mapping[str, Sequence[str]],
    *,
    egress: str = "ALLOW_ALL",
    imported: Sequence[str] = (),
) -> list[Path]:
    """The platform and one template per service of ``graph`` (service -> its backends)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "platform.yaml"]
    written[0].write_text(platform_template(egress))
    for name, backends in graph.items():
        path = directory / f"{name}.yaml"
        path.write_text(service_template(name, backends, imported=imported))
        written.append(path)
    return written


# --------------------------------------------------------------------------- playing a template

_MODELLED: Final = (stack.CUSTOM, stack.ECS_SERVICE, stack.ROLE_POLICY)
_CLOUDFORMATION_KEYS: Final = ("ServiceToken", "ServiceTimeout")


def stack_template(
    template: Template, resolver: Resolver, bindings: Mapping[tuple[str, str], str]
) -> dict[str, dict[str, Any]]:
    """``template`` as :class:`tests.support.stack.Stack` plays it: its custom resources, ECS
    services and role policies, every value resolved from the templates (``resolver``), except
    ``!GetAtt`` of a custom resource (its response's ``Data`` at deploy time) and what only the
    emulator holds: ``bindings[(logical id, attribute)]`` (``""`` for ``Ref``), e.g. the Cloud
    Map service's ARN. What neither gives stays a fixed placeholder (the values ``Stack`` does
    not send anywhere, like subnets)."""
    customs = set(template.resources_of_type(stack.CUSTOM))

    def value(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Fn::GetAtt" and arg[0] in customs:
                return stack.GetAtt(arg[0], arg[1])
            if key == "Ref" and arg in customs:
                raise NotImplementedError(f"Ref {arg}")
            if key == "Ref" or key.startswith("Fn::"):
                return settle(resolver.resolve(template, node))
        if isinstance(node, dict):
            return {k: value(v) for k, v in node.items() if value(v) is not NO_VALUE}
        if isinstance(node, list):
            return [value(v) for v in node if value(v) is not NO_VALUE]
        return node

    def settle(resolved: Any) -> Any:
        if isinstance(resolved, Unresolved):
            if resolved.origin is not None and resolved.origin.template == template.path:
                key = (resolved.origin.logical_id, resolved.origin.attribute)
                if key in bindings:
                    return bindings[key]
            return resolved.placeholder or f"<{resolved.reason}>"
        if isinstance(resolved, dict):
            return {k: settle(v) for k, v in resolved.items()}
        if isinstance(resolved, list):
            return [settle(v) for v in resolved]
        return resolved

    fragment: dict[str, dict[str, Any]] = {}
    for logical, spec in template.resources.items():
        if spec.get("Type") not in _MODELLED:
            continue
        properties = {
            k: v
            for k, v in value(spec.get("Properties") or {}).items()
            if k not in _CLOUDFORMATION_KEYS
        }
        if spec["Type"] == stack.CUSTOM:
            properties = cloudformation_strings(properties)
        entry: dict[str, Any] = {"Type": spec["Type"], "Properties": properties}
        depends = spec.get("DependsOn")
        if depends:
            entry["DependsOn"] = depends
        fragment[logical] = entry
    return fragment
