"""ECS's real ``RegisterTaskDefinition`` limits, emulated inside moto.

Real ECS answers a burst of registrations with two different errors:

* the account's API rate limit, a token bucket (about 20 at once, then about one a second):
  ``ThrottlingException`` "Rate exceeded";
* simultaneous registrations in one family: ``ClientException`` "Too many concurrent attempts
  to create a new revision of the specified family."

moto has neither. :func:`install` wraps moto's ECS backend so both happen, in process
(``mock_aws``) and in server mode alike; :func:`uninstall` restores it. A registration holds its
family for ``hold_s`` seconds (real registrations take time); another registration of the same
family meanwhile gets the ClientException. Rejected requests take no token, as with AWS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import ServiceException
from moto.ecs.models import EC2ContainerServiceBackend

RATE_MESSAGE = "Rate exceeded"
CONCURRENT_MESSAGE = (
    "Too many concurrent attempts to create a new revision of the specified family."
)
# ECS's documented steady rate for RegisterTaskDefinition is about 1 per second, burst 20.
DEFAULT_BURST = 20
DEFAULT_RATE = 1.0
DEFAULT_HOLD_S = 0.05

Clock = Callable[[], float]


class ThrottlingException(ServiceException):
    """ECS's rate limit (HTTP 400, ``__type: ThrottlingException``)."""

    code = "ThrottlingException"
    message = RATE_MESSAGE


class ConcurrentRevisionException(ServiceException):
    """ECS's answer to simultaneous registrations in one family."""

    code = "ClientException"
    message = CONCURRENT_MESSAGE


@dataclass
class TokenBucket:
    """``capacity`` tokens at most, ``rate`` tokens a second; starts full."""

    capacity: int
    rate: float
    clock: Clock = time.monotonic
    _tokens: float = field(init=False)
    _updated: float = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._tokens = float(self.capacity)
        self._updated = self.clock()

    def take(self) -> bool:
        with self._lock:
            now = self.clock()
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(float(self.capacity), self._tokens + elapsed * self.rate)
            self._updated = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


@dataclass
class RegisterThrottle:
    """What the wrapped ``register_task_definition`` consults, and what it counted."""

    burst: int = DEFAULT_BURST
    rate: float = DEFAULT_RATE
    hold_s: float = DEFAULT_HOLD_S
    clock: Clock = time.monotonic
    accepted: int = 0
    throttled: int = 0
    concurrent: int = 0
    bucket: TokenBucket = field(init=False)
    _busy: set[str] = field(init=False, default_factory=set)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.bucket = TokenBucket(self.burst, self.rate, self.clock)

    def admit(self, family: str) -> None:
        """Raise as ECS would, or mark ``family`` busy (call :meth:`release` after)."""
        if not self.bucket.take():
            with self._lock:
                self.throttled += 1
            raise ThrottlingException()
        with self._lock:
            if family in self._busy:
                self.concurrent += 1
                raise ConcurrentRevisionException()
            self._busy.add(family)
            self.accepted += 1

    def release(self, family: str) -> None:
        with self._lock:
            self._busy.discard(family)


_original: Any = None
_active: RegisterThrottle | None = None
_install_lock = threading.Lock()


def install(
    burst: int = DEFAULT_BURST,
    rate: float = DEFAULT_RATE,
    hold_s: float = DEFAULT_HOLD_S,
    clock: Clock = time.monotonic,
) -> RegisterThrottle:
    """Throttle moto's ``RegisterTaskDefinition`` (every account and region) from now on.

    Installing again replaces the limits (a fresh, full bucket). Returns the throttle, whose
    counters say what it did.
    """
    global _original, _active
    with _install_lock:
        throttle = RegisterThrottle(burst=burst, rate=rate, hold_s=hold_s, clock=clock)
        if _original is None:
            _original = EC2ContainerServiceBackend.register_task_definition
            original = _original

            def register_task_definition(
                self: EC2ContainerServiceBackend, family: str, *args: Any, **kwargs: Any
            ) -> Any:
                current = _active
                if current is None:
                    return original(self, family, *args, **kwargs)
                current.admit(family)
                try:
                    if current.hold_s > 0:
                        time.sleep(current.hold_s)
                    return original(self, family, *args, **kwargs)
                finally:
                    current.release(family)

            EC2ContainerServiceBackend.register_task_definition = register_task_definition  # type: ignore[method-assign]
        _active = throttle
        return throttle


def uninstall() -> None:
    """Restore moto's own ``register_task_definition``."""
    global _original, _active
    with _install_lock:
        if _original is not None:
            EC2ContainerServiceBackend.register_task_definition = _original  # type: ignore[method-assign]
        _original = None
        _active = None
