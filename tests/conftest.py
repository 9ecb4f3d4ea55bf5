"""Shared fixtures: fake credentials, the emulator with the workshop platform, the CFN driver."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from meshed_crystal import app
from meshed_crystal.actions import Provider
from moto import mock_aws

from tests.support import moto_appmesh, moto_cloudformation, moto_ecs_rules, moto_service_connect
from tests.support.appmesh_gone import AppMeshGone
from tests.support.appmesh_gone import appmesh_gone as appmesh_gone_context
from tests.support.cfn_driver import CloudFormation, ResponseEndpoint
from tests.support.faults import Faults, injected
from tests.support.platform import Platform, build_workshop_platform

REPO = Path(__file__).resolve().parent.parent
EVENTS = REPO / "events"
REGION = "us-east-1"
ENVOY_IMAGE = "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod"

# Speed, not behaviour: moto's EC2 backend loads thousands of AMIs on every reset (the platform
# needs only a VPC), and one botocore session keeps service models parsed across tests.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
_BOTOCORE = botocore.session.get_session()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test can reach a real AWS account: fake credentials, fixed region, no endpoint."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    # Tracing and metrics are AWS-side concerns; locally they stay quiet.
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def platform(aws_env: None) -> Iterator[Platform]:
    """moto in-process with App Mesh and ECS Service Connect extended, holding the platform."""
    moto_appmesh.install()
    moto_service_connect.install()
    moto_ecs_rules.install()
    with mock_aws():
        session = boto3.Session(botocore_session=_BOTOCORE, region_name=REGION)
        yield build_workshop_platform(session)


@pytest.fixture
def endpoint() -> Iterator[ResponseEndpoint]:
    with ResponseEndpoint() as served:
        yield served


@pytest.fixture
def cfn(
    platform: Platform, endpoint: ResponseEndpoint, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CloudFormation]:
    """CloudFormation driving the real Lambda entry point; its clients are built in this mock.

    The emulator's CloudFormation answers DescribeStackResource for the driver's stack.
    """
    monkeypatch.setattr(app, "provider", Provider(envoy_image=ENVOY_IMAGE))
    with moto_cloudformation.serving(CloudFormation(app.lambda_handler, endpoint)) as driver:
        yield driver


@pytest.fixture
def faults(platform: Platform) -> Iterator[Faults]:
    """Service errors and delays raised by the emulator; every call it answers is recorded."""
    with injected() as armed:
        yield armed


@pytest.fixture
def appmesh_gone(platform: Platform) -> Iterator[AppMeshGone]:
    """Switches that make App Mesh gone (DESIGN §9), all off at first and after the test.

    App Mesh clients built during the test reach the emulator through a local endpoint
    (``AWS_ENDPOINT_URL_APP_MESH``); ``refuse_connections()``, ``close_connections()``,
    ``reset_connections()``, ``answer_nothing()``, ``accept_nothing()``, ``answer_status(...)``,
    ``access_denied()`` and ``off()`` act on clients already built too. ``no_sdk_service()``,
    ``unresolvable_name()`` and ``break_tls()`` act only on clients built afterwards: a test
    turns them on before the Provider under test builds its ``appmesh`` client (the ``cfn``
    fixture's Provider builds none before a request).
    See tests/support/appmesh_gone.py.
    """
    with appmesh_gone_context() as gone:
        yield gone


def load_event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))
