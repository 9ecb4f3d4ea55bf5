"""The function as deployed: its settings from the environment (template.yaml's ENVOY_IMAGE,
ALLOWED_MESHES, APPMESH_RETIRED) and its account and region from the invocation, not from the
fallbacks in the code (the other tests' account and region happen to equal those fallbacks)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

from tests.integration.lifecycle import LOGICAL, failed, ok, workshop
from tests.support import moto_appmesh, moto_cloudformation, moto_service_connect
from tests.support.cfn_driver import CloudFormation, ResponseEndpoint
from tests.support.platform import Platform, build_workshop_platform

REGION = "eu-west-1"
ACCOUNT = "210987654321"
CUSTOM_ENVOY = "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.9.0-prod"


@pytest.fixture
def elsewhere(monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """The workshop platform in another account and region than the code's fallbacks."""
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    moto_appmesh.install()
    moto_service_connect.install()
    with mock_aws():
        yield build_workshop_platform(boto3.Session(region_name=REGION))


def container(monkeypatch: pytest.MonkeyPatch, **env: str) -> ModuleType:
    """A fresh Lambda container: app.py imported anew, its Provider built from the environment
    exactly as deployed (not replaced, as the other tests' fixtures do)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    spec = importlib.util.find_spec("meshed_crystal.app")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def driver(handler: ModuleType, endpoint: ResponseEndpoint) -> CloudFormation:
    return CloudFormation(
        handler.lambda_handler,
        endpoint,
        region=REGION,
        account=ACCOUNT,
        grace_s=0.05,
    )


def test_account_region_and_envoy_image_come_from_the_deployment(
    elsewhere: Platform, endpoint: ResponseEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = container(monkeypatch, ENVOY_IMAGE=CUSTOM_ENVOY, ALLOWED_MESHES="*")
    cfn = driver(deployed, endpoint)
    with moto_cloudformation.serving(cfn):
        data = ok(cfn.create(LOGICAL, workshop(elsewhere)))
        # Every ARN is of the invocation's account and region
        for key in ("TaskDefinitionArn", "VirtualNodeArn", "VirtualServiceArn", "MeshArn"):
            assert f":{REGION}:{ACCOUNT}:" in data[key], (key, data[key])
        # The Envoy image is the deployment's ENVOY_IMAGE
        assert data["EnvoyImage"] == CUSTOM_ENVOY
        described = boto3.client("ecs").describe_task_definition(
            taskDefinition=data["TaskDefinitionArn"]
        )["taskDefinition"]
        envoy = next(c for c in described["containerDefinitions"] if c["name"] == "envoy")
        assert envoy["image"] == CUSTOM_ENVOY
        assert {"name": "REGION", "value": REGION} in envoy["environment"]
        ok(cfn.delete(LOGICAL))


def test_allowed_meshes_from_the_deployment_refuse_other_meshes(
    elsewhere: Platform, endpoint: ResponseEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = container(monkeypatch, ALLOWED_MESHES="payments-mesh,other-mesh")
    cfn = driver(deployed, endpoint)
    with moto_cloudformation.serving(cfn):
        reason = failed(cfn.create(LOGICAL, workshop(elsewhere)))
    assert "mesh 'ecs-mesh' is not one this provider may manage" in reason
    assert "other-mesh, payments-mesh" in reason
    assert "AllowedMeshNames" in reason


def test_appmesh_retired_from_the_deployment(
    elsewhere: Platform, endpoint: ResponseEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = container(monkeypatch, APPMESH_RETIRED="true")
    cfn = driver(deployed, endpoint)
    with moto_cloudformation.serving(cfn):
        reason = failed(cfn.create(LOGICAL, workshop(elsewhere)))
    assert "AppMeshRetired parameter is true" in reason
    assert json.dumps(reason)  # a plain string
