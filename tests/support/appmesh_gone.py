"""App Mesh "gone" (DESIGN §9), as botocore would really see it, one switch at a time.

AWS has not said what the App Mesh API answers once the service is retired, so the tests must
cover every plausible answer. Each switch makes one of them real, below botocore: nothing of the
product's call sequence is mocked, and botocore's own HTTP stack, parser and loader produce the
exceptions the product sees.

How: for the duration of :func:`appmesh_gone`, ``AWS_ENDPOINT_URL_APP_MESH`` points App Mesh
clients at a local endpoint (``http://127.0.0.1:<port>``, a threaded HTTP server). botocore reads
that variable when it builds a client; the variable is named after the service id ``app-mesh``
(``botocore.utils.CLIENT_NAME_TO_HYPHENIZED_SERVICE_ID_OVERRIDES``), so ``AWS_ENDPOINT_URL_APPMESH``
would be ignored. moto's ``mock_aws`` lets requests to 127.0.0.1 pass to the network (its
``before-send`` stubber answers only URLs of its backends). With no switch on, the endpoint
forwards each request to the in-process emulator's App Mesh (moto, extended by
:mod:`tests.support.moto_appmesh`; :mod:`tests.support.faults` applies there too), so App Mesh
behaves as without this module. The port stays the same while the context lasts, so a client
built before a switch follows every switch, and recovers when it is turned off.

Why a server rather than a ``before-send`` handler answering for App Mesh: botocore emits
``before-send`` to every handler (``emit``, then the first response wins), so moto's stubber would
still run each call against the emulator, changing its state behind the answer; and a real
endpoint lets botocore's HTTP stack (urllib3) and parser read the bytes as they would from AWS.

The switches (each replaces the one before; :meth:`AppMeshGone.off` turns all off):

* :meth:`~AppMeshGone.refuse_connections`: nothing listens on the port (a socket keeps it bound,
  not listening): every connection is refused at once and botocore raises
  ``EndpointConnectionError`` (a ``BotoCoreError``, not a ``ClientError``).
* Connections that fail before an answer, each as botocore's own HTTP stack (urllib3) meets it:

  - :meth:`~AppMeshGone.close_connections`: the endpoint reads the request and closes the
    connection without a byte of answer (FIN): ``ConnectionClosedError``.
  - :meth:`~AppMeshGone.reset_connections`: it reads the request and resets the connection
    (RST: ``SO_LINGER`` 0): ``ConnectionClosedError`` (urllib3's ``ProtocolError`` wrapping
    ``ConnectionResetError``).
  - :meth:`~AppMeshGone.answer_nothing`: it reads the request and never answers: botocore's
    ``ReadTimeoutError`` after the client's ``read_timeout``.
  - :meth:`~AppMeshGone.accept_nothing`: a listener that never accepts, its queue full: the
    kernel drops the client's SYN and botocore raises ``ConnectTimeoutError`` after the
    client's ``connect_timeout``.
  - :meth:`~AppMeshGone.unresolvable_name`: the endpoint's host name does not resolve
    (``appmesh-gone.invalid``, RFC 2606): ``EndpointConnectionError`` (``socket.gaierror``).
  - :meth:`~AppMeshGone.break_tls`: the client speaks TLS (``https://``) to the plain-HTTP
    endpoint: ``SSLError``.

  The last two change the endpoint URL, which botocore reads when it builds a client: like
  ``no_sdk_service`` they act on clients built afterwards. The timeouts are the client's own
  (the product's ``adapters.clients.CONFIG``): a test shortens them, not this module.
  ``times=N`` makes the first four transient.
* :meth:`~AppMeshGone.answer_status`: every call answers an HTTP status without an App Mesh
  error code: an HTML page as a load balancer or CDN sends (or any body), no
  ``x-amzn-ErrorType`` header. botocore's rest-json parser then derives the error code from the
  status (``"404"``, ``"503"``) and the message from the body (a 5xx body that starts with
  ``<html>`` or is empty is "generic": the message is the status's reason phrase). ``times=N``
  makes it transient: the calls after the first N reach the emulator again.
* :meth:`~AppMeshGone.access_denied`: every call answers as AWS does when IAM denies the action:
  HTTP 403, ``x-amzn-ErrorType: AccessDeniedException``, ``{"Message": "User: ... is not
  authorized to perform: appmesh:Op on resource: ARN with an explicit deny ..."}``.
  ``AccessDeniedException`` is *not* in App Mesh's service model: it is the authorization
  layer's error, common to all AWS APIs, and botocore raises a plain ``ClientError`` with that
  code. App Mesh's own modelled 403 is ``ForbiddenException`` ("You don't have permissions to
  perform this action", ``client.exceptions.ForbiddenException``), raised by the service itself;
  to get that one, use ``faults.fail("appmesh", op, "ForbiddenException", msg)``.
* :meth:`~AppMeshGone.no_sdk_service`: the SDK ships no ``appmesh`` model: botocore's
  :class:`~botocore.loaders.Loader` (every instance, so every session) lists no ``appmesh`` and
  loading its model raises ``UnknownServiceError`` exactly as botocore does for an unknown
  name, so ``session.create_client("appmesh")`` and ``boto3.client("appmesh")`` raise it.
  A client built earlier keeps working: the product builds its clients lazily and caches them
  (``LazyClient``), so a test must turn this on before the Provider under test builds its
  ``appmesh`` client, e.g. build a fresh ``Provider`` after turning it on (the ``cfn`` fixture's
  Provider is fresh and builds nothing until the first request).

Transient failures that must never be taken for a retired service: ``answer_status(503,
times=N)`` (raw), or ``faults.fail("appmesh", op, "TooManyRequestsException", msg, times=N)``
(modelled; the faults fixture works through the forwarding endpoint).

Usage (the ``appmesh_gone`` fixture in tests/conftest.py wraps :func:`appmesh_gone`)::

    def test_delete_when_gone(cfn, appmesh_gone):
        appmesh_gone.answer_status(410)
        ...  # the product's App Mesh calls now raise ClientError code "410"

Every App Mesh client built in the context goes through the local endpoint, the test's own too
(``tests/integration/aws_state.py`` builds one per call): read the emulator's App Mesh while it is
gone for the product inside ``with appmesh_gone.bypassed():``.

Only for in-process moto (the ``platform`` fixture): the endpoint forwards to moto in this
process, not to an emulator in server mode.
"""

from __future__ import annotations

import functools
import json
import os
import re
import select
import socket
import struct
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Literal, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.awsrequest import AWSPreparedRequest
from botocore.compat import HTTPHeaders
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader

__all__ = [
    "DEFAULT_PRINCIPAL",
    "ENDPOINT_ENV",
    "Answered",
    "AppMeshGone",
    "appmesh_gone",
    "error_page",
]

ENDPOINT_ENV: Final = "AWS_ENDPOINT_URL_APP_MESH"
"""botocore's service-specific endpoint variable for the ``appmesh`` client."""
_IGNORE_ENDPOINTS_ENV: Final = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
SERVICE: Final = "appmesh"
DEFAULT_PRINCIPAL: Final = (
    "arn:aws:sts::123456789012:assumed-role/MeshedCrystalProvider/meshed-crystal-provider"
)
_ACCOUNT_RE: Final = re.compile(r"arn:aws[\w-]*:(?:sts|iam)::(\d{12}):")
_CREDENTIAL_RE: Final = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/")
# Connection-level headers the local endpoint sets itself.
_HOP_HEADERS: Final = frozenset(
    {"content-length", "connection", "transfer-encoding", "date", "server", "status"}
)


class Answered(NamedTuple):
    """One App Mesh request the local endpoint answered."""

    operation: str
    """The App Mesh operation (from the method and path), or "" if none matches."""
    status: int
    """The HTTP status answered; 0 when a switch dropped the connection instead."""
    forwarded: bool
    """True if the emulator answered it, False if a switch did."""


def error_page(status: int) -> bytes:
    """An error page as AWS's load balancers (and nginx) send it."""
    title = f"{status} {HTTPStatus(status).phrase}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    ).encode()


# -- which operation a request is (from botocore's App Mesh model) ----------------------------


@dataclass(frozen=True)
class _Route:
    operation: str
    method: str
    pattern: re.Pattern[str]


@functools.cache
def _routes() -> list[_Route]:
    # A loader of its own: the model is read before any switch hides it.
    model = Loader().load_service_model(SERVICE, "service-2")
    routes = []
    for name, operation in model["operations"].items():
        uri = operation["http"]["requestUri"].split("?", 1)[0]
        regex = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+)", uri)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        routes.append(_Route(name, operation["http"]["method"], re.compile(f"^{regex}/?$")))
    # Literal paths before templated ones that could also match them.
    routes.sort(key=lambda r: r.pattern.pattern.count("(?P<"))
    return routes


# Path (and Create body) parameters, in ARN order: mesh/M/virtualRouter/R/route/X.
_ARN_PARTS: Final = (
    ("meshName", "mesh"),
    ("virtualRouterName", "virtualRouter"),
    ("routeName", "route"),
    ("virtualGatewayName", "virtualGateway"),
    ("gatewayRouteName", "gatewayRoute"),
    ("virtualNodeName", "virtualNode"),
    ("virtualServiceName", "virtualService"),
)


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    raw_query: str
    headers: Mapping[str, str]
    body: bytes
    operation: str
    params: dict[str, str]

    @property
    def region(self) -> str:
        found = _CREDENTIAL_RE.search(self.headers.get("Authorization", ""))
        return found.group(1) if found else "us-east-1"

    def resource_arn(self, account: str) -> str:
        """The resource IAM authorizes the call on (the most specific one the request names)."""
        if "resourceArn" in self.query:
            return self.query["resourceArn"][0]
        names = dict(self.params)
        if self.operation.startswith("Create") and self.body:
            try:
                body = json.loads(self.body)
            except ValueError:
                body = {}
            if isinstance(body, dict):
                names.update({k: str(v) for k, v in body.items() if k.endswith("Name")})
        parts = [f"{kind}/{names[key]}" for key, kind in _ARN_PARTS if key in names]
        return f"arn:aws:appmesh:{self.region}:{account}:{'/'.join(parts) or 'mesh/*'}"


# -- what the endpoint answers ----------------------------------------------------------------

Drop = Literal["close", "reset", "stall"]
"""How a switch fails a connection instead of answering (after reading the request)."""
_Reply = tuple[int, list[tuple[str, str]], bytes] | Drop
# How long a stalled connection is held at most when no switch releases it.
STALL_LIMIT_S: Final = 60.0
# The host name of :meth:`AppMeshGone.unresolvable_name`: .invalid never resolves (RFC 2606).
UNRESOLVABLE_HOST: Final = "appmesh-gone.invalid"


@dataclass
class _Switch:
    """Answers App Mesh calls itself, ``times`` more times (None: until turned off)."""

    reply: Callable[[_Request], _Reply]
    times: int | None
    released: threading.Event = field(default_factory=threading.Event)
    """Set when the switch is turned off: stalled connections are then closed."""


def _forward(request: _Request) -> _Reply:
    """The emulator's answer: moto's in-process stubber, as for a request to AWS's endpoint."""
    from moto.core.models import botocore_stubber

    host = f"appmesh.{request.region}.amazonaws.com"
    headers = HTTPHeaders()
    for key, value in request.headers.items():
        headers[key] = host if key.lower() == "host" else value
    url = f"https://{host}{request.path}" + (f"?{request.raw_query}" if request.raw_query else "")
    prepared = AWSPreparedRequest(
        method=request.method, url=url, headers=headers, body=request.body, stream_output=False
    )
    answer = botocore_stubber.process_request(prepared)
    if answer is None:
        return 502, [("Content-Type", "text/plain")], b"moto did not answer this App Mesh request"
    status, moto_headers, body = answer
    out = [(str(k), str(v)) for k, v in moto_headers.items() if str(k).lower() not in _HOP_HEADERS]
    return int(status), out, body.encode() if isinstance(body, str) else bytes(body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        operation, params = "", {}
        for route in self.server.routes:
            found = route.pattern.match(split.path)
            if found and route.method == self.command:
                operation = route.operation
                params = {k: unquote(v) for k, v in found.groupdict().items()}
                break
        request = _Request(
            self.command,
            split.path,
            query,
            split.query,
            dict(self.headers.items()),
            body,
            operation,
            params,
        )
        answer, released = self.server.gone._answer(request)
        # One request per connection (as after a load balancer's error page): a client never
        # reuses a connection across a switch, so refused connections are refused at once.
        self.close_connection = True
        if isinstance(answer, str):
            self._drop(answer, released)
            return
        status, headers, payload = answer
        self.send_response_only(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def _drop(self, how: Drop, released: threading.Event) -> None:
        if how == "stall":
            # No answer: the client's read timeout ends it (or the switch going off).
            released.wait(STALL_LIMIT_S)
        elif how == "reset":
            # Linger 0: close() sends RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        # "close": returning without a byte; socketserver shuts the connection down (FIN).

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _handle  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the answers are in ``AppMeshGone.answered``."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, gone: AppMeshGone, routes: list[_Route]) -> None:
        self.gone = gone
        self.routes = routes
        super().__init__(("127.0.0.1", port), _Handler)


# -- the loader without App Mesh --------------------------------------------------------------

_loader_lock = threading.Lock()
_hidden: set[str] = set()
_original_list = Loader.list_available_services
_original_load = Loader.load_service_model


def _list_available_services(self: Loader, type_name: str) -> list[str]:
    services: list[str] = _original_list(self, type_name)
    return [s for s in services if s not in _hidden] if _hidden else services


def _load_service_model(
    self: Loader, service_name: str, type_name: str, api_version: str | None = None
) -> Any:
    if service_name in _hidden:
        # botocore's own check (Loader.load_service_model); its cache would skip it.
        known = self.list_available_services(type_name)
        raise UnknownServiceError(service_name=service_name, known_service_names=", ".join(known))
    return _original_load(self, service_name, type_name, api_version)


def _hide(service: str) -> None:
    with _loader_lock:
        _hidden.add(service)
        Loader.list_available_services = _list_available_services  # type: ignore[method-assign]
        Loader.load_service_model = _load_service_model  # type: ignore[method-assign]


def _unhide(service: str) -> None:
    with _loader_lock:
        _hidden.discard(service)
        if not _hidden:
            Loader.list_available_services = _original_list  # type: ignore[method-assign]
            Loader.load_service_model = _original_load  # type: ignore[method-assign]


# -- the switches -----------------------------------------------------------------------------


class AppMeshGone:
    """The switches; use :func:`appmesh_gone` (or the ``appmesh_gone`` fixture) to get one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._switch: _Switch | None = None
        self._hiding = False
        self._routes = _routes()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # Sockets holding the port while no server listens (refused, accept_nothing).
        self._held: list[socket.socket] = []
        self._moved = False  # the endpoint URL was changed (unresolvable_name, break_tls)
        self.answered: list[Answered] = []
        """Every request the local endpoint answered (refused connections never arrive)."""
        self.port = 0
        self._listen()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"

    # public switches

    def refuse_connections(self) -> None:
        """Nothing listens on the App Mesh endpoint: connections are refused."""
        self.off()
        self._refuse()

    def close_connections(self, *, times: int | None = None) -> None:
        """Every App Mesh call (the next ``times``) has its connection closed before an answer."""
        self._set(lambda _request: "close", times)

    def reset_connections(self, *, times: int | None = None) -> None:
        """Every App Mesh call (the next ``times``) has its connection reset (RST)."""
        self._set(lambda _request: "reset", times)

    def answer_nothing(self, *, times: int | None = None) -> None:
        """Every App Mesh call (the next ``times``) gets no answer: the client's read timeout."""
        self._set(lambda _request: "stall", times)

    def accept_nothing(self) -> None:
        """The endpoint accepts no connection: the client's connect timeout.

        A listener that never accepts, its accept queue filled by connections of this module's
        own: the kernel then drops new SYNs, as a host that went silent does.
        """
        self.off()
        self._stop_server()
        listener = self._bind()
        listener.listen(0)
        self._held.append(listener)
        for _ in range(64):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            self._held.append(filler)
            filler.connect_ex(("127.0.0.1", self.port))
            _, writable, _ = select.select([], [filler], [], 0.2)
            if not writable:
                return  # this one's SYN was dropped: the queue is full
        raise RuntimeError("the accept queue never filled")

    def unresolvable_name(self) -> None:
        """The endpoint's host name does not resolve (clients built from now on)."""
        self.off()
        os.environ[ENDPOINT_ENV] = f"http://{UNRESOLVABLE_HOST}:{self.port}"
        self._moved = True

    def break_tls(self) -> None:
        """Clients built from now on speak TLS to the plain-HTTP endpoint: the handshake fails."""
        self.off()
        os.environ[ENDPOINT_ENV] = f"https://127.0.0.1:{self.port}"
        self._moved = True

    def answer_status(
        self,
        status: int,
        body: bytes | None = None,
        content_type: str = "text/html",
        *,
        headers: Mapping[str, str] | None = None,
        times: int | None = None,
    ) -> None:
        """Every App Mesh call (the next ``times``) answers ``status`` with no App Mesh error.

        ``body`` defaults to a load balancer's HTML error page (:func:`error_page`); ``b""``
        sends an empty body (``content_type`` is then not sent).
        """
        if not 400 <= status <= 599:
            raise ValueError(f"not an error status: {status}")
        payload = error_page(status) if body is None else body
        fixed = [("Content-Type", content_type)] if payload else []
        fixed += list((headers or {}).items())
        self._set(lambda _request: (status, fixed, payload), times)

    def access_denied(
        self,
        *,
        principal: str = DEFAULT_PRINCIPAL,
        explicit: bool = True,
        times: int | None = None,
    ) -> None:
        """Every App Mesh call (the next ``times``) answers IAM's AccessDeniedException (403)."""
        found = _ACCOUNT_RE.match(principal)
        account = found.group(1) if found else "123456789012"

        def reply(request: _Request) -> _Reply:
            action = f"{SERVICE}:{request.operation or 'Unknown'}"
            why = (
                "with an explicit deny in an identity-based policy"
                if explicit
                else f"because no identity-based policy allows the {action} action"
            )
            message = (
                f"User: {principal} is not authorized to perform: {action} "
                f"on resource: {request.resource_arn(account)} {why}"
            )
            headers = [
                ("Content-Type", "application/json"),
                ("x-amzn-RequestId", str(uuid.uuid4())),
                (
                    "x-amzn-ErrorType",
                    "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/",
                ),
            ]
            return 403, headers, json.dumps({"Message": message}).encode()

        self._set(reply, times)

    def no_sdk_service(self) -> None:
        """botocore has no ``appmesh`` model: building an App Mesh client fails.

        Clients built before keep working: build the Provider under test after this.
        """
        self.off()
        _hide(SERVICE)
        self._hiding = True

    def off(self) -> None:
        """All switches off: App Mesh (the emulator's) answers again, on the same endpoint."""
        with self._lock:
            if self._switch is not None:
                self._switch.released.set()
            self._switch = None
        if self._hiding:
            _unhide(SERVICE)
            self._hiding = False
        if self._moved:
            os.environ[ENDPOINT_ENV] = self.endpoint_url
            self._moved = False
        self._listen()

    @contextmanager
    def bypassed(self) -> Iterator[None]:
        """App Mesh clients built in the block reach the emulator directly, whatever is on.

        For the test's own reads (e.g. ``tests/integration/aws_state.py``, which builds a client
        per call) while App Mesh is gone for the product; the switch stays on for clients built
        before or after the block.
        """
        saved = os.environ.pop(ENDPOINT_ENV, None)
        hiding = self._hiding
        if hiding:
            _unhide(SERVICE)
        try:
            yield
        finally:
            if hiding and self._hiding:
                _hide(SERVICE)
            if saved is not None:
                os.environ[ENDPOINT_ENV] = saved

    def close(self) -> None:
        """Switches off and the endpoint closed (port released)."""
        self.off()
        self._stop_server()
        self._release_port()

    # the endpoint

    def _set(self, reply: Callable[[_Request], _Reply], times: int | None) -> None:
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1: {times}")
        self.off()
        with self._lock:
            self._switch = _Switch(reply, times)

    def _answer(self, request: _Request) -> tuple[_Reply, threading.Event]:
        """The answer, and the event that releases a stalled connection."""
        with self._lock:
            switch = self._switch
            if switch is not None and switch.times is not None:
                switch.times -= 1
                if switch.times <= 0:
                    self._switch = None
        if switch is not None:
            answer, released = switch.reply(request), switch.released
        else:
            answer, released = _forward(request), threading.Event()
        status = 0 if isinstance(answer, str) else answer[0]
        with self._lock:
            self.answered.append(Answered(request.operation, status, switch is None))
        return answer, released

    def _listen(self) -> None:
        if self._server is not None:
            return
        self._release_port()
        self._server = _Server(self.port, self, self._routes)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"appmesh-gone:{self.port}",
            daemon=True,
        )
        self._thread.start()

    def _refuse(self) -> None:
        self._stop_server()
        if not self._held:
            # Bound, not listening: the kernel refuses connections, and no one else takes the
            # port.
            self._held.append(self._bind())

    def _stop_server(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def _bind(self) -> socket.socket:
        bound = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        bound.bind(("127.0.0.1", self.port))
        return bound

    def _release_port(self) -> None:
        for held in self._held:
            held.close()
        self._held = []


@contextmanager
def appmesh_gone() -> Iterator[AppMeshGone]:
    """App Mesh clients built in the block use a local endpoint whose switches make it gone.

    On exit every switch is off: the endpoint closed, the environment and botocore's loader
    as before.
    """
    gone = AppMeshGone()
    saved = {key: os.environ.get(key) for key in (ENDPOINT_ENV, _IGNORE_ENDPOINTS_ENV)}
    os.environ[ENDPOINT_ENV] = gone.endpoint_url
    os.environ.pop(_IGNORE_ENDPOINTS_ENV, None)
    try:
        yield gone
    finally:
        gone.close()  # first: turning a switch off may set the endpoint variable again
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
