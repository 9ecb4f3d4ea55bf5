"""Checks of the deployment templates: template.yaml (SAM) and the examples.

They run offline: cfn-lint and `sam validate --lint` need no AWS account. The templates are
parsed with cfn-lint's decoder, which understands CloudFormation's short-form tags (`!Ref`,
`!GetAtt`, ...) and turns them into their long form (`{"Ref": ...}`, `{"Fn::GetAtt": [...]}`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode  # type: ignore[import-untyped]
from meshed_crystal import registry

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
PLATFORM = ROOT / "examples" / "platform.yaml"
CRYSTAL = ROOT / "examples" / "crystal.yaml"
CRYSTAL_SC = ROOT / "examples" / "crystal-service-connect.yaml"
FRONTEND_SC = ROOT / "examples" / "frontend-service-connect.yaml"

Template = dict[str, Any]


def tool(name: str) -> str:
    """An executable of the virtualenv running the tests, else the one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is neither next to {sys.executable} nor on PATH")
    return found


def load(path: Path) -> Template:
    template, matches = decode(str(path))
    assert not matches, f"{path.name} does not parse: {matches}"
    assert isinstance(template, dict)
    return template


@pytest.fixture(scope="module")
def sam() -> Template:
    return load(TEMPLATE)


@pytest.fixture(scope="module")
def platform() -> Template:
    return load(PLATFORM)


@pytest.fixture(scope="module")
def crystal() -> Template:
    return load(CRYSTAL)


@pytest.fixture(scope="module")
def crystal_sc() -> Template:
    return load(CRYSTAL_SC)


@pytest.fixture(scope="module")
def frontend_sc() -> Template:
    return load(FRONTEND_SC)


def resources_of_type(template: Template, type_name: str) -> dict[str, Template]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == type_name
    }


def function_props(sam: Template) -> Template:
    functions = resources_of_type(sam, "AWS::Serverless::Function")
    assert list(functions) == ["Function"], "template.yaml deploys exactly one function"
    props: Template = functions["Function"]["Properties"]
    return props


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- a small evaluator for the intrinsic functions the templates use --------------------------

NO_VALUE = object()
STACK_ID = (
    "arn:aws:cloudformation:eu-west-1:123456789012:stack/meshed-crystal/"
    "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
)
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackId": STACK_ID,
    "AWS::StackName": "meshed-crystal",
}


class Evaluator:
    """Resolves Ref/Sub/Select/Split/Join/If/Not/Equals/Condition for given parameter values."""

    def __init__(self, template: Template, parameters: dict[str, Any]) -> None:
        self.template = template
        self.values: dict[str, Any] = dict(PSEUDO)
        for name, spec in template.get("Parameters", {}).items():
            value = parameters.get(name, spec.get("Default"))
            if spec["Type"] == "CommaDelimitedList" and isinstance(value, str):
                value = value.split(",")
            self.values[name] = value

    def condition(self, name: str) -> bool:
        result = self(self.template["Conditions"][name])
        assert isinstance(result, bool)
        return result

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict) or len(node) != 1:
            return node
        ((key, arg),) = node.items()
        if key == "Ref":
            return NO_VALUE if arg == "AWS::NoValue" else self.values[arg]
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Sub":
            text, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            variables = {**self.values, **{k: self(v) for k, v in local.items()}}
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(variables[m.group(1)]), text)
        if key == "Fn::Select":
            return self(arg[1])[int(self(arg[0]))]
        if key == "Fn::Split":
            return str(self(arg[1])).split(arg[0])
        if key == "Fn::Join":
            return arg[0].join(str(part) for part in self(arg[1]))
        if key == "Fn::If":
            return self(arg[1] if self.condition(arg[0]) else arg[2])
        if key == "Fn::Not":
            return not self(arg[0])
        if key == "Fn::Equals":
            return str(self(arg[0])) == str(self(arg[1]))
        return {key: self(arg)}


# --- linters ---------------------------------------------------------------------------------


def test_cfn_lint_reports_nothing() -> None:
    templates = [str(TEMPLATE), *sorted(str(p) for p in (ROOT / "examples").glob("*.yaml"))]
    assert str(CRYSTAL) in templates
    assert str(PLATFORM) in templates
    assert str(CRYSTAL_SC) in templates
    assert str(FRONTEND_SC) in templates
    result = subprocess.run(
        [tool("cfn-lint"), *templates], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def sam_env() -> dict[str, str]:
    return {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }


@pytest.mark.slow
def test_sam_validate_lint() -> None:
    result = subprocess.run(
        [tool("sam"), "validate", "--lint", "--template-file", str(TEMPLATE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=sam_env(),
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "is a valid SAM Template" in output


def python313_available() -> bool:
    exe = shutil.which("python3.13")
    if exe is None:
        return False
    probe = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    return probe.returncode == 0 and probe.stdout.startswith("Python 3.13")


@pytest.mark.slow
def test_sam_build(tmp_path: Path) -> None:
    """`sam build` (no container) packages handler/ with its requirements for python3.13."""
    if not python313_available():
        message = "sam build of a python3.13 function needs python3.13 on PATH"
        if os.environ.get("MESHED_CRYSTAL_REQUIRE_SAM_BUILD"):
            pytest.fail(f"{message} (required here: MESHED_CRYSTAL_REQUIRE_SAM_BUILD is set)")
        pytest.skip(message)
    build_dir = tmp_path / "build"
    result = subprocess.run(
        [
            tool("sam"),
            "build",
            "--template-file",
            str(TEMPLATE),
            "--build-dir",
            str(build_dir),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=sam_env(),
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    package = build_dir / "Function"
    assert (package / "meshed_crystal" / "app.py").is_file()
    assert (package / "crhelper").is_dir()
    # Powertools and the X-Ray SDK come from AWS's layer: no second botocore in the artifact.
    assert not (package / "aws_lambda_powertools").exists()
    assert not (package / "botocore").exists()
    assert not (package / "Makefile").exists()
    assert (build_dir / "template.yaml").is_file()
    # Bytecode for the runtime's Python, hash-based and unchecked (PEP 552 flags == 0b01): the
    # read-only /var/task could not cache it, and unzipped files carry no reliable timestamps.
    sources = sorted((package / "meshed_crystal").rglob("*.py"))
    assert len(sources) > 10
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        header = compiled.read_bytes()[:8]
        assert int.from_bytes(header[4:8], "little") == 0b01, compiled
    assert not list(package.rglob("*.cpython-311.pyc"))


# --- template.yaml ---------------------------------------------------------------------------


def test_function_runtime_and_packaging(sam: Template) -> None:
    props = function_props(sam)
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "meshed_crystal.app.lambda_handler"
    assert props["CodeUri"] == "handler/"
    assert props["MemorySize"] == 256
    # Tracing is opt-in: the X-Ray SDK costs cold-start time (docs/performance.md).
    assert props["Tracing"] == {"Ref": "Tracing"}
    assert sam["Parameters"]["Tracing"]["Default"] == "PassThrough"
    assert set(sam["Parameters"]["Tracing"]["AllowedValues"]) == {"PassThrough", "Active"}
    assert props["Layers"] == [{"Ref": "PowertoolsLayerArn"}]
    layer = sam["Parameters"]["PowertoolsLayerArn"]
    assert layer["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert layer["Default"].startswith("/aws/service/powertools/python/arm64/python3.13/")
    # The layer's Powertools is the version the tests run with.
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert f"aws-lambda-powertools=={layer['Default'].rsplit('/', 1)[1]}" in dev
    requirements = (ROOT / "handler" / "requirements.txt").read_text().split("\n")
    pinned = [line for line in requirements if line and not line.startswith("#")]
    assert pinned
    assert all("==" in line for line in pinned)


def test_async_invocations_are_never_retried(sam: Template) -> None:
    invoke = function_props(sam)["EventInvokeConfig"]
    assert invoke["MaximumRetryAttempts"] == 0
    assert 60 <= invoke["MaximumEventAgeInSeconds"] <= 300


def test_function_environment(sam: Template) -> None:
    env = function_props(sam)["Environment"]["Variables"]
    assert env["ENVOY_IMAGE"] == {"Ref": "EnvoyImage"}
    assert env["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    assert env["POWERTOOLS_SERVICE_NAME"] == "meshed-crystal"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "MeshedCrystal"
    assert Evaluator(sam, {})(env["POWERTOOLS_TRACE_DISABLED"]) == "true"
    assert Evaluator(sam, {"Tracing": "Active"})(env["POWERTOOLS_TRACE_DISABLED"]) == "false"
    evaluate = Evaluator(sam, {"AllowedMeshNames": "ecs-mesh,other"})
    assert evaluate(env["ALLOWED_MESHES"]) == "ecs-mesh,other"
    assert Evaluator(sam, {})(env["ALLOWED_MESHES"]) == "*"


def test_parameters(sam: Template) -> None:
    params = sam["Parameters"]
    envoy = params["EnvoyImage"]
    assert re.fullmatch(
        r"public\.ecr\.aws/appmesh/aws-appmesh-envoy:v1\.29\.\d+\.\d+-prod", envoy["Default"]
    )
    assert re.fullmatch(envoy["AllowedPattern"], envoy["Default"])
    assert not re.fullmatch(envoy["AllowedPattern"], "envoyproxy/envoy:v1.29.12")
    assert params["LogLevel"]["AllowedValues"] == ["DEBUG", "INFO", "WARNING", "ERROR"]
    assert params["LogLevel"]["Default"] == "INFO"
    assert params["LogRetentionDays"]["Default"] == 30
    assert 30 in params["LogRetentionDays"]["AllowedValues"]
    meshes = params["AllowedMeshNames"]
    assert meshes["Type"] == "CommaDelimitedList"
    assert meshes["Default"] == "*"
    for good in ("*", "ecs-mesh", "Mesh_2"):
        assert re.fullmatch(meshes["AllowedPattern"], good)
    for bad in ("", "ecs-*", "a/b", "-mesh"):
        assert not re.fullmatch(meshes["AllowedPattern"], bad)
    assert params["ServiceTokenExportName"]["Default"] == "MeshedCrystalServiceToken"


def test_own_log_group_with_retention(sam: Template) -> None:
    props = function_props(sam)
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": "FunctionLogGroup"}
    log_group = sam["Resources"]["FunctionLogGroup"]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    evaluate = Evaluator(sam, {})
    function_name = evaluate(props["FunctionName"])
    assert evaluate(log_group["Properties"]["LogGroupName"]) == f"/aws/lambda/{function_name}"
    # the name fits Lambda's 64 characters whatever the stack is called (nested stacks too)
    assert re.fullmatch(r"meshed-crystal-[0-9a-f]{8}", function_name)


def policy_statements(template: Template) -> Iterator[tuple[str, Template]]:
    """Every statement of every identity policy the template defines (roles and policies)."""
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        if "PolicyDocument" in props:
            documents.append(props["PolicyDocument"])
        if resource["Type"] == "AWS::Serverless::Function":
            for policy in as_list(props.get("Policies", [])):
                if isinstance(policy, dict) and "Statement" in policy:
                    documents.append(policy)
        for document in documents:
            if not isinstance(document, dict) or "Statement" not in document:
                continue
            for statement in as_list(document["Statement"]):
                if isinstance(statement, dict) and "Fn::If" in statement:
                    # A conditional statement: both branches, whichever exists.
                    _, present, absent = statement["Fn::If"]
                    for branch in (present, absent):
                        if branch != {"Ref": "AWS::NoValue"}:
                            yield logical_id, branch
                    continue
                yield logical_id, statement


@pytest.mark.parametrize(
    "path", [TEMPLATE, PLATFORM, CRYSTAL, CRYSTAL_SC, FRONTEND_SC], ids=lambda p: p.name
)
def test_no_wildcard_action(path: Path) -> None:
    for logical_id, statement in policy_statements(load(path)):
        assert "NotAction" not in statement, logical_id
        for action in as_list(statement["Action"]):
            assert isinstance(action, str), (logical_id, action)
            assert action != "*", (logical_id, statement)
            service, _, name = action.partition(":")
            assert service, (logical_id, action)
            assert name, (logical_id, action)
            assert "*" not in name, (logical_id, action)


def function_statements(sam: Template) -> dict[str, Template]:
    role = function_props(sam)["Role"]
    assert role == {"Fn::GetAtt": ["FunctionRole", "Arn"]}
    statements = [s for lid, s in policy_statements(sam) if lid == "FunctionRole"]
    by_sid = {s["Sid"]: s for s in statements}
    assert len(by_sid) == len(statements), "every statement of the function role has a Sid"
    assert all(s["Effect"] == "Allow" for s in statements)
    return by_sid


# The IAM prefix of each adapter's service (registry.ModeSpec.adapters names the adapters).
ADAPTER_SERVICES = {
    "appmesh": "appmesh",
    "ecs": "ecs",
    "cloudmap": "servicediscovery",
    "cloudformation": "cloudformation",
    "tagging": "tag",
}


def test_the_function_may_call_every_service_a_registered_mode_calls(sam: Template) -> None:
    granted = {
        action.partition(":")[0]
        for statement in function_statements(sam).values()
        for action in as_list(statement["Action"])
    }
    assert registry.adapter_names() <= set(ADAPTER_SERVICES)
    for name, spec in registry.specs().items():
        for adapter in (*registry.LIFECYCLE_ADAPTERS, *spec.adapters):
            assert ADAPTER_SERVICES[adapter] in granted, (name, adapter)


def test_function_role_has_no_managed_policies(sam: Template) -> None:
    role = sam["Resources"]["FunctionRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert "Policies" not in function_props(sam)


def test_pass_role_only_to_ecs_tasks(sam: Template) -> None:
    pass_role = [
        s for s in function_statements(sam).values() if "iam:PassRole" in as_list(s["Action"])
    ]
    assert len(pass_role) == 1
    statement = pass_role[0]
    assert as_list(statement["Action"]) == ["iam:PassRole"]
    assert statement["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }


def test_wildcard_resources_only_where_iam_requires_them(sam: Template) -> None:
    allowed_star = {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "ecs:DescribeTaskDefinition",
        "ecs:ListTaskDefinitions",
        "ecs:DeregisterTaskDefinition",
        "servicediscovery:ListNamespaces",
        "servicediscovery:ListServices",
        "tag:GetResources",
    }
    for sid, statement in function_statements(sam).items():
        if statement["Resource"] == "*":
            assert set(as_list(statement["Action"])) <= allowed_star, sid


def test_scoped_resources(sam: Template) -> None:
    statements = function_statements(sam)
    evaluate = Evaluator(sam, {})
    account = "arn:aws:{}:eu-west-1:123456789012:"
    assert evaluate(statements["FindWhichIdTheStackHolds"]["Resource"]) == (
        account.format("cloudformation") + "stack/*"
    )
    assert as_list(statements["FindWhichIdTheStackHolds"]["Action"]) == [
        "cloudformation:DescribeStackResource"
    ]
    assert evaluate(statements["RegisterAndTagTaskDefinitions"]["Resource"]) == (
        account.format("ecs") + "task-definition/*"
    )
    assert statements["WriteOwnLogs"]["Resource"] == {"Fn::GetAtt": ["FunctionLogGroup", "Arn"]}


@pytest.mark.parametrize(
    ("allowed", "meshes"),
    [
        ("*", ["*"]),
        ("ecs-mesh", ["ecs-mesh"]),
        ("ecs-mesh,other", ["ecs-mesh", "other"]),
        ("m1,m2,m3,m4,m5", ["m1", "m2", "m3", "m4", "m5"]),
    ],
)
def test_app_mesh_scoped_to_allowed_meshes(sam: Template, allowed: str, meshes: list[str]) -> None:
    statement = function_statements(sam)["AppMeshNodesAndServicesOfAllowedMeshes"]
    actions = set(as_list(statement["Action"]))
    assert all(action.startswith("appmesh:") for action in actions)
    assert {"appmesh:CreateVirtualNode", "appmesh:DeleteVirtualService"} <= actions
    assert "appmesh:DeleteMesh" not in actions
    resources = Evaluator(sam, {"AllowedMeshNames": allowed})(statement["Resource"])
    prefix = "arn:aws:appmesh:eu-west-1:123456789012:mesh/"
    expected = [arn for mesh in meshes for arn in (prefix + mesh, f"{prefix}{mesh}/*")]
    assert resources == expected


def test_service_token_export(sam: Template) -> None:
    outputs = sam["Outputs"]
    assert outputs["ServiceToken"]["Value"] == {"Fn::GetAtt": ["Function", "Arn"]}
    assert outputs["ServiceToken"]["Export"]["Name"] == {"Ref": "ServiceTokenExportName"}
    assert outputs["FunctionName"]["Value"] == {"Ref": "Function"}
    assert outputs["LogGroupName"]["Value"] == {"Ref": "FunctionLogGroup"}


def test_serverless_repo_metadata(sam: Template) -> None:
    app = sam["Metadata"]["AWS::ServerlessRepo::Application"]
    assert app["Name"] == "meshed-crystal"
    assert app["SpdxLicenseId"] == "Apache-2.0"
    assert app["LicenseUrl"] == "LICENSE"
    assert app["ReadmeUrl"] == "README.md"
    assert re.fullmatch(r"\d+\.\d+\.\d+", app["SemanticVersion"])
    # `sam package` uploads these local files; `sam publish` refuses a template without them.
    for key in ("LicenseUrl", "ReadmeUrl"):
        assert (ROOT / app[key]).is_file(), key
    assert app["Labels"]
    assert app["Description"]
    assert app["Author"]
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in license_text
    assert "Version 2.0, January 2004" in license_text


def test_one_version_logged_at_cold_start_and_carried_by_the_sar_metadata(sam: Template) -> None:
    from meshed_crystal.version import __version__

    app = sam["Metadata"]["AWS::ServerlessRepo::Application"]
    assert str(app["SemanticVersion"]) == __version__
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project  # dynamic: read from meshed_crystal.version
    assert project["dynamic"] == ["version"]
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{__version__}]" in changelog
    source = (ROOT / "handler" / "meshed_crystal" / "app.py").read_text(encoding="utf-8")
    assert source.count("__version__") == 2  # its import, and the cold start's log line


def test_repository_urls_come_from_one_setting(sam: Template) -> None:
    """pyproject.toml's [project.urls] is the one place: the SAR metadata carries exactly what is
    set there, and nothing while it is unset (never a made-up address)."""
    app = sam["Metadata"]["AWS::ServerlessRepo::Application"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    urls = project.get("urls", {})
    assert app.get("HomePageUrl") == urls.get("Homepage")
    assert app.get("SourceCodeUrl") == urls.get("Source")
    for url in (app.get("HomePageUrl"), app.get("SourceCodeUrl")):
        if url is not None:
            assert re.fullmatch(r"https://[^\s/]+/\S+", url)
            assert "example" not in url
            assert "<" not in url


# --- examples --------------------------------------------------------------------------------


def exports(platform: Template) -> dict[str, Any]:
    """Platform exports by suffix: `${AWS::StackName}-MeshName` -> the output's value."""
    found: dict[str, Any] = {}
    for output in platform["Outputs"].values():
        name = output["Export"]["Name"]
        assert isinstance(name, dict), name
        assert "Fn::Sub" in name, name
        match = re.fullmatch(r"\$\{AWS::StackName\}-(\w+)", name["Fn::Sub"])
        assert match, name
        found[match.group(1)] = output["Value"]
    return found


def imports(node: Any) -> Iterator[str]:
    """Suffixes of every `Fn::ImportValue: !Sub ${PlatformStackName}-<suffix>` in a template."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::ImportValue" and isinstance(value, dict) and "Fn::Sub" in value:
                match = re.fullmatch(r"\$\{PlatformStackName\}-(\w+)", value["Fn::Sub"])
                assert match, value
                yield match.group(1)
            else:
                yield from imports(value)
    elif isinstance(node, list):
        for item in node:
            yield from imports(item)


def import_of(suffix: str) -> Template:
    return {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-" + suffix}}


def test_platform_names(platform: Template) -> None:
    resources = platform["Resources"]
    assert resources["Cluster"]["Properties"]["ClusterName"] == "container-demo"
    assert resources["Namespace"]["Type"] == "AWS::ServiceDiscovery::PrivateDnsNamespace"
    assert resources["Namespace"]["Properties"]["Name"] == "service.local"
    assert resources["Mesh"]["Type"] == "AWS::AppMesh::Mesh"
    assert resources["Mesh"]["Properties"]["MeshName"] == "ecs-mesh"
    assert resources_of_type(platform, "AWS::AppMesh::VirtualGateway")
    subnets = resources_of_type(platform, "AWS::EC2::Subnet")
    assert len(subnets) == 4
    out = exports(platform)
    assert out["MeshName"] == {"Fn::GetAtt": ["Mesh", "MeshName"]}
    assert out["NamespaceId"] == {"Fn::GetAtt": ["Namespace", "Id"]}
    assert out["NamespaceName"] == "service.local"
    assert out["ClusterName"] == {"Ref": "Cluster"}
    assert "AWS::SAM" not in str(platform.get("Transform", ""))


def test_crystal_imports_exist_in_platform(platform: Template, crystal: Template) -> None:
    used = set(imports(crystal["Resources"]))
    assert used, "crystal.yaml imports the platform's exports"
    assert used <= set(exports(platform)), used - set(exports(platform))
    assert "Transform" not in crystal


def test_crystal_custom_resource(sam: Template, crystal: Template) -> None:
    customs = resources_of_type(crystal, "Custom::MeshedCrystal")
    assert list(customs) == ["Crystal"], "exactly one Custom::MeshedCrystal"
    props = customs["Crystal"]["Properties"]
    assert props["ServiceToken"] == {"Fn::ImportValue": {"Ref": "ServiceTokenExportName"}}
    crystal_default = crystal["Parameters"]["ServiceTokenExportName"]["Default"]
    assert crystal_default == sam["Parameters"]["ServiceTokenExportName"]["Default"]
    # CloudFormation must still be waiting when the function answers at its deadline, after the
    # event sat in Lambda's queue as long as it may.
    function = function_props(sam)
    service_timeout = int(props["ServiceTimeout"])
    assert service_timeout >= function["Timeout"]
    max_age = function["EventInvokeConfig"]["MaximumEventAgeInSeconds"]
    assert service_timeout >= function["Timeout"] + max_age
    assert service_timeout <= 3600
    assert props["MeshName"] == import_of("MeshName")
    assert props["CloudMapServiceArn"] == {"Fn::GetAtt": ["CrystalCloudMapService", "Arn"]}
    assert props["TaskDefinition"] == {"Ref": "CrystalTaskDefinition"}
    family = crystal["Resources"]["CrystalTaskDefinition"]["Properties"]["Family"]
    # the proxied revisions' default family, which ECS puts in the Cloud Map instance attributes
    assert props["CloudMapAttributes"] == {"ECS_TASK_DEFINITION_FAMILY": f"{family}-mesh"}


def test_crystal_task_definition(crystal: Template) -> None:
    props = crystal["Resources"]["CrystalTaskDefinition"]["Properties"]
    assert props["Family"] == "ecsdemo-crystal"
    assert props["NetworkMode"] == "awsvpc"
    assert props["RequiresCompatibilities"] == ["FARGATE"]
    assert str(props["Cpu"]) == "256"
    assert str(props["Memory"]) == "512"
    assert props["TaskRoleArn"] == {"Fn::GetAtt": ["CrystalTaskRole", "Arn"]}
    assert props["ExecutionRoleArn"] == {"Fn::GetAtt": ["CrystalExecutionRole", "Arn"]}
    (container,) = props["ContainerDefinitions"]
    assert container["Name"] == "crystal"
    assert crystal["Parameters"]["CrystalImage"]["Default"] == (
        "public.ecr.aws/aws-containers/ecsdemo-crystal"
    )
    assert container["Image"] == {"Ref": "CrystalImage"}
    assert [p["ContainerPort"] for p in container["PortMappings"]] == [3000]
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert "ProxyConfiguration" not in props, "the custom resource adds the proxy"


def test_crystal_cloud_map_service(crystal: Template) -> None:
    service = crystal["Resources"]["CrystalCloudMapService"]
    assert service["Type"] == "AWS::ServiceDiscovery::Service"
    assert service["Properties"]["Name"] == "ecsdemo-crystal"
    assert service["Properties"]["NamespaceId"] == import_of("NamespaceId")


def test_crystal_ecs_service_runs_the_proxied_revision(crystal: Template) -> None:
    services = resources_of_type(crystal, "AWS::ECS::Service")
    assert list(services) == ["CrystalService"]
    service = services["CrystalService"]
    props = service["Properties"]
    assert props["TaskDefinition"] == {"Fn::GetAtt": ["Crystal", "TaskDefinitionArn"]}
    assert props["ServiceRegistries"] == [
        {"RegistryArn": {"Fn::GetAtt": ["CrystalCloudMapService", "Arn"]}}
    ]
    assert props["Cluster"] == import_of("ClusterName")
    assert props["LaunchType"] == "FARGATE"
    # Envoy must be allowed to fetch its configuration before the first task starts
    assert "CrystalEnvoyPolicy" in as_list(service["DependsOn"])


def test_crystal_envoy_permission(crystal: Template) -> None:
    policy = crystal["Resources"]["CrystalEnvoyPolicy"]
    assert policy["Properties"]["RoleName"] == {"Ref": "CrystalTaskRole"}
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert as_list(statement["Action"]) == ["appmesh:StreamAggregatedResources"]
    assert statement["Resource"] == {"Fn::GetAtt": ["Crystal", "VirtualNodeArn"]}


def test_crystal_ingress_port_3000(crystal: Template) -> None:
    rules = resources_of_type(crystal, "AWS::EC2::SecurityGroupIngress")
    assert len(rules) == 1
    (rule,) = rules.values()
    props = rule["Properties"]
    assert (props["IpProtocol"], props["FromPort"], props["ToPort"]) == ("tcp", 3000, 3000)
    assert props["GroupId"] == import_of("ServiceSecurityGroupId")


def test_crystal_exports_virtual_service_as_the_workshop(crystal: Template) -> None:
    outputs = crystal["Outputs"]
    assert outputs["MeshCrystalVSARN"]["Value"] == {"Fn::GetAtt": ["Crystal", "VirtualServiceArn"]}
    assert outputs["MeshCrystalVSARN"]["Export"]["Name"] == "MeshCrystalVSARN"
    assert outputs["MeshCrystalVSName"]["Value"] == {
        "Fn::GetAtt": ["Crystal", "VirtualServiceName"]
    }
    assert outputs["MeshCrystalVSName"]["Export"]["Name"] == "MeshCrystalVSName"


# The attributes of each mode, as its spec declares them (DESIGN §4 and §8, docs/reference.md;
# tests/unit/test_mode_specs.py holds the specs to the docs).
APP_MESH_ATTRIBUTES = frozenset(registry.attributes("AppMesh"))
SERVICE_CONNECT_ATTRIBUTES = frozenset(registry.attributes("ServiceConnect"))


def get_atts(node: Any) -> Iterator[tuple[str, str]]:
    """(logical id, attribute) of every `Fn::GetAtt` under a node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::GetAtt":
                yield value[0], value[1]
            else:
                yield from get_atts(value)
    elif isinstance(node, list):
        for item in node:
            yield from get_atts(item)


def test_crystal_uses_only_documented_attributes(crystal: Template) -> None:
    documented = APP_MESH_ATTRIBUTES - {"Mode"}
    used = {attr for lid, attr in get_atts(crystal) if lid == "Crystal"}
    assert used
    assert used <= documented, used - documented
    assert not used & (SERVICE_CONNECT_ATTRIBUTES - APP_MESH_ATTRIBUTES)


def test_appmesh_retired_parameter_drives_env_and_app_mesh_permissions(sam: Template) -> None:
    param = sam["Parameters"]["AppMeshRetired"]
    assert param["Default"] == "auto"
    assert param["AllowedValues"] == ["auto", "true", "false"]
    env = function_props(sam)["Environment"]["Variables"]
    document = sam["Resources"]["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    for value, app_mesh_granted in (("auto", True), ("false", True), ("true", False)):
        evaluate = Evaluator(sam, {"AppMeshRetired": value})
        assert evaluate(env["APPMESH_RETIRED"]) == value
        actions = {a for s in evaluate(document["Statement"]) for a in as_list(s["Action"])}
        assert ("appmesh:DeleteVirtualNode" in actions) is app_mesh_granted, value
        # Whatever the setting, a Delete can find and deregister its revisions from ECS alone.
        assert {"tag:GetResources", "ecs:ListTaskDefinitions"} <= actions, value
        assert "ecs:DeregisterTaskDefinition" in actions, value


def test_xray_permission_only_when_tracing_is_active(sam: Template) -> None:
    document = sam["Resources"]["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    for tracing, expected in (("Active", True), ("PassThrough", False)):
        statements = Evaluator(sam, {"Tracing": tracing})(document["Statement"])
        actions = {a for s in statements for a in as_list(s["Action"])}
        assert ("xray:PutTraceSegments" in actions) is expected, tracing


# --- examples after the switch to Service Connect (docs/migration.md) ------------------------


def test_switched_examples_import_only_platform_exports(
    platform: Template, crystal_sc: Template, frontend_sc: Template
) -> None:
    for template in (crystal_sc, frontend_sc):
        used = set(imports(template["Resources"]))
        assert used
        assert used <= set(exports(platform)), used - set(exports(platform))
        assert "Transform" not in template


def test_crystal_sc_differs_from_crystal_by_the_mode_line(
    crystal: Template, crystal_sc: Template
) -> None:
    (logical_id,) = resources_of_type(crystal_sc, "Custom::MeshedCrystal")
    assert logical_id == "Crystal"
    before = crystal["Resources"]["Crystal"]["Properties"]
    after = dict(crystal_sc["Resources"]["Crystal"]["Properties"])
    assert "Mode" not in before, "examples/crystal.yaml relies on the default mode, AppMesh"
    assert after.pop("Mode") == "ServiceConnect"
    # Every other property is the same, App Mesh-only ones included (inert in this mode).
    assert after == before


def test_crystal_sc_keeps_everything_else_but_the_envoy_permission(
    crystal: Template, crystal_sc: Template
) -> None:
    before, after = crystal["Resources"], crystal_sc["Resources"]
    assert set(after) == set(before) - {"CrystalEnvoyPolicy"}
    changed = {"Crystal", "CrystalService", "CrystalTaskRole"}
    for logical_id in set(after) - changed:
        assert after[logical_id] == before[logical_id], logical_id
    # The task role stays (the task definition names it); only its description changed.
    role_before = dict(before["CrystalTaskRole"]["Properties"])
    role_after = dict(after["CrystalTaskRole"]["Properties"])
    role_before.pop("Description")
    role_after.pop("Description")
    assert role_after == role_before
    assert crystal_sc["Parameters"] == crystal["Parameters"]
    actions = {a for _, s in policy_statements(crystal_sc) for a in as_list(s["Action"])}
    assert not {a for a in actions if a.startswith("appmesh:")}


def test_crystal_sc_service_is_wired_from_service_connect_attributes(
    crystal: Template, crystal_sc: Template
) -> None:
    services = resources_of_type(crystal_sc, "AWS::ECS::Service")
    assert list(services) == ["CrystalService"]
    service = services["CrystalService"]
    props = service["Properties"]
    old = crystal["Resources"]["CrystalService"]["Properties"]
    # The same ECS service, updated in place (a new ServiceName would replace it).
    assert props["ServiceName"] == old["ServiceName"] == "ecsdemo-crystal"
    assert props["TaskDefinition"] == {"Fn::GetAtt": ["Crystal", "TaskDefinitionArn"]}
    config = props["ServiceConnectConfiguration"]
    assert config["Enabled"] is True
    assert config["Namespace"] == {"Fn::GetAtt": ["Crystal", "NamespaceArn"]}
    assert config["Services"] == [
        {
            "PortName": {"Fn::GetAtt": ["Crystal", "PortName"]},
            "DiscoveryName": {"Fn::GetAtt": ["Crystal", "DiscoveryName"]},
            "ClientAliases": [
                {
                    "DnsName": {"Fn::GetAtt": ["Crystal", "ClientAliasDnsName"]},
                    "Port": {"Fn::GetAtt": ["Crystal", "ClientAliasPort"]},
                }
            ],
        }
    ]
    # DNS clients keep finding crystal through the App Mesh era's Cloud Map service.
    assert props["ServiceRegistries"] == old["ServiceRegistries"]
    # Nothing left that only Envoy needed.
    assert "CrystalEnvoyPolicy" not in as_list(service.get("DependsOn", []))
    used = {attr for lid, attr in get_atts(service) if lid == "Crystal"}
    assert used <= SERVICE_CONNECT_ATTRIBUTES, used - SERVICE_CONNECT_ATTRIBUTES
    # Everything else of the service is as before.
    new_keys = ("TaskDefinition", "ServiceConnectConfiguration")
    rest = {k: v for k, v in props.items() if k not in new_keys}
    assert rest == {k: v for k, v in old.items() if k != "TaskDefinition"}


def test_crystal_sc_uses_only_service_connect_attributes(crystal_sc: Template) -> None:
    used = {attr for lid, attr in get_atts(crystal_sc) if lid == "Crystal"}
    assert used
    # An App Mesh attribute would fail the update with CloudFormation's own error.
    assert used <= SERVICE_CONNECT_ATTRIBUTES, used - SERVICE_CONNECT_ATTRIBUTES


def test_crystal_sc_exports(crystal: Template, crystal_sc: Template) -> None:
    outputs = crystal_sc["Outputs"]
    exported = {o["Export"]["Name"] for o in outputs.values() if "Export" in o}
    # MeshCrystalVSName keeps name and value (VirtualServiceName = ClientAliasDnsName); the ARN
    # of a virtual service that no longer exists is not exported, so its importers go first.
    assert exported == {"MeshCrystalVSName"}
    assert outputs["MeshCrystalVSName"] == {
        **crystal["Outputs"]["MeshCrystalVSName"],
        "Description": outputs["MeshCrystalVSName"]["Description"],
    }


def test_frontend_sc_is_a_client_only_service_connect_service(frontend_sc: Template) -> None:
    assert not resources_of_type(frontend_sc, "Custom::MeshedCrystal")
    services = resources_of_type(frontend_sc, "AWS::ECS::Service")
    assert list(services) == ["FrontendService"]
    props = services["FrontendService"]["Properties"]
    config = props["ServiceConnectConfiguration"]
    assert config["Enabled"] is True
    assert config["Namespace"] == import_of("NamespaceArn")
    assert "Services" not in config, "a client-only service publishes no endpoint"
    assert "ServiceRegistries" not in props
    assert props["TaskDefinition"] == {"Ref": "FrontendTaskDefinition"}
    assert props["Cluster"] == import_of("ClusterName")
    task = frontend_sc["Resources"]["FrontendTaskDefinition"]["Properties"]
    assert "ProxyConfiguration" not in task
    (container,) = task["ContainerDefinitions"]
    assert container["Name"] == "frontend"
    assert [p["ContainerPort"] for p in container["PortMappings"]] == [3000]


def test_frontend_sc_calls_crystal_by_the_name_it_keeps(
    platform: Template, crystal: Template, frontend_sc: Template
) -> None:
    evaluate = Evaluator(frontend_sc, {})
    (container,) = frontend_sc["Resources"]["FrontendTaskDefinition"]["Properties"][
        "ContainerDefinitions"
    ]
    env = {e["Name"]: evaluate(e["Value"]) for e in container["Environment"]}
    # The workshop's values (ecsdemo-frontend's CDK app).
    assert env["CRYSTAL_URL"] == "http://ecsdemo-crystal.service.local:3000/crystal"
    assert env["NODEJS_URL"] == "http://ecsdemo-nodejs.service.local:3000"
    # ... which is crystal's default client alias: its virtual service's name and its port.
    cloud_map_name = crystal["Resources"]["CrystalCloudMapService"]["Properties"]["Name"]
    namespace = exports(platform)["NamespaceName"]
    (port,) = [
        p["ContainerPort"]
        for p in crystal["Resources"]["CrystalTaskDefinition"]["Properties"][
            "ContainerDefinitions"
        ][0]["PortMappings"]
    ]
    assert env["CRYSTAL_URL"].startswith(f"http://{cloud_map_name}.{namespace}:{port}/")


def test_frontend_sc_needs_nothing_from_a_meshed_stack(frontend_sc: Template) -> None:
    """Step 1 of docs/migration.md: the frontend stops importing MeshCrystalVSARN (and every
    other export of a backend's stack) before any backend switches."""

    def import_values(node: Any) -> Iterator[Any]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Fn::ImportValue":
                    yield value
                else:
                    yield from import_values(value)
        elif isinstance(node, list):
            for item in node:
                yield from import_values(item)

    for value in import_values(frontend_sc):
        assert isinstance(value, dict), value
        assert value["Fn::Sub"].startswith("${PlatformStackName}-"), value
    assert "MeshCrystal" not in str(frontend_sc)
    assert "appmesh" not in str(frontend_sc).lower()
