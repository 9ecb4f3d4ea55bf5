"""Plays CloudFormation's side of the custom-resource protocol, locally.

Two pieces:

* :class:`ResponseEndpoint` stands in for the presigned S3 URL CloudFormation waits on. It is a
  real HTTPS server (127.0.0.1 only) with a certificate from a throwaway CA, and while it is active
  ``SSL_CERT_FILE`` points at that CA, so crhelper's unmodified sender — ``HTTPSConnection`` with a
  verifying ``ssl.create_default_context()`` — talks to it exactly as it would to S3.
* :class:`CloudFormation` builds events of CloudFormation's real shape (every property value a
  string, as CloudFormation delivers them), invokes the handler with a Lambda-like context, and
  insists on the protocol's central rule: exactly one response per invocation, before the Lambda's
  deadline. It also remembers which physical id the "stack" holds for each logical id, the way
  CloudFormation does, so lifecycle tests read like the stack operations they model.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import ssl
import struct
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Literal, Self
from urllib.parse import quote, urlsplit

from tests.support.tls import throwaway_pki

__all__ = [
    "CloudFormation",
    "FailureMode",
    "LambdaContext",
    "RecordedPut",
    "ResponseEndpoint",
    "StackResource",
    "stringify",
]

FailureMode = Literal["500", "reset"]
Outcome = Literal["200", "403", "500", "reset"]

# CloudFormation rejects a response body above this size (and so does the product contract, §4).
MAX_RESPONSE_BYTES: Final = 4096
# Keys CloudFormation itself adds to ResourceProperties.
CFN_OWN_KEYS: Final = ("ServiceToken", "ServiceTimeout")


# --------------------------------------------------------------------------------------------
# Stringification
# --------------------------------------------------------------------------------------------


def stringify(value: Any) -> Any:
    """Return ``value`` as CloudFormation hands it to a custom resource.

    Every scalar becomes a string at any depth (``3000`` → ``"3000"``, ``True`` → ``"true"``);
    dicts and lists keep their structure. ``None`` is refused because a template cannot express
    it: CloudFormation rejects ``null`` values, and ``AWS::NoValue`` removes the key instead.
    """
    # bool before int: bool is an int subclass, and CloudFormation writes it in lower case.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): stringify(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [stringify(item) for item in value]
    if value is None:
        raise ValueError("'null' values are not allowed in templates (use AWS::NoValue)")
    raise TypeError(f"CloudFormation cannot carry a {type(value).__name__}: {value!r}")


# --------------------------------------------------------------------------------------------
# The response endpoint (the presigned S3 URL)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedPut:
    """One PUT that reached the endpoint, whatever the endpoint answered."""

    target: str
    """Path and query exactly as sent in the request line."""
    headers: Mapping[str, str]
    raw_body: bytes
    body: dict[str, Any] | None
    """The body parsed as a JSON object, or ``None`` if it is not one."""
    outcome: Outcome
    """``"200"`` delivered; ``"500"``/``"reset"`` an injected failure; ``"403"`` an unknown URL."""
    received_at: float
    """``time.monotonic()`` when the request was read."""

    @property
    def delivered(self) -> bool:
        """Whether CloudFormation would have accepted this response (S3 stored the object)."""
        return self.outcome == "200"


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, endpoint: ResponseEndpoint, ssl_context: ssl.SSLContext) -> None:
        self.endpoint = endpoint
        self.ssl_context = ssl_context
        # Connections whose handler asked for an abortive close (the "reset" failure mode).
        self.abort: set[int] = set()
        super().__init__(("127.0.0.1", 0), _PutHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the per-connection thread, rather than in accept() on
        # the serving thread, so a client that stalls mid-handshake cannot block other clients.
        request.settimeout(10)
        # Without it, TLS 1.3's post-handshake session tickets and the small response meet
        # Nagle's algorithm and the client's delayed ACK: ~40 ms per PUT, which real S3 does
        # not cost and which would swamp the latency figures in bench/.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client gave up or distrusted us; it sees the failure on its side
        try:
            _PutHandler(conn, client_address, self)
        except OSError:
            pass  # the client went away mid-request; nothing to answer
        finally:
            if id(conn) in self.abort:
                self.abort.discard(id(conn))
                # SO_LINGER 0: close() sends a TCP RST instead of a TLS close_notify + FIN,
                # which is what a dropped connection looks like to the client.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()


class _PutHandler(BaseHTTPRequestHandler):
    server: _TlsServer
    protocol_version = "HTTP/1.1"
    # S3 speaks HTTP/1.1 with keep-alive; a silent client must not pin a thread forever.
    timeout = 10

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        outcome = self.server.endpoint._record(self.path, dict(self.headers.items()), raw)
        if outcome == "reset":
            self.server.abort.add(id(self.connection))
            self.close_connection = True
            return
        status = int(outcome)
        self.send_response(status)
        if status == 200:
            # S3's answer to a successful PUT: no body.
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload = _s3_error_xml(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _method_not_allowed(self) -> None:
        payload = _s3_error_xml(405)
        self.send_response(405)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_HEAD = _method_not_allowed  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        # Silent on purpose: the request line holds the presigned URL, which the product must
        # never log (§5.7); the test support should not spray it into captured output either.
        return


def _s3_error_xml(status: int) -> bytes:
    code = {
        403: ("SignatureDoesNotMatch", "The request signature we calculated does not match."),
        405: ("MethodNotAllowed", "The specified method is not allowed against this resource."),
        500: ("InternalError", "We encountered an internal error. Please try again."),
    }.get(status, ("InternalError", "Error"))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code[0]}</Code><Message>{code[1]}</Message>"
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    ).encode()


class ResponseEndpoint:
    """A local HTTPS stand-in for CloudFormation's presigned response bucket.

    Use as a context manager. While active, ``SSL_CERT_FILE`` names the throwaway CA so default
    SSL contexts (crhelper's included) trust the endpoint; the previous value is restored on exit.
    Note that this replaces the system trust store for the duration, so do not make real internet
    HTTPS calls from inside the ``with`` block (botocore is unaffected: it uses its own bundle).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._puts: list[RecordedPut] = []
        self._failures: list[FailureMode] = []
        self._issued: set[str] = set()
        self._server: _TlsServer | None = None
        self._thread: threading.Thread | None = None
        self._saved_env: str | None = None
        # One made-up access key per endpoint, shaped like a real one.
        self._access_key = "AKIA" + "".join(
            secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)
        )

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        if self._server is not None:
            raise RuntimeError("ResponseEndpoint is already active")
        pki = throwaway_pki()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(certfile=pki.cert_file, keyfile=pki.key_file)
        self._server = _TlsServer(self, ctx)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"cfn-response-endpoint:{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._saved_env = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = str(pki.ca_cert_file)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._saved_env is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = self._saved_env
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("ResponseEndpoint is not active (use it as a context manager)")
        return int(self._server.server_address[1])

    @property
    def ca_file(self) -> str:
        """The CA bundle that makes this endpoint trusted (for subprocesses, ``ssl_verify=``)."""
        return str(throwaway_pki().ca_cert_file)

    # -- URLs ------------------------------------------------------------------------------

    def response_url(self, stack_id: str, logical_id: str, request_id: str) -> str:
        """A URL shaped like CloudFormation's real presigned S3 ResponseURL.

        Each call gets a fresh random signature, so a test can search logs for that exact string.
        """
        region = stack_id.split(":")[3] if stack_id.count(":") >= 5 else "us-east-1"
        bucket = "cloudformation-custom-resource-response-" + region.replace("-", "")
        key = quote(f"{stack_id}|{logical_id}|{request_id}", safe="/")
        credential = quote(f"{self._access_key}/20261125/{region}/s3/aws4_request", safe="")
        query = (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Date=20261125T120000Z"
            "&X-Amz-SignedHeaders=host"
            "&X-Amz-Expires=7199"
            f"&X-Amz-Credential={credential}"
            f"&X-Amz-Signature={secrets.token_hex(32)}"
        )
        target = f"/{bucket}/{key}?{query}"
        with self._lock:
            self._issued.add(target)
        return f"https://127.0.0.1:{self.port}{target}"

    # -- failure injection -----------------------------------------------------------------

    def fail_next(self, n: int = 1, mode: FailureMode = "500") -> None:
        """Make the next ``n`` PUTs fail: ``"500"`` answers HTTP 500 (S3 InternalError),
        ``"reset"`` drops the connection without any answer. Calls queue up in order."""
        if mode not in ("500", "reset"):
            raise ValueError(f"unknown failure mode {mode!r}")
        with self._lock:
            self._failures.extend([mode] * n)

    # -- what arrived ----------------------------------------------------------------------

    def _record(self, target: str, headers: dict[str, str], raw: bytes) -> Outcome:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        body = parsed if isinstance(parsed, dict) else None
        with self._lock:
            outcome: Outcome
            if self._failures:
                outcome = self._failures.pop(0)
            elif target in self._issued:
                outcome = "200"
            else:
                # Like S3: a URL whose path or query was altered no longer matches its signature.
                outcome = "403"
            self._puts.append(
                RecordedPut(
                    target=target,
                    headers=headers,
                    raw_body=raw,
                    body=body,
                    outcome=outcome,
                    received_at=time.monotonic(),
                )
            )
            self._arrived.notify_all()
        return outcome

    @property
    def puts(self) -> list[RecordedPut]:
        """Every PUT received so far, in arrival order, including failed ones."""
        with self._lock:
            return list(self._puts)

    def puts_for(self, url: str) -> list[RecordedPut]:
        """Every PUT (delivered or not) aimed at ``url``."""
        target = _target_of(url)
        return [put for put in self.puts if put.target == target]

    def delivered_for(self, url: str) -> list[RecordedPut]:
        """The PUTs to ``url`` that CloudFormation would have accepted."""
        return [put for put in self.puts_for(url) if put.delivered]

    def wait_for_delivery(self, url: str, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until ``count`` responses to ``url`` were delivered or ``timeout`` passes."""
        target = _target_of(url)
        deadline = time.monotonic() + timeout

        def enough() -> bool:
            return sum(1 for p in self._puts if p.target == target and p.delivered) >= count

        with self._arrived:
            while not enough():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._arrived.wait(remaining)
            return True


def _target_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


# --------------------------------------------------------------------------------------------
# The Lambda context
# --------------------------------------------------------------------------------------------


class LambdaContext:
    """The attributes of the Python runtime's context object that handlers (and crhelper) use."""

    def __init__(self, *, function_arn: str, remaining_ms: int, memory_limit_in_mb: int = 256):
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = function_arn
        self.function_name = function_arn.rsplit(":", 1)[-1]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"2026/11/25/[$LATEST]{secrets.token_hex(16)}"
        self.client_context: Any = None
        self.identity: Any = None
        self.deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


# --------------------------------------------------------------------------------------------
# The CloudFormation driver
# --------------------------------------------------------------------------------------------

RequestType = Literal["Create", "Update", "Delete"]
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class _Held:
    physical_id: str
    properties: dict[str, Any] = field(default_factory=dict)
    status: str = "CREATE_COMPLETE"
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    resource_type: str = "Custom::MeshedCrystal"


@dataclass(frozen=True)
class StackResource:
    """What ``DescribeStackResource`` says about a logical id of the driver's stack."""

    physical_id: str
    status: str
    updated_at: datetime
    resource_type: str


class CloudFormation:
    """Drives a custom-resource handler the way a CloudFormation stack does.

    ``invoke`` fails the test (``AssertionError``) unless exactly one response was delivered for
    the invocation, before the Lambda's deadline, with a body CloudFormation would accept.
    """

    def __init__(
        self,
        handler: Handler,
        endpoint: ResponseEndpoint,
        stack_name: str = "crystal-stack",
        region: str = "us-east-1",
        account: str = "123456789012",
        service_token: str | None = None,
        *,
        grace_s: float = 0.3,
    ) -> None:
        self.handler = handler
        self.endpoint = endpoint
        self.stack_name = stack_name
        self.region = region
        self.account = account
        self.service_token = (
            service_token or f"arn:aws:lambda:{region}:{account}:function:meshed-crystal"
        )
        self.stack_id = (
            f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/{uuid.uuid4()}"
        )
        self.grace_s = grace_s
        """How long to keep listening after the handler returns, to catch a late duplicate."""
        self.responses: list[dict[str, Any]] = []
        """Every response body ``invoke`` accepted, in order."""
        self.last_handler_error: BaseException | None = None
        """What the handler raised in the latest ``invoke_raw`` (``None`` if it returned)."""
        self._held: dict[str, _Held] = {}

    # -- what the stack holds ----------------------------------------------------------------

    def physical_id(self, logical_id: str) -> str:
        """The physical id the stack currently holds for ``logical_id`` (``KeyError`` if none)."""
        try:
            return self._held[logical_id].physical_id
        except KeyError:
            raise KeyError(f"the stack holds no resource {logical_id!r}") from None

    def properties(self, logical_id: str) -> dict[str, Any]:
        """The (stringified) properties of the stack's current resource for ``logical_id``."""
        try:
            return dict(self._held[logical_id].properties)
        except KeyError:
            raise KeyError(f"the stack holds no resource {logical_id!r}") from None

    def holds(self, logical_id: str) -> bool:
        return logical_id in self._held

    def stack_resource(self, logical_id: str) -> StackResource | None:
        """The stack's record of ``logical_id`` (what ``DescribeStackResource`` answers)."""
        held = self._held.get(logical_id)
        if held is None:
            return None
        return StackResource(held.physical_id, held.status, held.updated_at, held.resource_type)

    def revert_to(self, logical_id: str, physical_id: str, properties: Mapping[str, Any]) -> None:
        """A stack update failed after ``logical_id`` was replaced: CloudFormation rolls back
        by holding the old id again (it sends no event to the old resource for that), then
        sends a Delete for the new id in the cleanup phase."""
        self._held[logical_id] = _Held(
            physical_id,
            {k: v for k, v in stringify(dict(properties)).items() if k not in CFN_OWN_KEYS},
            status="UPDATE_COMPLETE",
        )

    # -- events ----------------------------------------------------------------------------

    def event(
        self,
        request_type: RequestType,
        logical_id: str,
        properties: Mapping[str, Any],
        *,
        old_properties: Mapping[str, Any] | None = None,
        physical_id: str | None = None,
        request_id: str | None = None,
        resource_type: str = "Custom::MeshedCrystal",
        service_timeout: str | None = "300",
    ) -> dict[str, Any]:
        """An event of CloudFormation's real shape, all property values stringified.

        For Update and Delete, ``physical_id`` (and for Update ``old_properties``) default to what
        the stack holds for ``logical_id``.
        """
        if request_type not in ("Create", "Update", "Delete"):
            raise ValueError(f"unknown RequestType {request_type!r}")
        request_id = request_id or str(uuid.uuid4())
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": self.service_token,
            "ResponseURL": self.endpoint.response_url(self.stack_id, logical_id, request_id),
            "StackId": self.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": logical_id,
        }
        if request_type != "Create":
            if physical_id is None:
                physical_id = self.physical_id(logical_id)
            event["PhysicalResourceId"] = physical_id
        event["ResourceType"] = resource_type
        event["ResourceProperties"] = self._with_own_keys(properties, service_timeout)
        if request_type == "Update":
            if old_properties is None:
                old_properties = self.properties(logical_id)
            event["OldResourceProperties"] = self._with_own_keys(old_properties, service_timeout)
        return event

    def _with_own_keys(
        self, properties: Mapping[str, Any], service_timeout: str | None
    ) -> dict[str, Any]:
        # CloudFormation puts ServiceToken (and ServiceTimeout when the template sets it) first.
        own: dict[str, Any] = {"ServiceToken": self.service_token}
        if service_timeout is not None:
            own["ServiceTimeout"] = str(service_timeout)
        user = {k: v for k, v in properties.items() if k not in CFN_OWN_KEYS}
        return {**own, **stringify(user)}

    # -- invocation ------------------------------------------------------------------------

    def _call(self, event: dict[str, Any], remaining_ms: int) -> float:
        """Run the handler; returns the Lambda deadline in ``time.monotonic()`` terms."""
        context = LambdaContext(function_arn=self.service_token, remaining_ms=remaining_ms)
        self.last_handler_error = None
        try:
            self.handler(event, context)
        except Exception as exc:
            # Recorded, not raised: whether a raising handler fails the test is invoke()'s call.
            self.last_handler_error = exc
        return context.deadline

    def invoke_raw(
        self,
        event: dict[str, Any],
        *,
        remaining_ms: int = 300_000,
        grace_s: float | None = None,
    ) -> list[dict[str, Any]]:
        """Invoke with any event, however malformed; return the bodies delivered for its
        ResponseURL (an unparseable body appears as ``{"__raw__": text}``). No checks; what the
        handler raised, if anything, is in ``last_handler_error``."""
        self._call(event, remaining_ms)
        time.sleep(self.grace_s if grace_s is None else grace_s)
        url = event.get("ResponseURL")
        if not isinstance(url, str):
            return []
        return [
            put.body
            if put.body is not None
            else {"__raw__": put.raw_body.decode("utf-8", "replace")}
            for put in self.endpoint.delivered_for(url)
        ]

    def invoke(
        self,
        event: dict[str, Any],
        *,
        remaining_ms: int = 300_000,
        grace_s: float | None = None,
        allow_handler_error: bool = False,
    ) -> dict[str, Any]:
        """Invoke the handler as Lambda would and return the one response body it delivered.

        Raises ``AssertionError`` when no response or more than one was delivered, when it came
        after the Lambda deadline, when CloudFormation would reject the body, or (unless
        ``allow_handler_error``) when the handler raised: with asynchronous invocation a raised
        error means Lambda retries, which the product's function has switched off.
        """
        url = event["ResponseURL"]
        what = f"{event.get('RequestType')} {event.get('LogicalResourceId')}"
        deadline = self._call(event, remaining_ms)
        error = self.last_handler_error
        time.sleep(self.grace_s if grace_s is None else grace_s)

        attempts = self.endpoint.puts_for(url)
        delivered = [put for put in attempts if put.delivered]
        if len(delivered) != 1:
            tried = ", ".join(put.outcome for put in attempts) or "none"
            message = (
                f"{what}: expected exactly one response to be delivered to CloudFormation, got "
                f"{len(delivered)} (PUT attempts and their outcomes: {tried})"
            )
            if error is not None:
                message += f"; the handler raised {error!r}"
            raise AssertionError(message) from error
        put = delivered[0]
        if put.received_at > deadline:
            late_ms = int((put.received_at - deadline) * 1000)
            raise AssertionError(
                f"{what}: the response arrived {late_ms} ms after the Lambda deadline "
                f"({remaining_ms} ms): the real function would have been stopped before sending"
            )
        if error is not None and not allow_handler_error:
            raise AssertionError(f"{what}: the handler raised {error!r}") from error
        body = self._check_body(event, put)
        self.responses.append(body)
        self._track(event, body)
        return body

    @staticmethod
    def _check_body(event: Mapping[str, Any], put: RecordedPut) -> dict[str, Any]:
        """Reject what CloudFormation would reject (and what the contract forbids, §5.1)."""
        what = f"{event.get('RequestType')} {event.get('LogicalResourceId')}"
        body = put.body
        if body is None:
            raise AssertionError(f"{what}: the response is not a JSON object: {put.raw_body!r}")
        problems: list[str] = []
        if len(put.raw_body) > MAX_RESPONSE_BYTES:
            problems.append(f"{len(put.raw_body)} bytes, over the {MAX_RESPONSE_BYTES} limit")
        if body.get("Status") not in ("SUCCESS", "FAILED"):
            problems.append(f"Status is {body.get('Status')!r}")
        for key in ("StackId", "RequestId", "LogicalResourceId"):
            if body.get(key) != event.get(key):
                problems.append(f"{key} {body.get(key)!r} does not echo the event's")
        physical = body.get("PhysicalResourceId")
        if not isinstance(physical, str) or not physical:
            problems.append(f"PhysicalResourceId is {physical!r}")
        if body.get("Status") == "FAILED" and not body.get("Reason"):
            problems.append("FAILED without a Reason")
        if "Data" in body and not isinstance(body["Data"], dict):
            problems.append(f"Data is a {type(body['Data']).__name__}, not an object")
        if problems:
            raise AssertionError(
                f"{what}: CloudFormation would reject the response: " + "; ".join(problems)
            )
        return body

    def _track(self, event: Mapping[str, Any], body: Mapping[str, Any]) -> None:
        """Update which physical id the stack holds, as CloudFormation would."""
        if body.get("Status") != "SUCCESS":
            return  # a FAILED response never changes what the stack holds
        logical_id = str(event["LogicalResourceId"])
        request_type = event["RequestType"]
        if request_type in ("Create", "Update"):
            props = {
                k: v
                for k, v in event.get("ResourceProperties", {}).items()
                if k not in CFN_OWN_KEYS
            }
            self._held[logical_id] = _Held(
                str(body["PhysicalResourceId"]),
                props,
                status=f"{request_type.upper()}_COMPLETE",
                resource_type=str(event.get("ResourceType") or "Custom::MeshedCrystal"),
            )
        elif request_type == "Delete":
            held = self._held.get(logical_id)
            # Deleting a replaced (old) id leaves the stack's current resource in place.
            if held is not None and held.physical_id == event.get("PhysicalResourceId"):
                del self._held[logical_id]

    # -- stack-level conveniences -----------------------------------------------------------

    def create(
        self, logical_id: str, properties: Mapping[str, Any], **invoke_options: Any
    ) -> dict[str, Any]:
        return self.invoke(self.event("Create", logical_id, properties), **invoke_options)

    def update(
        self,
        logical_id: str,
        new_properties: Mapping[str, Any],
        old_properties: Mapping[str, Any] | None = None,
        *,
        physical_id: str | None = None,
        **invoke_options: Any,
    ) -> dict[str, Any]:
        event = self.event(
            "Update",
            logical_id,
            new_properties,
            old_properties=old_properties,
            physical_id=physical_id,
        )
        return self.invoke(event, **invoke_options)

    def delete(
        self,
        logical_id: str,
        *,
        physical_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        **invoke_options: Any,
    ) -> dict[str, Any]:
        """Delete the id the stack holds, or ``physical_id`` (e.g. the old id after a
        replacement, or the id a FAILED Create returned), with ``properties`` defaulting to the
        stack's current ones."""
        if properties is None:
            properties = self.properties(logical_id) if self.holds(logical_id) else {}
        event = self.event("Delete", logical_id, properties, physical_id=physical_id)
        return self.invoke(event, **invoke_options)
