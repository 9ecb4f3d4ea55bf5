"""ECS Service Connect in the emulator (tests/support/moto_service_connect.py) behaves like ECS.

Each test runs through boto3, once against in-process ``mock_aws`` and once against the
emulator in server mode. Every rule is shown both ways: accepted, and refused with ECS's error
code (messages are the emulator's approximations; the tests pin only the names they carry).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.support import moto_appmesh, moto_service_connect
from tests.support.emulator import Emulator, start_server
from tests.support.moto_service_connect import MANAGED_TAG_KEY, MANAGED_TAG_VALUE

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_servicediscovery import ServiceDiscoveryClient

REGION = "us-east-1"
CLUSTER = "container-demo"
NAMESPACE = "service.local"
LEGACY_SERVICE = "ecsdemo-crystal"  # the App Mesh era's Cloud Map service (serviceRegistries)
FAMILY = "ecsdemo-crystal"
PORT_NAME = "crystal-3000"
DISCOVERY = "ecsdemo-crystal-sc"
ALIAS = {"dnsName": "ecsdemo-crystal.service.local", "port": 3000}


@dataclass(frozen=True)
class World:
    """Clients and the platform's pieces: cluster, namespace, the legacy Cloud Map service."""

    ecs: ECSClient
    sd: ServiceDiscoveryClient
    namespace_id: str
    namespace_arn: str
    legacy_arn: str
    task_definition: str

    def sc_config(self, **service: Any) -> Any:
        """A ``serviceConnectConfiguration`` for the crystal port; ``service`` overrides it."""
        entry: dict[str, Any] = {"portName": PORT_NAME, "discoveryName": DISCOVERY}
        entry["clientAliases"] = [ALIAS]
        entry.update(service)
        return {"enabled": True, "namespace": self.namespace_arn, "services": [entry]}

    def create(self, name: str = "crystal", **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("taskDefinition", self.task_definition)
        kwargs.setdefault("desiredCount", 1)
        return dict(self.ecs.create_service(cluster=CLUSTER, serviceName=name, **kwargs)["service"])

    def describe(self, name: str = "crystal") -> dict[str, Any]:
        return dict(self.ecs.describe_services(cluster=CLUSTER, services=[name])["services"][0])

    def cloud_map_named(self, name: str) -> list[dict[str, Any]]:
        found = []
        for summary in self.sd.list_services()["Services"]:
            detail = self.sd.get_service(Id=summary["Id"])["Service"]
            if detail["Name"] == name and detail.get("NamespaceId") == self.namespace_id:
                found.append(dict(detail))
        return found


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


def _reset(server: Emulator) -> None:
    request = urllib.request.Request(f"{server.endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _build(session: boto3.Session, endpoint_url: str | None) -> World:
    ecs = session.client("ecs", endpoint_url=endpoint_url)
    sd = session.client("servicediscovery", endpoint_url=endpoint_url)
    vpc = session.client("ec2", endpoint_url=endpoint_url).create_vpc(CidrBlock="10.0.0.0/16")
    sd.create_private_dns_namespace(Name=NAMESPACE, Vpc=vpc["Vpc"]["VpcId"])
    namespace = next(n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == NAMESPACE)
    legacy = sd.create_service(
        Name=LEGACY_SERVICE,
        NamespaceId=namespace["Id"],
        DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}]},
    )["Service"]
    ecs.create_cluster(clusterName=CLUSTER)
    registered = ecs.register_task_definition(
        family=FAMILY,
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "crystal",
                "image": "public.ecr.aws/aws-containers/ecsdemo-crystal:latest",
                "portMappings": [{"containerPort": 3000, "name": PORT_NAME, "appProtocol": "http"}],
            }
        ],
    )
    return World(
        ecs=ecs,
        sd=sd,
        namespace_id=str(namespace["Id"]),
        namespace_arn=str(namespace["Arn"]),
        legacy_arn=str(legacy["Arn"]),
        task_definition=str(registered["taskDefinition"]["taskDefinitionArn"]),
    )


@pytest.fixture(params=["in_process", "server"])
def world(request: pytest.FixtureRequest, aws_env: None) -> Iterator[World]:
    session = boto3.Session(region_name=REGION)
    if request.param == "in_process":
        moto_appmesh.install()
        moto_service_connect.install()
        with mock_aws():
            yield _build(session, None)
        return
    server: Emulator = request.getfixturevalue("emulator")
    _reset(server)
    yield _build(session, server.endpoint_url)
    _reset(server)


@pytest.fixture
def in_process(aws_env: None) -> Iterator[World]:
    moto_appmesh.install()
    moto_service_connect.install()
    with mock_aws():
        yield _build(boto3.Session(region_name=REGION), None)


def _error(call: Callable[[], object]) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def _refused(call: Callable[[], object], code: str, *words: str) -> None:
    error = _error(call)
    assert error.response["Error"]["Code"] == code, error.response
    message = error.response["Error"]["Message"]
    for word in words:
        assert word in message, message


def _deployment(world: World, name: str = "crystal") -> dict[str, Any]:
    return dict(world.describe(name)["deployments"][0])


# --------------------------------------------------------------------------- create


def test_create_makes_the_cloud_map_service_and_describe_returns_the_configuration(
    world: World,
) -> None:
    world.create(serviceConnectConfiguration=world.sc_config())

    [created] = world.cloud_map_named(DISCOVERY)
    assert created["Type"] == "HTTP"  # API-only, like ECS's: no DNS records
    assert not created.get("DnsConfig")
    tags = world.sd.list_tags_for_resource(ResourceARN=created["Arn"])["Tags"]
    assert {"Key": MANAGED_TAG_KEY, "Value": MANAGED_TAG_VALUE} in tags

    deployment = _deployment(world)
    assert deployment["serviceConnectConfiguration"] == {
        "enabled": True,
        "namespace": world.namespace_arn,
        "services": [{"portName": PORT_NAME, "discoveryName": DISCOVERY, "clientAliases": [ALIAS]}],
    }
    assert deployment["serviceConnectResources"] == [
        {"discoveryName": DISCOVERY, "discoveryArn": created["Arn"]}
    ]
    # The legacy service is untouched and still not Service Connect's.
    legacy_tags = world.sd.list_tags_for_resource(ResourceARN=world.legacy_arn)["Tags"]
    assert {"Key": MANAGED_TAG_KEY, "Value": MANAGED_TAG_VALUE} not in legacy_tags


def test_a_service_without_service_connect_has_no_configuration(world: World) -> None:
    world.create()
    assert "serviceConnectConfiguration" not in _deployment(world)


def test_namespace_by_name_is_resolved_to_its_arn(world: World) -> None:
    config = world.sc_config()
    config["namespace"] = NAMESPACE
    world.create(serviceConnectConfiguration=config)
    assert _deployment(world)["serviceConnectConfiguration"]["namespace"] == world.namespace_arn


@pytest.mark.parametrize(
    "namespace",
    ["no-such.local", "arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-missing00"],
)
def test_unknown_namespace_is_refused(world: World, namespace: str) -> None:
    config = world.sc_config()
    config["namespace"] = namespace
    _refused(lambda: world.create(serviceConnectConfiguration=config), "NamespaceNotFoundException")
    assert world.ecs.describe_services(cluster=CLUSTER, services=["crystal"])["failures"]


def test_namespace_defaults_to_the_clusters_and_is_required_without_one(world: World) -> None:
    config = world.sc_config()
    del config["namespace"]
    _refused(
        lambda: world.create(serviceConnectConfiguration=config),
        "InvalidParameterException",
        "namespace",
    )
    world.ecs.create_cluster(
        clusterName=CLUSTER, serviceConnectDefaults={"namespace": world.namespace_arn}
    )
    world.create(serviceConnectConfiguration=config)
    assert _deployment(world)["serviceConnectConfiguration"]["namespace"] == world.namespace_arn


def test_port_name_must_name_a_port_mapping_of_the_task_definition(world: World) -> None:
    _refused(
        lambda: world.create(serviceConnectConfiguration=world.sc_config(portName="crystal-80")),
        "InvalidParameterException",
        "crystal-80",
    )
    assert world.cloud_map_named(DISCOVERY) == []


def test_discovery_name_defaults_to_the_port_name(world: World) -> None:
    config = world.sc_config()
    del config["services"][0]["discoveryName"]
    world.create(serviceConnectConfiguration=config)
    [created] = world.cloud_map_named(PORT_NAME)
    assert _deployment(world)["serviceConnectResources"] == [
        {"discoveryName": PORT_NAME, "discoveryArn": created["Arn"]}
    ]


def test_discovery_name_of_a_cloud_map_service_service_connect_did_not_create_is_refused(
    world: World,
) -> None:
    _refused(
        lambda: world.create(
            serviceConnectConfiguration=world.sc_config(discoveryName=LEGACY_SERVICE)
        ),
        "InvalidParameterException",
        LEGACY_SERVICE,
        world.legacy_arn,
    )
    assert len(world.cloud_map_named(LEGACY_SERVICE)) == 1
    assert world.ecs.describe_services(cluster=CLUSTER, services=["crystal"])["failures"]


@pytest.mark.parametrize("name", ["-crystal", "Crystal", "a" * 65])
def test_discovery_name_must_be_a_valid_name(world: World, name: str) -> None:
    _refused(
        lambda: world.create(serviceConnectConfiguration=world.sc_config(discoveryName=name)),
        "InvalidParameterException",
        "discoveryName",
    )


def test_discovery_name_service_connect_created_is_reused_by_its_owner_not_by_another(
    world: World,
) -> None:
    world.create(serviceConnectConfiguration=world.sc_config())
    [first] = world.cloud_map_named(DISCOVERY)

    # The owner's own update keeps its name (and Cloud Map service).
    world.ecs.update_service(
        cluster=CLUSTER, service="crystal", serviceConnectConfiguration=world.sc_config()
    )
    assert world.cloud_map_named(DISCOVERY) == [first]

    # Another active ECS service cannot take it...
    _refused(
        lambda: world.create(
            "crystal-2",
            serviceConnectConfiguration=world.sc_config(
                clientAliases=[{"dnsName": "other.service.local", "port": 3000}]
            ),
        ),
        "InvalidParameterException",
        DISCOVERY,
    )
    # ...until the owner is gone.
    world.ecs.delete_service(cluster=CLUSTER, service="crystal", force=True)
    world.create("crystal-2", serviceConnectConfiguration=world.sc_config())
    assert world.cloud_map_named(DISCOVERY) == [first]


def test_client_aliases_at_most_one_with_a_valid_port_and_dns_name(world: World) -> None:
    two = [ALIAS, {"dnsName": "other.service.local", "port": 3001}]
    _refused(
        lambda: world.create(serviceConnectConfiguration=world.sc_config(clientAliases=two)),
        "InvalidParameterException",
        "clientAliases",
    )
    _refused(
        lambda: world.create(
            serviceConnectConfiguration=world.sc_config(clientAliases=[{"port": 0}])
        ),
        "InvalidParameterException",
        "port",
    )
    _refused(
        lambda: world.create(
            serviceConnectConfiguration=world.sc_config(
                clientAliases=[{"dnsName": "-bad.service.local", "port": 3000}]
            )
        ),
        "InvalidParameterException",
        "dnsName",
    )
    world.create(serviceConnectConfiguration=world.sc_config(clientAliases=[{"port": 3000}]))
    assert _deployment(world)["serviceConnectConfiguration"]["services"][0]["clientAliases"] == [
        {"port": 3000}
    ]


def test_client_alias_must_be_unique_in_the_namespace(world: World) -> None:
    world.create(serviceConnectConfiguration=world.sc_config())
    _refused(
        lambda: world.create(
            "crystal-2", serviceConnectConfiguration=world.sc_config(discoveryName="other")
        ),
        "InvalidParameterException",
        "ecsdemo-crystal.service.local:3000",
    )
    world.create(
        "crystal-2",
        serviceConnectConfiguration=world.sc_config(
            discoveryName="other", clientAliases=[{**ALIAS, "port": 3001}]
        ),
    )


def test_disabled_configuration_creates_nothing_in_cloud_map(world: World) -> None:
    world.create(serviceConnectConfiguration={"enabled": False})
    assert world.cloud_map_named(PORT_NAME) == []
    deployment = _deployment(world)
    assert deployment["serviceConnectConfiguration"] == {"enabled": False}
    assert "serviceConnectResources" not in deployment


def test_only_the_ecs_deployment_controller_takes_service_connect(world: World) -> None:
    _refused(
        lambda: world.create(
            serviceConnectConfiguration=world.sc_config(),
            deploymentController={"type": "CODE_DEPLOY"},
        ),
        "InvalidParameterException",
        "CODE_DEPLOY",
    )
    world.create(deploymentController={"type": "CODE_DEPLOY"})
    _refused(
        lambda: world.ecs.update_service(cluster=CLUSTER, service="crystal", serviceRegistries=[]),
        "InvalidParameterException",
        "CODE_DEPLOY",
    )


# --------------------------------------------------------------------------- update


def _meshed_service(world: World) -> None:
    """The App Mesh era's ECS service: registered in Cloud Map by serviceRegistries."""
    world.create(serviceRegistries=[{"registryArn": world.legacy_arn}])


def test_update_adds_service_connect_in_place_next_to_service_registries(world: World) -> None:
    _meshed_service(world)
    before = _deployment(world)["id"]

    world.ecs.update_service(
        cluster=CLUSTER, service="crystal", serviceConnectConfiguration=world.sc_config()
    )

    service = world.describe()
    assert service["serviceRegistries"] == [{"registryArn": world.legacy_arn}]
    deployment = service["deployments"][0]
    assert deployment["id"] != before  # "This parameter triggers a new service deployment."
    assert deployment["serviceConnectConfiguration"]["namespace"] == world.namespace_arn
    [created] = world.cloud_map_named(DISCOVERY)
    assert deployment["serviceConnectResources"] == [
        {"discoveryName": DISCOVERY, "discoveryArn": created["Arn"]}
    ]

    world.ecs.update_service(cluster=CLUSTER, service="crystal", serviceRegistries=[])
    service = world.describe()
    assert service.get("serviceRegistries", []) == []
    assert service["deployments"][0]["serviceConnectConfiguration"]["enabled"] is True


def test_update_switches_in_one_call(world: World) -> None:
    _meshed_service(world)
    world.ecs.update_service(
        cluster=CLUSTER,
        service="crystal",
        serviceRegistries=[],
        serviceConnectConfiguration=world.sc_config(),
    )
    service = world.describe()
    assert service.get("serviceRegistries", []) == []
    assert service["deployments"][0]["serviceConnectResources"][0]["discoveryName"] == DISCOVERY


def test_update_refuses_the_registries_cloud_map_name_as_discovery_name(world: World) -> None:
    _meshed_service(world)
    before = _deployment(world)["id"]
    _refused(
        lambda: world.ecs.update_service(
            cluster=CLUSTER,
            service="crystal",
            serviceRegistries=[],
            serviceConnectConfiguration=world.sc_config(discoveryName=LEGACY_SERVICE),
        ),
        "InvalidParameterException",
        LEGACY_SERVICE,
    )
    service = world.describe()  # nothing changed
    assert service["serviceRegistries"] == [{"registryArn": world.legacy_arn}]
    assert service["deployments"][0]["id"] == before
    assert "serviceConnectConfiguration" not in service["deployments"][0]


def test_update_checks_a_new_task_definition_against_the_stored_configuration(
    world: World,
) -> None:
    world.create(serviceConnectConfiguration=world.sc_config())
    unnamed = world.ecs.register_task_definition(
        family=FAMILY,
        containerDefinitions=[
            {
                "name": "crystal",
                "image": "crystal:latest",
                "memory": 256,
                "portMappings": [{"containerPort": 3000}],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    _refused(
        lambda: world.ecs.update_service(
            cluster=CLUSTER, service="crystal", taskDefinition=unnamed
        ),
        "InvalidParameterException",
        PORT_NAME,
    )
    world.ecs.update_service(
        cluster=CLUSTER, service="crystal", taskDefinition=world.task_definition
    )
    assert _deployment(world)["serviceConnectConfiguration"]["enabled"] is True


def test_update_can_turn_service_connect_off(world: World) -> None:
    world.create(serviceConnectConfiguration=world.sc_config())
    world.ecs.update_service(
        cluster=CLUSTER, service="crystal", serviceConnectConfiguration={"enabled": False}
    )
    deployment = _deployment(world)
    assert deployment["serviceConnectConfiguration"] == {"enabled": False}
    assert "serviceConnectResources" not in deployment


def test_strict_coexistence_refuses_registries_and_service_connect_together(
    in_process: World,
) -> None:
    world = in_process
    with moto_service_connect.strict_coexistence():
        _refused(
            lambda: world.create(
                serviceRegistries=[{"registryArn": world.legacy_arn}],
                serviceConnectConfiguration=world.sc_config(),
            ),
            "InvalidParameterException",
            "serviceRegistries",
        )
        _meshed_service(world)
        _refused(
            lambda: world.ecs.update_service(
                cluster=CLUSTER, service="crystal", serviceConnectConfiguration=world.sc_config()
            ),
            "InvalidParameterException",
            "serviceRegistries",
        )
        assert world.cloud_map_named(DISCOVERY) == []
        # Dropping the registries in the same call is the switch that stays possible.
        world.ecs.update_service(
            cluster=CLUSTER,
            service="crystal",
            serviceRegistries=[],
            serviceConnectConfiguration=world.sc_config(),
        )
    assert _deployment(world)["serviceConnectConfiguration"]["enabled"] is True
