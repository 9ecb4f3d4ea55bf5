"""scripts/cfn_template.py: loading (long form, positions), resolving from the templates alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.cfn_template import (
    NO_VALUE,
    Origin,
    Resolver,
    TemplateError,
    Unresolved,
    cloudformation_strings,
    find_unresolved,
    load,
    loads,
    placeheld,
)

REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLES = REPO / "examples"


# --------------------------------------------------------------------------- loading


def test_short_form_tags_become_the_long_form() -> None:
    template = loads(
        "Resources:\n"
        "  A:\n"
        "    Type: AWS::X::Y\n"
        "    Properties:\n"
        "      R: !Ref P\n"
        "      G: !GetAtt B.Arn\n"
        "      G2: !GetAtt [B, Name.Deep]\n"
        "      S: !Sub ${AWS::Region}-x\n"
        "      J: !Join [',', [!Ref P, b]]\n"
        "      I: !ImportValue\n"
        "        Fn::Sub: ${P}-Id\n"
        "      C: !If [Cond, 1, !Ref AWS::NoValue]\n"
        "      N: 3\n"
        "      T: true\n"
        "      V: 2012-10-17\n"
        "      Q: '3'\n"
    )
    assert template.get(("Resources", "A", "Properties")) == {
        "R": {"Ref": "P"},
        "G": {"Fn::GetAtt": ["B", "Arn"]},
        "G2": {"Fn::GetAtt": ["B", "Name.Deep"]},
        "S": {"Fn::Sub": "${AWS::Region}-x"},
        "J": {"Fn::Join": [",", [{"Ref": "P"}, "b"]]},
        "I": {"Fn::ImportValue": {"Fn::Sub": "${P}-Id"}},
        "C": {"Fn::If": ["Cond", 1, {"Ref": "AWS::NoValue"}]},
        "N": 3,
        "T": True,
        "V": "2012-10-17",
        "Q": "3",
    }


def test_spans_point_at_the_original_text_of_every_node_and_key() -> None:
    text = EXAMPLES.joinpath("crystal.yaml").read_text()
    template = load(EXAMPLES / "crystal.yaml")
    path = ("Resources", "Crystal", "Properties", "CloudMapServiceArn")
    span = template.span(path)
    assert text[span.start : span.end] == "!GetAtt CrystalCloudMapService.Arn"
    assert text.splitlines()[span.line - 1][span.column - 1 :].startswith("!GetAtt")
    key = template.key_span(path)
    assert text[key.start : key.end] == "CloudMapServiceArn"
    assert (key.line, key.column) == (span.line, span.column - len("CloudMapServiceArn: "))
    # The argument of a short-form tag has the tag node's span
    ref = ("Resources", "CrystalEnvoyPolicy", "Properties", "RoleName")
    assert text[template.span(ref).start : template.span(ref).end] == "!Ref CrystalTaskRole"
    assert template.span((*ref, "Ref")) == template.span(ref)
    # A list item and a mapping
    item = ("Resources", "CrystalService", "Properties", "ServiceRegistries", 0, "RegistryArn")
    assert text[template.span(item).start : template.span(item).end] == (
        "!GetAtt CrystalCloudMapService.Arn"
    )
    attrs = ("Resources", "Crystal", "Properties", "CloudMapAttributes")
    assert text[template.span(attrs).start : template.span(attrs).end].strip() == (
        "ECS_TASK_DEFINITION_FAMILY: ecsdemo-crystal-mesh"
    )


def test_json_is_read_with_positions_and_tabs() -> None:
    data = {"Resources": {"A": {"Type": "AWS::X::Y", "Properties": {"Name": {"Ref": "P"}}}}}
    text = json.dumps(data, indent="\t")
    template = loads(text, path="t.json")
    assert template.data == data
    span = template.span(("Resources", "A", "Properties", "Name"))
    assert json.loads(text[span.start : span.end]) == {"Ref": "P"}
    assert template.name == "t"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Resources:\n  A: 1\n  A: 2\n", "t.yaml:3:3: duplicate key 'A'"),
        ("Resources:\n  A: !Reff x\n", "t.yaml:2:6: unknown tag !Reff"),
        ("- a\n", "t.yaml: a template is a mapping at the top"),
        ("a: [\n", "t.yaml: not YAML or JSON"),
    ],
)
def test_what_is_no_template_is_refused_with_where(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as raised:
        loads(text, path="t.yaml")
    assert str(raised.value).startswith(message)


# --------------------------------------------------------------------------- resolving

_FUNCTIONS = """
Parameters:
  Env:
    Type: String
    Default: prod
  Count:
    Type: Number
    Default: 2
  Names:
    Type: CommaDelimitedList
    Default: a, b,c
  NoDefault:
    Type: String
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
  Both: !And [!Condition IsProd, !Equals [!Ref Count, "2"]]
  Either: !Or [!Condition NotProd, !Equals [a, b]]
Mappings:
  Sizes:
    prod: {Cpu: "1024"}
Resources:
  Svc:
    Type: AWS::ServiceDiscovery::Service
    Properties:
      Name: !Sub svc-${Env}
      NamespaceId: !GetAtt Ns.Id
  Ns:
    Type: AWS::ServiceDiscovery::PrivateDnsNamespace
    Properties:
      Name: !Join [".", [!Ref Env, local]]
  Thing:
    Type: AWS::X::Y
    Properties:
      Sub1: !Sub "${Env}-${Count}-${!Literal}"
      Sub2: !Sub ["${A}/${Svc.Name}", {A: !Select [1, !Ref Names]}]
      Split: !Split ["/", "x/y"]
      If1: !If [IsProd, yes-prod, other]
      If2: !If [NotProd, x, !Ref AWS::NoValue]
      Both: !If [Both, both, neither]
      Either: !If [Either, either, neither]
      List: [a, !Ref AWS::NoValue, !FindInMap [Sizes, !Ref Env, Cpu]]
      Region: !Ref AWS::Region
      Arn: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:role/x
      Missing: !Ref NoDefault
      Azs: !GetAZs ""
      SvcArn: !GetAtt Svc.Arn
      Bad: !Select [5, [a]]
      Partly: !Sub "${Env}-${Svc.Arn}"
"""


def _thing(resolver: Resolver, key: str) -> object:
    template = resolver.templates[0]
    return resolver.resolve(template, ("Resources", "Thing", "Properties", key))


def test_functions_parameters_and_conditions() -> None:
    resolver = Resolver([loads(_FUNCTIONS, path="stacks/app.yaml")])
    assert _thing(resolver, "Sub1") == "prod-2-${Literal}"
    assert _thing(resolver, "Sub2") == "b/svc-prod"
    assert _thing(resolver, "Split") == ["x", "y"]
    assert _thing(resolver, "If1") == "yes-prod"
    assert _thing(resolver, "Both") == "both"
    assert _thing(resolver, "Either") == "neither"
    assert _thing(resolver, "List") == ["a", "1024"]
    props = resolver.resolve(resolver.templates[0], ("Resources", "Thing", "Properties"))
    assert "If2" not in props  # AWS::NoValue removes the key


def test_overrides_by_stack_name_replace_defaults() -> None:
    resolver = Resolver(
        [loads(_FUNCTIONS, path="stacks/app.yaml")],
        overrides={"app": {"Env": "dev", "NoDefault": "given"}},
    )
    assert _thing(resolver, "If1") == "other"
    assert _thing(resolver, "If2") == "x"
    assert _thing(resolver, "Missing") == "given"
    assert _thing(resolver, "Sub2") == "b/svc-dev"
    # FindInMap of a key the mapping lacks is unresolved, not a guess
    listed = _thing(resolver, "List")
    assert isinstance(listed, list)
    assert listed[0] == "a"
    assert isinstance(listed[1], Unresolved)
    assert "Fn::FindInMap Sizes.dev.Cpu" in listed[1].reason


def test_what_the_template_does_not_say_is_unresolved_with_its_reason() -> None:
    resolver = Resolver([loads(_FUNCTIONS, path="stacks/app.yaml")])
    region = _thing(resolver, "Region")
    assert region == Unresolved("AWS::Region of app is known at deploy time", "us-east-1")
    arn = _thing(resolver, "Arn")
    assert isinstance(arn, Unresolved)
    assert arn.placeholder == "arn:aws:iam::123456789012:role/x"
    assert "AWS::Partition" in arn.reason
    assert "AWS::AccountId" in arn.reason
    missing = _thing(resolver, "Missing")
    assert isinstance(missing, Unresolved)
    assert missing.reason == (
        "parameter NoDefault of app has no default (give --parameter app.NoDefault=VALUE)"
    )
    azs = _thing(resolver, "Azs")
    assert isinstance(azs, Unresolved)
    assert azs.reason == "Fn::GetAZs is not evaluated from the template alone"
    bad = _thing(resolver, "Bad")
    assert isinstance(bad, Unresolved)
    assert bad.reason == "Fn::Select: index 5 of 1 items"
    svc_arn = _thing(resolver, "SvcArn")
    assert isinstance(svc_arn, Unresolved)
    assert svc_arn.origin == Origin("stacks/app.yaml", "Svc", "Arn")
    assert svc_arn.placeholder == (
        "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-placeholder"
    )
    partly = _thing(resolver, "Partly")
    assert isinstance(partly, Unresolved)
    assert partly.placeholder == "prod-" + str(svc_arn.placeholder)
    assert partly.origin is None  # a string made of an ARN is not the ARN
    # Given pseudo parameters are used
    given = Resolver([loads(_FUNCTIONS, path="app.yaml")], pseudo={"AWS::Region": "eu-west-1"})
    assert _thing(given, "Region") == "eu-west-1"


def test_cloud_map_names_follow_the_value_to_its_service_and_namespace() -> None:
    resolver = Resolver([loads(_FUNCTIONS, path="stacks/app.yaml")])
    template = resolver.templates[0]
    node = template.get(("Resources", "Thing", "Properties", "SvcArn"))
    assert resolver.cloud_map_names(template, node) == ("prod.local", "svc-prod")
    not_cloud_map = resolver.cloud_map_names(template, "arn:aws:x")
    assert isinstance(not_cloud_map, Unresolved)


def test_the_workshop_resolves_across_imports_with_the_stack_name_bound_and_said() -> None:
    platform, crystal = load(EXAMPLES / "platform.yaml"), load(EXAMPLES / "crystal.yaml")
    resolver = Resolver([platform, crystal])
    props = resolver.resolve(crystal, ("Resources", "Crystal", "Properties"))
    assert (
        props["MeshName"] == "ecs-mesh"
    )  # Fn::ImportValue of the platform's !GetAtt Mesh.MeshName
    assert props["CloudMapAttributes"] == {"ECS_TASK_DEFINITION_FAMILY": "ecsdemo-crystal-mesh"}
    token = props["ServiceToken"]
    assert isinstance(token, Unresolved)
    assert token.reason == (
        "Fn::ImportValue MeshedCrystalServiceToken: no given template exports it"
    )
    assert resolver.notes == [
        f"{platform.path}: stack name taken as 'meshed-crystal-platform': the only given "
        "template whose export matches the import 'meshed-crystal-platform-MeshName' "
        "(give --parameter platform.AWS::StackName=NAME to set it)"
    ]
    assert resolver.stack_name(platform) == "meshed-crystal-platform"
    # The resource's own default name: <Cloud Map service>.<namespace>, across the import of
    # the platform's NamespaceId export
    outputs = resolver.resolve(crystal, ("Outputs",))
    assert outputs["MeshCrystalVSName"]["Value"] == "ecsdemo-crystal.service.local"
    vs_arn = outputs["MeshCrystalVSARN"]["Value"]
    assert isinstance(vs_arn, Unresolved)
    assert vs_arn.origin == Origin(crystal.path, "Crystal", "VirtualServiceArn")
    node = crystal.get(("Resources", "Crystal", "Properties", "CloudMapServiceArn"))
    assert resolver.cloud_map_names(crystal, node) == ("service.local", "ecsdemo-crystal")
    assert resolver.exports()["MeshCrystalVSARN"] == (crystal, "MeshCrystalVSARN")
    assert resolver.exports()["meshed-crystal-platform-NamespaceId"] == (platform, "NamespaceId")


def test_a_given_stack_name_is_used_and_a_mismatch_is_unresolved() -> None:
    platform, crystal = load(EXAMPLES / "platform.yaml"), load(EXAMPLES / "crystal.yaml")
    resolver = Resolver(
        [platform, crystal], overrides={"platform": {"AWS::StackName": "other-platform"}}
    )
    mesh = resolver.resolve(crystal, ("Resources", "Crystal", "Properties", "MeshName"))
    assert mesh == Unresolved(
        "Fn::ImportValue meshed-crystal-platform-MeshName: no given template exports it"
    )
    assert resolver.notes == []
    # ... and the importer's parameter, given too, makes them meet
    resolver = Resolver(
        [platform, crystal],
        overrides={
            "platform": {"AWS::StackName": "other-platform"},
            "crystal": {"PlatformStackName": "other-platform"},
        },
    )
    name = resolver.resolve(crystal, ("Outputs", "MeshCrystalVSName", "Value"))
    assert name == "ecsdemo-crystal.service.local"
    assert resolver.notes == []


def test_meshed_crystal_name_attributes_follow_the_resources_properties() -> None:
    template = loads(
        """
Resources:
  A:
    Type: Custom::MeshedCrystal
    Properties:
      CloudMapNamespaceName: ns.local
      CloudMapServiceName: a
  B:
    Type: Custom::MeshedCrystal
    Properties:
      Mode: ServiceConnect
      CloudMapNamespaceName: ns.local
      CloudMapServiceName: b
      VirtualServiceName: b.example
      VirtualNodeName: b-node
      ServiceConnect: {ClientAlias: {DnsName: b-alias.ns.local}}
Outputs:
  A1: {Value: !GetAtt A.VirtualServiceName}
  A2: {Value: !GetAtt A.VirtualNodeName}
  A3: {Value: !GetAtt A.Mode}
  B1: {Value: !GetAtt B.VirtualServiceName}
  B2: {Value: !GetAtt B.VirtualNodeName}
  B3: {Value: !GetAtt B.ClientAliasDnsName}
  B4: {Value: !Sub "http://${B.NamespaceName}"}
""",
        path="t.yaml",
    )
    resolver = Resolver([template])
    values = {k: v["Value"] for k, v in resolver.resolve(template, ("Outputs",)).items()}
    assert values == {
        "A1": "a.ns.local",
        "A2": "a",
        "A3": "AppMesh",
        "B1": "b-alias.ns.local",
        "B2": "b-node",
        "B3": "b-alias.ns.local",
        "B4": "http://ns.local",
    }


def test_a_reference_to_itself_is_unresolved_not_a_loop() -> None:
    template = loads(
        "Resources:\n  A:\n    Type: Custom::MeshedCrystal\n    Properties:\n"
        "      CloudMapNamespaceName: !GetAtt A.VirtualServiceName\n"
        "      CloudMapServiceName: a\n"
        "Outputs:\n  X: {Value: !GetAtt A.VirtualServiceName}\n",
        path="t.yaml",
    )
    value = Resolver([template]).resolve(template, ("Outputs", "X", "Value"))
    assert isinstance(value, Unresolved)
    assert value.reason == "A.VirtualServiceName depends on itself"


def test_helpers() -> None:
    assert cloudformation_strings({"a": [1, True, False, 1.5, "x"]}) == {
        "a": ["1", "true", "false", "1.5", "x"]
    }
    unresolved = Unresolved("why")
    assert find_unresolved({"a": [1, {"b": unresolved}]}) is unresolved
    assert find_unresolved({"a": [1]}) is None
    assert repr(NO_VALUE) == "AWS::NoValue"
    missing: list[str] = []
    assert placeheld(
        {"a": [Unresolved("x", "p"), Unresolved("why")], "b": 1}, "Props", missing
    ) == {"a": ["p", "placeholder"], "b": 1}
    assert missing == ["Props.a[1]: why"]
    assert str(unresolved) == "<unresolved: why>"


def test_the_command_prints_a_path_resolved_and_the_notes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from scripts.cfn_template import main

    crystal, platform = str(EXAMPLES / "crystal.yaml"), str(EXAMPLES / "platform.yaml")
    assert main([crystal, "Outputs/MeshCrystalVSName/Value", platform]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == '"ecsdemo-crystal.service.local"'
    assert out[1].startswith(f"note: {platform}: stack name taken as 'meshed-crystal-platform'")


def test_placeheld_says_where_each_replaced_one_was() -> None:
    from scripts.cfn_template import Unresolved, placeheld

    arn = Unresolved("Discovery.Arn is known at deploy time", "arn:aws:x", None)
    image = Unresolved("parameter Image has no value")
    replaced: list[tuple[str, Unresolved]] = []
    missing: list[str] = []
    held = placeheld(
        {"CloudMapServiceArn": arn, "Listeners": [{"Port": "80"}, {"Image": image}]},
        missing=missing,
        replaced=replaced,
    )
    assert held == {
        "CloudMapServiceArn": "arn:aws:x",
        "Listeners": [{"Port": "80"}, {"Image": "placeholder"}],
    }
    assert replaced == [("CloudMapServiceArn", arn), ("Listeners[1].Image", image)]
    assert missing == ["Listeners[1].Image: parameter Image has no value"]


def test_an_iam_role_arn_placeholder_has_no_region() -> None:
    template = loads(
        "Resources:\n  Role: {Type: AWS::IAM::Role}\n"
        "  Use: {Type: AWS::SNS::Topic, Properties: {Arn: !GetAtt Role.Arn, Name: !Ref Role}}\n"
    )
    resolver = Resolver([template])
    arn = resolver.resolve(template, ("Resources", "Use", "Properties", "Arn"))
    name = resolver.resolve(template, ("Resources", "Use", "Properties", "Name"))
    assert isinstance(arn, Unresolved)
    assert arn.placeholder == "arn:aws:iam::123456789012:role/placeholder"
    assert isinstance(name, Unresolved)
    assert name.placeholder == "placeholder"
