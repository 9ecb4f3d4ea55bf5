"""The fast tier's fixtures: the workshop's platform in the fakes, and a stack over them."""

from __future__ import annotations

import pytest

from tests.fast.lifecycle import Stack, provider
from tests.support.fakes import FakeAws


@pytest.fixture
def aws() -> FakeAws:
    """The workshop's platform (mesh, namespace and service, the application's task
    definition), in memory."""
    fakes = FakeAws()
    fakes.workshop()
    return fakes


@pytest.fixture
def stack(aws: FakeAws) -> Stack:
    return Stack(aws, provider(aws))
