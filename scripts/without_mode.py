"""``python3 tasks.py test --without-mode MODE``: the product without a mode, tested.

Builds, under ``.build/without-<mode>/``, a copy of ``handler/`` without ``modes/<mode>/`` and
without its line in ``registry.ENTRIES`` (nothing else is edited: that is the claim under test),
and, for ``appmesh``, a copy of botocore without the ``appmesh`` service model (hard links where
the filesystem allows), as the SDK will be once botocore drops the retired service. Then runs
pytest with both first on the path, deselecting the tests marked with the mode (``-m "not
appmesh"``), over the lifecycle and the remaining modes' tests (``TESTS``). Extra arguments go to
pytest.

``copy_package`` is also what tests/integration/test_third_mode.py uses to add a mode.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HANDLER = REPO / "handler"
REGISTRY = Path("meshed_crystal") / "registry.py"
# The lifecycle and the modes that stay: Service Connect mode's lifecycle through the driver and
# the emulator, the registry's contract, and a mode added beside it.
TESTS = (
    "tests/unit/test_mode_specs.py",
    "tests/fast/test_lifecycle_service_connect.py",
    "tests/fast/test_undo.py",
    "tests/fast/test_lifecycle.py",
    "tests/unit/test_mode.py",
    "tests/integration/test_service_connect_mode.py",
    "tests/integration/test_refused_now.py",
    "tests/integration/test_third_mode.py",
)
# The SDK's name of each mode's AWS service, where the mode has one of its own.
SERVICES = {"appmesh": "appmesh"}


def copy_package(
    dest: Path,
    *,
    without: tuple[str, ...] = (),
    add: Mapping[str, Mapping[str, str]] = {},
    source: Path = HANDLER / "meshed_crystal",
) -> Path:
    """The package at ``source`` (``handler/``'s) copied to ``dest`` (returned: the directory
    to put on the path), without the mode packages named in ``without`` and with those in
    ``add`` (package name -> {file name: source}), each with its line in ``registry.ENTRIES``
    removed or added."""
    if dest.exists():
        shutil.rmtree(dest)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(source, dest / "meshed_crystal", ignore=ignore)
    modes = dest / "meshed_crystal" / "modes"
    registry = dest / REGISTRY
    text = registry.read_text()
    for name in without:
        line = f'    "meshed_crystal.modes.{name}",\n'
        if line not in text or not (modes / name).is_dir():
            raise SystemExit(f"no mode package modes/{name}/ with a registry entry")
        shutil.rmtree(modes / name)
        text = text.replace(line, "")
    for name, files in add.items():
        (modes / name).mkdir()
        for file, code in files.items():
            (modes / name / file).write_text(code)
        text = text.replace(
            "ENTRIES: tuple[str, ...] = (\n",
            f'ENTRIES: tuple[str, ...] = (\n    "meshed_crystal.modes.{name}",\n',
        )
    registry.write_text(text)
    return dest


def sdk_without(service: str, dest: Path) -> Path:
    """botocore copied to ``dest/botocore`` without ``service``'s models (returned: ``dest``)."""
    import botocore

    source = Path(botocore.__file__).parent
    if dest.exists():
        shutil.rmtree(dest)

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(
        source,
        dest / "botocore",
        ignore=lambda folder, names: [service] if Path(folder) == source / "data" else [],
        copy_function=link,
    )
    return dest


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__)
        return 2
    mode, pytest_args = argv[0], argv[1:]
    build = REPO / ".build" / f"without-{mode}"
    package = copy_package(build / "handler", without=(mode,))
    paths = [str(package)]
    if mode in SERVICES:
        paths.append(str(sdk_without(SERVICES[mode], build / "sdk")))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, str(REPO)])}
    # What the tests will import: the copy, without the mode, and an SDK without its service.
    check = (
        "import importlib.util, sys, botocore.session; from meshed_crystal import registry;"
        f"gone = {mode!r}; service = {SERVICES.get(mode)!r};"
        "assert registry.__file__.startswith(sys.argv[1]), registry.__file__;"
        "assert importlib.util.find_spec('meshed_crystal.modes.' + gone) is None;"
        "sdk = botocore.session.get_session().get_available_services();"
        "assert service is None or service not in sdk;"
        "print('modes:', ', '.join(registry.names()), '| SDK without', service)"
    )
    checked = subprocess.run([sys.executable, "-c", check, str(package)], env=env, check=False)
    if checked.returncode:
        return checked.returncode
    # pytest puts pyproject's pythonpath (handler/) first on the path: the copies instead.
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-o",
        f"pythonpath={' '.join([*paths, '.'])}",
        "-m",
        f"not {mode}",
        *TESTS,
        *pytest_args,
    ]
    print("$", " ".join(command), f"(PYTHONPATH={env['PYTHONPATH']})", flush=True)
    return subprocess.run(command, cwd=REPO, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
