"""Fault injection and call recording at the emulator, below the handler and botocore.

The faults are raised inside moto's request handling, as the service's own error: moto serialises
a :class:`moto.core.exceptions.ServiceException` with the service's protocol and model (the HTTP
status of a modelled error, a JSON ``__type`` for App Mesh and ECS, an XML ``<Error>`` for
CloudFormation), so the handler's botocore clients parse exactly what AWS would send. Nothing of
the handler's own call sequence is mocked: whichever call reaches the emulator next gets the fault.

Use :func:`injected` as a context manager (the ``faults`` fixture does), then::

    faults.fail("ecs", "RegisterTaskDefinition", "ThrottlingException", "Rate exceeded", times=2)
    faults.delay("appmesh", "CreateVirtualService", seconds=2.0)
    faults.fail("ecs", "RegisterTaskDefinition", "ServerException", "Internal error", status=500)
    faults.disconnect("appmesh", "ListVirtualServices", "refused")
    faults.calls  # [("appmesh", "DescribeMesh"), ...] every call that reached the emulator

Ordering concurrent invocations: a barrier armed on an operation (``rendezvous``, ``at_once``)
holds the calls *before* the emulator runs them, so it synchronises their arrival, not their
effects: once released, one call may run (and its invocation go on writing) before the other
call has run at all. To make "every invocation read before any of them wrote" true, gate the
writes instead: :meth:`Faults.reads_before_writes`.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import ConnectionClosedError, EndpointConnectionError
from moto.core.exceptions import ServiceException
from moto.core.responses import BaseResponse

__all__ = ["Connection", "Faults", "InjectedFault", "injected", "is_write"]


class InjectedFault(ServiceException):
    """A service error raised by the emulator on request.

    Defined outside moto's packages on purpose: moto then serialises it with the model of the
    service that is answering (its protocol, and the HTTP status of a modelled error).
    """


# Service names as moto's responses know them (botocore's, e.g. "servicediscovery").
Operation = tuple[str, str]
# How a connection fails: "refused" before the request reached the service (it did not run);
# "closed" after the service ran it, before its answer arrived.
Connection = Literal["refused", "closed"]
_RAISED: dict[str, type[EndpointConnectionError | ConnectionClosedError]] = {
    "refused": EndpointConnectionError,
    "closed": ConnectionClosedError,
}


@dataclass
class _Fault:
    code: str
    message: str
    times: int
    delay_s: float = 0.0
    barrier: threading.Barrier | None = None
    status: int | None = None
    connection: Connection | None = None


@dataclass
class Faults:
    """The faults armed for the next calls, and every call the emulator answered."""

    calls: list[Operation] = field(default_factory=list)
    injected: list[tuple[str, str, str]] = field(default_factory=list)
    """(service, operation, error code or botocore exception) of every fault raised, in order."""
    _armed: dict[Operation, list[_Fault]] = field(default_factory=dict)
    _write_gates: list[_Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(
        self,
        service: str,
        operation: str,
        code: str,
        message: str,
        *,
        times: int = 1,
        status: int | None = None,
    ) -> None:
        """The next ``times`` calls of ``operation`` answer the service error ``code``.

        The HTTP status is the one the service's model gives the error (App Mesh's
        ``ServiceUnavailableException`` is 503), else 400; ``status`` sets it where the model
        says nothing but the service sends another (ECS's ``ServerException`` is a 500).
        """
        with self._lock:
            self._armed.setdefault((service, operation), []).append(
                _Fault(code, message, times, status=status)
            )

    def disconnect(
        self, service: str, operation: str, how: Connection = "refused", *, times: int = 1
    ) -> None:
        """The next ``times`` calls of ``operation`` lose their connection, as botocore reports
        it: ``refused``, EndpointConnectionError (the call did not run); ``closed``,
        ConnectionClosedError (the call ran, its answer was lost).

        In process (``mock_aws``, the ``faults`` fixture) only: a server-mode emulator turns the
        exception into an HTTP 500.
        """
        with self._lock:
            self._armed.setdefault((service, operation), []).append(
                _Fault("", "", times, connection=how)
            )

    def delay(self, service: str, operation: str, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` calls of ``operation`` take ``seconds`` longer, then succeed."""
        with self._lock:
            self._armed.setdefault((service, operation), []).append(
                _Fault("", "", times, delay_s=seconds)
            )

    def rendezvous(
        self, service: str, operation: str, *, parties: int = 2, timeout_s: float = 60.0
    ) -> None:
        """The next ``parties`` calls of ``operation`` wait for each other, then all proceed.

        They are held before the emulator runs them: this orders their arrival only. After the
        release the emulator runs them in any order, possibly one after the other invocation's
        next calls; to order reads before writes use :meth:`reads_before_writes`.
        """
        with self._lock:
            self._armed.setdefault((service, operation), []).append(
                _Fault("", "", parties, barrier=threading.Barrier(parties, timeout=timeout_s))
            )

    def reads_before_writes(
        self, parties: int = 2, *, timeout_s: float = 30.0
    ) -> threading.Barrier:
        """The first ``parties`` writes, whatever their operation, wait until all have arrived.

        For ``parties`` concurrent invocations that each write one call at a time after their
        reads (a Create settles all its reads before its first write, then writes in sequence),
        these are the first write of each invocation: when the gate opens, every invocation has
        finished all its reads (the emulator ran them and answered), and none has written yet.
        What each read saw is then fixed, whatever the threads' scheduling.

        Returns the gate: ``broken`` afterwards if fewer than ``parties`` writes came within
        ``timeout_s`` (an invocation wrote nothing, or wrote twice before the others' first):
        the interleaving was then not the one intended, which the caller should assert.
        """
        gate = threading.Barrier(parties, timeout=timeout_s)
        with self._lock:
            self._write_gates.append(_Fault("", "", parties, barrier=gate))
        return gate

    def at_once(self, *operations: Operation, timeout_s: float = 5.0) -> threading.Barrier:
        """The next call of each operation waits until the calls of all of them have arrived.

        Returns the barrier: it is ``broken`` afterwards unless the caller made the calls
        concurrently (one after the other, the first waits out ``timeout_s`` alone).
        """
        barrier = threading.Barrier(len(operations), timeout=timeout_s)
        with self._lock:
            for operation in operations:
                self._armed.setdefault(operation, []).append(_Fault("", "", 1, barrier=barrier))
        return barrier

    def pending(self, service: str, operation: str) -> int:
        """How many armed faults of ``operation`` have not fired yet."""
        with self._lock:
            return sum(f.times for f in self._armed.get((service, operation), []))

    def writes(self) -> list[Operation]:
        """The recorded calls that change something (anything but Describe/List/Get)."""
        with self._lock:
            return [c for c in self.calls if is_write(c[1])]

    def _gate(self, operation: str) -> threading.Barrier | None:
        """The write gate this call must pass, if it is one of the gated writes."""
        if not is_write(operation):
            return None
        with self._lock:
            if not self._write_gates:
                return None
            gate = self._write_gates[0]
            gate.times -= 1
            if gate.times <= 0:
                self._write_gates.pop(0)
            return gate.barrier

    def _next(self, service: str, operation: str) -> _Fault | None:
        with self._lock:
            self.calls.append((service, operation))
            queue = self._armed.get((service, operation))
            if not queue:
                return None
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
            if fault.code:
                self.injected.append((service, operation, fault.code))
            elif fault.connection:
                self.injected.append((service, operation, _RAISED[fault.connection].__name__))
            return fault


def is_write(operation: str) -> bool:
    """Anything but a Describe, List or Get changes something."""
    return not operation.startswith(("Describe", "List", "Get"))


_active: Faults | None = None
_original_call_action = BaseResponse.call_action
_install_lock = threading.Lock()


def _operation_name(response: BaseResponse) -> str | None:
    try:
        return str(response._get_action())
    except Exception:  # moto could not route it; it answers that itself
        return None


def _call_action(self: BaseResponse) -> Any:
    faults = _active
    operation = _operation_name(self) if faults is not None else None
    if faults is None or operation is None:
        return _original_call_action(self)
    fault = faults._next(str(self.boto3_service_name), operation)
    gate = faults._gate(operation)
    if gate is not None:
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait()  # a broken gate is the caller's finding (see reads_before_writes)
    if fault is not None:
        if fault.barrier is not None:
            with contextlib.suppress(threading.BrokenBarrierError):
                fault.barrier.wait()  # a broken one is the caller's finding, not a failed call
        if fault.delay_s:
            time.sleep(fault.delay_s)
        if fault.connection == "closed":
            _original_call_action(self)
        if fault.connection:
            raise _RAISED[fault.connection](endpoint_url=_endpoint(self))
        if fault.code:
            error = InjectedFault(fault.code, fault.message)
            method = _snake(operation)

            def raise_fault() -> Any:
                raise error

            # moto calls the action method by name and serialises a ServiceException with the
            # service's protocol; an instance attribute shadows the method for this call only.
            setattr(self, method, raise_fault)
            with warnings.catch_warnings():
                # moto warns when a code is not in the model (ECS's ThrottlingException is
                # not, though ECS sends it); it still serialises it as the service would.
                warnings.simplefilter("ignore", UserWarning)
                status, headers, body = _original_call_action(self)
            return (status if fault.status is None else fault.status), headers, body
    return _original_call_action(self)


def _endpoint(response: BaseResponse) -> str:
    return str(getattr(response, "uri", "") or response.boto3_service_name)


def _snake(name: str) -> str:
    from moto.core.utils import camelcase_to_underscores

    return str(camelcase_to_underscores(name))


@contextmanager
def injected() -> Iterator[Faults]:
    """Arm fault injection and call recording for the ``with`` block."""
    global _active
    with _install_lock:
        BaseResponse.call_action = _call_action  # type: ignore[method-assign]
        _active = Faults()
    try:
        yield _active
    finally:
        with _install_lock:
            _active = None
            BaseResponse.call_action = _original_call_action  # type: ignore[method-assign]
