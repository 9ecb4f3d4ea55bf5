"""Every `DESIGN §n` (or `§n.m`) the code, tests, scripts and docs cite exists in docs/design.md."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DESIGN = REPO / "docs" / "design.md"
CITATION = re.compile(r"DESIGN\s+§(\d+)(?:\.(\d+))?")
CITING = ("handler", "tests", "scripts", "lint", "bench", "docs", "README.md", "tasks.py")


def sections() -> set[tuple[int, int | None]]:
    """(section, None) for each `## n.` heading; (section, item) for each numbered item of it."""
    found: set[tuple[int, int | None]] = set()
    current = 0
    for line in DESIGN.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"## (\d+)\. ", line)
        if heading:
            current = int(heading.group(1))
            found.add((current, None))
            continue
        item = re.match(r"(\d+)\. \S", line)
        if item and current:
            found.add((current, int(item.group(1))))
    return found


def citations() -> list[tuple[str, int, int | None]]:
    cited: list[tuple[str, int, int | None]] = []
    for root in CITING:
        path = REPO / root
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for file in files:
            if file.suffix not in {".py", ".md", ".yaml", ".yml"} or file == DESIGN:
                continue
            for match in CITATION.finditer(file.read_text(encoding="utf-8", errors="replace")):
                item = int(match.group(2)) if match.group(2) else None
                cited.append((str(file.relative_to(REPO)), int(match.group(1)), item))
    return cited


def test_the_contract_is_in_the_repository_with_its_sections() -> None:
    known = sections()
    assert {(n, None) for n in range(1, 11)} <= known
    assert (5, 4) in known  # the numbered items of §5 are citable


def test_every_citation_names_a_section_that_exists() -> None:
    cited = citations()
    assert len(cited) > 40, "the code cites the contract; finding none means the regex broke"
    known = sections()
    missing = [c for c in cited if (c[1], c[2]) not in known]
    assert missing == []
