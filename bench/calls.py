"""Counting AWS calls with botocore's event hooks, and replaying them (the floors).

:class:`CallRecorder` registers ``before-parameter-build`` (the API parameters),
``before-call`` (one HTTP request sent) and ``after-call`` (its error code, if any) on a
botocore event emitter. Register it on a session *before* its clients are made: each client
copies the session's emitter when it is created.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

WRITE_PREFIXES = ("Create", "Update", "Delete", "Register", "Deregister", "Tag", "Untag", "Put")


@dataclass
class Call:
    service: str
    operation: str
    params: dict[str, Any]
    error: str = ""

    @property
    def is_write(self) -> bool:
        return self.operation.startswith(WRITE_PREFIXES)

    def label(self) -> str:
        return f"{self.operation}({self.error})" if self.error else self.operation


@dataclass
class CallRecorder:
    calls: list[Call] = field(default_factory=list)
    _pending: dict[int, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, events: Any) -> None:
        events.register("before-parameter-build", self._params)
        events.register("before-call", self._call)
        events.register("after-call", self._after)

    def _params(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        with self._lock:
            self._pending[threading.get_ident()] = copy.deepcopy(params)

    def _call(self, model: Any, **_: Any) -> None:
        with self._lock:
            params = self._pending.pop(threading.get_ident(), {})
            self.calls.append(Call(model.service_model.service_name, model.name, params))

    def _after(self, model: Any, parsed: Any = None, http_response: Any = None, **_: Any) -> None:
        code = ""
        if isinstance(parsed, dict) and "Error" in parsed:
            code = str(parsed["Error"].get("Code", ""))
        if code:
            with self._lock:
                for call in reversed(self.calls):
                    if call.operation == model.name and not call.error:
                        call.error = code
                        break

    def take(self) -> list[Call]:
        with self._lock:
            calls, self.calls = self.calls, []
            return calls


def replay(clients: dict[str, Any], calls: list[Call]) -> int:
    """Make the same calls with plain boto3 clients; returns how many answered an error."""
    errors = 0
    for call in calls:
        method = getattr(clients[call.service], _snake(call.operation))
        try:
            method(**call.params)
        except ClientError:
            errors += 1
    return errors


def _snake(operation: str) -> str:
    from botocore import xform_name

    return str(xform_name(operation))
