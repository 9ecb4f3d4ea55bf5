"""The response protocol piece by piece, without a server (docs/testing.md, "Mutation score"):
which events are malformed, what the response body holds, how the PUT is retried, and which
physical id a failure reports. tests/integration/test_lifecycle_protocol.py runs it end to end."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest
from meshed_crystal import protocol
from meshed_crystal.errors import MeshedCrystalError
from meshed_crystal.protocol import FAILED, SUCCESS, Resource, encode, malformed, put_response

URL = "https://bucket.s3.amazonaws.com/path/to?X-Amz-Signature=sig&a=b"


def event(**changes: Any) -> dict[str, Any]:
    base = {
        "RequestType": "Update",
        "ResponseURL": URL,
        "StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/shop/1",
        "RequestId": "req-1",
        "LogicalResourceId": "Crystal",
        "ResourceType": "Custom::MeshedCrystal",
        "PhysicalResourceId": "meshed-crystal:111122223333:m:n:s",
        "ResourceProperties": {},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


# -- malformed ----------------------------------------------------------------------------------


def test_a_whole_event_is_not_malformed() -> None:
    assert malformed(event()) is None
    assert malformed(event(RequestType="Create", PhysicalResourceId=None)) is None


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ([], "the event is not a JSON object"),
        ("Create", "the event is not a JSON object"),
        (event(RequestId=None), "the event lacks RequestId"),
        (event(StackId="", ResourceType=7), "the event lacks StackId, ResourceType"),
        (
            {},
            "the event lacks RequestType, ResponseURL, StackId, RequestId, LogicalResourceId, "
            "ResourceType",
        ),
        (
            event(RequestType="Replace"),
            "unknown RequestType 'Replace' (expected Create, Update, Delete)",
        ),
        (event(PhysicalResourceId=None), "an Update event without PhysicalResourceId"),
        (
            event(RequestType="Delete", PhysicalResourceId=""),
            "a Delete event without PhysicalResourceId",
        ),
    ],
)
def test_malformed_events_say_why(raw: Any, problem: str) -> None:
    assert malformed(raw) == problem


@pytest.mark.parametrize(
    "url",
    [
        None,
        7,
        "",
        "http://bucket.s3.amazonaws.com/x",
        "https:///path-only",
        "https://bucket:notaport/x",
        "https://[::1/x",
        "ftp://bucket/x",
    ],
)
def test_a_response_url_that_cannot_be_put_to_is_malformed(url: Any) -> None:
    assert not protocol.usable_url(url)
    problem = malformed(event(ResponseURL=url))
    if isinstance(url, str) and url:
        assert problem == "the ResponseURL is not an https URL with a host"
    else:
        assert problem == "the event lacks ResponseURL"


def test_usable_urls() -> None:
    assert protocol.usable_url(URL)
    assert protocol.usable_url("https://localhost:8443/x?y=z")


# -- encode -------------------------------------------------------------------------------------


def test_a_body_under_the_limit_is_plain_json() -> None:
    body = {"Status": FAILED, "Reason": "short"}
    assert encode(body) == json.dumps(body).encode()


def test_an_oversized_reason_is_cut_to_fit_with_a_marker() -> None:
    body = {"Status": FAILED, "Reason": "x" * 5000, "PhysicalResourceId": "id"}
    data = encode(body)
    assert len(data) <= protocol.MAX_BODY_BYTES
    decoded = json.loads(data)
    assert decoded["Reason"].endswith("x …(truncated)")
    assert decoded["PhysicalResourceId"] == "id"
    # Cut by the excess and 20 more: the marker's 14 characters (16 bytes) and a little room.
    excess = len(json.dumps(body).encode()) - protocol.MAX_BODY_BYTES
    assert decoded["Reason"] == "x" * (5000 - excess - 20) + " …(truncated)"
    assert protocol.MAX_BODY_BYTES == 4096


def test_a_body_too_large_even_without_its_reason_becomes_a_failed_that_says_so() -> None:
    body = {
        "Status": SUCCESS,
        "Reason": "",
        "PhysicalResourceId": "p" * 1500,
        "StackId": "s" * 1001,
        "RequestId": "r" * 10,
        "LogicalResourceId": "l" * 1000,
        "NoEcho": False,
        "Data": {"k": "v" * 5000},
    }
    data = encode(body)
    assert len(data) <= protocol.MAX_BODY_BYTES
    assert json.loads(data) == {
        "Status": FAILED,
        "Reason": "the response would exceed CloudFormation's 4096-byte limit",
        "PhysicalResourceId": "p" * 1000,
        "StackId": "s" * 1000,
        "RequestId": "r" * 10,
        "LogicalResourceId": "l" * 1000,
        "NoEcho": False,
        "Data": {},
    }
    # Keys the body lacks are written empty.
    assert json.loads(encode({"Status": SUCCESS, "Data": {"k": "v" * 5000}})) == {
        "Status": FAILED,
        "Reason": "the response would exceed CloudFormation's 4096-byte limit",
        "Data": {},
        "PhysicalResourceId": "",
        "StackId": "",
        "RequestId": "",
        "LogicalResourceId": "",
    }


def test_the_limit_counts_json_escapes_a_nul_id_is_cut_to_fit() -> None:
    # Issue 16: a 772-character id of NUL characters is 4632 bytes once encoded (\u0000).
    body = {
        "Status": SUCCESS,
        "Reason": "",
        "PhysicalResourceId": "\x00" * 772,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/" + "a" * 36,
        "RequestId": "r" * 36,
        "LogicalResourceId": "Crystal",
        "NoEcho": False,
        "Data": {},
    }
    data = encode(body)
    assert len(data) <= protocol.MAX_BODY_BYTES
    decoded = json.loads(data)
    assert decoded["Status"] == FAILED
    assert decoded["Reason"] == "the response would exceed CloudFormation's 4096-byte limit"
    # Cut to 1000 bytes of JSON: 166 NULs of 6 bytes each
    assert decoded["PhysicalResourceId"] == "\x00" * 166
    assert (decoded["StackId"], decoded["LogicalResourceId"]) == (body["StackId"], "Crystal")


def test_four_ids_of_escaped_characters_are_cut_until_the_body_fits() -> None:
    body = {
        "Status": SUCCESS,
        "Reason": "",
        "PhysicalResourceId": "\x01" * 900,
        "StackId": "\u2026" * 900,
        "RequestId": '"' * 900,
        "LogicalResourceId": "l" * 1000,
        "NoEcho": False,
        "Data": {"k": "v"},
    }
    data = encode(body)
    assert len(data) <= protocol.MAX_BODY_BYTES
    decoded = json.loads(data)
    assert decoded["Status"] == FAILED
    for key in ("PhysicalResourceId", "StackId", "RequestId", "LogicalResourceId"):
        assert str(body[key]).startswith(decoded[key])  # cut from the end, never rewritten
        assert len(json.dumps(decoded[key])) - 2 <= protocol.MAX_ID_BYTES


def test_a_reason_of_escaped_characters_is_cut_by_its_encoded_size() -> None:
    body = {"Status": FAILED, "Reason": "", "PhysicalResourceId": "id"}
    room = protocol.MAX_BODY_BYTES - len(json.dumps(body).encode())
    nuls = room // 6 + 10  # about 10 NULs (60 bytes) over
    body["Reason"] = "\x00" * nuls
    excess = 6 * nuls - room
    decoded = json.loads(encode(body))
    assert len(encode(body)) <= protocol.MAX_BODY_BYTES
    # Cut by the excess and 20 bytes more (the marker takes 18), counted in encoded bytes
    assert decoded["Reason"] == "\x00" * ((6 * nuls - excess - 20) // 6) + " …(truncated)"


def test_a_reason_is_cut_only_past_the_limit_and_from_the_first_byte_past_it() -> None:
    body = {"Status": FAILED, "Reason": "", "PhysicalResourceId": "id"}
    room = protocol.MAX_BODY_BYTES - len(json.dumps(body).encode())
    # Exactly 4096 bytes: kept whole.
    body["Reason"] = "r" * room
    assert encode(body) == json.dumps(body).encode()
    # One byte over: the Reason is cut, and the answer stays what it was (FAILED, its id).
    body["Reason"] = "r" * (room + 1)
    decoded = json.loads(encode(body))
    assert decoded["Reason"] == "r" * (room + 1 - 1 - 20) + " …(truncated)"
    assert (decoded["Status"], decoded["PhysicalResourceId"]) == (FAILED, "id")


def test_a_reason_cut_to_nothing_keeps_only_the_marker() -> None:
    # 5 bytes over with a 25-character Reason: 25 - 5 - 20 = 0 characters of it are kept.
    body = {"Status": FAILED, "Reason": "r" * 25, "Data": {"k": ""}}
    body["Data"] = {"k": "v" * (protocol.MAX_BODY_BYTES + 5 - len(json.dumps(body).encode()))}
    decoded = json.loads(encode(body))
    assert decoded["Reason"] == " …(truncated)"
    assert decoded["Status"] == FAILED


def test_a_body_of_exactly_the_limit_is_kept() -> None:
    body = {"Status": SUCCESS, "Reason": "", "Data": {"k": ""}}
    room = protocol.MAX_BODY_BYTES - len(json.dumps(body).encode())
    body["Data"] = {"k": "v" * room}
    assert encode(body) == json.dumps(body).encode()
    assert len(encode(body)) == protocol.MAX_BODY_BYTES


# -- put_response ---------------------------------------------------------------------------------


class FakeConnection:
    """http.client.HTTPSConnection, answering statuses (or raising errors) from a script."""

    script: ClassVar[list[int | Exception]] = []
    made: ClassVar[list[FakeConnection]] = []

    def __init__(self, netloc: str, timeout: float) -> None:
        self.netloc, self.timeout = netloc, timeout
        self.requests: list[tuple[str, str, bytes, dict[str, str]]] = []
        self.closed = False
        FakeConnection.made.append(self)

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> None:
        self.requests.append((method, path, body, headers))
        answer = FakeConnection.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        self.status = answer

    def getresponse(self) -> Any:
        return self

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def connection(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Fake connections; yields the sleeps put_response takes."""
    sleeps: list[float] = []
    FakeConnection.script, FakeConnection.made = [], []
    monkeypatch.setattr(http.client, "HTTPSConnection", FakeConnection)
    monkeypatch.setattr(time, "sleep", sleeps.append)
    return sleeps


FAR = float("inf")


def test_a_put_is_sent_as_s3_expects_it(connection: list[float]) -> None:
    FakeConnection.script = [200]
    assert put_response(URL, b'{"a": 1}', FAR) is True
    [made] = FakeConnection.made
    assert (made.netloc, made.timeout, made.closed) == ("bucket.s3.amazonaws.com", 10, True)
    assert made.requests == [
        (
            "PUT",
            "/path/to?X-Amz-Signature=sig&a=b",
            b'{"a": 1}',
            {"content-type": "", "content-length": "8"},
        )
    ]
    assert connection == []


@pytest.mark.parametrize("status", [200, 201, 299])
def test_any_2xx_is_delivered(connection: list[float], status: int) -> None:
    FakeConnection.script = [status]
    assert put_response(URL, b"{}", FAR) is True


@pytest.mark.parametrize("status", [400, 403, 499])
def test_a_4xx_is_final(connection: list[float], status: int) -> None:
    FakeConnection.script = [status]
    assert put_response(URL, b"{}", FAR) is False
    assert len(FakeConnection.made) == 1


@pytest.mark.parametrize(
    "failure", [500, 503, 300, 199, 0, OSError("reset"), http.client.RemoteDisconnected("closed")]
)
def test_other_answers_are_retried_with_doubling_waits_five_times_in_all(
    connection: list[float], failure: int | Exception
) -> None:
    FakeConnection.script = [failure] * 5
    assert put_response(URL, b"{}", FAR) is False
    assert len(FakeConnection.made) == protocol.PUT_ATTEMPTS == 5
    assert connection == [0.5, 1.0, 2.0, 4.0]
    assert all(c.closed for c in FakeConnection.made)


def test_a_wait_that_would_end_at_the_deadline_is_not_taken(
    connection: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "monotonic", lambda: 100.0)
    FakeConnection.script = [503] * 5
    assert put_response(URL, b"{}", 100.5) is False
    assert connection == []
    assert len(FakeConnection.made) == 1


def test_a_retry_that_succeeds_is_delivered(connection: list[float]) -> None:
    FakeConnection.script = [503, OSError("reset"), 200]
    assert put_response(URL, b"{}", FAR) is True
    assert connection == [0.5, 1.0]


def test_no_wait_crosses_the_deadline(connection: list[float]) -> None:
    FakeConnection.script = [503] * 5
    # 0.5 s fits before a deadline 0.9 s away; the next wait (1 s) does not.
    assert put_response(URL, b"{}", time.monotonic() + 0.9) is False
    assert connection == [0.5]
    assert len(FakeConnection.made) == 2
    FakeConnection.made.clear()
    connection.clear()
    FakeConnection.script = [503] * 5
    assert put_response(URL, b"{}", time.monotonic() + 0.5) is False
    assert connection == []


# -- Resource ---------------------------------------------------------------------------------


class Context:
    def __init__(self, remaining_ms: int = 60_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class Sent:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.urls: list[str] = []
        self.deadlines: list[float] = []

    def __call__(self, url: str, body: bytes, deadline: float) -> bool:
        self.urls.append(url)
        self.bodies.append(json.loads(body))
        self.deadlines.append(deadline)
        return True


def fallback(event: Mapping[str, Any]) -> str:
    return f"fallback-{event.get('LogicalResourceId', '?')}"


@pytest.fixture
def sent() -> Sent:
    return Sent()


def resource(sent: Sent, **handlers: Any) -> Resource:
    made = Resource(fallback_id=fallback, sender=sent)
    for name, function in handlers.items():
        getattr(made, name)(function)
    return made


def test_a_success_answers_with_the_functions_id_and_data(sent: Sent) -> None:
    def update(e: dict[str, Any], _: Any) -> str:
        made.Data.update({"Arn": "x", "Count": 3})  # type: ignore[dict-item]
        made.Reason = "ignored on success"
        return "new-id"

    made = resource(sent, update=update)
    before = time.monotonic()
    made(event(), Context(3_000_000))
    assert sent.bodies == [
        {
            "Status": SUCCESS,
            "Reason": "",
            "PhysicalResourceId": "new-id",
            "StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/shop/1",
            "RequestId": "req-1",
            "LogicalResourceId": "Crystal",
            "NoEcho": False,
            "Data": {"Arn": "x", "Count": "3"},
        }
    ]
    assert sent.urls == [URL]
    # The PUT's deadline is the Lambda's: the context's milliseconds from the call on.
    assert before + 3000 <= sent.deadlines[0] <= time.monotonic() + 3000


def test_an_error_of_the_resource_answers_failed_with_its_message_and_the_events_id(
    sent: Sent,
) -> None:
    def update(e: dict[str, Any], _: Any) -> str:
        made.announce("announced-id")
        raise MeshedCrystalError("the mesh is not yours")

    made = resource(sent, update=update)
    made(event(), Context())
    [body] = sent.bodies
    assert (body["Status"], body["Reason"]) == (FAILED, "the mesh is not yours")
    # An Update keeps the id it came with, whatever was announced.
    assert body["PhysicalResourceId"] == "meshed-crystal:111122223333:m:n:s"


def test_a_failed_create_reports_the_announced_id_or_else_the_fallback(sent: Sent) -> None:
    def create(e: dict[str, Any], _: Any) -> str:
        made.announce("announced-id")
        raise MeshedCrystalError("no")

    made = resource(sent, create=create)
    made(event(RequestType="Create", PhysicalResourceId=None), Context())
    assert sent.bodies[-1]["PhysicalResourceId"] == "announced-id"

    def create_quietly(e: dict[str, Any], _: Any) -> str:
        raise MeshedCrystalError("no")

    made = resource(sent, create=create_quietly)
    made(event(RequestType="Create", PhysicalResourceId=None), Context())
    assert sent.bodies[-1]["PhysicalResourceId"] == "fallback-Crystal"


def test_the_announced_id_does_not_outlive_its_invocation(sent: Sent) -> None:
    calls = []

    def create(e: dict[str, Any], _: Any) -> str:
        calls.append(1)
        if len(calls) == 1:
            made.announce("first-id")
        raise MeshedCrystalError("no")

    made = resource(sent, create=create)
    made(event(RequestType="Create", PhysicalResourceId=None), Context())
    made(event(RequestType="Create", PhysicalResourceId=None), Context())
    assert [b["PhysicalResourceId"] for b in sent.bodies] == ["first-id", "fallback-Crystal"]


def test_an_unexpected_exception_is_an_internal_error_naming_the_request(sent: Sent) -> None:
    def delete(e: dict[str, Any], _: Any) -> str:
        raise KeyError("boom")

    made = resource(sent, delete=delete)
    made(event(RequestType="Delete"), Context())
    [body] = sent.bodies
    assert body["Status"] == FAILED
    assert body["Reason"] == (
        "Internal error (KeyError: 'boom'); see the function's logs for request req-1"
    )
    assert body["PhysicalResourceId"] == "meshed-crystal:111122223333:m:n:s"


def test_a_function_that_returns_no_id_keeps_the_events(sent: Sent) -> None:
    made = resource(sent, update=lambda e, c: None)
    made(event(), Context())
    assert sent.bodies[0]["PhysicalResourceId"] == "meshed-crystal:111122223333:m:n:s"


def test_a_request_type_without_a_function_succeeds_with_the_events_id(sent: Sent) -> None:
    made = resource(sent)
    made(event(), Context())
    assert sent.bodies[0]["Status"] == SUCCESS
    assert sent.bodies[0]["PhysicalResourceId"] == "meshed-crystal:111122223333:m:n:s"


def test_a_malformed_event_is_answered_failed_once(sent: Sent) -> None:
    made = resource(sent)
    made(event(RequestType="Replace"), Context())
    [body] = sent.bodies
    assert body == {
        "Status": FAILED,
        "Reason": "Malformed request: unknown RequestType 'Replace' "
        "(expected Create, Update, Delete)",
        "PhysicalResourceId": "meshed-crystal:111122223333:m:n:s",
        "StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/shop/1",
        "RequestId": "req-1",
        "LogicalResourceId": "Crystal",
        "NoEcho": False,
        "Data": {},
    }
    made(event(RequestType="Replace", PhysicalResourceId=None), Context())
    assert sent.bodies[-1]["PhysicalResourceId"] == "fallback-Crystal"


def test_a_malformed_event_with_nowhere_to_answer_is_not_answered(sent: Sent) -> None:
    made = resource(sent)
    made(event(ResponseURL=None), Context())
    made(event(ResponseURL="http://bucket/x"), Context())
    made([], Context())
    assert sent.bodies == []


def test_an_exception_in_the_protocol_itself_still_answers_once(
    sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = resource(sent, update=lambda e, c: "id")

    def broken(event: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(made, "_cfn_response", broken)
    made(event(), Context())
    [body] = sent.bodies
    assert body["Status"] == FAILED
    assert body["Reason"] == (
        "Internal error (RuntimeError); see the function's logs for request req-1"
    )


def test_only_one_response_per_invocation_and_one_per_next_invocation(sent: Sent) -> None:
    made = resource(sent, update=lambda e, c: "id")
    made(event(), Context())
    made._send(FAILED, "late")
    assert len(sent.bodies) == 1
    made(event(), Context())
    assert len(sent.bodies) == 2


def test_the_timeout_fires_the_margin_before_the_deadline_and_answers_failed(
    sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    timers: list[Any] = []

    class Timer:
        def __init__(self, interval: float, function: Any) -> None:
            self.interval, self.function = interval, function
            self.daemon = False
            self.started = self.cancelled = False
            timers.append(self)

        def start(self) -> None:
            self.started = True

        def cancel(self) -> None:
            self.cancelled = True

    monkeypatch.setattr(threading, "Timer", Timer)

    def update(e: dict[str, Any], _: Any) -> str:
        timers[0].function()  # the timer fires while the work runs
        return "new-id"

    made = resource(sent, update=update)
    made(event(), Context(10_000))
    [timer] = timers
    assert (timer.interval, timer.daemon, timer.started, timer.cancelled) == (6.0, True, True, True)
    [body] = sent.bodies
    assert body["Status"] == FAILED
    assert body["Reason"] == (
        "Timed out before the work finished; the Delete that CloudFormation sends next removes "
        "what was created"
    )
    assert body["PhysicalResourceId"] == "meshed-crystal:111122223333:m:n:s"
    made(event(), Context(1_000))
    assert timers[1].interval == 0.0


def test_generate_physical_id_is_the_fallback(sent: Sent) -> None:
    assert resource(sent).generate_physical_id({"LogicalResourceId": "X"}) == "fallback-X"


def test_a_malformed_event_without_ids_is_answered_with_them_empty(sent: Sent) -> None:
    def update(e: dict[str, Any], _: Any) -> str:
        made.Data["Arn"] = "x"
        return "id"

    made = resource(sent, update=update)
    made(event(), Context())
    assert sent.bodies[-1]["Data"] == {"Arn": "x"}
    # The next invocation is malformed: nothing of the last one's answer is carried over.
    made(
        event(StackId=None, RequestId=None, LogicalResourceId=None, PhysicalResourceId=None),
        Context(),
    )
    body = sent.bodies[-1]
    assert (body["StackId"], body["RequestId"], body["LogicalResourceId"]) == ("", "", "")
    assert body["PhysicalResourceId"] == "fallback-?"
    assert body["Data"] == {}
    assert (
        body["Reason"] == "Malformed request: the event lacks StackId, RequestId, LogicalResourceId"
    )


# -- What the function logs: an operator's only view of an invocation ---------------------------


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, dict[str, Any]]]:
    keys = ("attempt", "error", "http_status", "problem", "reason", "status", "physical_id")
    return [
        (r.levelname, r.getMessage(), {k: getattr(r, k) for k in keys if hasattr(r, k)})
        for r in caplog.records
        if r.name == protocol.__name__
    ]


def test_the_put_logs_each_attempt_and_the_outcome(
    connection: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger=protocol.__name__)
    FakeConnection.script = [OSError("reset"), 503, 200]
    put_response(URL, b"{}", FAR)
    FakeConnection.script = [403]
    put_response(URL, b"{}", FAR)
    FakeConnection.script = [503]
    put_response(URL, b"{}", time.monotonic())
    assert records(caplog) == [
        ("WARNING", "response PUT failed", {"attempt": 1, "error": "OSError"}),
        ("WARNING", "response PUT failed", {"attempt": 2, "http_status": 503}),
        ("INFO", "response delivered", {"attempt": 3, "http_status": 200}),
        ("ERROR", "response rejected", {"http_status": 403}),
        ("WARNING", "response PUT failed", {"attempt": 1, "http_status": 503}),
        ("ERROR", "response could not be delivered", {}),
    ]
    assert URL not in caplog.text


def test_the_resource_logs_why_it_failed_and_what_it_sent(
    sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger=protocol.__name__)

    def update(e: dict[str, Any], _: Any) -> str:
        raise MeshedCrystalError("the mesh is not yours")

    made = resource(sent, update=update)
    made(event(), Context())
    made(event(RequestType="Replace"), Context())
    made._send(FAILED, "again")
    problem = "unknown RequestType 'Replace' (expected Create, Update, Delete)"
    physical_id = "meshed-crystal:111122223333:m:n:s"
    assert records(caplog) == [
        ("ERROR", "request failed", {"reason": "the mesh is not yours"}),
        (
            "INFO",
            "sending response",
            {"reason": "the mesh is not yours", "status": FAILED, "physical_id": physical_id},
        ),
        ("ERROR", "malformed event", {"problem": problem}),
        (
            "INFO",
            "sending response",
            {
                "reason": f"Malformed request: {problem}",
                "status": FAILED,
                "physical_id": physical_id,
            },
        ),
        (
            "WARNING",
            "a response was already sent for this request; not sending another",
            {},
        ),
    ]


def test_unexpected_failures_are_logged_with_their_traceback(
    sent: Sent, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def update(e: dict[str, Any], _: Any) -> str:
        raise KeyError("boom")

    resource(sent, update=update)(event(), Context())
    broken = resource(sent)
    monkeypatch.setattr(broken, "_cfn_response", lambda event: 1 / 0)
    broken(event(), Context())
    failures = [r for r in caplog.records if r.name == protocol.__name__ and r.exc_info]
    assert [(r.levelname, r.getMessage()) for r in failures] == [
        ("ERROR", "unexpected failure"),
        ("ERROR", "unexpected failure"),
    ]
    assert [type(r.exc_info[1]) for r in failures if r.exc_info] == [KeyError, ZeroDivisionError]


def test_the_timeout_is_logged(sent: Sent, caplog: pytest.LogCaptureFixture) -> None:
    made = resource(sent)
    made._event = event()
    made._timeout()
    assert ("ERROR", "about to time out; sending FAILED", {}) in records(caplog)
