"""The response PUT (meshed_crystal.protocol.put_response) against the local HTTPS stand-in for S3:
a transient failure is retried (test_lifecycle_protocol.py), but never past the Lambda's deadline,
and never after S3 refused the request itself (a 4xx: an expired or altered signature)."""

from __future__ import annotations

import json
import time

import pytest
from meshed_crystal import protocol

from tests.support.cfn_driver import ResponseEndpoint

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/crystal-stack/1b2c3d4e"
BODY = json.dumps({"Status": "SUCCESS", "PhysicalResourceId": "x"}).encode()


def _url(endpoint: ResponseEndpoint) -> str:
    return endpoint.response_url(STACK_ID, "Crystal", "5f2c9a0e-request")


def test_a_rejected_put_4xx_is_not_retried(endpoint: ResponseEndpoint) -> None:
    # Given a presigned URL whose signature S3 does not accept (altered, or expired)
    url = _url(endpoint)
    altered = url[:-1] + ("0" if url[-1] != "0" else "1")
    # When the response is PUT, with all the time in the world
    delivered = protocol.put_response(altered, BODY, time.monotonic() + 60)
    # Then one attempt was made, S3 answered 403, and the sender gave up at once
    assert delivered is False
    assert [put.outcome for put in endpoint.puts_for(altered)] == ["403"]


def test_a_failing_put_is_not_retried_past_the_deadline(
    endpoint: ResponseEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given S3 keeps answering 500, backoff 0.5, 1, 2, 4 s, and 2 s to the deadline
    monkeypatch.setattr(protocol, "PUT_FIRST_DELAY_S", 0.5)
    endpoint.fail_next(protocol.PUT_ATTEMPTS, "500")
    url = _url(endpoint)
    deadline = time.monotonic() + 2.0
    # When the response is PUT
    delivered = protocol.put_response(url, BODY, deadline)
    returned = time.monotonic()
    # Then it tried (at 0, 0.5 and 1.5 s when the machine is idle) while a try fitted, no more:
    # with all PUT_ATTEMPTS it would sleep 7.5 s, far past the deadline
    attempts = endpoint.puts_for(url)
    assert delivered is False
    assert 1 <= len(attempts) < protocol.PUT_ATTEMPTS
    assert {put.outcome for put in attempts} == {"500"}
    assert all(put.received_at < deadline for put in attempts)
    # And it returned before the deadline rather than sleeping into it
    assert returned < deadline
