"""The migration off App Mesh (DESIGN §8, docs/migration.md), proven end to end.

Each stack is played by :class:`tests.support.stack.Stack`: the ``Custom::MeshedCrystal``
resources through the real Lambda handler and CloudFormation's protocol, the
``AWS::ECS::Service`` and ``AWS::IAM::RolePolicy`` resources through the emulator's APIs,
``!GetAtt`` resolved from the custom resources' response ``Data``. Every assertion about the
services reads the emulator, as an operator would.

"Can the frontend still reach crystal?" is :func:`route`, read from the emulator by
:func:`tests.support.reachability.route`: through the mesh (the client's node lists the virtual
service, whose provider node discovers, through its Cloud Map service and attribute filter, the
tasks the backend's ECS service runs), through Service Connect (an endpoint with that client
alias existed when the client's deployment started: ECS's "only new tasks ... that start running
after this deployment can resolve and connect to this endpoint"), or through plain DNS (the Cloud
Map service of that name has A records and an ECS service registers its tasks there).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.integration import aws_state
from tests.integration.lifecycle import GRACE_S, workshop
from tests.support import moto_cloudformation, moto_service_connect, reachability
from tests.support.cfn_driver import CloudFormation, ResponseEndpoint
from tests.support.platform import Platform, app_task_definition_input
from tests.support.stack import (
    CUSTOM,
    ECS_SERVICE,
    ROLE_POLICY,
    GetAtt,
    Stack,
    StackOperation,
    attribute_error,
)

PORT = 3000
MESH = "ecs-mesh"


@dataclass(frozen=True)
class App:
    """One of the workshop's services: its names and what the platform holds for it."""

    name: str  # crystal, nodejs, frontend
    logical: str  # Crystal, Nodejs, Frontend
    cloud_map_arn: str
    task_definition_arn: str

    @property
    def service(self) -> str:
        return f"ecsdemo-{self.name}"

    @property
    def dns_name(self) -> str:
        return f"ecsdemo-{self.name}.service.local"


@dataclass
class World:
    platform: Platform
    namespace_arn: str
    role_name: str
    crystal: App
    nodejs: App
    frontend: App
    stacks: dict[str, Stack]

    @property
    def cluster(self) -> str:
        return self.platform.cluster_arn


def _add_app(platform: Platform, name: str, logical: str) -> App:
    """What the platform and the app's own stack hold for a workshop service other than crystal:
    its Cloud Map service (DNS A records) and its own task definition."""
    sd = boto3.client("servicediscovery")
    created = sd.create_service(
        Name=f"ecsdemo-{name}",
        NamespaceId=platform.namespace_id,
        DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 60}]},
        HealthCheckCustomConfig={"FailureThreshold": 1},
    )["Service"]
    definition = app_task_definition_input(
        platform.region, platform.task_role_arn, platform.execution_role_arn
    )
    definition["family"] = f"ecsdemo-{name}"
    definition["containerDefinitions"][0]["name"] = name
    definition["containerDefinitions"][0]["image"] = f"public.ecr.aws/aws-containers/ecsdemo-{name}"
    registered = boto3.client("ecs").register_task_definition(**definition)
    return App(
        name, logical, str(created["Arn"]), str(registered["taskDefinition"]["taskDefinitionArn"])
    )


@pytest.fixture
def world(cfn: CloudFormation, platform: Platform, endpoint: ResponseEndpoint) -> Iterator[World]:
    """The workshop's three stacks (crystal's is the ``cfn`` fixture's), none deployed yet."""
    cfn.grace_s = GRACE_S
    crystal = App(
        "crystal", "Crystal", platform.cloud_map_service_arn, platform.app_task_definition_arn
    )
    namespace = boto3.client("servicediscovery").get_namespace(Id=platform.namespace_id)
    with ExitStack() as stack:
        drivers = {"crystal": cfn}
        for name in ("nodejs", "frontend"):
            driver = CloudFormation(
                cfn.handler, endpoint, stack_name=f"{name}-stack", grace_s=GRACE_S
            )
            drivers[name] = stack.enter_context(moto_cloudformation.serving(driver))
        yield World(
            platform=platform,
            namespace_arn=str(namespace["Namespace"]["Arn"]),
            role_name=platform.task_role_arn.rsplit("/", 1)[-1],
            crystal=crystal,
            nodejs=_add_app(platform, "nodejs", "Nodejs"),
            frontend=_add_app(platform, "frontend", "Frontend"),
            stacks={k: Stack(d, cluster=platform.cluster_arn) for k, d in drivers.items()},
        )


# --------------------------------------------------------------------------- templates


def _meshed(world: World, app: App, **extra: Any) -> dict[str, Any]:
    """The custom resource's properties in the App Mesh era (examples/crystal.yaml)."""
    return workshop(
        world.platform,
        CloudMapServiceArn=app.cloud_map_arn,
        TaskDefinition=app.task_definition_arn,
        CloudMapAttributes={"ECS_TASK_DEFINITION_FAMILY": f"{app.service}-mesh"},
        **extra,
    )


def _envoy_policy(world: World, app: App) -> dict[str, Any]:
    return {
        "Type": ROLE_POLICY,
        "Properties": {
            "RoleName": world.role_name,
            "PolicyName": f"{app.name}-envoy-appmesh",
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "appmesh:StreamAggregatedResources",
                        "Resource": GetAtt(app.logical, "VirtualNodeArn"),
                    }
                ],
            },
        },
    }


def _service_connect(logical: str) -> dict[str, Any]:
    """examples/crystal-service-connect.yaml's ServiceConnectConfiguration, from the attributes."""
    return {
        "Enabled": True,
        "Namespace": GetAtt(logical, "NamespaceArn"),
        "Services": [
            {
                "PortName": GetAtt(logical, "PortName"),
                "DiscoveryName": GetAtt(logical, "DiscoveryName"),
                "ClientAliases": [
                    {
                        "DnsName": GetAtt(logical, "ClientAliasDnsName"),
                        "Port": GetAtt(logical, "ClientAliasPort"),
                    }
                ],
            }
        ],
    }


def backend_app_mesh(world: World, app: App) -> dict[str, dict[str, Any]]:
    """examples/crystal.yaml: the resource, the Envoy policy, the ECS service."""
    return {
        app.logical: {"Type": CUSTOM, "Properties": _meshed(world, app)},
        f"{app.logical}EnvoyPolicy": _envoy_policy(world, app),
        f"{app.logical}Service": {
            "Type": ECS_SERVICE,
            "DependsOn": f"{app.logical}EnvoyPolicy",
            "Properties": {
                "ServiceName": app.service,
                "Cluster": world.cluster,
                "TaskDefinition": GetAtt(app.logical, "TaskDefinitionArn"),
                "DesiredCount": 1,
                "ServiceRegistries": [{"RegistryArn": app.cloud_map_arn}],
            },
        },
    }


def backend_service_connect(world: World, app: App) -> dict[str, dict[str, Any]]:
    """examples/crystal-service-connect.yaml: one changed line in the resource, the Envoy policy
    removed, the same ECS service with a ServiceConnectConfiguration, ServiceRegistries kept."""
    template = backend_app_mesh(world, app)
    template[app.logical]["Properties"]["Mode"] = "ServiceConnect"
    del template[f"{app.logical}EnvoyPolicy"]
    service = template[f"{app.logical}Service"]
    del service["DependsOn"]
    service["Properties"]["ServiceConnectConfiguration"] = _service_connect(app.logical)
    return template


def frontend_app_mesh(world: World, backends: list[App]) -> dict[str, dict[str, Any]]:
    """The App Mesh era's frontend: a meshed client whose node lists its backends."""
    app = world.frontend
    props = _meshed(world, app, Backends=[b.dns_name for b in backends])
    return {
        app.logical: {"Type": CUSTOM, "Properties": props},
        f"{app.logical}EnvoyPolicy": _envoy_policy(world, app),
        f"{app.logical}Service": {
            "Type": ECS_SERVICE,
            "DependsOn": f"{app.logical}EnvoyPolicy",
            "Properties": {
                "ServiceName": app.service,
                "Cluster": world.cluster,
                "TaskDefinition": GetAtt(app.logical, "TaskDefinitionArn"),
                "DesiredCount": 1,
                "ServiceRegistries": [{"RegistryArn": app.cloud_map_arn}],
            },
        },
    }


def frontend_service_connect(world: World, nonce: str = "1") -> dict[str, dict[str, Any]]:
    """examples/frontend-service-connect.yaml: a client-only Service Connect service running its
    own task definition (no custom resource), redeployed by a new nonce."""
    app = world.frontend
    return {
        f"{app.logical}Service": {
            "Type": ECS_SERVICE,
            "Properties": {
                "ServiceName": app.service,
                "Cluster": world.cluster,
                "TaskDefinition": app.task_definition_arn,
                "DesiredCount": 1,
                "ForceNewDeployment": {
                    "EnableForceNewDeployment": True,
                    "ForceNewDeploymentNonce": nonce,
                },
                "ServiceConnectConfiguration": {"Enabled": True, "Namespace": world.namespace_arn},
            },
        }
    }


# --------------------------------------------------------------------------- reading the emulator


def ecs_service(world: World, name: str) -> dict[str, Any]:
    return reachability.ecs_service(world.cluster, name)


def _family(task_definition_arn: str) -> str:
    return reachability.family(task_definition_arn)


def route(world: World, client: App, backend: App) -> str | None:
    """How the tasks of ``client``'s current deployment reach ``backend`` by the name they call
    (``<backend>.service.local:3000``): "app-mesh", "app-mesh-passthrough", "service-connect",
    "dns", or None (tests/support/reachability.py)."""
    return reachability.route(
        world.cluster, client.service, backend.dns_name, backend.cloud_map_arn
    )


def completed(operation: StackOperation) -> StackOperation:
    """The operation succeeded and every cleanup Delete too."""
    assert operation.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), operation.reason
    assert operation.failed_cleanup == [], operation.failed_cleanup
    return operation


def cleanup_of(operation: StackOperation) -> list[tuple[str, str]]:
    return [(e.logical_id, e.status) for e in operation.cleanup]


def app_mesh_state() -> dict[str, Any]:
    """Everything App Mesh holds in the mesh, as described."""
    return {
        "nodes": {n: aws_state.node(n) for n in aws_state.node_names()},
        "services": {s: aws_state.service(s) for s in aws_state.service_names()},
    }


def crystal_service_connect(world: World) -> dict[str, Any]:
    deployment = ecs_service(world, world.crystal.service)["deployments"][0]
    return dict(deployment.get("serviceConnectConfiguration") or {})


# --------------------------------------------------------------------------- the crystal stack


def test_crystal_switches_in_place_and_the_cleanup_removes_app_mesh(world: World) -> None:
    crystal, stack = world.crystal, world.stacks["crystal"]
    # Given the workshop's crystal stack in App Mesh mode
    completed(stack.deploy(backend_app_mesh(world, crystal)))
    meshed_id = stack.physical_id("Crystal")
    mesh_revision = stack.attributes("Crystal")["TaskDefinitionArn"]
    service = ecs_service(world, crystal.service)
    assert service["deployments"][0]["taskDefinition"] == mesh_revision
    assert service["serviceRegistries"] == [{"registryArn": crystal.cloud_map_arn}]
    assert aws_state.service_names() == [crystal.dns_name]

    # When the stack update changes Mode and adds the ServiceConnectConfiguration
    operation = completed(stack.deploy(backend_service_connect(world, crystal)))

    # Then Crystal was replaced, the ECS service updated in place, and the cleanup deleted the
    # Envoy policy, then the old (App Mesh) id, both successfully
    sc_id = stack.physical_id("Crystal")
    assert sc_id != meshed_id
    assert [(e.logical_id, e.physical_id, e.status) for e in operation.events] == [
        ("Crystal", sc_id, "UPDATE_COMPLETE"),
        ("CrystalService", service["serviceArn"], "UPDATE_COMPLETE"),
        ("CrystalEnvoyPolicy", "crystal-stack-CrystalEnvoyPolicy", "DELETE_COMPLETE"),
        ("Crystal", meshed_id, "DELETE_COMPLETE"),
    ]
    data = stack.attributes("Crystal")
    # The ECS service runs the -sc revision with the client alias clients called through App Mesh
    switched = ecs_service(world, crystal.service)
    assert switched["serviceArn"] == service["serviceArn"]
    deployment = switched["deployments"][0]
    assert deployment["taskDefinition"] == data["TaskDefinitionArn"]
    assert _family(data["TaskDefinitionArn"]) == "ecsdemo-crystal-sc"
    config = deployment["serviceConnectConfiguration"]
    assert config["enabled"] is True
    assert config["namespace"] == world.namespace_arn
    assert config["services"] == [
        {
            "portName": "crystal-3000",
            "discoveryName": "ecsdemo-crystal-sc",
            "clientAliases": [{"dnsName": "ecsdemo-crystal.service.local", "port": 3000}],
        }
    ]
    assert switched["serviceRegistries"] == [{"registryArn": crystal.cloud_map_arn}]
    # The virtual service, the node, the -mesh revisions and the Envoy policy are gone
    assert aws_state.service_names() == []
    assert aws_state.node_names() == []
    assert aws_state.active_revisions("ecsdemo-crystal-mesh") == []
    assert boto3.client("iam").list_role_policies(RoleName=world.role_name)["PolicyNames"] == []
    # The App Mesh era's Cloud Map service still exists (DNS clients)
    sd = boto3.client("servicediscovery")
    kept = sd.get_service(Id=crystal.cloud_map_arn.rsplit("/", 1)[-1])["Service"]
    assert kept["Name"] == "ecsdemo-crystal"
    assert kept["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 10}]


def test_a_switch_that_fails_rolls_back_and_leaves_app_mesh_and_ecs_as_they_were(
    world: World,
) -> None:
    crystal, stack = world.crystal, world.stacks["crystal"]
    completed(stack.deploy(backend_app_mesh(world, crystal)))
    meshed_id = stack.physical_id("Crystal")
    mesh_before, service_before = app_mesh_state(), ecs_service(world, crystal.service)
    revisions_before = aws_state.active_revisions("ecsdemo-crystal-mesh")
    policy_before = boto3.client("iam").get_role_policy(
        RoleName=world.role_name, PolicyName="crystal-envoy-appmesh"
    )["PolicyDocument"]

    # When the switch keeps the Envoy policy (and the ECS service's DependsOn on it), which
    # reads the node's ARN: the new id's response has no VirtualNodeArn
    template = backend_service_connect(world, crystal)
    template["CrystalEnvoyPolicy"] = _envoy_policy(world, crystal)
    template["CrystalService"]["DependsOn"] = "CrystalEnvoyPolicy"
    operation = stack.deploy(template)

    # Then the update fails with CloudFormation's error naming the attribute, and rolls back
    assert operation.status == "UPDATE_ROLLBACK_COMPLETE"
    update = stack.cfn.responses[-2]  # the Update that replaced Crystal (then the Delete)
    new_id = str(update["PhysicalResourceId"])
    assert operation.reason == attribute_error(
        stack.cfn.stack_id, "Crystal", update["RequestId"], "VirtualNodeArn"
    )
    assert "doesn't contain VirtualNodeArn key" in operation.reason
    assert [(e.logical_id, e.physical_id, e.status) for e in operation.events] == [
        ("Crystal", new_id, "UPDATE_COMPLETE"),
        ("CrystalEnvoyPolicy", "crystal-stack-CrystalEnvoyPolicy", "UPDATE_FAILED"),
        ("Crystal", new_id, "DELETE_COMPLETE"),
    ]
    # The stack holds the App Mesh id again; the new id's -sc revision is gone
    assert stack.physical_id("Crystal") == meshed_id == stack.cfn.physical_id("Crystal")
    assert aws_state.active_revisions("ecsdemo-crystal-sc") == []
    # App Mesh, the revisions, the policy and the ECS service exactly as before
    assert app_mesh_state() == mesh_before
    assert aws_state.active_revisions("ecsdemo-crystal-mesh") == revisions_before
    assert (
        boto3.client("iam").get_role_policy(
            RoleName=world.role_name, PolicyName="crystal-envoy-appmesh"
        )["PolicyDocument"]
        == policy_before
    )
    assert ecs_service(world, crystal.service) == service_before
    # And the corrected update then succeeds
    completed(stack.deploy(backend_service_connect(world, crystal)))
    assert aws_state.service_names() == []


def test_switching_back_to_app_mesh_while_app_mesh_answers(world: World) -> None:
    crystal, stack = world.crystal, world.stacks["crystal"]
    completed(stack.deploy(backend_app_mesh(world, crystal)))
    completed(stack.deploy(backend_service_connect(world, crystal)))
    sc_id = stack.physical_id("Crystal")

    # When the App Mesh template is deployed again
    operation = completed(stack.deploy(backend_app_mesh(world, crystal)))

    # Then a new App Mesh id; the policy is created again before the ECS service moves; the
    # cleanup deletes the Service Connect id
    assert cleanup_of(operation) == [("Crystal", "DELETE_COMPLETE")]
    assert operation.cleanup[0].physical_id == sc_id
    assert [e.logical_id for e in operation.events][:3] == [
        "Crystal",
        "CrystalEnvoyPolicy",
        "CrystalService",
    ]
    data = stack.attributes("Crystal")
    deployment = ecs_service(world, crystal.service)["deployments"][0]
    assert deployment["taskDefinition"] == data["TaskDefinitionArn"]
    assert _family(data["TaskDefinitionArn"]) == "ecsdemo-crystal-mesh"
    assert deployment["serviceConnectConfiguration"] == {"enabled": False}
    assert aws_state.service_names() == [crystal.dns_name]
    assert aws_state.node_names() == ["ecsdemo-crystal"]
    assert aws_state.active_revisions("ecsdemo-crystal-sc") == []


# --------------------------------------------------------------------------- the whole workshop


def _deploy_app_mesh_workshop(world: World, backends: list[App]) -> None:
    for backend in backends:
        completed(world.stacks[backend.name].deploy(backend_app_mesh(world, backend)))
    completed(world.stacks["frontend"].deploy(frontend_app_mesh(world, backends)))
    for backend in backends:
        assert route(world, world.frontend, backend) == "app-mesh"


def test_the_runbook_order_keeps_every_backend_reachable_and_every_cleanup_succeeds(
    world: World,
) -> None:
    crystal, nodejs, frontend = world.crystal, world.nodejs, world.frontend
    backends = [crystal, nodejs]
    _deploy_app_mesh_workshop(world, backends)
    assert aws_state.node_names() == ["ecsdemo-crystal", "ecsdemo-frontend", "ecsdemo-nodejs"]

    # Step 1: the frontend becomes a client-only Service Connect service
    step1 = completed(world.stacks["frontend"].deploy(frontend_service_connect(world)))
    assert cleanup_of(step1) == [
        ("FrontendEnvoyPolicy", "DELETE_COMPLETE"),
        ("Frontend", "DELETE_COMPLETE"),
    ]
    assert aws_state.node_names() == ["ecsdemo-crystal", "ecsdemo-nodejs"]
    front = ecs_service(world, frontend.service)
    assert front["deployments"][0]["taskDefinition"] == frontend.task_definition_arn
    assert front["serviceRegistries"] == []
    # New frontend tasks reach the still-meshed backends by DNS
    assert route(world, frontend, crystal) == "dns"
    assert route(world, frontend, nodejs) == "dns"

    # Steps 2 and 3: each backend switches in place; its cleanup deletes its App Mesh resources
    for backend in backends:
        stack = world.stacks[backend.name]
        meshed_id = stack.physical_id(backend.logical)
        operation = completed(stack.deploy(backend_service_connect(world, backend)))
        assert [(e.logical_id, e.physical_id) for e in operation.cleanup][-1] == (
            backend.logical,
            meshed_id,
        )
        assert aws_state.service(backend.dns_name) is None
        assert aws_state.node(backend.service) is None
        # The frontend's tasks started before this endpoint existed: they still use DNS, which
        # lists the new tasks (ServiceRegistries kept)
        for each in backends:
            assert route(world, frontend, each) == "dns"

    # Step 4: the frontend is redeployed; its new tasks reach both through Service Connect
    completed(world.stacks["frontend"].deploy(frontend_service_connect(world, nonce="2")))
    assert route(world, frontend, crystal) == "service-connect"
    assert route(world, frontend, nodejs) == "service-connect"
    # Nothing is left in the mesh, and no cleanup Delete of any stack failed
    assert app_mesh_state() == {"nodes": {}, "services": {}}
    for stack in world.stacks.values():
        assert all(op.failed_cleanup == [] for op in stack.operations)


def test_backend_first_is_the_trap(world: World) -> None:
    crystal, frontend = world.crystal, world.frontend
    _deploy_app_mesh_workshop(world, [crystal])
    stack = world.stacks["crystal"]
    meshed_id = stack.physical_id("Crystal")

    # When crystal switches while the frontend is still meshed
    operation = stack.deploy(backend_service_connect(world, crystal))

    # Then the stack update succeeds but the cleanup Delete of the old id fails, naming the
    # frontend's node that still lists crystal's virtual service as a backend
    assert operation.status == "UPDATE_COMPLETE"
    [failed] = operation.failed_cleanup
    assert (failed.logical_id, failed.physical_id) == ("Crystal", meshed_id)
    assert failed.reason.startswith("Received response status [FAILED] from custom resource.")
    assert "virtual service ecsdemo-crystal.service.local of mesh ecs-mesh is still in use" in (
        failed.reason
    )
    assert "VIRTUAL_NODE: [ecsdemo-frontend]" in failed.reason
    assert aws_state.service(crystal.dns_name) is not None
    # And the meshed frontend lost crystal: the node's family filter hides the -sc tasks
    assert route(world, frontend, crystal) is None

    # When the frontend moves (step 1), it reaches crystal again (its new tasks start after
    # crystal's endpoint exists: through Service Connect)
    completed(world.stacks["frontend"].deploy(frontend_service_connect(world)))
    assert route(world, frontend, crystal) == "service-connect"
    # And the same Delete of crystal's old id, sent again, now succeeds (CloudFormation does
    # not retry a failed cleanup by itself: this is docs/migration.md's "delete the leftovers")
    body = stack.cfn.delete("Crystal", physical_id=meshed_id, properties=_meshed(world, crystal))
    assert body["Status"] == "SUCCESS", body.get("Reason")
    assert app_mesh_state() == {"nodes": {}, "services": {}}
    assert aws_state.active_revisions("ecsdemo-crystal-mesh") == []


# --------------------------------------------------------------------------- the strict reading


def backend_blue_green(world: World, app: App, *, keep_old: bool) -> dict[str, dict[str, Any]]:
    """docs/migration.md's fallback: a second resource (Service Connect) and a second ECS
    service without ServiceRegistries next to the App Mesh ones, which are removed later."""
    template = backend_app_mesh(world, app) if keep_old else {}
    sc_logical = f"{app.logical}SC"
    props = _meshed(world, app, Mode="ServiceConnect")
    template[sc_logical] = {"Type": CUSTOM, "Properties": props}
    template[f"{sc_logical}Service"] = {
        "Type": ECS_SERVICE,
        "Properties": {
            "ServiceName": f"{app.service}-sc",
            "Cluster": world.cluster,
            "TaskDefinition": GetAtt(sc_logical, "TaskDefinitionArn"),
            "DesiredCount": 1,
            "ServiceConnectConfiguration": _service_connect(sc_logical),
        },
    }
    return template


def test_strict_reading_refuses_the_in_place_switch_and_blue_green_is_the_way(
    world: World,
) -> None:
    crystal, frontend = world.crystal, world.frontend
    _deploy_app_mesh_workshop(world, [crystal])
    completed(world.stacks["frontend"].deploy(frontend_service_connect(world)))
    stack = world.stacks["crystal"]
    meshed_id = stack.physical_id("Crystal")
    mesh_before, service_before = app_mesh_state(), ecs_service(world, crystal.service)

    with moto_service_connect.strict_coexistence():
        # The runbook's in-place switch (ServiceRegistries kept) is refused by ECS: the update
        # fails at the ECS service and rolls back; nothing is lost
        refused = stack.deploy(backend_service_connect(world, crystal))
        assert refused.status == "UPDATE_ROLLBACK_COMPLETE"
        assert refused.reason.startswith('Resource handler returned message: "A service')
        assert "serviceRegistries" in refused.reason
        assert [(e.logical_id, e.status) for e in refused.events] == [
            ("Crystal", "UPDATE_COMPLETE"),
            ("CrystalService", "UPDATE_FAILED"),
            ("Crystal", "DELETE_COMPLETE"),
        ]
        assert stack.physical_id("Crystal") == meshed_id
        assert app_mesh_state() == mesh_before
        assert ecs_service(world, crystal.service) == service_before
        assert aws_state.active_revisions("ecsdemo-crystal-sc") == []
        assert route(world, frontend, crystal) == "dns"

        # Blue/green, update 1: a second resource and ECS service next to the old ones
        completed(stack.deploy(backend_blue_green(world, crystal, keep_old=True)))
        green = ecs_service(world, "ecsdemo-crystal-sc")
        assert green["serviceRegistries"] == []
        assert green["deployments"][0]["serviceConnectConfiguration"]["services"][0][
            "clientAliases"
        ] == [{"dnsName": crystal.dns_name, "port": PORT}]
        # The frontend's running tasks still use DNS (the old service); redeployed, the alias
        assert route(world, frontend, crystal) == "dns"
        completed(world.stacks["frontend"].deploy(frontend_service_connect(world, nonce="2")))
        assert route(world, frontend, crystal) == "service-connect"

        # Update 2: the App Mesh resource, its policy and its ECS service are removed
        operation = completed(stack.deploy(backend_blue_green(world, crystal, keep_old=False)))
        assert cleanup_of(operation) == [
            ("CrystalService", "DELETE_COMPLETE"),
            ("CrystalEnvoyPolicy", "DELETE_COMPLETE"),
            ("Crystal", "DELETE_COMPLETE"),
        ]
        assert route(world, frontend, crystal) == "service-connect"
        assert app_mesh_state() == {"nodes": {}, "services": {}}
        assert aws_state.active_revisions("ecsdemo-crystal-mesh") == []


def test_strict_reading_one_call_switch_strands_dns_clients_until_they_redeploy(
    world: World,
) -> None:
    """Why the runbook's fallback is blue/green, not the one-call "drop ServiceRegistries and add
    ServiceConnectConfiguration" update: ECS accepts it, but the Cloud Map DNS name loses every
    task, and clients that started before the endpoint existed have no other way."""
    crystal, frontend = world.crystal, world.frontend
    _deploy_app_mesh_workshop(world, [crystal])
    completed(world.stacks["frontend"].deploy(frontend_service_connect(world)))
    template = backend_service_connect(world, crystal)
    del template["CrystalService"]["Properties"]["ServiceRegistries"]
    with moto_service_connect.strict_coexistence():
        completed(world.stacks["crystal"].deploy(template))
    assert ecs_service(world, crystal.service)["serviceRegistries"] == []
    assert route(world, frontend, crystal) is None
    completed(world.stacks["frontend"].deploy(frontend_service_connect(world, nonce="2")))
    assert route(world, frontend, crystal) == "service-connect"
