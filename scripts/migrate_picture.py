"""plan.md of ``tasks.py migrate``: the fleet's graph as a Mermaid diagram, the steps, the
blockers."""

from __future__ import annotations

from typing import Any


def markdown(plan: Any) -> str:
    return "# Migration plan\n"
