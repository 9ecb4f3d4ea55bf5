"""DESIGN §2: every property parsed from CloudFormation's string-typed form, and each rule."""

from __future__ import annotations

from typing import Any

import pytest
from meshed_crystal.errors import PropertyError
from meshed_crystal.modes.appmesh.properties import (
    EnvoySettings,
    ProxySettings,
    XRaySettings,
    appmesh,
    check_mesh_region,
)
from meshed_crystal.properties import HealthCheck, Listener, parse_properties

WORKSHOP = {
    "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:meshed-crystal",
    "ServiceTimeout": "900",
    "MeshName": "ecs-mesh",
    "CloudMapServiceArn": "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-abc123",
    "TaskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/ecsdemo-crystal:3",
}


def props(**changes: Any) -> dict[str, Any]:
    result = dict(WORKSHOP)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def test_workshop_defaults() -> None:
    parsed = parse_properties(WORKSHOP)
    assert appmesh(parsed).mesh_name == "ecs-mesh"
    assert appmesh(parsed).mesh_owner is None
    assert parsed.cloud_map_service_id == "srv-abc123"
    assert parsed.task_definition == WORKSHOP["TaskDefinition"]
    assert parsed.listeners is None  # one http listener per app port, decided with the base
    assert appmesh(parsed).access_log_path == "/dev/stdout"
    assert appmesh(parsed).proxy == ProxySettings()
    assert appmesh(parsed).proxy.egress_ignored_ips == ("169.254.170.2", "169.254.169.254")
    assert appmesh(parsed).envoy == EnvoySettings()
    assert appmesh(parsed).envoy.log_level == "info"
    assert appmesh(parsed).xray == XRaySettings(enabled=False)
    assert parsed.tags == ()
    assert appmesh(parsed).backends == ()


def test_every_property_from_strings() -> None:
    parsed = parse_properties(
        {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:x",
            "MeshArn": "arn:aws:appmesh:us-east-1:210987654321:mesh/shared-mesh",
            "CloudMapNamespaceName": "service.local",
            "CloudMapServiceName": "ecsdemo-crystal",
            "CloudMapAttributes": {"ECS_TASK_DEFINITION_FAMILY": "ecsdemo-crystal-mesh"},
            "TaskDefinition": "ecsdemo-crystal:7",
            "Family": "crystal-proxied",
            "AppContainerName": "crystal",
            "VirtualNodeName": "crystal-node",
            "VirtualServiceName": "crystal.service.local",
            "Listeners": [
                {
                    "Port": "3000",
                    "Protocol": "HTTP2",
                    "HealthCheck": {
                        "Protocol": "http",
                        "Path": "/health",
                        "Port": "3000",
                        "IntervalMillis": "6000",
                        "TimeoutMillis": "3000",
                        "HealthyThreshold": "3",
                        "UnhealthyThreshold": "4",
                    },
                    "Timeout": {"PerRequestSeconds": "30", "IdleSeconds": "300"},
                },
                {"Port": "9000", "Protocol": "tcp", "Timeout": {"IdleSeconds": "60"}},
            ],
            "Backends": ["ecsdemo-nodejs.service.local", "ecsdemo-frontend.service.local"],
            "AccessLogPath": "/var/log/envoy.log",
            "Proxy": {
                "AppPorts": ["3000", "9000"],
                "ProxyIngressPort": "15100",
                "ProxyEgressPort": "15101",
                "EgressIgnoredIPs": ["169.254.170.2", "169.254.169.254", "10.0.0.0/8"],
                "EgressIgnoredPorts": ["22"],
                "IgnoredUID": "1338",
                "IgnoredGID": "1339",
            },
            "Envoy": {
                "Image": "example.com/envoy:v1",
                "LogLevel": "debug",
                "Cpu": "64",
                "MemoryReservation": "256",
                "StatsTags": "false",
                "LogGroupName": "envoy-logs",
                "LogStreamPrefix": "envoy",
                "Environment": {"ENVOY_ADMIN_ACCESS_ENABLE_IPV6": "1"},
            },
            "XRay": {"Enabled": "true", "Image": "example.com/xray:3", "MemoryReservation": "64"},
            "Tags": [{"Key": "team", "Value": "crystal"}, {"Key": "cost-center", "Value": "42"}],
        }
    )
    assert (appmesh(parsed).mesh_name, appmesh(parsed).mesh_owner) == (
        "shared-mesh",
        "210987654321",
    )
    assert parsed.cloud_map_service_id is None
    assert (parsed.cloud_map_namespace_name, parsed.cloud_map_service_name) == (
        "service.local",
        "ecsdemo-crystal",
    )
    assert appmesh(parsed).cloud_map_attributes == (
        ("ECS_TASK_DEFINITION_FAMILY", "ecsdemo-crystal-mesh"),
    )
    assert parsed.task_definition == "ecsdemo-crystal:7"
    assert parsed.family == "crystal-proxied"
    assert parsed.app_container_name == "crystal"
    assert appmesh(parsed).virtual_node_name == "crystal-node"
    assert parsed.virtual_service_name == "crystal.service.local"
    assert parsed.listeners == (
        Listener(3000, "http2", HealthCheck("http", "/health", 3000, 6000, 3000, 3, 4), 30, 300),
        Listener(9000, "tcp", None, None, 60),
    )
    assert appmesh(parsed).backends == (
        "ecsdemo-nodejs.service.local",
        "ecsdemo-frontend.service.local",
    )
    assert appmesh(parsed).access_log_path == "/var/log/envoy.log"
    assert appmesh(parsed).proxy == ProxySettings(
        (3000, 9000),
        15100,
        15101,
        ("169.254.170.2", "169.254.169.254", "10.0.0.0/8"),
        (22,),
        1338,
        1339,
    )
    assert appmesh(parsed).envoy == EnvoySettings(
        "example.com/envoy:v1",
        "debug",
        64,
        256,
        False,
        "envoy-logs",
        "envoy",
        (("ENVOY_ADMIN_ACCESS_ENABLE_IPV6", "1"),),
    )
    assert appmesh(parsed).xray == XRaySettings(True, "example.com/xray:3", 64)
    assert parsed.tags == (("team", "crystal"), ("cost-center", "42"))


def test_native_json_types_are_accepted_too() -> None:
    parsed = parse_properties(
        props(Listeners=[{"Port": 3000, "Timeout": {"IdleSeconds": 5}}], XRay=True)
    )
    assert parsed.listeners == (Listener(3000, "http", None, None, 5),)
    assert appmesh(parsed).xray.enabled is True


def test_health_check_defaults_follow_the_listener_protocol() -> None:
    parsed = parse_properties(props(Listeners=[{"Port": "3000", "HealthCheck": {}}]))
    assert parsed.listeners is not None
    assert parsed.listeners[0].health_check == HealthCheck("http", "/", None, 5000, 2000, 2, 2)


def test_empty_access_log_path_turns_the_access_log_off() -> None:
    assert appmesh(parse_properties(props(AccessLogPath=""))).access_log_path is None


@pytest.mark.parametrize("value", ["false", "FALSE", False])
def test_xray_off(value: Any) -> None:
    assert appmesh(parse_properties(props(XRay=value))).xray.enabled is False


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Listeners": [{"Port": "70000"}]}, "Listeners[0].Port: '70000' is not a port (1-65535)"),
        ({"Listeners": [{"Port": "abc"}]}, "Listeners[0].Port: 'abc' is not a port"),
        (
            {"Listeners": [{"Port": "80", "Protocol": "udp"}]},
            "Listeners[0].Protocol: 'udp' is not one of http, http2, grpc, tcp",
        ),
        (
            {"Listeners": [{"Port": "80"}, {"Port": "80"}]},
            "Listeners[1].Port: '80' is used by another listener",
        ),
        ({"Listeners": []}, "Listeners: must hold at least one listener"),
        ({"Listeners": [{"Protocol": "http"}]}, "Listeners[0].Port: required"),
        (
            {"Listeners": [{"Port": "80", "HealthCheck": {"IntervalMillis": "10"}}]},
            "Listeners[0].HealthCheck.IntervalMillis: '10' is not milliseconds (5000-300000)",
        ),
        (
            {"Listeners": [{"Port": "80", "HealthCheck": {"HealthyThreshold": "11"}}]},
            "Listeners[0].HealthCheck.HealthyThreshold: '11' is not an integer (2-10)",
        ),
        (
            {"Listeners": [{"Port": "80", "HealthCheck": {"Path": "health"}}]},
            "Listeners[0].HealthCheck.Path: 'health' must start with '/'",
        ),
        (
            {
                "Listeners": [
                    {"Port": "80", "Protocol": "tcp", "Timeout": {"PerRequestSeconds": "3"}}
                ]
            },
            "Listeners[0].Timeout.PerRequestSeconds: a tcp listener has only IdleSeconds",
        ),
        (
            {"Listeners": [{"Port": "80", "Timeut": {}}]},
            "Listeners[0].Timeut: unknown property (did you mean Timeout?)",
        ),
        ({"MeshNmae": "x"}, "MeshNmae: unknown property (did you mean MeshName?)"),
        (
            {"MeshArn": "arn:aws:appmesh:us-east-1:123456789012:mesh/m"},
            "MeshName: set exactly one of MeshName and MeshArn (both are set)",
        ),
        ({"MeshName": None}, "MeshName: set exactly one of MeshName and MeshArn (neither is set)"),
        (
            {"MeshName": None, "MeshArn": "mesh/ecs-mesh"},
            "MeshArn: 'mesh/ecs-mesh' is not an App Mesh",
        ),
        ({"CloudMapServiceName": "x"}, "CloudMapServiceArn: set either CloudMapServiceArn or"),
        ({"CloudMapServiceArn": None}, "CloudMapNamespaceName: required"),
        (
            {"CloudMapServiceArn": None, "CloudMapNamespaceName": "service.local"},
            "CloudMapServiceName: required",
        ),
        ({"CloudMapServiceArn": "srv-123"}, "CloudMapServiceArn: 'srv-123' is not a Cloud Map"),
        ({"CloudMapAttributes": ["a"]}, "CloudMapAttributes: a list is not an object"),
        ({"TaskDefinition": None}, "TaskDefinition: required"),
        ({"TaskDefinition": "arn:aws:ecs:task/x"}, "TaskDefinition: 'arn:aws:ecs:task/x' is not a"),
        ({"TaskDefinition": ["x"]}, "TaskDefinition: a list is not a string"),
        ({"Family": "bad family"}, "Family: 'bad family' is not a task definition family"),
        ({"VirtualNodeName": "a:b"}, "VirtualNodeName: 'a:b' is not a valid name"),
        ({"VirtualServiceName": ""}, "VirtualServiceName: must not be empty"),
        ({"Backends": "x.local"}, "Backends: 'x.local' is not a list"),
        ({"Backends": ["a.local", "a.local"]}, "Backends[1]: 'a.local' is listed twice"),
        ({"AccessLogPath": ["x"]}, "AccessLogPath: a list is not a string"),
        ({"Proxy": {"AppPorts": []}}, "Proxy.AppPorts: must hold at least one port"),
        ({"Proxy": {"AppPorts": ["0"]}}, "Proxy.AppPorts[0]: '0' is not a port (1-65535)"),
        (
            {"Proxy": {"EgressIgnoredIPs": ["not-an-ip"]}},
            "Proxy.EgressIgnoredIPs[0]: 'not-an-ip' is not an IP address or CIDR block",
        ),
        (
            {"Proxy": {"ProxyEgressPort": "15000"}},
            "Proxy.ProxyEgressPort: '15000' is also the ProxyIngressPort",
        ),
        ({"Proxy": {"IgnoredUID": "-1"}}, "Proxy.IgnoredUID: '-1' is not a user id"),
        (
            {"Proxy": {"IgnoredGid": "1"}},
            "Proxy.IgnoredGid: unknown property (did you mean IgnoredGID?)",
        ),
        (
            {"Envoy": {"LogLevel": "verbose"}},
            "Envoy.LogLevel: 'verbose' is not one of "
            "trace, debug, info, warn, warning, error, critical, off",
        ),
        ({"Envoy": {"MemoryReservation": "2"}}, "Envoy.MemoryReservation: '2' is not MiB (>= 6)"),
        ({"Envoy": {"StatsTags": "maybe"}}, "Envoy.StatsTags: 'maybe' is not a boolean"),
        (
            {"Envoy": {"Environment": {"REGION": "eu-west-1"}}},
            "Envoy.Environment.REGION: is set by the resource itself",
        ),
        ({"Envoy": {"Environment": {"1X": "y"}}}, "Envoy.Environment.1X: is not an environment"),
        ({"XRay": "sometimes"}, "XRay: 'sometimes' is not a boolean"),
        ({"XRay": {"Enabled": "true", "Port": "2000"}}, "XRay.Port: unknown property"),
        ({"Tags": [{"Key": "aws:x", "Value": "y"}]}, "Tags[0].Key: 'aws:x' uses a reserved prefix"),
        (
            {"Tags": [{"Key": "meshed-crystal:stack-id", "Value": "y"}]},
            "Tags[0].Key: 'meshed-crystal:stack-id' uses a reserved prefix",
        ),
        ({"Tags": [{"Value": "y"}]}, "Tags[0].Key: required"),
        (
            {"Tags": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]},
            "Tags[1].Key: 'a' is given twice",
        ),
        ({"Tags": [{"Key": "k" * 129, "Value": "v"}]}, "Tags[0].Key: is 129 characters long"),
    ],
)
def test_rules(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(PropertyError) as caught:
        parse_properties(props(**changes))
    assert str(caught.value).startswith(message), str(caught.value)


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("trace", "trace"),
        ("debug", "debug"),
        ("info", "info"),
        # AWS's Envoy variable reference spells it warn; Envoy's own -l takes warning too.
        ("warn", "warn"),
        ("warning", "warn"),
        ("WARN", "warn"),
        ("error", "error"),
        ("critical", "critical"),
        ("off", "off"),
    ],
)
def test_envoy_log_levels_are_the_ones_envoy_log_level_takes(given: str, sent: str) -> None:
    assert appmesh(parse_properties(props(Envoy={"LogLevel": given}))).envoy.log_level == sent


def test_cloudformation_own_keys_are_ignored() -> None:
    assert parse_properties(props(ServiceTimeout="3600")) == parse_properties(
        props(ServiceTimeout=None, ServiceToken=None)
    )


@pytest.mark.parametrize("raw", ["a string", ["a", "list"]])
def test_properties_must_be_an_object(raw: Any) -> None:
    with pytest.raises(PropertyError, match=r"ResourceProperties: .* is not an object"):
        parse_properties(raw)


def test_an_event_without_properties_is_told_they_are_missing_not_null() -> None:
    with pytest.raises(PropertyError) as caught:
        parse_properties(None)
    assert str(caught.value) == "ResourceProperties: missing: the event carries no properties"


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("Mesh", "MeshName"),  # difflib alone finds the shorter MeshArn closer
        ("mesh", "MeshName"),
        ("CloudMap", "CloudMapServiceArn"),
        ("Listener", "Listeners"),
        ("Virtual", "VirtualNodeName"),
        ("MeshNmae", "MeshName"),  # not a beginning: the closest name
    ],
)
def test_a_name_cut_short_suggests_the_first_property_it_begins(given: str, meant: str) -> None:
    with pytest.raises(PropertyError) as caught:
        parse_properties({**props(), given: "x"})
    assert f"{given}: unknown property (did you mean {meant}?)" in str(caught.value)


# -- MeshArn's region: App Mesh is called in the function's region -----------------------------

WEST_MESH_ARN = "arn:aws:appmesh:us-west-2:210987654321:mesh/ecs-mesh"


def test_mesh_arn_keeps_its_region() -> None:
    parsed = parse_properties(props(MeshName=None, MeshArn=WEST_MESH_ARN))
    assert (appmesh(parsed).mesh_name, appmesh(parsed).mesh_owner, appmesh(parsed).mesh_region) == (
        "ecs-mesh",
        "210987654321",
        "us-west-2",
    )
    assert appmesh(parse_properties(WORKSHOP)).mesh_region is None


def test_a_mesh_arn_in_another_region_is_refused() -> None:
    parsed = parse_properties(props(MeshName=None, MeshArn=WEST_MESH_ARN))
    with pytest.raises(PropertyError) as caught:
        check_mesh_region(parsed, "us-east-1")
    assert caught.value.path == "MeshArn"
    message = str(caught.value)
    assert message.startswith("MeshArn: the mesh is in us-west-2, "), message
    assert "us-east-1" in message


def test_a_mesh_in_the_function_region_passes() -> None:
    west_td = "arn:aws:ecs:us-west-2:123456789012:task-definition/ecsdemo-crystal:3"
    check_mesh_region(
        parse_properties(props(MeshName=None, MeshArn=WEST_MESH_ARN, TaskDefinition=west_td)),
        "us-west-2",
    )
    # MeshName and a family: the function's region.
    check_mesh_region(parse_properties(props(TaskDefinition="ecsdemo-crystal:3")), "eu-west-1")


def test_a_task_definition_arn_of_another_region_is_refused() -> None:
    with pytest.raises(PropertyError) as caught:
        check_mesh_region(parse_properties(WORKSHOP), "eu-west-1")
    assert caught.value.errors == [
        (
            "TaskDefinition",
            "the task definition is in us-east-1, but this provider's function runs in "
            "eu-west-1, and ECS reads and registers task definitions of its own region only "
            "(give a task definition of this region)",
        )
    ]
