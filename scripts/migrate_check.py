"""``tasks.py migrate --check DIR --step N``: read the account, say whether step N may start."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def check(out: Path, step: int, stacks: Sequence[str]) -> int:
    raise NotImplementedError
