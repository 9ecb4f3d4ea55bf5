"""scripts/cfn_edit.py: edits at the template's own positions, every other byte kept."""

from __future__ import annotations

import json

import pytest

from scripts.cfn_edit import EditError, Editor, render_yaml
from scripts.cfn_template import loads

YAML = """\
Resources:
  # The first one.
  A:
    Type: AWS::X::Y # trailing comment kept
    Properties:
      Name: a
      Deep:
        - 1
        - 2

  # Says what B is.
  B:
    Type: AWS::X::Y
    DependsOn: [A]
    Properties: {Name: b, Size: 2}

  C:
    Type: AWS::X::Y
    DependsOn:
      - A
      - B
Outputs:
  Only:
    Value: !Ref A
"""


def edited(text: str, *edits: tuple[str, tuple[object, ...]]) -> str:
    editor = Editor(loads(text, path="t.yaml"))
    for name, args in edits:
        getattr(editor, name)(*args)
    return editor.text()


def test_removing_an_entry_takes_its_comment_and_one_separator_line() -> None:
    out = edited(YAML, ("remove", (("Resources", "B"),)))
    assert out == YAML.replace(
        "  # Says what B is.\n  B:\n    Type: AWS::X::Y\n    DependsOn: [A]\n"
        "    Properties: {Name: b, Size: 2}\n\n",
        "",
    )
    assert loads(out).get(("Resources",)).keys() == {"A", "C"}


def test_a_mapping_left_empty_goes_with_its_last_entry() -> None:
    out = edited(YAML, ("remove", (("Outputs", "Only"),)))
    assert out == YAML.replace("Outputs:\n  Only:\n    Value: !Ref A\n", "")


def test_list_items_and_nested_entries() -> None:
    out = edited(
        YAML,
        ("remove", (("Resources", "C", "DependsOn", 1),)),
        ("remove", (("Resources", "A", "Properties", "Deep", 0),)),
    )
    assert "      - A\n" in out
    assert "      - B\n" not in out
    assert "        - 2\n" in out
    assert "        - 1\n" not in out
    assert loads(out).get(("Resources", "C", "DependsOn")) == ["A"]
    # Removing every item removes the key
    out = edited(
        YAML,
        ("remove", (("Resources", "C", "DependsOn", 0),)),
        ("remove", (("Resources", "C", "DependsOn", 1),)),
    )
    assert "DependsOn" not in loads(out).get(("Resources", "C"))


def test_inserting_renders_block_yaml_with_short_form_intrinsics() -> None:
    value = {
        "Enabled": True,
        "Namespace": {"Fn::GetAtt": ["A", "Arn"]},
        "Version": "2012-10-17",
        "Items": [{"Name": {"Ref": "B"}, "Port": 80}, "plain", "yes"],
    }
    out = edited(
        YAML,
        ("insert", (("Resources", "A", "Properties"), "New", value)),
        ("insert", (("Resources", "A", "Properties"), "First", "x: y")),
    )
    assert (
        "      Deep:\n        - 1\n        - 2\n"
        "      New:\n"
        "        Enabled: true\n"
        "        Namespace: !GetAtt A.Arn\n"
        '        Version: "2012-10-17"\n'
        "        Items:\n"
        "          - Name: !Ref B\n"
        "            Port: 80\n"
        "          - plain\n"
        '          - "yes"\n'
        '      First: "x: y"\n'
        "\n"
        "  # Says what B is.\n"
    ) in out
    assert loads(out).get(("Resources", "A", "Properties", "New")) == {
        **value,
        "Namespace": {"Fn::GetAtt": ["A", "Arn"]},
    }


def test_insert_before_a_key_goes_above_that_keys_comment() -> None:
    editor = Editor(loads(YAML, path="t.yaml"))
    editor.insert(("Resources",), "Z", {"Type": "AWS::X::Y"}, before="B")
    assert "\n\n  Z:\n    Type: AWS::X::Y\n  # Says what B is.\n  B:\n" in editor.text()


def test_insert_before_a_key_and_replace_a_scalar() -> None:
    editor = Editor(loads(YAML, path="t.yaml"))
    editor.insert(("Resources", "A", "Properties"), "Mode", "ServiceConnect", before="Name")
    editor.replace(("Resources", "A", "Properties", "Name"), "renamed")
    out = editor.text()
    assert "    Properties:\n      Mode: ServiceConnect\n      Name: renamed\n" in out


def test_flow_style_is_refused_with_where() -> None:
    with pytest.raises(EditError, match=r"t.yaml:15: a flow-style mapping entry"):
        edited(YAML, ("remove", (("Resources", "B", "Properties", "Name"),)))


def test_json_edits_keep_the_json_valid_and_the_rest_of_the_text() -> None:
    data = {
        "Resources": {
            "A": {"Type": "AWS::X::Y", "Properties": {"Name": "a", "Other": 1}},
            "B": {"Type": "AWS::X::Y"},
            "C": {"Type": "AWS::X::Y"},
        },
        "Outputs": {"O": {"Value": "x"}},
    }
    text = json.dumps(data, indent=2)
    editor = Editor(loads(text, path="t.json"))
    editor.remove(("Resources", "B"))
    editor.remove(("Resources", "C", "Type"))
    editor.remove(("Outputs", "O"))
    editor.insert(("Resources", "A", "Properties"), "New", {"Fn::GetAtt": ["A", "Arn"]})
    editor.insert(("Resources", "A", "Properties"), "Mode", "ServiceConnect", before="Name")
    editor.replace(("Resources", "A", "Properties", "Name"), "b")
    out = json.loads(editor.text())
    assert out == {
        "Resources": {
            "A": {
                "Type": "AWS::X::Y",
                "Properties": {
                    "Mode": "ServiceConnect",
                    "Name": "b",
                    "Other": 1,
                    "New": {"Fn::GetAtt": ["A", "Arn"]},
                },
            },
        }
    }
    assert '  "Resources": {\n    "A": {\n      "Type": "AWS::X::Y",\n' in editor.text()


def test_render_yaml_of_a_scalar_and_an_empty_first_line_for_blocks() -> None:
    assert render_yaml("a", 2) == [" a"]
    assert render_yaml({"K": 1}, 2) == ["", "    K: 1"]
    assert render_yaml({"Fn::Sub": "${A}-b"}, 0) == [' !Sub "${A}-b"']
