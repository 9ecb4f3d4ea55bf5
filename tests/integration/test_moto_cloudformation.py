"""The emulator's DescribeStackResource answers from the CloudFormation driver, as AWS would."""

from __future__ import annotations

from datetime import datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.integration.lifecycle import LOGICAL, fast, ok, workshop
from tests.support.cfn_driver import CloudFormation
from tests.support.platform import Platform


def test_describe_stack_resource_returns_the_id_the_stack_holds(
    cfn: CloudFormation, platform: Platform
) -> None:
    created = fast(cfn).create(LOGICAL, workshop(platform))
    ok(created)
    client = boto3.client("cloudformation")
    for name in (cfn.stack_id, cfn.stack_name):
        detail = client.describe_stack_resource(StackName=name, LogicalResourceId=LOGICAL)[
            "StackResourceDetail"
        ]
        assert detail["PhysicalResourceId"] == created["PhysicalResourceId"]
        assert detail["LogicalResourceId"] == LOGICAL
        assert detail["StackId"] == cfn.stack_id
        assert detail["StackName"] == cfn.stack_name
        assert detail["ResourceType"] == "Custom::MeshedCrystal"
        assert detail["ResourceStatus"] == "CREATE_COMPLETE"
        assert isinstance(detail["LastUpdatedTimestamp"], datetime)
    replaced = ok(cfn.update(LOGICAL, workshop(platform, VirtualNodeName="crystal-v2")))
    detail = client.describe_stack_resource(StackName=cfn.stack_id, LogicalResourceId=LOGICAL)[
        "StackResourceDetail"
    ]
    assert detail["ResourceStatus"] == "UPDATE_COMPLETE"
    assert detail["PhysicalResourceId"].endswith(
        f":{replaced['VirtualNodeName']}:" + replaced["VirtualServiceName"]
    )


def test_describe_stack_resource_errors_are_the_real_ones(cfn: CloudFormation) -> None:
    client = boto3.client("cloudformation")
    with pytest.raises(ClientError) as no_resource:
        client.describe_stack_resource(StackName=cfn.stack_id, LogicalResourceId="Nothing")
    assert no_resource.value.response["Error"]["Code"] == "ValidationError"
    assert no_resource.value.response["Error"]["Message"] == (
        f"Resource Nothing does not exist for stack {cfn.stack_id}"
    )
    with pytest.raises(ClientError) as no_stack:
        client.describe_stack_resource(StackName="no-such-stack", LogicalResourceId=LOGICAL)
    assert no_stack.value.response["Error"]["Code"] == "ValidationError"
    assert (
        no_stack.value.response["Error"]["Message"] == "Stack with id no-such-stack does not exist"
    )
