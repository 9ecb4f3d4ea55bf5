"""The modes' specs (``registry``): what the rest of the code reads of a mode, held to the docs
and to what the parser, the lifecycle and the lint rules do with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from meshed_crystal import properties, registry
from meshed_crystal.errors import PropertyError
from meshed_crystal.properties import parse_properties

DOCS = Path(__file__).resolve().parents[2] / "docs"
COMMON_ATTRIBUTES = ("Mode", "TaskDefinitionArn", "TaskDefinitionFamily", "TaskDefinitionRevision")


def first_column(markdown: str, heading: str) -> list[str]:
    """The backticked names in the first column of the table under ``heading``."""
    section = markdown.split(heading, 1)[1]
    section = re.split(r"\n#{2,3} ", section, maxsplit=1)[0]
    return re.findall(r"^\| `([A-Za-z.]+)` \|", section, flags=re.MULTILINE)


@pytest.mark.appmesh
def test_the_registered_modes() -> None:
    assert registry.names() == ("AppMesh", "ServiceConnect")
    assert registry.default() == "AppMesh"  # DESIGN §2


@pytest.mark.appmesh
def test_the_attributes_are_the_ones_documented() -> None:
    reference = (DOCS / "reference.md").read_text()
    app_mesh = first_column(reference, "## Attributes (`Fn::GetAtt`)")
    service_connect = first_column(reference, "### Attributes in this mode (`Fn::GetAtt`)")
    assert {"Mode", *app_mesh} == set(registry.attributes("AppMesh"))
    assert set(service_connect) == set(registry.attributes("ServiceConnect"))
    design = (DOCS / "design.md").read_text()
    for spec in registry.specs().values():
        assert spec.attributes[:4] == COMMON_ATTRIBUTES  # what the lifecycle's revision gives
        for name in spec.attributes:
            assert f"`{name}`" in design, name


def test_every_property_is_documented_and_parsed() -> None:
    reference = (DOCS / "reference.md").read_text()
    documented = set(first_column(reference, "## Properties"))
    assert list(registry.property_names()) == properties.PROPERTY_NAMES
    for name in registry.property_names():
        if name != "Mode":
            assert name in documented or f"`{name}." in reference, name


def test_a_property_of_no_mode_is_unknown() -> None:
    with pytest.raises(PropertyError) as raised:
        parse_properties({"TaskDefinition": "app", "Mode": "ServiceConnect", "Nope": "1"})
    assert ("Nope", "unknown property") in [(p, r.split(" (")[0]) for p, r in raised.value.errors]


@pytest.mark.appmesh
def test_the_mode_property_takes_the_registered_names() -> None:
    with pytest.raises(PropertyError) as raised:
        parse_properties({"Mode": "Lattice", "TaskDefinition": "app"})
    assert raised.value.errors[0] == ("Mode", "'Lattice' is not one of AppMesh, ServiceConnect")


@pytest.mark.appmesh
@pytest.mark.parametrize(
    ("physical_id", "mode"),
    [
        ("meshed-crystal:123456789012:ecs-mesh:crystal:crystal.service.local", "AppMesh"),
        ("meshed-crystal-sc:123456789012:Crystal:00000000-0000", "ServiceConnect"),
        ("stack_Crystal_ABCDEF12", None),  # a failed Create's fallback id
        ("", None),
        (None, None),
    ],
)
def test_a_physical_id_names_its_mode(physical_id: str | None, mode: str | None) -> None:
    spec = registry.of_id(physical_id)
    assert (spec.name if spec else None) == mode


def test_no_id_prefix_starts_another() -> None:
    prefixes = [spec.id_prefix for spec in registry.specs().values()]
    for prefix in prefixes:
        assert [p for p in prefixes if p.startswith(prefix)] == [prefix]


def test_a_provider_refuses_an_adapter_no_mode_takes() -> None:
    from meshed_crystal.actions import Provider

    with pytest.raises(TypeError, match="envoy_image"):
        Provider(envoy_image="x")


@pytest.mark.appmesh
def test_another_modes_properties_are_validated_when_given() -> None:
    connected = {"Mode": "ServiceConnect", "TaskDefinition": "app", "CloudMapServiceName": "s"}
    connected["CloudMapNamespaceName"] = "n"
    parse_properties(connected)  # none given: App Mesh's parser is not even needed
    with pytest.raises(PropertyError) as raised:
        parse_properties({**connected, "Envoy": {"LogLevel": "loud"}, "MeshName": "bad name!"})
    assert [path for path, _ in raised.value.errors] == ["MeshName", "Envoy.LogLevel"]


def imports_of(path: Path, package: str) -> set[str]:
    """The modules of the package a source file imports (absolute names; relative resolved)."""
    import ast

    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("meshed_crystal")}


def test_only_the_registry_imports_a_mode_and_only_app_mesh_mode_its_adapter() -> None:
    root = Path(registry.__file__).parent
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent).with_suffix("")
        parts = relative.parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if parts[-1] == "__init__" else module.rpartition(".")[0]
        imported = imports_of(path, package)
        modes = {n.split(".")[2] for n in imported if n.startswith("meshed_crystal.modes.")}
        own = parts[2] if len(parts) > 3 and parts[1] == "modes" else None
        if module != "meshed_crystal.registry":
            assert modes <= {own}, (module, modes)
        if any(name.startswith("meshed_crystal.modes.appmesh.adapter") for name in imported):
            assert module == "meshed_crystal.modes.appmesh.mode", module
