"""The CloudFormation custom resource protocol: crhelper, with its pitfalls removed.

crhelper's ``CfnResource`` dispatches Create/Update/Delete and shapes the response. Version
2.0.12 also, by default: logs the whole event (with the presigned ResponseURL) at DEBUG; logs the
ResponseURL again when it sends; sleeps 120 s on every Delete; builds lambda/events/logs clients
for polling this resource never uses (cold start, and a region is required); retries a failed
PUT forever; treats any HTTP answer as delivered; and can send a second response when its
timeout timer fires while the work is still running. This subclass keeps the dispatch and the
response shape and replaces those parts (DESIGN §5.1, §5.7).
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from crhelper import CfnResource

from .errors import MeshedCrystalError

logger = logging.getLogger(__name__)

SUCCESS = "SUCCESS"
FAILED = "FAILED"
REQUEST_TYPES = ("Create", "Update", "Delete")
REQUIRED_KEYS = (
    "RequestType",
    "ResponseURL",
    "StackId",
    "RequestId",
    "LogicalResourceId",
    "ResourceType",
)
# The keys crhelper reads from any event to drive its polling (CrHelperPoll runs a poll function
# instead of the work, CrHelperData becomes the attributes). CloudFormation never sends them:
# they are dropped before crhelper sees the event, like any key it does not know (DESIGN §5.1).
CRHELPER_KEYS = ("CrHelperPoll", "CrHelperData", "CrHelperRule", "CrHelperPermission")
# CloudFormation rejects a response body over 4096 bytes; the Reason is what gets shortened.
MAX_BODY_BYTES = 4096
# Seconds before the Lambda's deadline at which a FAILED "timed out" is sent: room for the PUT.
RESPONSE_MARGIN_S = 4.0
PUT_ATTEMPTS = 5
# What is kept of each id in a body that cannot fit otherwise (then cut further if it must).
MAX_ID_BYTES = 1000
# Backoff between PUT attempts: 0.5, 1, 2, 4 s, cut short by the deadline.
PUT_FIRST_DELAY_S = 0.5

Sender = Callable[[str, bytes, float], bool]


def put_response(url: str, body: bytes, deadline: float) -> bool:
    """PUT the body to the presigned URL; bounded retries; True once S3 accepted it.

    The URL is a credential (anyone holding it can answer for the resource): it is never
    logged, not even on failure.
    """
    parts = urlsplit(url)
    path = urlunsplit(("", "", parts.path, parts.query, ""))
    delay = PUT_FIRST_DELAY_S
    for attempt in range(1, PUT_ATTEMPTS + 1):
        status = None
        try:
            connection = http.client.HTTPSConnection(parts.netloc, timeout=10)
            try:
                # S3 presigned PUT: the signature covers an empty content-type.
                connection.request(
                    "PUT",
                    path,
                    body=body,
                    headers={"content-type": "", "content-length": str(len(body))},
                )
                status = connection.getresponse().status
            finally:
                connection.close()
        except (OSError, http.client.HTTPException) as error:
            logger.warning(
                "response PUT failed", extra={"attempt": attempt, "error": type(error).__name__}
            )
        if status is not None and 200 <= status < 300:
            logger.info("response delivered", extra={"attempt": attempt, "http_status": status})
            return True
        if status is not None and 400 <= status < 500:
            # Expired or wrong signature: retrying cannot help.
            logger.error("response rejected", extra={"http_status": status})
            return False
        if status is not None:
            logger.warning("response PUT failed", extra={"attempt": attempt, "http_status": status})
        if attempt == PUT_ATTEMPTS or time.monotonic() + delay >= deadline:
            break
        time.sleep(delay)
        delay *= 2
    logger.error("response could not be delivered")
    return False


def usable_url(url: Any) -> bool:
    """Whether a response can be PUT to ``url``: https, with a host (CloudFormation's presigned
    S3 URL always is). Checked before any work: work that no response can report is never done.
    """
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme == "https" and bool(host)


def malformed(event: Any) -> str | None:
    """Why an event cannot be handled, or None."""
    if not isinstance(event, Mapping):
        return "the event is not a JSON object"
    missing = [k for k in REQUIRED_KEYS if not isinstance(event.get(k), str) or not event[k]]
    if missing:
        return f"the event lacks {', '.join(missing)}"
    if not usable_url(event["ResponseURL"]):
        return "the ResponseURL is not an https URL with a host"
    if event["RequestType"] not in REQUEST_TYPES:
        return f"unknown RequestType '{event['RequestType']}' (expected Create, Update, Delete)"
    if event["RequestType"] != "Create" and not event.get("PhysicalResourceId"):
        article = "an" if event["RequestType"] == "Update" else "a"
        return f"{article} {event['RequestType']} event without PhysicalResourceId"
    return None


class Resource(CfnResource):
    """One response per invocation, before the deadline, whatever happens."""

    def __init__(
        self, *, fallback_id: Callable[[Mapping[str, Any]], str], sender: Sender = put_response
    ) -> None:
        # CfnResource.__init__ is deliberately not called: it builds polling clients and sets up
        # DEBUG logging of whole events. These are the attributes crhelper's methods read.
        self._create_func = self._update_func = self._delete_func = None
        self._poll_create_func = self._poll_update_func = self._poll_delete_func = None
        self._timer: threading.Timer | None = None
        self._init_failed = None
        self._sleep_on_delete = 0
        self._sam_local = None
        self.Status = self.Reason = self.PhysicalResourceId = ""
        self.StackId = self.RequestId = self.LogicalResourceId = ""
        self.Data: dict[str, str] = {}
        self.NoEcho = False
        self._event: dict[str, Any] = {}
        self._context: Any = None
        self._response_url = ""
        self._fallback_id = fallback_id
        self._sender = sender
        self._lock = threading.Lock()
        self._sent = False
        self._deadline = float("inf")
        # The id to report if the work fails or times out after it was decided (see announce).
        self._known_id = ""

    def __call__(self, event: Any, context: Any) -> None:
        with self._lock:
            self._sent = False
            self._known_id = ""
        self._deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000.0
        problem = malformed(event)
        if problem is not None:
            self._reject(event, problem)
            return
        event = {k: v for k, v in event.items() if k not in CRHELPER_KEYS}
        try:
            # crhelper's own steps: set up the request, run the function, shape the response.
            self._crhelper_init(event, context)  # type: ignore[attr-defined]
            self._cfn_response(event)  # type: ignore[attr-defined]
        except Exception as error:  # a bug in this module: still exactly one response
            logger.exception("unexpected failure")
            self._send(
                FAILED,
                f"Internal error ({type(error).__name__}); see the function's "
                f"logs for request {event.get('RequestId')}",
            )
        finally:
            if self._timer is not None:
                self._timer.cancel()

    def announce(self, physical_id: str) -> None:
        """The work has decided its physical id: report it even if it fails or times out.

        A Create that times out must carry the id of what it may still create, so the Delete
        CloudFormation sends next removes it.
        """
        self._known_id = physical_id

    def _reject(self, event: Any, problem: str) -> None:
        logger.error("malformed event", extra={"problem": problem})
        if not isinstance(event, Mapping) or not usable_url(event.get("ResponseURL")):
            return  # nowhere to answer: no work is done either
        self._event = dict(event)
        self._response_url = event["ResponseURL"]
        self.StackId = str(event.get("StackId", ""))
        self.RequestId = str(event.get("RequestId", ""))
        self.LogicalResourceId = str(event.get("LogicalResourceId", ""))
        self.PhysicalResourceId = str(event.get("PhysicalResourceId") or self._fallback_id(event))
        self.Data = {}
        self._send(FAILED, f"Malformed request: {problem}")

    def _set_timeout(self) -> None:
        remaining = self._context.get_remaining_time_in_millis() / 1000.0
        self._timer = threading.Timer(max(0.0, remaining - RESPONSE_MARGIN_S), self._timeout)
        self._timer.daemon = True
        self._timer.start()

    def _timeout(self) -> None:
        logger.error("about to time out; sending FAILED")
        self.PhysicalResourceId = self._current_id()
        self._send(
            FAILED,
            "Timed out before the work finished; the Delete that CloudFormation "
            "sends next removes what was created",
        )

    def _current_id(self) -> str:
        # An Update or Delete keeps the id it came with: a failed Update's id is ignored by
        # CloudFormation, which rolls back with the id it holds.
        return (
            str(self._event.get("PhysicalResourceId") or "")
            or self._known_id
            or self._fallback_id(self._event)
        )

    def _wrap_function(self, func: Callable[[dict[str, Any], Any], Any] | None) -> None:
        try:
            self.PhysicalResourceId = func(self._event, self._context) if func else ""
        except MeshedCrystalError as error:
            logger.error("request failed", extra={"reason": str(error)})
            self.Status, self.Reason = FAILED, str(error)
            self.PhysicalResourceId = self._current_id()
        except Exception as error:
            logger.exception("unexpected failure")
            self.Status = FAILED
            self.Reason = (
                f"Internal error ({type(error).__name__}: {error}); see the "
                f"function's logs for request {self.RequestId}"
            )
            self.PhysicalResourceId = self._current_id()

    def generate_physical_id(self, event: Mapping[str, Any]) -> str:
        return self._fallback_id(event)

    def _send(self, status: str | None = None, reason: str = "", send_response: Any = None) -> None:
        with self._lock:
            if self._sent:
                logger.warning("a response was already sent for this request; not sending another")
                return
            self._sent = True
        body = response_body(
            status=status or self.Status,
            reason=reason if status else str(self.Reason),
            physical_id=str(self.PhysicalResourceId) or self._current_id(),
            stack_id=self.StackId,
            request_id=self.RequestId,
            logical_id=self.LogicalResourceId,
            data=self.Data or {},
        )
        logger.info(
            "sending response",
            extra={
                "status": body["Status"],
                "physical_id": body["PhysicalResourceId"],
                "reason": body["Reason"],
            },
        )
        self._sender(self._response_url, encode(body), self._deadline)


def response_body(
    *,
    status: str,
    reason: str,
    physical_id: str,
    stack_id: str,
    request_id: str,
    logical_id: str,
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """The response CloudFormation reads, in one place: what is sent, and what a mode's answer
    is measured as before its first write (``actions.check_answer_fits``)."""
    return {
        "Status": status,
        "Reason": "" if status == SUCCESS else reason,
        "PhysicalResourceId": physical_id,
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "NoEcho": False,
        "Data": {str(k): str(v) for k, v in data.items()},
    }


def _dumps(value: Any) -> bytes:
    # As sent: json.dumps escapes every non-ASCII and control character (a NUL is 6 bytes).
    return json.dumps(value).encode()


def encoded_size(body: Mapping[str, Any]) -> int:
    """The body's size as CloudFormation counts it: bytes of the encoded JSON, escapes included."""
    return len(_dumps(body))


def _cut(text: str, max_bytes: int) -> str:
    """The longest start of ``text`` whose encoding (quotes aside) takes at most ``max_bytes``."""
    size = 0
    for end, char in enumerate(text):
        size += len(_dumps(char)) - 2
        if size > max_bytes:
            return text[:end]
    return text


def encode(body: dict[str, Any]) -> bytes:
    """JSON under CloudFormation's 4096-byte limit, always.

    The Reason is shortened first. If the body is still too large (ids or attributes from an
    unusual event), a SUCCESS cannot be reported truthfully: it becomes a FAILED that says why,
    its longest ids cut until the encoded body fits.
    """
    data = _dumps(body)
    excess = len(data) - MAX_BODY_BYTES
    if excess > 0 and body.get("Reason"):
        reason = str(body["Reason"])
        # " …(truncated)" encodes to 18 bytes ("…" is escaped): 20 more leaves room for it.
        kept = _cut(reason, max(0, len(_dumps(reason)) - 2 - excess - 20))
        body = {**body, "Reason": kept + " …(truncated)"}
        data = _dumps(body)
    if len(data) > MAX_BODY_BYTES:
        body = {
            **body,
            "Status": FAILED,
            "Reason": "the response would exceed CloudFormation's 4096-byte limit",
            "Data": {},
        }
        ids = ("PhysicalResourceId", "StackId", "RequestId", "LogicalResourceId")
        for key in ids:
            # CloudFormation's limit for a physical id: 1 KB, here of encoded JSON.
            body[key] = _cut(str(body.get(key, "")), MAX_ID_BYTES)
        data = _dumps(body)
        while len(data) > MAX_BODY_BYTES:
            longest = max(ids, key=lambda key: len(_dumps(body[key])))
            room = len(_dumps(body[longest])) - 2 - (len(data) - MAX_BODY_BYTES)
            body[longest] = _cut(body[longest], max(0, room))
            data = _dumps(body)
    return data
