"""`python3 tasks.py plan TEMPLATE`: the user's own template as it is (not the workshop's), read
by scripts/cfn_template.py; `--before OLD_TEMPLATE` previews the Update. No AWS call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.cfn_template import load
from tests.integration.test_plan import run

DATA = Path(__file__).resolve().parents[1] / "data" / "plan"
PAYMENTS = str(DATA / "payments.yaml")
HEALTHCHECK = str(DATA / "payments-healthcheck.yaml")
SERVICE_CONNECT = str(DATA / "payments-service-connect.yaml")
IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/payments-api"


def plan(*args: str) -> str:
    done = run(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    return done.stdout


def test_a_template_with_its_task_definition_and_cloud_map_service() -> None:
    out = plan(PAYMENTS)
    assert out.startswith(
        f"Template {PAYMENTS}, resource Payments (Custom::MeshedCrystal)\n"
        "Mode: AppMesh (no AWS call was made; * marks a placeholder)\n"
    )
    # The application is the template's AWS::ECS::TaskDefinition, its parameters at their defaults
    assert "== Task definition: family payments-api-mesh, derived from payments-api ==" in out
    assert "--- ApiTaskDefinition (AWS::ECS::TaskDefinition)" in out
    assert f'       "image": "{IMAGE}:1.4.2",' in out
    assert '+        "value": "8080"' in out  # AppPorts: the ApiPort parameter's default
    # The Cloud Map names of !GetAtt Discovery.Arn, from the template's own resources
    assert '"namespaceName": "payments.internal",' in out
    assert '"serviceName": "payments"' in out
    assert "VirtualServiceName     = payments.payments.internal\n" in out
    assert '"port": 8080,\n        "protocol": "http2"' in out
    # What only the deployment knows, each marked with why; IAM ARNs without a region
    marked = out.split("== From the template: placeholders (known at deploy time) ==\n")[1]
    assert marked.splitlines() == [
        "* ApiTaskDefinition.TaskRoleArn = arn:aws:iam::123456789012:role/placeholder: "
        "TaskRole.Arn (AWS::IAM::Role) is known at deploy time",
        "* ApiTaskDefinition.ExecutionRoleArn = arn:aws:iam::123456789012:role/placeholder: "
        "ExecutionRole.Arn (AWS::IAM::Role) is known at deploy time",
        "* TaskDefinition = arn:aws:ecs:us-east-1:123456789012:task-definition/payments-api:1: "
        "ApiTaskDefinition's revision, known at deploy time (its content is the template's)",
        "* CloudMapServiceArn: Discovery.Arn (AWS::ServiceDiscovery::Service) is known at deploy "
        "time; its names, payments in payments.internal, are the template's",
    ]


def test_parameters_replace_the_defaults() -> None:
    out = plan(PAYMENTS, "--parameter", "ApiPort=9090", "--parameter", f"ApiImage={IMAGE}:2.0.0")
    assert f'       "image": "{IMAGE}:2.0.0",' in out
    assert '"port": 9090,' in out
    assert '+        "value": "9090"' in out
    assert '"value": "8080"' not in out


def test_region_and_account_fill_the_pseudo_parameters() -> None:
    out = plan(PAYMENTS, "--region", "eu-west-1", "--account", "111122223333")
    assert '"awslogs-region": "eu-west-1",' in out  # !Ref AWS::Region in the task definition
    assert (
        "VirtualServiceArn      = arn:aws:appmesh:eu-west-1:111122223333:mesh/payments-mesh/"
        "virtualService/payments.payments.internal\n"
    ) in out


def test_a_json_template_plans_as_its_yaml(tmp_path: Path) -> None:
    as_json = tmp_path / "payments.json"
    as_json.write_text(json.dumps(load(PAYMENTS).data, indent=2), encoding="utf-8")
    yaml_out = plan(PAYMENTS).split("\n", 1)[1]
    json_out = plan(str(as_json)).split("\n", 1)[1]
    # the stack's name is the file's stem either way: only the first line (the path) differs
    assert json_out == yaml_out


def test_two_resources_need_a_logical_id(tmp_path: Path) -> None:
    text = Path(PAYMENTS).read_text(encoding="utf-8")
    ledger = (
        "  Ledger:\n    Type: Custom::MeshedCrystal\n    Properties:\n"
        "      MeshName: !Ref MeshName\n      CloudMapNamespaceName: payments.internal\n"
        "      CloudMapServiceName: ledger\n      TaskDefinition: !Ref ApiTaskDefinition\n"
        "      Family: ledger-mesh\n\nOutputs:"
    )
    both = tmp_path / "both.yaml"
    both.write_text(text.replace("\nOutputs:", ledger), encoding="utf-8")
    done = run(str(both))
    assert done.returncode == 1
    assert done.stderr == (
        f"plan: {both} has 2 Custom::MeshedCrystal resources (Payments, Ledger): give one with "
        "--logical-id\n"
    )
    out = plan(str(both), "--logical-id", "Ledger")
    assert "resource Ledger (Custom::MeshedCrystal)" in out
    assert "VirtualServiceName     = ledger.payments.internal\n" in out
    missing = run(str(both), "--logical-id", "Crystal")
    assert missing.stderr == (
        f"plan: {both} has no Custom::MeshedCrystal Crystal (it has Payments, Ledger)\n"
    )


def test_a_mistake_in_the_template_is_said_as_a_create_would() -> None:
    done = run(PAYMENTS, "--parameter", "ApiPort=70000")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"plan: {PAYMENTS}, Payments: ")
    assert "Listeners[0].Port: '70000' is not a port (1-65535)" in done.stderr


def test_before_previews_an_update_in_place() -> None:
    out = plan(HEALTHCHECK, "--before", PAYMENTS)
    update = out.split("\n== Update of Payments: in place ==\n")[1]
    assert update.startswith(
        "The physical id stays: "
        "meshed-crystal:123456789012:payments-mesh:payments:payments.payments.internal\n"
        "Task definition: a new revision in family payments-api-mesh; the previous revision "
        "stays ACTIVE\n"
    )
    assert f'  -      "image": "{IMAGE}:1.4.2",' in update
    assert f'  +      "image": "{IMAGE}:1.5.0",' in update
    assert "Virtual node spec: updated in place\n" in update
    assert '  +        "path": "/healthz",' in update
    assert "Virtual service spec: unchanged\n" in update
    assert "Attributes: the same values\n" in update
    assert update.rstrip().endswith(
        "No cleanup Delete (the id stays). The revision replaced stays ACTIVE for a rollback; "
        "older ones of this resource are deregistered."
    )


def test_before_with_nothing_changed_says_no_new_revision() -> None:
    update = plan(PAYMENTS, "--before", PAYMENTS).split("== Update of Payments: in place ==\n")[1]
    assert "Task definition: unchanged (family payments-api-mesh): no new revision\n" in update
    assert "Virtual node spec: unchanged\n" in update


def test_before_previews_the_switch_to_service_connect_and_its_cleanup_delete() -> None:
    out = plan(SERVICE_CONNECT, "--before", PAYMENTS)
    assert out.startswith(f"Template {SERVICE_CONNECT}, resource Payments")
    update = out.split("\n== Update of Payments: REPLACEMENT ==\n")[1]
    assert update.splitlines()[:4] == [
        "The physical id changes (Mode AppMesh -> ServiceConnect):",
        "  old: meshed-crystal:123456789012:payments-mesh:payments:payments.payments.internal",
        "  new: meshed-crystal-sc:123456789012:Payments:00000000-plan",
        "Task definition: registered in family payments-api-sc (the plan above), no longer in "
        "payments-api-mesh",
    ]
    assert "Virtual node spec: not used any more (see the cleanup below)" in update
    assert "ServiceConnectConfiguration (the ECS service's): new (created by the Update)" in update
    assert "  Mode: AppMesh -> ServiceConnect" in update
    assert (
        "No longer returned: VirtualNodeArn, VirtualNodeName, VirtualServiceArn, MeshName, "
        "MeshArn, EnvoyImage"
    ) in update
    cleanup = update.split("cleanup Delete of the old id removes:\n")[1].splitlines()
    assert cleanup[:3] == [
        "  - the virtual service payments.payments.internal (mesh payments-mesh)",
        "  - the virtual node payments (mesh payments-mesh)",
        "  - the payments-api-mesh revisions registered under the old id (found from ECS by "
        "their ownership tags)",
    ]


def test_a_renamed_node_keeps_the_service_it_hands_over(tmp_path: Path) -> None:
    renamed = tmp_path / "payments.yaml"
    text = Path(PAYMENTS).read_text(encoding="utf-8")
    renamed.write_text(
        text.replace(
            "      MeshName: !Ref MeshName\n",
            "      MeshName: !Ref MeshName\n      VirtualNodeName: payments-v2\n",
        ),
        encoding="utf-8",
    )
    update = plan(str(renamed), "--before", PAYMENTS).split("REPLACEMENT ==\n")[1]
    assert update.startswith("The physical id changes (VirtualNodeName payments -> payments-v2):")
    cleanup = update.split("cleanup Delete of the old id removes:\n")[1].splitlines()
    assert cleanup[:2] == [
        "  - not the virtual service payments.payments.internal: the new id took it over",
        "  - the virtual node payments (mesh payments-mesh)",
    ]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            [str(DATA / "payments.yaml"), "--before", str(DATA / "none.yaml")],
            f"plan: template {DATA / 'none.yaml'}: No such file or directory",
        ),
        (
            ["events/create.json", "--before", PAYMENTS],
            "plan: --before, --parameter and --with take templates: events/create.json is "
            "properties or an event",
        ),
        (
            [PAYMENTS, "--parameter", "ApiPort"],
            "plan: --parameter ApiPort: expected KEY=VALUE",
        ),
    ],
    ids=["no old template", "properties with --before", "parameter without value"],
)
def test_what_a_template_plan_needs_is_one_line(args: list[str], says: str) -> None:
    done = run(*args)
    assert done.returncode == 1
    assert done.stderr == says + "\n"


INLINE = """
Parameters:
  Namespace: {Type: String, Default: service.local}
Resources:
  Nodejs:
    Type: Custom::MeshedCrystal
    Properties:
      ServiceToken: !ImportValue MeshedCrystalServiceToken
      Mode: ServiceConnect
      CloudMapNamespaceName: !Ref Namespace
      CloudMapServiceName: ecsdemo-nodejs
      TaskDefinition:
        Family: ecsdemo-nodejs
        NetworkMode: awsvpc
        Memory: "1024"
        TaskRoleArn: arn:aws:iam::123456789012:role/nodejs-task
        ContainerDefinitions:
          - Name: nodejs
            Image: public.ecr.aws/aws-containers/ecsdemo-nodejs:latest
            Memory: 512
            PortMappings: [{ContainerPort: 3000}]
"""


def test_an_inline_task_definition_in_service_connect_mode(tmp_path: Path) -> None:
    template = tmp_path / "nodejs.yaml"
    template.write_text(INLINE, encoding="utf-8")
    out = plan(str(template), "--parameter", "Namespace=apps.local")
    assert "Mode: ServiceConnect" in out
    # An inline definition keeps its own Family (DESIGN §2)
    assert "== Task definition: family ecsdemo-nodejs, derived from ecsdemo-nodejs ==" in out
    assert '+          "name": "nodejs-3000"\n' in out
    assert "Endpoint               = http://ecsdemo-nodejs.apps.local:3000\n" in out
    assert "== From the template" not in out  # the template says everything the plan needs


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_with_resolves_imports_from_another_stacks_template() -> None:
    # A service stack that imports its Cloud Map service and mesh from a platform stack
    alone = run(str(EXAMPLES / "crystal.yaml"))
    assert alone.returncode == 1
    assert alone.stderr.endswith(
        "give them with --cloud-map-names NAMESPACE SERVICE, or give the template that declares "
        "it with --with TEMPLATE\n"
    )
    out = plan(str(EXAMPLES / "crystal.yaml"), "--with", str(EXAMPLES / "platform.yaml"))
    assert '"namespaceName": "service.local",' in out
    assert "VirtualServiceName     = ecsdemo-crystal.service.local\n" in out
    assert "MeshName               = ecs-mesh\n" in out


def test_before_without_the_resource_is_a_create(tmp_path: Path) -> None:
    old = tmp_path / "old.yaml"
    old.write_text(Path(PAYMENTS).read_text(encoding="utf-8").replace("Payments", "Orders"))
    done = run(PAYMENTS, "--before", str(old))
    assert done.returncode == 1
    assert done.stderr == (
        f"plan: {old} has no Custom::MeshedCrystal Payments: for it the update is a Create (plan "
        "the new template alone)\n"
    )
