"""scripts/mutate.py names test files per module: a renamed test file must not silently drop
out of the mutation run (docs/testing.md, "Mutation score")."""

from __future__ import annotations

from scripts import mutate


def test_every_test_path_the_mutation_run_names_exists() -> None:
    for module, paths in mutate.MODULES.items():
        assert (mutate.REPO / "handler" / "meshed_crystal" / f"{module}.py").is_file(), module
        for path in paths:
            assert (mutate.REPO / path).exists(), (module, path)
    for name in mutate.ALSO_COPY:
        assert (mutate.REPO / name).exists(), name
