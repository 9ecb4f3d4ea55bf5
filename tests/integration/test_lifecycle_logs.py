"""Logs (DESIGN §5.7) and response size (§4): no line holds the ResponseURL or its signature, at
any level; every line of an invocation says which stack, resource, request and request type; the
largest valid input still answers within 4096 bytes, with flat string attributes."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from meshed_crystal import app, logs

from tests.conftest import ENVOY_IMAGE
from tests.integration import aws_state
from tests.integration.lifecycle import LOGICAL, failed, fast, ok, workshop
from tests.support import moto_cloudformation
from tests.support.cfn_driver import MAX_RESPONSE_BYTES, CloudFormation, ResponseEndpoint
from tests.support.containers import cold_start
from tests.support.platform import Platform

CONTEXT_KEYS = ("stack_id", "logical_id", "cfn_request_id", "request_type")
LOGGERS = ("meshed_crystal", "crhelper", "botocore")
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/crystal-stack/0e1d2c3b"


@pytest.fixture
def log_level(request: pytest.FixtureRequest) -> Iterator[str]:
    """The function's log level, applied to its own, crhelper's and botocore's loggers."""
    level = str(request.param)
    loggers = [logging.getLogger(app.logger.name)] + [logging.getLogger(n) for n in LOGGERS]
    saved = [lg.level for lg in loggers]
    app.logger.setLevel(level)
    for lg in loggers:
        lg.setLevel(level)
    yield level
    for lg, old in zip(loggers, saved, strict=True):
        lg.setLevel(old)


@pytest.fixture
def handler_output() -> Iterator[io.StringIO]:
    """Everything any logging handler writes, wherever it writes it.

    The function's handlers hold the stream they were given at import (Lambda's stdout), which
    pytest's fd capture cannot see; every StreamHandler of every logger is pointed here instead.
    """
    sink = io.StringIO()
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    for lg in loggers:
        for handler in lg.handlers:
            if (
                isinstance(handler, logging.StreamHandler)
                # pytest's own capture handlers: caplog reads those records
                and not type(handler).__module__.startswith("_pytest")
                and all(h is not handler for h, _ in swapped)
            ):
                swapped.append((handler, handler.setStream(sink)))
    yield sink
    for handler, stream in swapped:
        handler.setStream(stream)


def _secrets(url: str) -> list[str]:
    """What must never be logged: the URL, its path and query, its signature and credential."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return [
        url,
        f"{parts.path}?{parts.query}",
        parts.query,
        query["X-Amz-Signature"][0],
        query["X-Amz-Credential"][0].split("/")[0],
    ]


@pytest.mark.parametrize("log_level", ["DEBUG", "INFO", "WARNING"], indirect=True)
def test_no_log_line_holds_the_response_url_and_every_line_names_its_request(
    cfn: CloudFormation,
    platform: Platform,
    endpoint: ResponseEndpoint,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    handler_output: io.StringIO,
    log_level: str,
) -> None:
    caplog.set_level(logging.DEBUG)  # a root handler that sees every record that propagates
    capfd.readouterr()
    caplog.clear()
    # Given a lifecycle with successes, failures and a response PUT that had to be retried
    fast(cfn)
    events = [cfn.event("Create", LOGICAL, workshop(platform))]
    ok(cfn.invoke(events[-1]))
    endpoint.fail_next(1, "reset")
    events.append(cfn.event("Update", LOGICAL, workshop(platform, Envoy={"LogLevel": "debug"})))
    ok(cfn.invoke(events[-1]))
    events.append(cfn.event("Create", "Second", workshop(platform)))  # the names are taken
    failed(cfn.invoke(events[-1]))
    events.append(cfn.event("Delete", LOGICAL, workshop(platform)))
    ok(cfn.invoke(events[-1]))
    captured = capfd.readouterr()
    printed = captured.out + captured.err
    lines = [line for line in handler_output.getvalue().splitlines() if line.strip()]
    records = list(caplog.records)
    if log_level in ("DEBUG", "INFO"):
        assert lines, "the capture sees the function's lines"
        assert records, "the capture sees the function's records"
    if log_level == "DEBUG":
        assert any(r.name.startswith("botocore") for r in records), "botocore logs at DEBUG"
    # Then no line and no record holds the URL or any part of its signature
    texts = [*lines, printed] + [
        " ".join(str(v) for v in vars(r).values()) + " " + r.getMessage() for r in records
    ]
    for event in events:
        for secret in _secrets(event["ResponseURL"]):
            leaking = [t for t in texts if secret in t]
            assert leaking == [], f"{secret[:40]}... logged: {leaking[0][:300]}"
    # And every line the function wrote names the stack, the resource, the request and its type
    for line in lines:
        entry = json.loads(line)
        missing = [k for k in CONTEXT_KEYS if not entry.get(k)]
        assert missing == [], f"{missing} missing from {line[:300]}"
        assert entry["stack_id"] == cfn.stack_id


@pytest.mark.parametrize("log_level", ["DEBUG"], indirect=True)
def test_a_malformed_event_is_logged_without_its_url(
    cfn: CloudFormation, platform: Platform, handler_output: io.StringIO, log_level: str
) -> None:
    event = fast(cfn).event("Create", LOGICAL, workshop(platform))
    event["RequestType"] = "Destroy"
    assert len(cfn.invoke_raw(event)) == 1
    text = handler_output.getvalue()
    assert "malformed event" in text
    for secret in _secrets(event["ResponseURL"]):
        assert secret not in text


# -- 12. Size --------------------------------------------------------------------------------


@pytest.fixture
def long_stack(platform: Platform, endpoint: ResponseEndpoint) -> Iterator[CloudFormation]:
    """A stack with the longest name CloudFormation allows (128 characters)."""
    driver = CloudFormation(app.lambda_handler, endpoint, stack_name="S" * 128, grace_s=0.05)
    with moto_cloudformation.serving(driver):
        yield driver


def test_names_too_long_to_answer_are_refused_before_any_write(
    long_stack: CloudFormation, platform: Platform, cfn: CloudFormation
) -> None:
    # Given every name at its service's limit (255 characters)
    mesh = "m" * 255
    boto3.client("appmesh").create_mesh(meshName=mesh)
    props = _named(platform, mesh, 255)
    # When the stack creates it
    body = long_stack.create("L" * 255, props)
    # Then it is refused (within 4096 bytes), saying what to shorten, and nothing was created
    reason = failed(body)
    assert "over its 4096-byte limit" in reason
    assert "VirtualNodeName" in reason
    assert aws_state.node_names(mesh) == []
    assert aws_state.active_revisions("f" * 255) == []


def test_the_largest_accepted_input_answers_within_4096_bytes_with_flat_strings(
    long_stack: CloudFormation, platform: Platform, endpoint: ResponseEndpoint, cfn: CloudFormation
) -> None:
    # Given the longest names the resource accepts (found by shortening them step by step)
    mesh = "m" * 255
    boto3.client("appmesh").create_mesh(meshName=mesh)
    logical = "L" * 255
    for length in range(255, 100, -3):
        event = long_stack.event("Create", logical, _named(platform, mesh, length))
        body = long_stack.invoke(event)
        if body["Status"] == "SUCCESS":
            break
        assert "4096-byte limit" in body["Reason"]
    # Then the response (the driver rejects more than 4096 bytes) is close to the limit
    raw = endpoint.delivered_for(event["ResponseURL"])[0].raw_body
    assert MAX_RESPONSE_BYTES - 100 < len(raw) <= MAX_RESPONSE_BYTES
    # And its attributes are flat strings, the names in full
    data = ok(body)
    assert all(isinstance(v, str) for v in data.values())
    assert data["VirtualNodeName"] == "n" * length
    assert data["MeshName"] == mesh


def _http_namespace(name: str) -> str:
    """A Cloud Map HTTP namespace (names up to 1024 printable ASCII characters); its ARN."""
    cloud_map = boto3.client("servicediscovery")
    operation = cloud_map.create_http_namespace(Name=name)["OperationId"]
    found = cloud_map.get_operation(OperationId=operation)["Operation"]["Targets"]
    return str(cloud_map.get_namespace(Id=found["NAMESPACE"])["Namespace"]["Arn"])


def _longest_service_connect(platform: Platform, namespace: str) -> dict[str, Any]:
    """Service Connect properties with every name the answer repeats at its limit."""
    return workshop(
        platform,
        Mode="ServiceConnect",
        Family="f" * 255,
        ServiceConnect={
            "Namespace": _http_namespace(namespace),
            "DiscoveryName": "d" * 64,
            "PortName": "p" * 64,
            "ClientAlias": {"DnsName": "c" * 121 + ".local"},  # 127, ECS's limit
        },
    )


def test_service_connect_the_longest_names_answer_within_4096_bytes(
    long_stack: CloudFormation, platform: Platform, endpoint: ResponseEndpoint, cfn: CloudFormation
) -> None:
    # Given the longest names a Service Connect answer repeats (a 1024-character HTTP namespace)
    event = long_stack.event("Create", "L" * 255, _longest_service_connect(platform, "n" * 1024))
    # Then it answers SUCCESS within the limit, the names in full
    data = ok(long_stack.invoke(event))
    raw = endpoint.delivered_for(event["ResponseURL"])[0].raw_body
    assert len(raw) <= MAX_RESPONSE_BYTES
    assert data["NamespaceName"] == "n" * 1024


@pytest.mark.parametrize("char", ["\\", '"'], ids=["backslashes", "quotes"])
def test_service_connect_an_answer_too_long_once_encoded_is_refused_before_any_write(
    long_stack: CloudFormation, platform: Platform, cfn: CloudFormation, char: str
) -> None:
    # Given an HTTP namespace whose 1024-character name is JSON-escaped in the answer (Cloud
    # Map allows any printable ASCII: `\` and `"` take 2 bytes each once encoded)
    props = _longest_service_connect(platform, char * 1024)
    # When the stack creates it
    body = long_stack.create("L" * 255, props)
    # Then it is refused (within 4096 bytes), saying what to shorten, and nothing was registered
    reason = failed(body)
    assert "over its 4096-byte limit" in reason
    assert "namespace's name" in reason
    assert aws_state.active_revisions("f" * 255) == []


def _named(platform: Platform, mesh: str, length: int) -> dict[str, Any]:
    return workshop(
        platform,
        MeshName=mesh,
        VirtualNodeName="n" * length,
        VirtualServiceName="s" * length,
        Family="f" * 255,
        Envoy={"Image": "public.ecr.aws/appmesh/" + "e" * 200 + ":v1.29.12.1-prod"},
        Tags=[{"Key": "k" * 128, "Value": "v" * 256}],
    )


ADAPTERS = "meshed_crystal.adapters"


def test_at_info_one_line_per_action_and_no_botocore_noise(
    cfn: CloudFormation, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    # At the deployed default (INFO), what an invocation did can be read line by line, and
    # botocore's per-request lines only appear when its level is asked for
    caplog.set_level(logging.INFO)
    ok(fast(cfn).create(LOGICAL, workshop(platform)))
    actions = [r.getMessage() for r in caplog.records if r.name.startswith(ADAPTERS)]
    assert actions == [
        "registered task definition",
        "creating virtual node",
        "creating virtual service",
    ]
    assert [r for r in caplog.records if r.name.startswith("botocore")] == []
    caplog.clear()
    ok(cfn.delete(LOGICAL))
    actions = [r.getMessage() for r in caplog.records if r.name.startswith(ADAPTERS)]
    assert actions == [
        "deregistering task definition",
        "deleting virtual service",
        "deleting virtual node",
    ]


# -- Redaction: what would log the URL, and who installs the filter ---------------------------


def _leaks(url: str, handler_output: io.StringIO, caplog: pytest.LogCaptureFixture) -> list[str]:
    """The written lines, after asserting that none holds the URL or its secrets."""
    lines = [line for line in handler_output.getvalue().splitlines() if line.strip()]
    texts = [*lines] + [
        " ".join(str(v) for v in vars(r).values()) + " " + r.getMessage() for r in caplog.records
    ]
    for secret in _secrets(url):
        leaking = [t for t in texts if secret in t]
        assert leaking == [], f"{secret[:40]}... logged: {leaking[0][:300]}"
    return lines


@pytest.mark.parametrize("log_level", ["DEBUG"], indirect=True)
def test_a_response_url_that_reaches_a_log_line_is_redacted(
    endpoint: ResponseEndpoint,
    caplog: pytest.LogCaptureFixture,
    handler_output: io.StringIO,
    log_level: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = endpoint.response_url(STACK_ID, LOGICAL, "0f5e2c1a-redaction")
    # Given records that hold the URL, as they would arise: crhelper's own line when it sends a
    # response (crhelper.utils._send_response, verbatim), a value the function puts in a line,
    # and a message that quotes it
    logging.getLogger("crhelper.utils").debug(f"CFN response URL: {url}")
    app.logger.info("sending response", extra={"response_url": url})
    logging.getLogger("meshed_crystal.protocol").warning("PUT %s failed", url)
    # Then every line is written, says the URL was there, and holds none of it
    lines = _leaks(url, handler_output, caplog)
    assert len(lines) == 3, lines
    assert all("[presigned URL redacted]" in line for line in lines), lines


@pytest.mark.parametrize("log_level", ["DEBUG"], indirect=True)
def test_a_response_url_in_a_logged_exception_is_redacted(
    endpoint: ResponseEndpoint,
    caplog: pytest.LogCaptureFixture,
    handler_output: io.StringIO,
    log_level: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = endpoint.response_url(STACK_ID, LOGICAL, "7a1b2c3d-redaction")
    try:
        raise OSError(f"PUT {url} failed")
    except OSError:
        logging.getLogger("meshed_crystal.protocol").exception("response PUT failed")
    lines = _leaks(url, handler_output, caplog)
    assert len(lines) == 1
    # The traceback is kept, redacted, with the exception's name
    entry = json.loads(lines[0])
    assert "OSError: PUT [presigned URL redacted] failed" in entry["exception"]
    assert entry["exception_name"] == "OSError"


@pytest.mark.parametrize("log_level", ["DEBUG"], indirect=True)
def test_the_app_module_installs_the_redaction(
    endpoint: ResponseEndpoint, handler_output: io.StringIO, log_level: str
) -> None:
    # Given no handler of the function's loggers redacts (as before the function is loaded)
    names = (app.logger.name, *LOGGERS)
    stripped = [
        (handler, f)
        for name in names
        for handler in logging.getLogger(name).handlers
        for f in list(handler.filters)
        if isinstance(f, logs.RedactSecrets)
    ]
    assert stripped, "the app module imported by the tests installed the filter"
    for handler, f in stripped:
        handler.removeFilter(f)
    try:
        # When a Lambda container loads the function (a fresh import of meshed_crystal.app)
        cold_start(ENVOY_IMAGE)
        # Then every handler of its, crhelper's and botocore's loggers redacts
        for name in names:
            handlers = logging.getLogger(name).handlers
            assert handlers, f"logger {name} has no handler"
            for handler in handlers:
                assert any(isinstance(f, logs.RedactSecrets) for f in handler.filters), name
        # And a line with the URL comes out redacted
        url = endpoint.response_url(STACK_ID, LOGICAL, "3c4d5e6f-redaction")
        logging.getLogger("crhelper.utils").debug(f"CFN response URL: {url}")
        written = handler_output.getvalue()
        assert "[presigned URL redacted]" in written
        assert url not in written
    finally:
        for handler, f in stripped:
            if not any(isinstance(g, logs.RedactSecrets) for g in handler.filters):
                handler.addFilter(f)
