"""App Mesh "gone" (tests/support/appmesh_gone.py): what botocore really raises for each switch.

Clients are made as the product makes them (``meshed_crystal.adapters.clients.make_client``:
boto3's default session, one attempt, ``connect_timeout=5``). For each switch: the exception
type, ``error.response["Error"]`` and HTTP status botocore derives; ECS and Cloud Map still
answer from the emulator; turning the switch off brings App Mesh back, for the same client.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    DataNotFoundError,
    EndpointConnectionError,
    ReadTimeoutError,
    SSLError,
    UnknownServiceError,
)
from botocore.loaders import Loader
from meshed_crystal.adapters import clients
from meshed_crystal.adapters.clients import make_client

from tests.integration import aws_state
from tests.support import appmesh_gone as gone_module
from tests.support.appmesh_gone import ENDPOINT_ENV, Answered, AppMeshGone, appmesh_gone
from tests.support.cfn_driver import CloudFormation
from tests.support.faults import Faults
from tests.support.platform import Platform

MESH = "ecs-mesh"
ACCOUNT = "123456789012"


def appmesh() -> Any:
    return make_client("appmesh")


def describe_mesh(client: Any) -> str:
    return str(client.describe_mesh(meshName=MESH)["mesh"]["meshName"])


def assert_ecs_and_cloud_map_answer(platform: Platform) -> None:
    """The rest of the platform is untouched by App Mesh being gone."""
    ecs = make_client("ecs")
    described = ecs.describe_task_definition(taskDefinition=platform.app_task_definition_arn)
    assert described["taskDefinition"]["taskDefinitionArn"] == platform.app_task_definition_arn
    cloud_map = make_client("servicediscovery")
    service_id = platform.cloud_map_service_arn.rsplit("/", 1)[1]
    assert cloud_map.get_service(Id=service_id)["Service"]["Arn"] == platform.cloud_map_service_arn


def raised(call: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


# -- all off -------------------------------------------------------------------------------------


def test_all_off_app_mesh_answers_from_the_emulator_through_the_local_endpoint(
    platform: Platform, appmesh_gone: AppMeshGone
) -> None:
    client = appmesh()
    assert client.meta.endpoint_url == appmesh_gone.endpoint_url
    assert os.environ[ENDPOINT_ENV] == appmesh_gone.endpoint_url
    assert describe_mesh(client) == MESH
    assert aws_state.node_names() == []  # the test's own reads go the same way
    assert appmesh_gone.answered == [
        Answered("DescribeMesh", 200, forwarded=True),
        Answered("ListVirtualNodes", 200, forwarded=True),
    ]
    # A modelled App Mesh error passes through as the emulator sends it
    error = raised(lambda: client.describe_virtual_node(meshName=MESH, virtualNodeName="nope"))
    assert isinstance(error, client.exceptions.NotFoundException)
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# -- 1. connection refused -----------------------------------------------------------------------


def test_refused_connections_raise_endpoint_connection_error_at_once(
    platform: Platform, appmesh_gone: AppMeshGone
) -> None:
    client = appmesh()  # built before: follows the switch (same endpoint)
    appmesh_gone.refuse_connections()
    started = time.monotonic()
    with pytest.raises(EndpointConnectionError) as caught:
        client.list_meshes()
    assert time.monotonic() - started < 0.5
    assert not isinstance(caught.value, ClientError)
    assert str(caught.value) == (
        f'Could not connect to the endpoint URL: "{appmesh_gone.endpoint_url}/v20190125/meshes"'
    )
    with pytest.raises(EndpointConnectionError):
        appmesh().delete_virtual_node(meshName=MESH, virtualNodeName="x")
    assert appmesh_gone.answered == []  # nothing ever reached the endpoint
    assert_ecs_and_cloud_map_answer(platform)
    with appmesh_gone.bypassed():
        assert aws_state.node_names() == []

    appmesh_gone.off()
    assert describe_mesh(client) == MESH


# -- 1b. connections that fail before an answer (each as botocore's HTTP stack meets it) --------

# switch, the exception botocore raises, whether the request reached the endpoint
DROPPED = {
    "close": (AppMeshGone.close_connections, ConnectionClosedError, True),
    "reset": (AppMeshGone.reset_connections, ConnectionClosedError, True),
    "no answer": (AppMeshGone.answer_nothing, ReadTimeoutError, True),
    "not accepted": (AppMeshGone.accept_nothing, ConnectTimeoutError, False),
}


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The product's client configuration with timeouts of 0.3 s (5 s and 30 s deployed)."""
    shorter = clients.CONFIG.merge(Config(connect_timeout=0.3, read_timeout=0.3))
    monkeypatch.setattr(clients, "CONFIG", shorter)


@pytest.mark.parametrize("way", list(DROPPED))
def test_a_connection_dropped_before_the_answer_raises_botocores_own_error(
    platform: Platform, appmesh_gone: AppMeshGone, short_timeouts: None, way: str
) -> None:
    switch, error, arrives = DROPPED[way]
    client = appmesh()  # built before: follows the switch (same endpoint)
    switch(appmesh_gone)
    started = time.monotonic()
    with pytest.raises(error) as caught:
        client.list_meshes()
    assert time.monotonic() - started < 2.0  # the client's own timeout (0.3 s) at most
    assert type(caught.value) is error  # exactly this class, as botocore's httpsession raises
    assert not isinstance(caught.value, ClientError)
    # The request reached the endpoint (and was recorded with no status) unless never accepted
    expected = [Answered("ListMeshes", 0, False)] if arrives else []
    assert appmesh_gone.answered == expected
    assert_ecs_and_cloud_map_answer(platform)
    appmesh_gone.off()
    assert describe_mesh(client) == MESH


def test_dropping_with_times_is_transient(
    platform: Platform, appmesh_gone: AppMeshGone, short_timeouts: None
) -> None:
    client = appmesh()
    appmesh_gone.reset_connections(times=2)
    for _ in range(2):
        with pytest.raises(ConnectionClosedError):
            client.list_meshes()
    assert describe_mesh(client) == MESH
    assert [a.status for a in appmesh_gone.answered] == [0, 0, 200]


@pytest.mark.parametrize(
    ("switch", "error", "url"),
    [
        (AppMeshGone.unresolvable_name, EndpointConnectionError, "http://appmesh-gone.invalid"),
        (AppMeshGone.break_tls, SSLError, "https://127.0.0.1"),
    ],
    ids=["name does not resolve", "TLS handshake fails"],
)
def test_an_endpoint_moved_out_of_reach_fails_clients_built_afterwards(
    platform: Platform, appmesh_gone: AppMeshGone, switch: Any, error: Any, url: str
) -> None:
    before = appmesh()
    switch(appmesh_gone)
    client = appmesh()
    assert client.meta.endpoint_url == f"{url}:{appmesh_gone.port}"
    with pytest.raises(error) as caught:
        client.list_meshes()
    assert type(caught.value) is error
    assert appmesh_gone.answered == []
    assert describe_mesh(before) == MESH  # a client built before keeps its endpoint
    appmesh_gone.off()
    assert os.environ[ENDPOINT_ENV] == appmesh_gone.endpoint_url
    assert describe_mesh(appmesh()) == MESH


# -- 2. a status without an App Mesh error code --------------------------------------------------


def page(status: int, phrase: str) -> str:
    title = f"{status} {phrase}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    )


# (status, body or None for the load balancer's page) -> response["Error"]
RAW_STATUSES: dict[str, tuple[int, bytes | None, dict[str, str]]] = {
    "404 empty": (404, b"", {"Code": "404", "Message": ""}),
    "404 html": (404, None, {"Code": "404", "Message": page(404, "Not Found")}),
    "410 html": (410, None, {"Code": "410", "Message": page(410, "Gone")}),
    "403 html": (403, None, {"Code": "403", "Message": page(403, "Forbidden")}),
    "400 text": (400, b"Bad Request", {"Code": "400", "Message": "Bad Request"}),
    # 5xx with an empty body or one starting "<html>": botocore's "generic" error
    "502 html": (502, None, {"Code": "502", "Message": "Bad Gateway"}),
    "503 html": (503, None, {"Code": "503", "Message": "Service Unavailable"}),
    "504 empty": (504, b"", {"Code": "504", "Message": "Gateway Timeout"}),
    # 5xx with another body: the body is the message
    "500 doctype": (
        500,
        b"<!DOCTYPE html><html></html>",
        {"Code": "500", "Message": "<!DOCTYPE html><html></html>"},
    ),
}


@pytest.mark.parametrize(
    ("status", "body", "expected"), list(RAW_STATUSES.values()), ids=list(RAW_STATUSES)
)
def test_a_status_without_an_app_mesh_error_code_is_a_plain_client_error(
    platform: Platform,
    appmesh_gone: AppMeshGone,
    status: int,
    body: bytes | None,
    expected: dict[str, str],
) -> None:
    client = appmesh()
    appmesh_gone.answer_status(status, body)
    error = raised(lambda: client.describe_virtual_node(meshName=MESH, virtualNodeName="x"))
    assert type(error) is ClientError  # no modelled exception class matches
    assert error.response["Error"] == expected
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert "RequestId" not in error.response["ResponseMetadata"]
    assert error.operation_name == "DescribeVirtualNode"
    assert appmesh_gone.answered == [Answered("DescribeVirtualNode", status, forwarded=False)]
    assert_ecs_and_cloud_map_answer(platform)

    appmesh_gone.off()
    assert describe_mesh(client) == MESH


def test_answer_status_with_times_is_transient(
    platform: Platform, appmesh_gone: AppMeshGone, faults: Faults
) -> None:
    client = appmesh()
    appmesh_gone.answer_status(503, times=2)
    for _ in range(2):
        error = raised(lambda: describe_mesh(client))
        assert error.response["Error"] == {"Code": "503", "Message": "Service Unavailable"}
    assert describe_mesh(client) == MESH  # the third call reaches the emulator
    assert [a.forwarded for a in appmesh_gone.answered] == [False, False, True]
    assert faults.calls == [("appmesh", "DescribeMesh")]


def test_modelled_transient_errors_pass_through_the_endpoint(
    platform: Platform, appmesh_gone: AppMeshGone, faults: Faults
) -> None:
    client = appmesh()
    faults.fail("appmesh", "DescribeMesh", "TooManyRequestsException", "Rate exceeded", times=1)
    error = raised(lambda: describe_mesh(client))
    assert isinstance(error, client.exceptions.TooManyRequestsException)
    assert error.response["Error"]["Code"] == "TooManyRequestsException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert describe_mesh(client) == MESH


# -- 3. IAM denies -------------------------------------------------------------------------------


def test_access_denied_is_iams_error_not_app_meshs_forbidden(
    platform: Platform, appmesh_gone: AppMeshGone
) -> None:
    client = appmesh()
    appmesh_gone.access_denied()
    error = raised(lambda: client.delete_virtual_node(meshName=MESH, virtualNodeName="crystal"))
    assert type(error) is ClientError  # not in App Mesh's model
    assert not isinstance(error, client.exceptions.ForbiddenException)
    assert error.response["Error"] == {
        "Code": "AccessDeniedException",
        "Message": (
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/MeshedCrystalProvider/"
            "meshed-crystal-provider is not authorized to perform: appmesh:DeleteVirtualNode "
            f"on resource: arn:aws:appmesh:us-east-1:{ACCOUNT}:mesh/{MESH}/virtualNode/crystal "
            "with an explicit deny in an identity-based policy"
        ),
    }
    metadata = error.response["ResponseMetadata"]
    assert metadata["HTTPStatusCode"] == 403
    assert metadata["RequestId"]
    # The resource named is the one the call is on; the operation is the call's
    error = raised(lambda: client.list_virtual_services(meshName=MESH))
    assert "appmesh:ListVirtualServices on resource: " in error.response["Error"]["Message"]
    assert f":mesh/{MESH} with an explicit deny" in error.response["Error"]["Message"]
    assert_ecs_and_cloud_map_answer(platform)

    appmesh_gone.access_denied(explicit=False, times=1)
    error = raised(lambda: describe_mesh(client))
    assert error.response["Error"]["Message"].endswith(
        f"on resource: arn:aws:appmesh:us-east-1:{ACCOUNT}:mesh/{MESH} because no "
        "identity-based policy allows the appmesh:DescribeMesh action"
    )
    assert describe_mesh(client) == MESH  # times=1: the next call is allowed again


def test_forbidden_is_app_meshs_own_modelled_403(
    platform: Platform, appmesh_gone: AppMeshGone, faults: Faults
) -> None:
    client = appmesh()
    faults.fail("appmesh", "DescribeMesh", "ForbiddenException", "You don't have permissions")
    error = raised(lambda: describe_mesh(client))
    assert isinstance(error, client.exceptions.ForbiddenException)
    assert error.response["Error"] == {
        "Code": "ForbiddenException",
        "Message": "You don't have permissions",
    }
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403


# -- 4. the SDK without App Mesh -----------------------------------------------------------------


def test_no_sdk_service_makes_building_an_app_mesh_client_fail(
    platform: Platform, appmesh_gone: AppMeshGone
) -> None:
    built_before = appmesh()
    appmesh_gone.no_sdk_service()
    for build in (
        appmesh,
        lambda: boto3.client("appmesh"),
        lambda: boto3.Session().client("appmesh"),
    ):
        with pytest.raises(UnknownServiceError) as caught:
            build()
        assert isinstance(caught.value, DataNotFoundError)
        assert str(caught.value).startswith(
            "Unknown service: 'appmesh'. Valid service names are: accessanalyzer, "
        )
        assert ", appmesh," not in str(caught.value)
        assert ", ecs," in str(caught.value)
    assert "appmesh" not in boto3.Session().get_available_services()
    assert "ecs" in boto3.Session().get_available_services()
    assert_ecs_and_cloud_map_answer(platform)  # their clients still build and answer
    # A client built before keeps working: the product must build its client afterwards
    assert describe_mesh(built_before) == MESH
    with appmesh_gone.bypassed():
        assert aws_state.node_names() == []
    with pytest.raises(UnknownServiceError):
        appmesh()

    appmesh_gone.off()
    assert describe_mesh(appmesh()) == MESH


# -- the fixture with the product ----------------------------------------------------------------


def test_the_products_clients_follow_the_switches(
    cfn: CloudFormation, platform: Platform, appmesh_gone: AppMeshGone
) -> None:
    from tests.integration.lifecycle import LOGICAL, fast, ok, workshop

    ok(fast(cfn).create(LOGICAL, workshop(platform)))
    created = list(appmesh_gone.answered)
    assert created
    assert all(a.forwarded for a in created)  # the product's App Mesh calls reached the endpoint
    # Its (now cached) client meets the switch on its next call
    appmesh_gone.answer_status(410)
    cfn.delete(LOGICAL)
    assert [a.status for a in appmesh_gone.answered[len(created) :]][:1] == [410]


# -- off after the context -----------------------------------------------------------------------


def test_everything_is_off_after_the_context(platform: Platform) -> None:
    before = os.environ.get(ENDPOINT_ENV)
    with appmesh_gone() as gone:
        gone.no_sdk_service()
        assert Loader.load_service_model is not gone_module._original_load
    with appmesh_gone() as gone:
        gone.refuse_connections()
        port = gone.port
    with appmesh_gone() as gone:
        gone.answer_status(503)
        served = gone.port
    with appmesh_gone() as gone:
        gone.accept_nothing()
        silent = gone.port
    with appmesh_gone() as gone:
        gone.unresolvable_name()
    assert os.environ.get(ENDPOINT_ENV) == before
    assert Loader.load_service_model is gone_module._original_load
    assert Loader.list_available_services is gone_module._original_list
    for closed in (port, served, silent):
        with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
            probe.connect(("127.0.0.1", closed))
    client = appmesh()
    assert client.meta.endpoint_url == "https://appmesh.us-east-1.amazonaws.com"
    assert describe_mesh(client) == MESH
