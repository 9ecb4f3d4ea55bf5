"""What AWS would refuse later is refused now (DESIGN §2, §8): each rule through the
CloudFormation driver, both sides — what AWS accepts passes, with its effect seen in ECS; what it
would refuse after a SUCCESS is refused before any write, naming the rule and its source."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest

from tests.integration import aws_state
from tests.integration.lifecycle import LOGICAL, all_revisions, failed, fast, ok, workshop
from tests.integration.test_provider import INLINE
from tests.integration.test_service_connect_mode import SC_FAMILY, connected, run_ecs_service
from tests.support.cfn_driver import CloudFormation
from tests.support.faults import Faults
from tests.support.platform import Platform


def inline_copy() -> dict[str, Any]:
    copied: dict[str, Any] = copy.deepcopy(INLINE)
    return copied


def served_mapping(arn: str) -> dict[str, Any]:
    described, _ = aws_state.task_definition(arn)
    app = next(c for c in described["containerDefinitions"] if c["name"] == "crystal")
    mapping: dict[str, Any] = app["portMappings"][0]
    return mapping


# -- Service Connect client alias: ECS's rule, given or defaulted ------------------------------


def test_a_client_alias_ecs_takes_is_used_and_one_it_refuses_is_refused(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    alias = {"DnsName": "my_svc.local", "Port": "8080"}
    data = ok(fast(cfn).create(LOGICAL, connected(platform, ServiceConnect={"ClientAlias": alias})))
    assert data["ClientAliasDnsName"] == "my_svc.local"
    assert data["ClientAliasPort"] == "8080"
    assert data["Endpoint"] == "http://my_svc.local:8080"
    assert data["VirtualServiceName"] == "my_svc.local"
    # ECS takes the wiring as the template passes it (the emulator holds ECS's rule)
    service = run_ecs_service(platform, data)
    wired = service["deployments"][0]["serviceConnectConfiguration"]["services"][0]
    assert wired["clientAliases"] == [{"dnsName": "my_svc.local", "port": 8080}]
    ok(cfn.delete(LOGICAL))
    writes = len(faults.writes())
    upper = connected(platform, ServiceConnect={"ClientAlias": {"DnsName": "MySvc.local"}})
    reason = failed(cfn.create(LOGICAL, upper))
    assert "ServiceConnect.ClientAlias.DnsName: 'MySvc.local' is not a client alias" in reason
    assert "ServiceConnectClientAlias" in reason
    assert faults.writes()[writes:] == []


def test_a_default_alias_is_lower_cased_with_a_warning(
    cfn: CloudFormation, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    props = connected(platform, VirtualServiceName="EcsDemo-Crystal.service.local")
    data = ok(fast(cfn).create(LOGICAL, props))
    assert data["ClientAliasDnsName"] == "ecsdemo-crystal.service.local"
    assert data["Endpoint"] == "http://ecsdemo-crystal.service.local:3000"
    warned = [r for r in caplog.records if "lower-cased" in r.getMessage()]
    assert len(warned) == 1
    assert warned[0].levelno == logging.WARNING


def test_a_default_alias_no_case_can_fix_is_refused_naming_client_alias(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    long_name = "crystal." + "a" * 130  # a valid virtual service name, too long for ECS's alias
    reason = failed(fast(cfn).create(LOGICAL, connected(platform, VirtualServiceName=long_name)))
    assert reason.startswith("ServiceConnect.ClientAlias: required: the default client alias")
    assert faults.writes() == []
    fixed = connected(
        platform,
        VirtualServiceName=long_name,
        ServiceConnect={"ClientAlias": {"DnsName": "crystal.local"}},
    )
    assert ok(cfn.create(LOGICAL, fixed))["ClientAliasDnsName"] == "crystal.local"


# -- a tcp listener: no appProtocol, no scheme, no stale appProtocol from the base -------------


def test_a_tcp_listener_drops_a_stale_app_protocol_and_the_scheme(
    cfn: CloudFormation, platform: Platform
) -> None:
    inline = inline_copy()
    inline["ContainerDefinitions"][0]["PortMappings"][0]["AppProtocol"] = "http"
    props = connected(
        platform, TaskDefinition=inline, Listeners=[{"Port": "3000", "Protocol": "tcp"}]
    )
    data = ok(fast(cfn).create(LOGICAL, props))
    assert data["AppProtocol"] == ""
    assert data["Endpoint"] == "ecsdemo-crystal.service.local:3000"
    mapping = served_mapping(data["TaskDefinitionArn"])
    assert "appProtocol" not in mapping
    assert mapping["name"] == "crystal-3000"


# -- Service Connect task memory ---------------------------------------------------------------


def with_container_memory(mib: int, task_memory: str = "512") -> dict[str, Any]:
    inline = inline_copy()
    inline["Memory"] = task_memory
    inline["ContainerDefinitions"][0]["Memory"] = str(mib)
    return inline


def test_task_memory_must_exceed_the_containers_hard_limits(
    cfn: CloudFormation, platform: Platform, faults: Faults, caplog: pytest.LogCaptureFixture
) -> None:
    full = connected(platform, TaskDefinition=with_container_memory(512))
    reason = failed(fast(cfn).create(LOGICAL, full))
    assert "task memory of 512 MiB, not greater than the containers' hard memory limits" in reason
    assert "Service Connect components" in reason
    assert faults.writes() == []
    # Less headroom than AWS recommends: accepted, with a warning
    tight = connected(platform, TaskDefinition=with_container_memory(480))
    ok(cfn.create(LOGICAL, tight))
    assert any("64 MiB AWS recommends" in r.getMessage() for r in caplog.records)
    caplog.clear()
    roomy = connected(platform, TaskDefinition=with_container_memory(256))
    ok(cfn.update(LOGICAL, roomy, old_properties=tight))
    assert not any("64 MiB AWS recommends" in r.getMessage() for r in caplog.records)


# -- a protocol change ECS cannot apply in place -----------------------------------------------


def test_an_in_place_app_protocol_change_is_refused_before_any_write(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    http = connected(platform)
    first = ok(fast(cfn).create(LOGICAL, http))
    writes = len(faults.writes())
    grpc = connected(platform, Listeners=[{"Port": "3000", "Protocol": "grpc"}])
    reason = failed(cfn.update(LOGICAL, grpc, old_properties=http))
    assert reason.startswith("Listeners[0].Protocol: changes the served port's appProtocol")
    assert "'http' to 'grpc'" in reason
    assert "appProtocol is immutable in a Service Connect service" in reason
    assert "new ECS service" in reason
    assert faults.writes()[writes:] == []
    assert aws_state.active_revisions(SC_FAMILY) == [first["TaskDefinitionArn"]]
    # A change that keeps the served port's protocol updates in place
    tagged = connected(platform, Tags=[{"Key": "team", "Value": "crystal"}])
    second = ok(cfn.update(LOGICAL, tagged, old_properties=http))
    assert second["TaskDefinitionArn"] != first["TaskDefinitionArn"]
    # And tcp (no appProtocol) is a change too
    tcp = connected(
        platform,
        Tags=[{"Key": "team", "Value": "crystal"}],
        Listeners=[{"Port": "3000", "Protocol": "tcp"}],
    )
    assert "'http' to 'none (tcp)'" in failed(cfn.update(LOGICAL, tcp, old_properties=tagged))


# -- App Mesh mode: a discovery filter that can match nothing -----------------------------------


def test_a_family_filter_that_matches_no_family_it_registers_is_refused(
    cfn: CloudFormation, platform: Platform, faults: Faults
) -> None:
    attributes = {"ECS_TASK_DEFINITION_FAMILY": "ecsdemo-crystal-mesh"}
    renamed = workshop(platform, Family="crystal-proxied", CloudMapAttributes=attributes)
    reason = failed(fast(cfn).create(LOGICAL, renamed))
    assert reason.startswith(
        "CloudMapAttributes.ECS_TASK_DEFINITION_FAMILY: 'ecsdemo-crystal-mesh'"
    )
    assert "('crystal-proxied')" in reason
    assert "503 no healthy upstream" in reason
    assert faults.writes() == []
    assert all_revisions("crystal-proxied") == []
    # An inline definition keeps its own family: the filter must name it
    inline = workshop(platform, TaskDefinition=INLINE, CloudMapAttributes=attributes)
    assert "('crystal-inline')" in failed(cfn.create(LOGICAL, inline))
    matching = workshop(
        platform,
        Family="crystal-proxied",
        CloudMapAttributes={"ECS_TASK_DEFINITION_FAMILY": "crystal-proxied"},
    )
    data = ok(cfn.create(LOGICAL, matching))
    node = aws_state.node(data["VirtualNodeName"], "ecs-mesh")
    assert node is not None
    discovery = node["spec"]["serviceDiscovery"]["awsCloudMap"]
    assert discovery["attributes"] == [
        {"key": "ECS_TASK_DEFINITION_FAMILY", "value": "crystal-proxied"}
    ]
