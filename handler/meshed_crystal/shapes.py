"""Comparing AWS API values: what was sent and what a Describe returns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def pruned(value: Any) -> Any:
    """The value without empty members (None, [], {}), which AWS treats as absent: a described
    spec or task definition then compares equal to the one that was sent."""
    if isinstance(value, Mapping):
        items = {key: pruned(item) for key, item in value.items()}
        return {key: item for key, item in items.items() if item not in (None, [], {})}
    if isinstance(value, list):
        return [pruned(item) for item in value]
    return value
