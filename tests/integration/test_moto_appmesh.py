"""The extended App Mesh emulator (tests/support/moto_appmesh.py) behaves like the real API.

Every test runs through boto3, once against in-process ``mock_aws`` and once against the
emulator in server mode, so both wirings of :func:`install` are exercised. Expectations are
the real service's (botocore's model: shapes, error codes, HTTP statuses), so these tests
would pass against AWS too, apart from message wording.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.appmesh.models import AppMeshBackend, appmesh_backends

from tests.support.emulator import Emulator, start_server
from tests.support.moto_appmesh import ExtendedAppMeshBackend, install

if TYPE_CHECKING:
    from mypy_boto3_appmesh import AppMeshClient
    from mypy_boto3_appmesh.type_defs import TagRefTypeDef, VirtualNodeSpecUnionTypeDef

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account for any fake credentials
MESH = "ecs-mesh"
SERVICE = "ecsdemo-crystal.service.local"
REPO_ROOT = Path(__file__).resolve().parents[2]

NODE_SPEC: VirtualNodeSpecUnionTypeDef = {
    "listeners": [
        {
            "portMapping": {"port": 3000, "protocol": "http"},
            "healthCheck": {
                "healthyThreshold": 2,
                "intervalMillis": 5000,
                "path": "/health",
                "port": 3000,
                "protocol": "http",
                "timeoutMillis": 2000,
                "unhealthyThreshold": 3,
            },
            "timeout": {
                "http": {
                    "idle": {"unit": "s", "value": 10},
                    "perRequest": {"unit": "s", "value": 15},
                }
            },
        }
    ],
    "backends": [{"virtualService": {"virtualServiceName": "ecsdemo-nodejs.service.local"}}],
    "logging": {"accessLog": {"file": {"path": "/dev/stdout"}}},
    "serviceDiscovery": {
        "awsCloudMap": {
            "namespaceName": "service.local",
            "serviceName": "ecsdemo-crystal",
            "attributes": [{"key": "ECS_TASK_DEFINITION_FAMILY", "value": "ecsdemo-crystal"}],
        }
    },
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials; nothing from the developer's environment leaks in."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_APP_MESH", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


def _reset_emulator(server: Emulator) -> None:
    request = urllib.request.Request(f"{server.endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.fixture(params=["in_process", "server"])
def appmesh(request: pytest.FixtureRequest, aws_env: None) -> Iterator[AppMeshClient]:
    if request.param == "in_process":
        install()
        with mock_aws():
            yield boto3.client("appmesh", region_name=REGION)
        return
    server: Emulator = request.getfixturevalue("emulator")
    _reset_emulator(server)
    yield boto3.client("appmesh", region_name=REGION, endpoint_url=server.endpoint_url)
    _reset_emulator(server)


@pytest.fixture
def mesh(appmesh: AppMeshClient) -> str:
    appmesh.create_mesh(meshName=MESH)
    return MESH


def _create_node(
    client: AppMeshClient, name: str, spec: VirtualNodeSpecUnionTypeDef | None = None
) -> None:
    client.create_virtual_node(
        meshName=MESH,
        virtualNodeName=name,
        spec=spec or {"listeners": [{"portMapping": {"port": 3000, "protocol": "http"}}]},
    )


def _provided_by_node(node: str) -> Any:
    return {"provider": {"virtualNode": {"virtualNodeName": node}}}


def _error(call: Callable[[], object]) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def _assert_error(error: ClientError, code: str, status: int) -> None:
    assert error.response["Error"]["Code"] == code, error.response["Error"]
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status


# --------------------------------------------------------------------------- virtual services


def test_virtual_service_lifecycle(appmesh: AppMeshClient, mesh: str) -> None:
    _create_node(appmesh, "crystal")
    appmesh.create_virtual_router(
        meshName=mesh,
        virtualRouterName="crystal-router",
        spec={"listeners": [{"portMapping": {"port": 3000, "protocol": "http"}}]},
    )
    before = datetime.now(UTC) - timedelta(seconds=5)

    created = appmesh.create_virtual_service(
        meshName=mesh,
        virtualServiceName=SERVICE,
        spec=_provided_by_node("crystal"),
        tags=[{"key": "owner", "value": "stack-a"}],
        clientToken="token-1",
    )["virtualService"]

    assert created["meshName"] == mesh
    assert created["virtualServiceName"] == SERVICE
    assert created["spec"] == {"provider": {"virtualNode": {"virtualNodeName": "crystal"}}}
    assert created["status"] == {"status": "ACTIVE"}
    metadata = created["metadata"]
    assert (
        metadata["arn"]
        == f"arn:aws:appmesh:{REGION}:{ACCOUNT}:mesh/{mesh}/virtualService/{SERVICE}"
    )
    assert metadata["version"] == 1
    assert metadata["meshOwner"] == ACCOUNT
    assert metadata["resourceOwner"] == ACCOUNT
    assert metadata["uid"]
    assert before <= metadata["createdAt"] <= datetime.now(UTC) + timedelta(seconds=5)

    described = appmesh.describe_virtual_service(
        meshName=mesh, virtualServiceName=SERVICE, meshOwner=ACCOUNT
    )["virtualService"]
    assert described == created

    updated = appmesh.update_virtual_service(
        meshName=mesh,
        virtualServiceName=SERVICE,
        spec={"provider": {"virtualRouter": {"virtualRouterName": "crystal-router"}}},
    )["virtualService"]
    assert updated["spec"] == {
        "provider": {"virtualRouter": {"virtualRouterName": "crystal-router"}}
    }
    assert updated["metadata"]["version"] == 2
    assert updated["metadata"]["uid"] == metadata["uid"]
    assert updated["metadata"]["createdAt"] == metadata["createdAt"]
    assert updated["metadata"]["lastUpdatedAt"] >= metadata["lastUpdatedAt"]

    deleted = appmesh.delete_virtual_service(meshName=mesh, virtualServiceName=SERVICE)[
        "virtualService"
    ]
    assert deleted["status"] == {"status": "DELETED"}
    assert deleted["virtualServiceName"] == SERVICE

    gone = _error(
        lambda: appmesh.describe_virtual_service(meshName=mesh, virtualServiceName=SERVICE)
    )
    _assert_error(gone, "NotFoundException", 404)
    assert appmesh.list_virtual_services(meshName=mesh)["virtualServices"] == []


def test_virtual_service_without_provider(appmesh: AppMeshClient, mesh: str) -> None:
    created = appmesh.create_virtual_service(meshName=mesh, virtualServiceName=SERVICE, spec={})
    assert created["virtualService"]["spec"] == {}


def test_list_virtual_services_paginates(appmesh: AppMeshClient, mesh: str) -> None:
    names = [f"svc-{index}.service.local" for index in range(5)]
    for name in names:
        appmesh.create_virtual_service(meshName=mesh, virtualServiceName=name, spec={})

    first = appmesh.list_virtual_services(meshName=mesh, limit=2)
    assert len(first["virtualServices"]) == 2
    assert first.get("nextToken")

    pages = appmesh.get_paginator("list_virtual_services").paginate(
        meshName=mesh, PaginationConfig={"PageSize": 2}
    )
    refs = [ref for page in pages for ref in page["virtualServices"]]
    assert sorted(ref["virtualServiceName"] for ref in refs) == names
    for ref in refs:
        assert ref["meshName"] == mesh
        assert ref["arn"].endswith(f":mesh/{mesh}/virtualService/{ref['virtualServiceName']}")
        assert ref["meshOwner"] == ref["resourceOwner"] == ACCOUNT
        assert ref["version"] == 1
        assert isinstance(ref["createdAt"], datetime)


@pytest.mark.parametrize(
    ("provider", "missing"),
    [
        ({"virtualNode": {"virtualNodeName": "nope"}}, "VirtualNode"),
        ({"virtualRouter": {"virtualRouterName": "nope"}}, "VirtualRouter"),
    ],
)
def test_provider_must_exist(
    appmesh: AppMeshClient, mesh: str, provider: Any, missing: str
) -> None:
    error = _error(
        lambda: appmesh.create_virtual_service(
            meshName=mesh, virtualServiceName=SERVICE, spec={"provider": provider}
        )
    )
    _assert_error(error, "NotFoundException", 404)
    assert f"{missing} with name nope" in error.response["Error"]["Message"]

    appmesh.create_virtual_service(meshName=mesh, virtualServiceName=SERVICE, spec={})
    update = _error(
        lambda: appmesh.update_virtual_service(
            meshName=mesh, virtualServiceName=SERVICE, spec={"provider": provider}
        )
    )
    _assert_error(update, "NotFoundException", 404)


def test_create_is_idempotent_per_client_token(appmesh: AppMeshClient, mesh: str) -> None:
    _create_node(appmesh, "crystal")
    first = appmesh.create_virtual_service(
        meshName=mesh,
        virtualServiceName=SERVICE,
        spec=_provided_by_node("crystal"),
        clientToken="same-token",
    )["virtualService"]
    replay = appmesh.create_virtual_service(
        meshName=mesh,
        virtualServiceName=SERVICE,
        spec=_provided_by_node("crystal"),
        clientToken="same-token",
    )["virtualService"]
    assert replay["metadata"]["uid"] == first["metadata"]["uid"]

    # The same token with a different request, or another token for a taken name: 409.
    reused = _error(
        lambda: appmesh.create_virtual_service(
            meshName=mesh, virtualServiceName=SERVICE, spec={}, clientToken="same-token"
        )
    )
    _assert_error(reused, "ConflictException", 409)
    taken = _error(
        lambda: appmesh.create_virtual_service(
            meshName=mesh, virtualServiceName=SERVICE, spec=_provided_by_node("crystal")
        )
    )
    _assert_error(taken, "ConflictException", 409)


# --------------------------------------------------------------------------- real error codes


def test_not_found_is_404(appmesh: AppMeshClient, mesh: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: appmesh.describe_mesh(meshName="missing-mesh"),
        lambda: appmesh.delete_mesh(meshName="missing-mesh"),
        lambda: appmesh.list_virtual_services(meshName="missing-mesh"),
        lambda: appmesh.describe_virtual_node(meshName=mesh, virtualNodeName="missing"),
        lambda: appmesh.delete_virtual_node(meshName=mesh, virtualNodeName="missing"),
        lambda: appmesh.describe_virtual_router(meshName=mesh, virtualRouterName="missing"),
        lambda: appmesh.describe_virtual_gateway(meshName=mesh, virtualGatewayName="missing"),
        lambda: appmesh.delete_virtual_service(meshName=mesh, virtualServiceName="missing"),
        lambda: appmesh.create_virtual_service(
            meshName="missing-mesh", virtualServiceName=SERVICE, spec={}
        ),
    ]
    for call in calls:
        _assert_error(_error(call), "NotFoundException", 404)

    message = _error(calls[3]).response["Error"]["Message"]
    assert message == (
        f"VirtualNode with name missing is not present under mesh {mesh} for account {ACCOUNT}"
    )


def test_duplicate_names_are_409(appmesh: AppMeshClient, mesh: str) -> None:
    _create_node(appmesh, "crystal")
    calls: list[Callable[[], object]] = [
        lambda: appmesh.create_mesh(meshName=mesh),
        lambda: _create_node(appmesh, "crystal"),
        lambda: appmesh.create_virtual_router(
            meshName=mesh,
            virtualRouterName="crystal-router",
            spec={"listeners": [{"portMapping": {"port": 3000, "protocol": "http"}}]},
        ),
    ]
    calls[2]()
    for call in calls:
        _assert_error(_error(call), "ConflictException", 409)


def test_mesh_owner_mismatch_is_400(appmesh: AppMeshClient, mesh: str) -> None:
    error = _error(lambda: appmesh.describe_mesh(meshName=mesh, meshOwner="999999999999"))
    _assert_error(error, "BadRequestException", 400)
    error = _error(
        lambda: appmesh.create_virtual_service(
            meshName=mesh, virtualServiceName=SERVICE, spec={}, meshOwner="999999999999"
        )
    )
    _assert_error(error, "BadRequestException", 400)


def test_provider_union_takes_one_member(appmesh: AppMeshClient, mesh: str) -> None:
    _create_node(appmesh, "crystal")
    appmesh.create_virtual_router(
        meshName=mesh,
        virtualRouterName="crystal-router",
        spec={"listeners": [{"portMapping": {"port": 3000, "protocol": "http"}}]},
    )
    # botocore refuses a malformed union client-side; other SDKs may not, so send it raw.
    raw = boto3.client(
        "appmesh",
        region_name=REGION,
        endpoint_url=appmesh.meta.endpoint_url,
        config=Config(parameter_validation=False),
    )
    malformed: list[Any] = [
        {},
        {
            "virtualNode": {"virtualNodeName": "crystal"},
            "virtualRouter": {"virtualRouterName": "crystal-router"},
        },
    ]
    for provider in malformed:
        with pytest.raises(ClientError) as caught:
            raw.create_virtual_service(
                meshName=mesh, virtualServiceName=SERVICE, spec={"provider": provider}
            )
        _assert_error(caught.value, "BadRequestException", 400)


def test_errors_from_moto_spec_parsers_use_real_codes(appmesh: AppMeshClient, mesh: str) -> None:
    # A listener without portMapping (required by the model): moto's parser raises its own
    # "MissingRequiredField"; the service answers BadRequestException.
    raw = boto3.client(
        "appmesh",
        region_name=REGION,
        endpoint_url=appmesh.meta.endpoint_url,
        config=Config(parameter_validation=False),
    )
    listeners: Any = [{"healthCheck": {"protocol": "http"}}]
    with pytest.raises(ClientError) as caught:
        raw.create_virtual_gateway(
            meshName=mesh, virtualGatewayName="ingress", spec={"listeners": listeners}
        )
    _assert_error(caught.value, "BadRequestException", 400)
    assert "portMapping" in caught.value.response["Error"]["Message"]


# --------------------------------------------------------------------------- in-use rules


def test_node_providing_a_service_cannot_be_deleted(appmesh: AppMeshClient, mesh: str) -> None:
    _create_node(appmesh, "crystal")
    appmesh.create_virtual_service(
        meshName=mesh, virtualServiceName=SERVICE, spec=_provided_by_node("crystal")
    )

    error = _error(lambda: appmesh.delete_virtual_node(meshName=mesh, virtualNodeName="crystal"))
    _assert_error(error, "ResourceInUseException", 409)
    assert SERVICE in error.response["Error"]["Message"]

    appmesh.delete_virtual_service(meshName=mesh, virtualServiceName=SERVICE)
    deleted = appmesh.delete_virtual_node(meshName=mesh, virtualNodeName="crystal")
    assert deleted["virtualNode"]["status"] == {"status": "DELETED"}


def test_service_used_as_a_node_backend_cannot_be_deleted(
    appmesh: AppMeshClient, mesh: str
) -> None:
    _create_node(appmesh, "crystal")
    appmesh.create_virtual_service(
        meshName=mesh, virtualServiceName=SERVICE, spec=_provided_by_node("crystal")
    )
    frontend_spec: VirtualNodeSpecUnionTypeDef = {
        "listeners": [{"portMapping": {"port": 3000, "protocol": "http"}}],
        "backends": [{"virtualService": {"virtualServiceName": SERVICE}}],
    }
    _create_node(appmesh, "frontend", frontend_spec)

    error = _error(
        lambda: appmesh.delete_virtual_service(meshName=mesh, virtualServiceName=SERVICE)
    )
    _assert_error(error, "ResourceInUseException", 409)
    message = error.response["Error"]["Message"]
    assert SERVICE in message
    assert "frontend" in message

    appmesh.update_virtual_node(
        meshName=mesh,
        virtualNodeName="frontend",
        spec={"listeners": [{"portMapping": {"port": 3000, "protocol": "http"}}]},
    )
    appmesh.delete_virtual_service(meshName=mesh, virtualServiceName=SERVICE)


def test_service_targeted_by_a_gateway_route_cannot_be_deleted(
    appmesh: AppMeshClient, mesh: str
) -> None:
    appmesh.create_virtual_service(meshName=mesh, virtualServiceName=SERVICE, spec={})
    appmesh.create_virtual_gateway(
        meshName=mesh,
        virtualGatewayName="ingress",
        spec={"listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]},
    )
    appmesh.create_gateway_route(
        meshName=mesh,
        virtualGatewayName="ingress",
        gatewayRouteName="to-crystal",
        spec={
            "httpRoute": {
                "match": {"prefix": "/crystal"},
                "action": {"target": {"virtualService": {"virtualServiceName": SERVICE}}},
            }
        },
    )

    error = _error(
        lambda: appmesh.delete_virtual_service(meshName=mesh, virtualServiceName=SERVICE)
    )
    _assert_error(error, "ResourceInUseException", 409)
    assert "to-crystal" in error.response["Error"]["Message"]

    gateway_in_use = _error(
        lambda: appmesh.delete_virtual_gateway(meshName=mesh, virtualGatewayName="ingress")
    )
    _assert_error(gateway_in_use, "ResourceInUseException", 409)

    appmesh.delete_gateway_route(
        meshName=mesh, virtualGatewayName="ingress", gatewayRouteName="to-crystal"
    )
    appmesh.delete_virtual_service(meshName=mesh, virtualServiceName=SERVICE)
    appmesh.delete_virtual_gateway(meshName=mesh, virtualGatewayName="ingress")


def test_mesh_with_resources_cannot_be_deleted(appmesh: AppMeshClient, mesh: str) -> None:
    appmesh.create_virtual_service(meshName=mesh, virtualServiceName=SERVICE, spec={})

    error = _error(lambda: appmesh.delete_mesh(meshName=mesh))
    _assert_error(error, "ResourceInUseException", 409)
    assert "VirtualServices" in error.response["Error"]["Message"]

    appmesh.delete_virtual_service(meshName=mesh, virtualServiceName=SERVICE)
    deleted = appmesh.delete_mesh(meshName=mesh)["mesh"]
    assert deleted["status"] == {"status": "DELETED"}


# --------------------------------------------------------------------------- tags


def test_tags_on_mesh_node_and_service(appmesh: AppMeshClient, mesh: str) -> None:
    _create_node(appmesh, "crystal")
    service = appmesh.create_virtual_service(
        meshName=mesh,
        virtualServiceName=SERVICE,
        spec={},
        tags=[{"key": "stack", "value": "a"}],
    )["virtualService"]
    arns = [
        appmesh.describe_mesh(meshName=mesh)["mesh"]["metadata"]["arn"],
        appmesh.describe_virtual_node(meshName=mesh, virtualNodeName="crystal")["virtualNode"][
            "metadata"
        ]["arn"],
        service["metadata"]["arn"],
    ]
    assert arns[0] == f"arn:aws:appmesh:{REGION}:{ACCOUNT}:mesh/{mesh}"

    for arn in arns:
        appmesh.tag_resource(
            resourceArn=arn,
            tags=[{"key": "stack", "value": "b"}, {"key": "logical-id", "value": "Crystal"}],
        )
        tags = appmesh.list_tags_for_resource(resourceArn=arn)["tags"]
        # TagResource overwrites an existing key's value instead of adding a duplicate.
        assert sorted((tag["key"], tag["value"]) for tag in tags) == [
            ("logical-id", "Crystal"),
            ("stack", "b"),
        ]
        appmesh.untag_resource(resourceArn=arn, tagKeys=["stack"])
        assert appmesh.list_tags_for_resource(resourceArn=arn)["tags"] == [
            {"key": "logical-id", "value": "Crystal"}
        ]

    unknown = f"arn:aws:appmesh:{REGION}:{ACCOUNT}:mesh/{mesh}/virtualService/nope"
    _assert_error(
        _error(lambda: appmesh.list_tags_for_resource(resourceArn=unknown)),
        "NotFoundException",
        404,
    )
    too_many: list[TagRefTypeDef] = [{"key": f"k{index}", "value": "v"} for index in range(51)]
    _assert_error(
        _error(lambda: appmesh.tag_resource(resourceArn=arns[2], tags=too_many)),
        "TooManyTagsException",
        400,
    )


# --------------------------------------------------------------------------- virtual nodes


def test_cloud_map_discovery_without_attributes(appmesh: AppMeshClient, mesh: str) -> None:
    spec: VirtualNodeSpecUnionTypeDef = {
        "listeners": [{"portMapping": {"port": 3000, "protocol": "http"}}],
        "serviceDiscovery": {
            "awsCloudMap": {"namespaceName": "service.local", "serviceName": "ecsdemo-crystal"}
        },
    }
    created = appmesh.create_virtual_node(meshName=mesh, virtualNodeName="crystal", spec=spec)
    assert created["virtualNode"]["spec"] == spec
    described = appmesh.describe_virtual_node(meshName=mesh, virtualNodeName="crystal")
    assert described["virtualNode"]["spec"] == spec


def test_virtual_node_spec_round_trips(appmesh: AppMeshClient, mesh: str) -> None:
    created = appmesh.create_virtual_node(meshName=mesh, virtualNodeName="crystal", spec=NODE_SPEC)
    assert created["virtualNode"]["spec"] == NODE_SPEC
    described = appmesh.describe_virtual_node(meshName=mesh, virtualNodeName="crystal")
    assert described["virtualNode"]["spec"] == NODE_SPEC

    changed: VirtualNodeSpecUnionTypeDef = {
        "listeners": [{"portMapping": {"port": 8080, "protocol": "http2"}}],
        "serviceDiscovery": {"dns": {"hostname": "crystal.service.local"}},
    }
    updated = appmesh.update_virtual_node(meshName=mesh, virtualNodeName="crystal", spec=changed)
    assert updated["virtualNode"]["spec"] == changed
    assert updated["virtualNode"]["metadata"]["version"] == 2
    described = appmesh.describe_virtual_node(meshName=mesh, virtualNodeName="crystal")
    assert described["virtualNode"]["spec"] == changed


def test_each_resource_has_its_own_metadata(appmesh: AppMeshClient, mesh: str) -> None:
    _create_node(appmesh, "a")
    _create_node(appmesh, "b")
    a, b = (
        appmesh.describe_virtual_node(meshName=mesh, virtualNodeName=name)["virtualNode"][
            "metadata"
        ]
        for name in ("a", "b")
    )
    mesh_metadata = appmesh.describe_mesh(meshName=mesh)["mesh"]["metadata"]
    assert len({a["uid"], b["uid"], mesh_metadata["uid"]}) == 3
    assert a["meshOwner"] == a["resourceOwner"] == mesh_metadata["meshOwner"] == ACCOUNT
    now = datetime.now(UTC)
    for metadata in (a, b, mesh_metadata):
        assert abs(metadata["createdAt"] - now) < timedelta(minutes=1)


# --------------------------------------------------------------------------- wiring


def test_install_upgrades_backends_that_already_exist(aws_env: None) -> None:
    account = "111122223333"
    with mock_aws():
        account_backends = appmesh_backends[account]
        # As if this backend had been created before install(): moto's own class.
        account_backends.backend = AppMeshBackend
        legacy = account_backends["eu-west-1"]
        assert type(legacy) is AppMeshBackend
        legacy.create_mesh(
            client_token=None,
            mesh_name="old",
            egress_filter_type=None,
            ip_preference=None,
            tags=None,
        )

        install()
        install()  # idempotent

        upgraded = appmesh_backends[account]["eu-west-1"]
        assert upgraded is legacy
        assert isinstance(upgraded, ExtendedAppMeshBackend)
        assert "old" in upgraded.meshes
        service = upgraded.create_virtual_service(
            client_token=None,
            mesh_name="old",
            mesh_owner=None,
            spec={},
            tags=None,
            virtual_service_name=SERVICE,
        )
        assert service.metadata.arn.endswith(f":mesh/old/virtualService/{SERVICE}")
        assert isinstance(appmesh_backends[account]["eu-central-1"], ExtendedAppMeshBackend)


@pytest.mark.slow
def test_emulator_command_line_serves_virtual_services(aws_env: None) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.emulator", "--port", "0"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        endpoint = process.stdout.readline().strip()
        assert endpoint.startswith("http://127.0.0.1:")
        client = boto3.client("appmesh", region_name=REGION, endpoint_url=endpoint)
        client.create_mesh(meshName=MESH)
        client.create_virtual_service(meshName=MESH, virtualServiceName=SERVICE, spec={})
        names = [
            ref["virtualServiceName"]
            for ref in client.list_virtual_services(meshName=MESH)["virtualServices"]
        ]
        assert names == [SERVICE]
    finally:
        process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if process.poll() is None:
            process.kill()
        process.wait()
    assert process.returncode == 0


# --------------------------------------------------------------------------- model limits


def _health_check(**changes: int) -> VirtualNodeSpecUnionTypeDef:
    check: Any = {
        "protocol": "http",
        "path": "/health",
        "intervalMillis": 5000,
        "timeoutMillis": 2000,
        "healthyThreshold": 2,
        "unhealthyThreshold": 2,
        **changes,
    }
    return {
        "listeners": [{"portMapping": {"port": 3000, "protocol": "http"}, "healthCheck": check}]
    }


@pytest.mark.parametrize(
    ("limit", "accepted", "refused"),
    [
        ("node name (255)", "n" * 255, "n" * 256),
        ("tag key (128)", "k" * 128, "k" * 129),
        ("tag value (256)", "v" * 256, "v" * 257),
        ("health check interval (5000-300000 ms)", 300000, 300001),
        ("health check timeout (2000-60000 ms)", 60000, 60001),
        ("healthy threshold (2-10)", 10, 11),
    ],
)
def test_values_beyond_the_models_limits_are_refused(
    appmesh: AppMeshClient, mesh: str, limit: str, accepted: Any, refused: Any
) -> None:
    # The emulator refuses what App Mesh refuses (the limits of botocore's model), so a test
    # cannot pass on a request AWS would reject; the value at the limit is accepted.
    def create(value: Any, name: str) -> object:
        if limit.startswith("node name"):
            return appmesh.create_virtual_node(meshName=mesh, virtualNodeName=value, spec={})
        if limit.startswith("tag"):
            tag = {"key": value, "value": "v"} if "key" in limit else {"key": "k", "value": value}
            return appmesh.create_virtual_node(
                meshName=mesh,
                virtualNodeName=name,
                spec={},
                tags=[tag],  # type: ignore[list-item]
            )
        key = {"health check interval": "intervalMillis", "health check timeout": "timeoutMillis"}
        field = key.get(limit.split(" (")[0], "healthyThreshold")
        return appmesh.create_virtual_node(
            meshName=mesh, virtualNodeName=name, spec=_health_check(**{field: value})
        )

    create(accepted, "at-the-limit")
    error = _error(lambda: create(refused, "beyond-the-limit"))
    _assert_error(error, "BadRequestException", 400)
    assert "failed to satisfy constraint" in error.response["Error"]["Message"]
