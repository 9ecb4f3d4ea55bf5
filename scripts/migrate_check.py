"""``tasks.py migrate --check DIR --step N``: read the account (only) and say whether step N of
the plan in ``DIR`` may start.

For each stack that an earlier step updated, as of its latest step before ``N``:

* its status is ``UPDATE_COMPLETE`` (or ``CREATE_COMPLETE``): not in progress, not rolled back;
* it runs that step's template (``GetTemplate`` equals the written file): the step was deployed;
* its latest operation has no ``DELETE_FAILED`` event: every cleanup Delete succeeded (a failed
  one leaves App Mesh resources behind and would fail the next step's order);
* after a ``switch`` or ``redeploy``, each ECS service of the template that has a
  ``ServiceConnectConfiguration`` has one deployment, ``COMPLETED`` (no Envoy task left draining),
  with Service Connect enabled and the template's number of ``Services`` entries.

Calls: CloudFormation ``DescribeStacks``, ``GetTemplate``, ``DescribeStackEvents``,
``DescribeStackResource``; ECS ``DescribeServices``. Nothing is written. Exit 0: step N may start
(or every step is done); 1: it may not, each reason printed; 2: the plan or the step is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from scripts.cfn_template import TemplateError, load

OK_STATUSES = ("CREATE_COMPLETE", "UPDATE_COMPLETE")


def stack_names(given: Sequence[str]) -> dict[str, str]:
    """``TEMPLATE=NAME`` pairs (TEMPLATE: the path as in the plan, or its file name's stem)."""
    found: dict[str, str] = {}
    for pair in given:
        template, sep, name = pair.partition("=")
        if not sep or not template or not name:
            raise ValueError(f"--stack {pair}: expected TEMPLATE=STACK_NAME")
        found[template] = name
    return found


def _stack_name(template: str, names: Mapping[str, str]) -> str:
    return names.get(template) or names.get(Path(template).stem) or Path(template).stem


def _latest_operation_events(cfn: Any, name: str) -> list[dict[str, Any]]:
    """The resource events of the stack's latest operation (newest first)."""
    events: list[dict[str, Any]] = []
    ended = 0
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=name):
        for event in page["StackEvents"]:
            if event["ResourceType"] == "AWS::CloudFormation::Stack" and event[
                "ResourceStatus"
            ].endswith("_COMPLETE"):
                ended += 1
                if ended == 2:  # the end of the operation before the latest one
                    return events
                continue
            events.append(event)
    return events


def _same_template(body: Any, written: str) -> bool:
    if isinstance(body, dict):  # boto3 parses a JSON template body
        try:
            return bool(body == json.loads(written))
        except ValueError:
            return False
    return str(body).strip() == written.strip()


def _check_stack(
    cfn: Any, ecs: Any, name: str, step: Mapping[str, Any], deployed: bool
) -> list[str]:
    n, output = step["n"], step["output"]
    try:
        [stack] = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        return [f"stack {name}: {error.response['Error'].get('Message', error)}"]
    problems = []
    status = stack["StackStatus"]
    if status not in OK_STATUSES:
        reason = stack.get("StackStatusReason")
        problems.append(f"stack {name} is {status}" + (f": {reason}" if reason else ""))
    written = Path(output).read_text(encoding="utf-8")
    body = cfn.get_template(StackName=name).get("TemplateBody")
    if not _same_template(body, written):
        problems.append(
            f"stack {name} does not run the template of step {n} ({output}): deploy it first"
        )
        return problems
    for event in _latest_operation_events(cfn, name):
        if event["ResourceStatus"] == "DELETE_FAILED":
            problems.append(
                f"stack {name}: the cleanup Delete of {event['LogicalResourceId']} "
                f"({event.get('PhysicalResourceId', '')}) failed: "
                f"{event.get('ResourceStatusReason', '')}"
            )
    if deployed:
        problems += _check_ecs(cfn, ecs, name, output)
    return problems


def _check_ecs(cfn: Any, ecs: Any, name: str, output: str) -> list[str]:
    problems = []
    template = load(output)
    for logical in template.resources_of_type("AWS::ECS::Service"):
        props = template.get(("Resources", logical, "Properties"))
        wanted = props.get("ServiceConnectConfiguration")
        if not isinstance(wanted, dict):
            continue
        resource = cfn.describe_stack_resource(StackName=name, LogicalResourceId=logical)
        arn = resource["StackResourceDetail"]["PhysicalResourceId"]
        parts = arn.split(":", 5)[-1].split("/")
        cluster = parts[1] if len(parts) == 3 else "default"
        [service] = ecs.describe_services(cluster=cluster, services=[arn])["services"]
        deployments = service.get("deployments") or []
        states = [d.get("rolloutState", "?") for d in deployments]
        if len(deployments) != 1 or states != ["COMPLETED"]:
            problems.append(
                f"ECS service {service['serviceName']} ({name}/{logical}): deployments "
                f"{', '.join(states) or 'none'}; wait until one is COMPLETED"
            )
            continue
        config = deployments[0].get("serviceConnectConfiguration") or {}
        entries = wanted.get("Services")
        if not config.get("enabled"):
            problems.append(
                f"ECS service {service['serviceName']} ({name}/{logical}): Service Connect is "
                "not enabled in its deployment"
            )
        elif isinstance(entries, list) and len(config.get("services") or []) != len(entries):
            problems.append(
                f"ECS service {service['serviceName']} ({name}/{logical}): "
                f"{len(config.get('services') or [])} Service Connect services, the template "
                f"has {len(entries)}"
            )
    return problems


def check(out: Path, step: int, stacks: Sequence[str]) -> int:
    try:
        plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
        names = stack_names(stacks)
    except (OSError, ValueError) as error:
        print(f"migrate --check: {error}")
        return 2
    steps = plan["steps"]
    if not 1 <= step <= len(steps) + 1:
        print(f"migrate --check: the plan has steps 1 to {len(steps)} (and {len(steps) + 1}: done)")
        return 2
    latest: dict[str, Mapping[str, Any]] = {}
    deployed: dict[str, bool] = {}
    for before in steps[: step - 1]:
        latest[before["template"]] = before
        if before["action"] in ("switch", "redeploy"):
            deployed[before["template"]] = True
    problems: list[str] = []
    if latest:
        try:
            cfn, ecs = boto3.client("cloudformation"), boto3.client("ecs")
        except BotoCoreError as error:
            print(f"migrate --check: cannot read the account: {error}")
            return 2
    for template, before in latest.items():
        name = _stack_name(template, names)
        try:
            found = _check_stack(cfn, ecs, name, before, deployed.get(template, False))
        except (ClientError, BotoCoreError, TemplateError, OSError) as error:
            found = [f"stack {name}: {error}"]
        print(f"step {before['n']} ({before['action']} {name}): {'; '.join(found) or 'ok'}")
        problems += found
    if problems:
        print(f"step {step} may NOT start: {len(problems)} problem(s) above")
        return 1
    if step > len(steps):
        print("every step is done")
    else:
        target = steps[step - 1]
        stack = _stack_name(target["template"], names)
        print(f"step {step} may start: {target['action']} {stack} with {target['output']}")
    return 0
