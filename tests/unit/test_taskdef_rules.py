"""DESIGN §2: what ECS and App Mesh would refuse is refused before any write, with its source.

Each rule shows both sides: the workshop's base passes, one change makes it fail.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
from meshed_crystal import taskdef
from meshed_crystal.errors import PropertyError

from tests.unit.test_taskdef import BASE, ENVOY_IMAGE, derive


def base(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def refused(b: dict[str, Any], **props: Any) -> PropertyError:
    with pytest.raises(PropertyError) as caught:
        derive(b, **props)
    return caught.value


def test_the_workshop_base_passes() -> None:
    assert derive(base())["containerDefinitions"][-1]["name"] == "envoy"


def test_a_base_without_a_task_role_is_refused() -> None:
    error = refused(base(taskRoleArn=None))
    assert error.errors == [(error.path, error.rule)]
    assert "has no task role (TaskRoleArn)" in error.rule
    assert "Envoy Proxy authorization" in error.rule


def test_a_missing_network_mode_is_reported_as_missing() -> None:
    error = refused(base(networkMode=None, requiresCompatibilities=["EC2"]))
    assert error.rule.startswith("has no network mode (NetworkMode is missing)")
    assert "bridge" not in error.rule


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [("256", "512"), ("256", "2048"), ("1 vCPU", "2 GB"), ("4096", "30720"), ("16384", "122880")],
)
def test_fargate_sizes_aws_offers_pass(cpu: str, memory: str) -> None:
    derive(base(cpu=cpu, memory=memory))


@pytest.mark.parametrize(
    ("cpu", "memory", "path"),
    [
        ("256", "4096", "TaskDefinition.Memory"),
        ("512", "512", "TaskDefinition.Memory"),
        ("8192", "17408", "TaskDefinition.Memory"),
        ("300", "1024", "TaskDefinition.Cpu"),
        ("1.5 vCPU", "4GB", "TaskDefinition.Cpu"),
    ],
)
def test_fargate_sizes_aws_does_not_offer_are_refused(cpu: str, memory: str, path: str) -> None:
    error = refused(base(cpu=cpu, memory=memory))
    assert error.path == path
    assert "Task CPU and memory" in error.rule


def test_fargate_without_task_cpu_and_memory_is_refused() -> None:
    error = refused(base(cpu=None, memory=None))
    assert "has no task-level Cpu and Memory; Fargate requires both" in error.rule
    derive(base(cpu=None, memory=None, requiresCompatibilities=["EC2"]))  # EC2: optional


def test_awslogs_without_an_execution_role_is_refused_on_fargate() -> None:
    error = refused(base(executionRoleArn=None))
    assert "has no execution role (ExecutionRoleArn)" in error.rule
    assert "containers crystal, envoy" in error.rule
    derive(base(executionRoleArn=None, requiresCompatibilities=["EC2"], cpu=None, memory=None))


def test_a_sidecar_log_group_needs_the_execution_role_too() -> None:
    plain = base(executionRoleArn=None)
    plain["containerDefinitions"][0].pop("logConfiguration")
    derive(plain)
    error = refused(plain, Envoy={"LogGroupName": "envoy"})
    assert "containers envoy" in error.rule


def test_proxy_app_ports_and_listeners_must_be_mapped_by_the_app() -> None:
    error = refused(base(), Proxy={"AppPorts": [3000, 8080]}, Listeners=[{"Port": 9000}])
    assert [p for p, _ in error.errors] == ["Proxy.AppPorts[1]", "Listeners[0].Port"]
    assert "'8080' is not a port the app container maps (it maps 3000)" in error.errors[0][1]


@pytest.mark.parametrize(
    ("proxy", "rule"),
    [
        ({"ProxyIngressPort": 3000}, "'3000' is also an application port"),
        ({"ProxyEgressPort": 9901}, "'9901' is Envoy's admin port"),
    ],
)
def test_proxy_ports_differ_from_app_ports_and_envoy_admin(
    proxy: dict[str, Any], rule: str
) -> None:
    error = refused(base(), Proxy=proxy)
    assert rule in str(error)


def test_ecs_name_and_image_limits_and_duplicate_names() -> None:
    b = base()
    b["containerDefinitions"].append({"name": "crystal", "image": "x", "essential": False})
    b["containerDefinitions"].append({"name": "bad name", "image": "x y", "essential": False})
    error = refused(b)
    assert [p for p, _ in error.errors] == [
        "TaskDefinition.containerDefinitions[1].name",
        "TaskDefinition.containerDefinitions[2].name",
        "TaskDefinition.containerDefinitions[2].image",
    ]


def test_more_than_ten_containers_with_the_sidecars_is_refused() -> None:
    b = base()
    for i in range(9):
        b["containerDefinitions"].append({"name": f"c{i}", "image": "x", "essential": False})
    error = refused(b)
    assert "more than ECS's 10 per task definition" in error.rule
    b["containerDefinitions"].pop()
    derive(b)


def test_every_base_mistake_at_once() -> None:
    error = refused(base(taskRoleArn=None, cpu="300", executionRoleArn=None))
    assert len(error.errors) == 3


def test_a_non_appmesh_envoy_image_is_warned_about_not_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="meshed_crystal.taskdef"):
        derive(base(), Envoy={"Image": "envoyproxy/envoy:v1.29.0"})
    assert "not AWS's App Mesh Envoy image" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="meshed_crystal.taskdef"):
        derive(base())
    assert caplog.text == ""
    assert taskdef.warn_unless_appmesh_envoy(ENVOY_IMAGE)
    assert taskdef.warn_unless_appmesh_envoy(
        "840364872350.dkr.ecr.us-east-1.amazonaws.com/aws-appmesh-envoy:v1.29.12.1-prod"
    )


# -- Envoy's own ports (DESIGN §2): 15000/15001 (the proxy's) and 9901 (Envoy's admin) -------


def with_ports(*ports: int, sidecar: bool = False) -> dict[str, Any]:
    """The workshop's base, its app container also mapping ``ports`` (or a second container)."""
    b = base()
    mappings = [{"containerPort": p, "protocol": "tcp"} for p in ports]
    if sidecar:
        b["containerDefinitions"].append(
            {"name": "metrics", "image": "busybox", "essential": False, "portMappings": mappings}
        )
    else:
        b["containerDefinitions"][0]["portMappings"] += mappings
    return b


@pytest.mark.parametrize(
    ("port", "whose"),
    [
        (15000, "the proxy's ingress port (Proxy.ProxyIngressPort, 15000)"),
        (15001, "the proxy's egress port (Proxy.ProxyEgressPort, 15001)"),
        (9901, "Envoy's admin port (9901"),
    ],
)
def test_an_app_container_mapping_an_envoy_port_is_refused(port: int, whose: str) -> None:
    error = refused(with_ports(port), Listeners=[{"Port": 3000}])
    assert error.path == ("TaskDefinition.containerDefinitions[0].portMappings[1].containerPort")
    assert f"container 'crystal' maps {port}, {whose}" in error.rule
    # Any container of the task: they all share Envoy's network namespace in awsvpc.
    sidecar = with_ports(port, sidecar=True)
    error = refused(sidecar, Listeners=[{"Port": 3000}], AppContainerName="crystal")
    assert error.path == "TaskDefinition.containerDefinitions[1].portMappings[0].containerPort"
    assert f"container 'metrics' maps {port}" in error.rule


@pytest.mark.parametrize("port", [15000, 15001, 9901])
def test_a_listener_or_app_port_on_an_envoy_port_is_refused(port: int) -> None:
    error = refused(with_ports(port), Listeners=[{"Port": 3000}, {"Port": port}])
    paths = [p for p, _ in error.errors]
    assert "Listeners[1].Port" in paths
    error = refused(with_ports(port), Listeners=[{"Port": 3000}], Proxy={"AppPorts": [port]})
    assert "Proxy.AppPorts[0]" in [p for p, _ in error.errors]


def test_envoy_ports_follow_the_proxy_settings_and_the_admin_variable() -> None:
    # Moved proxy ports free 15000/15001 for the app, and the admin port follows its variable.
    derive(
        with_ports(15000, 15001),
        Listeners=[{"Port": 3000}],
        Proxy={"ProxyIngressPort": 16000, "ProxyEgressPort": 16001},
    )
    environment = {"ENVOY_ADMIN_ACCESS_PORT": "9902"}
    derive(with_ports(9901), Listeners=[{"Port": 3000}], Envoy={"Environment": environment})
    error = refused(
        with_ports(9902), Listeners=[{"Port": 3000}], Envoy={"Environment": environment}
    )
    assert "Envoy's admin port (9902" in error.rule


def test_a_proxy_port_the_author_set_is_reported_at_proxy() -> None:
    error = refused(base(), Proxy={"ProxyIngressPort": 3000})
    assert [p for p, _ in error.errors] == ["Proxy.ProxyIngressPort"]


# -- At most 15 AppPorts, as EgressIgnoredPorts: the CNI plugin drops the rest ----------------


def test_more_than_15_app_ports_are_refused_given_or_from_the_listeners() -> None:
    ports = list(range(3000, 3016))  # 16
    b = with_ports(*ports[1:])
    derive(b, Proxy={"AppPorts": ports[:15]}, Listeners=[{"Port": 3000}])
    error = refused(b, Proxy={"AppPorts": ports}, Listeners=[{"Port": 3000}])
    assert error.path == "Proxy.AppPorts"
    assert "has 16 ports, more than the 15" in error.rule
    assert "aws/amazon-vpc-cni-plugins" in error.rule
    # AppPorts defaults to the listener ports: 16 listeners break the same limit.
    error = refused(b, Listeners=[{"Port": p} for p in ports])
    assert error.path == "Listeners"
    assert "has 16 ports" in error.rule
