"""Tests of the test support itself: the CloudFormation driver, its HTTPS response endpoint and
the workshop platform builder.

The fake handlers PUT their responses with crhelper's own ``_send_response``, so these tests also
prove that the real sender (verifying TLS, default SSL context) reaches the local endpoint.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest

# crhelper's stubs leave out its private sender; it is exactly the code path to prove.
from crhelper.utils import _send_response  # type: ignore[attr-defined]
from moto import mock_aws

from tests.support.cfn_driver import CloudFormation, LambdaContext, ResponseEndpoint, stringify
from tests.support.platform import APP_IMAGE, Platform, build_workshop_platform
from tests.support.stack import GetAtt, Stack, _order

Handler = Callable[[dict[str, Any], Any], Any]


def body_for(
    event: dict[str, Any], status: str = "SUCCESS", physical_id: str = "crystal-1", **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Status": status,
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {},
    }
    body.update(extra)
    return body


def sending_handler(times: int = 1, **body: Any) -> Handler:
    """A handler that answers ``times`` times through crhelper's real sender."""

    def handler(event: dict[str, Any], context: Any) -> None:
        for _ in range(times):
            _send_response(event["ResponseURL"], body_for(event, **body))

    return handler


@pytest.fixture
def endpoint() -> Iterator[ResponseEndpoint]:
    with ResponseEndpoint() as ep:
        yield ep


@pytest.fixture
def no_crhelper_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    # crhelper sleeps 2 s between send attempts; only its module's view of `time` is replaced.
    monkeypatch.setattr("crhelper.utils.time", SimpleNamespace(sleep=lambda _seconds: None))


PROPS: dict[str, Any] = {
    "MeshName": "ecs-mesh",
    "Listeners": [{"Port": 3000, "Protocol": "http", "HealthCheck": {"IntervalMillis": 5000}}],
    "XRay": True,
    "Proxy": {"IgnoredUID": 1337, "EgressIgnoredIPs": ["169.254.170.2", "169.254.169.254"]},
}


# --- stringification and event shape -------------------------------------------------------


def test_stringify_turns_every_nested_scalar_into_a_string() -> None:
    assert stringify(PROPS) == {
        "MeshName": "ecs-mesh",
        "Listeners": [
            {"Port": "3000", "Protocol": "http", "HealthCheck": {"IntervalMillis": "5000"}}
        ],
        "XRay": "true",
        "Proxy": {"IgnoredUID": "1337", "EgressIgnoredIPs": ["169.254.170.2", "169.254.169.254"]},
    }
    assert stringify([False, 1.5, ()]) == ["false", "1.5", []]
    assert stringify(stringify(PROPS)) == stringify(PROPS)


def test_stringify_refuses_null_like_cloudformation() -> None:
    with pytest.raises(ValueError, match="null"):
        stringify({"A": None})


def test_events_have_cloudformations_shape(endpoint: ResponseEndpoint) -> None:
    cfn = CloudFormation(sending_handler(), endpoint)
    assert re.fullmatch(
        r"arn:aws:cloudformation:us-east-1:123456789012:stack/crystal-stack/[0-9a-f-]{36}",
        cfn.stack_id,
    )
    create = cfn.event("Create", "Crystal", PROPS)
    assert set(create) == {
        "RequestType",
        "ServiceToken",
        "ResponseURL",
        "StackId",
        "RequestId",
        "LogicalResourceId",
        "ResourceType",
        "ResourceProperties",
    }
    assert create["ResourceType"] == "Custom::MeshedCrystal"
    assert create["ServiceToken"] == "arn:aws:lambda:us-east-1:123456789012:function:meshed-crystal"
    assert create["ResourceProperties"] == {
        "ServiceToken": create["ServiceToken"],
        "ServiceTimeout": "300",
        **stringify(PROPS),
    }

    url = urlsplit(create["ResponseURL"])
    assert url.scheme == "https"
    assert url.netloc == f"127.0.0.1:{endpoint.port}"
    bucket, _, key = url.path.lstrip("/").partition("/")
    assert bucket == "cloudformation-custom-resource-response-useast1"
    assert unquote(key) == f"{cfn.stack_id}|Crystal|{create['RequestId']}"
    query = parse_qs(url.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert re.fullmatch(
        r"AKIA[A-Z2-7]{16}/20261125/us-east-1/s3/aws4_request", query["X-Amz-Credential"][0]
    )
    assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"][0])
    again = parse_qs(urlsplit(cfn.event("Create", "Crystal", PROPS)["ResponseURL"]).query)
    assert again["X-Amz-Signature"] != query["X-Amz-Signature"]

    update = cfn.event(
        "Update", "Crystal", {"MeshName": "other"}, old_properties=PROPS, physical_id="p-1"
    )
    assert update["PhysicalResourceId"] == "p-1"
    assert update["OldResourceProperties"]["Listeners"][0]["Port"] == "3000"
    assert update["OldResourceProperties"]["ServiceToken"] == create["ServiceToken"]
    with pytest.raises(KeyError, match="Crystal"):
        cfn.event("Delete", "Crystal", PROPS)  # the stack holds nothing yet


# --- one response ---------------------------------------------------------------------------


def test_one_response_is_captured_and_tracked(endpoint: ResponseEndpoint) -> None:
    seen: list[Any] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        seen.append(context)
        _send_response(event["ResponseURL"], body_for(event, Data={"Answer": "42"}))

    cfn = CloudFormation(handler, endpoint)
    body = cfn.create("Crystal", PROPS)

    assert body["Status"] == "SUCCESS"
    assert body["Data"] == {"Answer": "42"}
    assert cfn.responses == [body]
    assert cfn.physical_id("Crystal") == "crystal-1"
    assert cfn.properties("Crystal") == stringify(PROPS)
    (put,) = endpoint.puts
    assert put.outcome == "200"
    assert put.headers["content-type"] == ""  # crhelper's S3-compatible empty content type
    assert put.body == body

    (context,) = seen
    assert isinstance(context, LambdaContext)
    assert context.function_name == "meshed-crystal"
    assert context.invoked_function_arn == cfn.service_token
    assert 299_000 < context.get_remaining_time_in_millis() <= 300_000


def test_stack_tracks_physical_ids_like_cloudformation(endpoint: ResponseEndpoint) -> None:
    answers = iter(
        [
            ("SUCCESS", "id-1"),  # Create
            ("SUCCESS", "id-2"),  # Update: replacement
            ("FAILED", "id-3"),  # Update that fails: the stack keeps id-2
            ("SUCCESS", "id-1"),  # Delete of the replaced id: the stack keeps id-2
            ("SUCCESS", "id-2"),  # Delete of the current id
        ]
    )
    events: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        events.append(event)
        status, physical = next(answers)
        _send_response(
            event["ResponseURL"],
            body_for(event, status, physical, Reason="it broke" if status == "FAILED" else ""),
        )

    cfn = CloudFormation(handler, endpoint)
    cfn.create("Crystal", {"MeshName": "a"})
    cfn.update("Crystal", {"MeshName": "b"})
    assert events[1]["PhysicalResourceId"] == "id-1"
    assert events[1]["OldResourceProperties"]["MeshName"] == "a"
    assert cfn.physical_id("Crystal") == "id-2"

    assert cfn.update("Crystal", {"MeshName": "c"})["Status"] == "FAILED"
    assert cfn.physical_id("Crystal") == "id-2"
    assert cfn.properties("Crystal") == {"MeshName": "b"}

    cfn.delete("Crystal", physical_id="id-1", properties={"MeshName": "a"})
    assert cfn.physical_id("Crystal") == "id-2"
    cfn.delete("Crystal")
    assert events[4]["PhysicalResourceId"] == "id-2"
    assert events[4]["ResourceProperties"]["MeshName"] == "b"
    assert not cfn.holds("Crystal")
    assert len(cfn.responses) == 5


# --- the exactly-one rule -------------------------------------------------------------------


def test_two_responses_fail_the_test(endpoint: ResponseEndpoint) -> None:
    cfn = CloudFormation(sending_handler(times=2), endpoint)
    with pytest.raises(AssertionError, match=r"exactly one response .* got 2"):
        cfn.create("Crystal", PROPS)
    assert not cfn.holds("Crystal")


def test_a_late_duplicate_within_the_grace_period_fails_the_test(
    endpoint: ResponseEndpoint,
) -> None:
    def handler(event: dict[str, Any], context: Any) -> None:
        body = body_for(event)
        _send_response(event["ResponseURL"], body)
        # A leftover timer thread (crhelper's timeout path, say) answering again later.
        threading.Timer(0.1, _send_response, (event["ResponseURL"], body)).start()

    cfn = CloudFormation(handler, endpoint, grace_s=0.5)
    with pytest.raises(AssertionError, match="got 2"):
        cfn.create("Crystal", PROPS)


def test_no_response_fails_the_test(endpoint: ResponseEndpoint) -> None:
    cfn = CloudFormation(lambda event, context: None, endpoint)
    with pytest.raises(AssertionError, match=r"got 0 \(PUT attempts and their outcomes: none\)"):
        cfn.create("Crystal", PROPS)


def test_a_response_after_the_deadline_fails_the_test(endpoint: ResponseEndpoint) -> None:
    def handler(event: dict[str, Any], context: Any) -> None:
        time.sleep(context.get_remaining_time_in_millis() / 1000 + 0.05)
        _send_response(event["ResponseURL"], body_for(event))

    cfn = CloudFormation(handler, endpoint)
    with pytest.raises(AssertionError, match="after the Lambda deadline"):
        cfn.create("Crystal", PROPS, remaining_ms=200)


def test_a_handler_that_raises_fails_the_test_unless_allowed(endpoint: ResponseEndpoint) -> None:
    def handler(event: dict[str, Any], context: Any) -> None:
        _send_response(event["ResponseURL"], body_for(event))
        raise RuntimeError("boom")

    cfn = CloudFormation(handler, endpoint)
    with pytest.raises(AssertionError, match="boom"):
        cfn.create("Crystal", PROPS)
    assert cfn.create("Crystal", PROPS, allow_handler_error=True)["Status"] == "SUCCESS"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"PhysicalResourceId": ""}, "PhysicalResourceId is ''"),
        ({"Status": "FAILED", "Reason": ""}, "FAILED without a Reason"),
        ({"Status": "OK"}, "Status is 'OK'"),
        ({"RequestId": "someone-else"}, "RequestId 'someone-else' does not echo"),
        ({"Data": {"Big": "x" * 5000}}, "over the 4096 limit"),
    ],
)
def test_bodies_cloudformation_would_reject_fail_the_test(
    endpoint: ResponseEndpoint, body: dict[str, Any], problem: str
) -> None:
    def handler(event: dict[str, Any], context: Any) -> None:
        _send_response(event["ResponseURL"], {**body_for(event), **body})

    cfn = CloudFormation(handler, endpoint)
    with pytest.raises(AssertionError, match=re.escape(problem)):
        cfn.create("Crystal", PROPS)


# --- failure injection ----------------------------------------------------------------------


def test_http_500_is_not_a_delivery_and_crhelper_does_not_retry_it(
    endpoint: ResponseEndpoint,
) -> None:
    # crhelper counts any HTTP answer as success, so an S3 500 loses the response: exactly the
    # "stack stuck for an hour" case the driver must expose.
    endpoint.fail_next(1, "500")
    cfn = CloudFormation(sending_handler(), endpoint)
    event = cfn.event("Create", "Crystal", PROPS)
    with pytest.raises(AssertionError, match=r"got 0 \(PUT attempts and their outcomes: 500\)"):
        cfn.invoke(event)
    assert [put.outcome for put in endpoint.puts_for(event["ResponseURL"])] == ["500"]


@pytest.mark.usefixtures("no_crhelper_sleep")
def test_a_reset_connection_is_retried_by_crhelper(endpoint: ResponseEndpoint) -> None:
    endpoint.fail_next(2, "reset")
    cfn = CloudFormation(sending_handler(), endpoint)
    event = cfn.event("Create", "Crystal", PROPS)
    assert cfn.invoke(event)["Status"] == "SUCCESS"
    outcomes = [put.outcome for put in endpoint.puts_for(event["ResponseURL"])]
    assert outcomes == ["reset", "reset", "200"]


def test_a_tampered_url_is_refused_like_a_bad_signature(endpoint: ResponseEndpoint) -> None:
    cfn = CloudFormation(sending_handler(), endpoint)
    event = cfn.event("Create", "Crystal", PROPS)
    tampered = event["ResponseURL"].replace("%7C", "|")
    _send_response(tampered, body_for(event))
    assert [put.outcome for put in endpoint.puts] == ["403"]
    assert endpoint.delivered_for(event["ResponseURL"]) == []


# --- raw invocation and environment ---------------------------------------------------------


def test_invoke_raw_accepts_malformed_events(endpoint: ResponseEndpoint) -> None:
    def handler(event: dict[str, Any], context: Any) -> None:
        if "ResponseURL" not in event:
            raise KeyError("ResponseURL")
        _send_response(event["ResponseURL"], {"Status": "FAILED", "Reason": "malformed"})

    cfn = CloudFormation(handler, endpoint, grace_s=0.05)
    assert cfn.invoke_raw({"RequestType": "Create"}) == []
    assert isinstance(cfn.last_handler_error, KeyError)

    event = cfn.event("Create", "Crystal", PROPS)
    del event["StackId"], event["RequestId"]
    assert cfn.invoke_raw(event) == [{"Status": "FAILED", "Reason": "malformed"}]
    assert cfn.last_handler_error is None
    assert cfn.responses == []  # raw invocations are not checked or tracked


def test_the_endpoint_restores_ssl_cert_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/somewhere/else.pem")
    with ResponseEndpoint() as ep:
        assert os.environ["SSL_CERT_FILE"] == ep.ca_file
        thread_names = {t.name for t in threading.enumerate()}
        assert f"cfn-response-endpoint:{ep.port}" in thread_names
    assert os.environ["SSL_CERT_FILE"] == "/somewhere/else.pem"
    assert not any(t.name.startswith("cfn-response-endpoint") for t in threading.enumerate())

    monkeypatch.delenv("SSL_CERT_FILE")
    with ResponseEndpoint():
        pass
    assert "SSL_CERT_FILE" not in os.environ


# --- the workshop platform ------------------------------------------------------------------


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    # Never let a configured endpoint or profile steer the in-process mock elsewhere.
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


def test_build_workshop_platform_under_moto(fake_aws: boto3.Session) -> None:
    platform = build_workshop_platform(fake_aws)

    assert platform.mesh_name == "ecs-mesh"
    # The platform reports the emulator's own ARN. Real App Mesh writes ...:mesh/ecs-mesh; moto
    # 5.2.5 drops the "mesh/" (its node ARNs are right), so accept both shapes here.
    assert platform.mesh_arn in (
        "arn:aws:appmesh:us-east-1:123456789012:mesh/ecs-mesh",
        "arn:aws:appmesh:us-east-1:123456789012:ecs-mesh",
    )
    mesh = fake_aws.client("appmesh").describe_mesh(meshName="ecs-mesh")["mesh"]
    assert mesh["metadata"]["arn"] == platform.mesh_arn
    assert platform.account == "123456789012"
    assert platform.region == "us-east-1"
    assert platform.namespace_name == "service.local"
    assert platform.cloud_map_service_name == "ecsdemo-crystal"
    assert platform.cluster_arn.endswith(":cluster/container-demo")

    sd = fake_aws.client("servicediscovery")
    service = sd.get_service(Id=platform.cloud_map_service_id)["Service"]
    assert service["Arn"] == platform.cloud_map_service_arn
    assert service["NamespaceId"] == platform.namespace_id
    assert service["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 10}]
    namespace = sd.get_namespace(Id=platform.namespace_id)["Namespace"]
    assert namespace["Name"] == "service.local"
    assert namespace["Type"] == "DNS_PRIVATE"

    roles = fake_aws.client("iam")
    for arn in (platform.task_role_arn, platform.execution_role_arn):
        role = roles.get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]
        # boto3's stubs type the decoded policy document as a str-or-TypedDict; it is a dict.
        document: Any = role["AssumeRolePolicyDocument"]
        assert document["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    groups = fake_aws.client("logs").describe_log_groups(logGroupNamePrefix="ecsdemo-crystal")
    assert [g["logGroupName"] for g in groups["logGroups"]] == [platform.log_group_name]

    ecs = fake_aws.client("ecs")
    td = ecs.describe_task_definition(taskDefinition=platform.app_task_definition_arn)[
        "taskDefinition"
    ]
    assert td["family"] == platform.app_family == "ecsdemo-crystal"
    assert td["networkMode"] == "awsvpc"
    assert td["requiresCompatibilities"] == ["FARGATE"]
    assert (td["cpu"], td["memory"]) == ("256", "512")
    assert td["taskRoleArn"] == platform.task_role_arn
    assert td["executionRoleArn"] == platform.execution_role_arn
    (container,) = td["containerDefinitions"]
    assert container["name"] == "crystal"
    assert container["image"] == APP_IMAGE
    assert container["essential"] is True
    assert container["portMappings"][0]["containerPort"] == 3000
    assert container["portMappings"][0]["protocol"] == "tcp"
    assert container["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": "ecsdemo-crystal",
            "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": "ecsdemo-crystal",
        },
    }

    # A second build finds everything and adds nothing (no second revision, namespace, role).
    assert build_workshop_platform(fake_aws) == platform
    revisions = ecs.list_task_definitions(familyPrefix="ecsdemo-crystal")["taskDefinitionArns"]
    assert revisions == [platform.app_task_definition_arn]


# --- stack updates (tests/support/stack.py) ---------------------------------------------------


def test_stack_orders_resources_by_getatt_and_depends_on() -> None:
    template: dict[str, dict[str, Any]] = {
        "Service": {"Type": "AWS::ECS::Service", "DependsOn": "Policy", "Properties": {}},
        "Policy": {"Type": "AWS::IAM::RolePolicy", "Properties": {"R": [GetAtt("Crystal", "A")]}},
        "Crystal": {"Type": "Custom::MeshedCrystal", "Properties": {}},
    }
    assert _order(template) == ["Crystal", "Policy", "Service"]
    template["Crystal"]["DependsOn"] = ["Service"]
    with pytest.raises(ValueError, match="circular"):
        _order(template)


def _stack_template(platform: Platform, **crystal: Any) -> dict[str, dict[str, Any]]:
    return {
        "Crystal": {
            "Type": "Custom::MeshedCrystal",
            "Properties": {
                "MeshName": "ecs-mesh",
                "CloudMapServiceArn": platform.cloud_map_service_arn,
                "TaskDefinition": platform.app_task_definition_arn,
                **crystal,
            },
        },
        "CrystalService": {
            "Type": "AWS::ECS::Service",
            "Properties": {
                "ServiceName": "ecsdemo-crystal",
                "Cluster": platform.cluster_arn,
                "TaskDefinition": GetAtt("Crystal", "TaskDefinitionArn"),
                "ServiceRegistries": [{"RegistryArn": platform.cloud_map_service_arn}],
            },
        },
        # Updated after the ECS service: its failure rolls the ECS service back.
        "Policy": {
            "Type": "AWS::IAM::RolePolicy",
            "DependsOn": "CrystalService",
            "Properties": {
                "RoleName": platform.task_role_arn.rsplit("/", 1)[-1],
                "PolicyName": "envoy",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "appmesh:StreamAggregatedResources",
                            "Resource": GetAtt("Crystal", "VirtualNodeArn"),
                        }
                    ],
                },
            },
        },
    }


def test_stack_failure_rolls_back_in_place_updates_and_deletes_the_new_id(
    cfn: CloudFormation, platform: Platform
) -> None:
    cfn.grace_s = 0.05
    stack = Stack(cfn, cluster=platform.cluster_arn)
    created = stack.deploy(_stack_template(platform))
    assert created.status == "CREATE_COMPLETE", created.reason
    old_id, old_data = stack.physical_id("Crystal"), stack.attributes("Crystal")
    service_arn = stack.physical_id("CrystalService")
    ecs = boto3.client("ecs")

    def running() -> Any:
        described = ecs.describe_services(
            cluster=platform.cluster_arn, services=["ecsdemo-crystal"]
        )
        return described["services"][0]["deployments"][0]

    operation = stack.deploy(_stack_template(platform, Mode="ServiceConnect"))
    assert operation.status == "UPDATE_ROLLBACK_COMPLETE"
    assert "doesn't contain VirtualNodeArn key" in operation.reason
    new_id = cfn.responses[-2]["PhysicalResourceId"]
    assert [(e.logical_id, e.physical_id, e.status) for e in operation.events] == [
        ("Crystal", new_id, "UPDATE_COMPLETE"),
        ("CrystalService", service_arn, "UPDATE_COMPLETE"),
        ("Policy", "crystal-stack-Policy", "UPDATE_FAILED"),
        ("CrystalService", service_arn, "UPDATE_COMPLETE"),
        ("Crystal", new_id, "DELETE_COMPLETE"),
    ]
    # The ECS service was updated back to the old attributes; the stack holds the old id
    assert running()["taskDefinition"] == old_data["TaskDefinitionArn"]
    assert "serviceConnectConfiguration" not in running()
    assert stack.physical_id("Crystal") == old_id == cfn.physical_id("Crystal")
    assert stack.attributes("Crystal") == old_data


def test_stack_create_that_fails_deletes_the_id_of_the_failed_response(
    cfn: CloudFormation, platform: Platform
) -> None:
    cfn.grace_s = 0.05
    stack = Stack(cfn, cluster=platform.cluster_arn)
    operation = stack.deploy(_stack_template(platform, Listeners=[{"Port": "70000"}]))
    assert operation.status == "ROLLBACK_COMPLETE"
    assert operation.reason.startswith("Received response status [FAILED] from custom resource.")
    assert "Listeners[0].Port" in operation.reason
    failed_id = cfn.responses[0]["PhysicalResourceId"]
    assert [(e.logical_id, e.physical_id, e.status) for e in operation.events] == [
        ("Crystal", failed_id, "CREATE_FAILED"),
        ("Crystal", failed_id, "DELETE_COMPLETE"),
    ]
    assert not stack.holds("Crystal")
    assert boto3.client("ecs").list_services(cluster=platform.cluster_arn)["serviceArns"] == []
