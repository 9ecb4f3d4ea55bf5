"""The ECS throttle emulation itself: a burst, then one a second; one family at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.support import ecs_throttle

# moto notes that ECS's model has no ThrottlingException shape; real ECS sends it all the same.
pytestmark = pytest.mark.filterwarnings(r"ignore:Exception\(ThrottlingException\)")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ecs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client(
            "ecs", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1})
        )
    ecs_throttle.uninstall()


def _register(ecs: Any, family: str) -> None:
    ecs.register_task_definition(
        family=family, containerDefinitions=[{"name": "app", "image": "app", "memory": 64}]
    )


def _error(ecs: Any, family: str) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        _register(ecs, family)
    return dict(raised.value.response["Error"])


def test_burst_then_one_per_second(ecs: Any) -> None:
    clock = FakeClock()
    throttle = ecs_throttle.install(burst=20, rate=1.0, hold_s=0.0, clock=clock)
    for i in range(20):
        _register(ecs, f"family-{i}")
    assert _error(ecs, "family-20") == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    clock.now += 0.5
    assert _error(ecs, "family-20")["Code"] == "ThrottlingException"
    clock.now += 0.5
    _register(ecs, "family-20")
    assert _error(ecs, "family-21")["Code"] == "ThrottlingException"
    clock.now += 3.0
    for i in range(3):
        _register(ecs, f"later-{i}")
    assert _error(ecs, "later-3")["Code"] == "ThrottlingException"
    assert (throttle.accepted, throttle.throttled) == (24, 4)


def test_simultaneous_registrations_in_one_family(ecs: Any) -> None:
    throttle = ecs_throttle.install(burst=20, rate=1.0, hold_s=0.0)
    throttle.admit("busy-family")  # a registration of this family is in progress
    try:
        error = _error(ecs, "busy-family")
        assert error == {"Code": "ClientException", "Message": ecs_throttle.CONCURRENT_MESSAGE}
        _register(ecs, "other-family")
    finally:
        throttle.release("busy-family")
    _register(ecs, "busy-family")


def test_parallel_registrations_collide(ecs: Any) -> None:
    # The first registration holds its family long enough that the three others, released at
    # the same moment, arrive while it runs even on a loaded machine (0.3 s failed there).
    ecs_throttle.install(burst=20, rate=1.0, hold_s=3.0)
    codes: list[str] = []
    start = threading.Barrier(4)

    def register() -> None:
        start.wait()
        try:
            _register(ecs, "shared")
            codes.append("ok")
        except ClientError as error:
            codes.append(str(error.response["Error"]["Code"]))

    threads = [threading.Thread(target=register) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(codes) == ["ClientException"] * 3 + ["ok"]


def test_uninstall_restores_moto(ecs: Any) -> None:
    ecs_throttle.install(burst=1, rate=0.001, hold_s=0.0)
    _register(ecs, "one")
    ecs_throttle.uninstall()
    for i in range(3):
        _register(ecs, f"free-{i}")
