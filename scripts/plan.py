"""See what a Custom::MeshedCrystal would make, before deploying it, without any AWS call.

    python3 tasks.py plan PROPERTIES.json --task-definition TD.json [--full]
    python3 tasks.py plan TEMPLATE [--logical-id ID] [--parameter KEY=VALUE] [--before OLD]

TEMPLATE: a CloudFormation template (YAML or JSON) holding the Custom::MeshedCrystal, read by
scripts/cfn_template.py (the reader ``tasks.py migrate`` uses too): its properties resolved from
the template alone, the application's task definition from an AWS::ECS::TaskDefinition of the
same template when TaskDefinition is a ``!Ref`` of it, placeholders (listed, with why) for what
only the deployment knows. ``--before OLD``: the Update from the template as deployed now (in
place or replacement, what changes, what the cleanup Delete of the old id removes).

PROPERTIES.json: the resource's properties in CloudFormation's form (every scalar a string), or
a whole CloudFormation event (its ``ResourceProperties``, ``StackId`` and ``LogicalResourceId``
are used), e.g. ``events/create.json``. TD.json: the application's own task definition, as
``RegisterTaskDefinition`` input, as ``DescribeTaskDefinition`` output (``{"taskDefinition":
...}``) or as the ``Properties`` of an ``AWS::ECS::TaskDefinition``; not needed when the
``TaskDefinition`` property is inline.

Prints the derived task definition as a unified diff against the application's (whole with
``--full``), the App Mesh virtual node and service specs (App Mesh mode) or the Service Connect
wiring (Service Connect mode), and the attributes. What only AWS can tell (account, revision
number, namespace id) is a placeholder, marked ``*``. The code is the function's own: the
properties are parsed and the task definition derived by the same modules, so a plan that
prints is a Create that passes its pure checks; what needs AWS state (the mesh, the namespace,
a discovery name's owner, names already taken) is checked at deploy time.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

REPO = Path(__file__).resolve().parent.parent
PLACEHOLDER_ACCOUNT = "123456789012"
PLACEHOLDER_STACK = "arn:aws:cloudformation:{region}:{account}:stack/STACK/00000000-plan"
PLACEHOLDER_NAMESPACE_ID = "ns-placeholder"
MARK = "*"


class Options(NamedTuple):
    region: str = "us-east-1"
    account: str = PLACEHOLDER_ACCOUNT
    partition: str = "aws"
    stack_id: str | None = None
    logical_id: str = "Crystal"
    cloud_map_names: tuple[str, str] | None = None  # (namespace, service)
    envoy_image: str | None = None
    full: bool = False
    account_given: bool = False


class Planned(NamedTuple):
    mode: str
    physical_id: str
    base: dict[str, Any]
    task_definition: dict[str, Any]
    specs: dict[str, Any]  # App Mesh: node and service specs; Service Connect: the wiring
    attributes: dict[str, str]
    placeholders: dict[str, str]  # attribute -> why it is a placeholder
    notes: list[str]


class PlanError(Exception):
    """The plan cannot be made: the message says what to give."""


class _NoAws:
    """The plan's AWS clients: any call is a bug of the plan, never a request to AWS."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"the plan makes no AWS call (it tried {name})")


def _handler_path() -> None:
    for path in (str(REPO / "handler"), str(REPO)):
        if path not in sys.path:
            sys.path.insert(0, path)


def read_properties(data: Any) -> tuple[Any, str | None, str | None]:
    """(properties, stack id, logical id) from a properties object or a whole event."""
    if isinstance(data, Mapping) and "ResourceProperties" in data:
        return data["ResourceProperties"], data.get("StackId"), data.get("LogicalResourceId")
    return data, None, None


def read_base(data: Any) -> dict[str, Any]:
    """The application's task definition as a RegisterTaskDefinition request."""
    _handler_path()
    from meshed_crystal.ecs import model as ecs_model

    if not isinstance(data, Mapping):
        raise PlanError("the task definition file holds no JSON object")
    if "taskDefinition" in data:  # DescribeTaskDefinition output
        return ecs_model.register_request_from_described(data["taskDefinition"], data.get("tags"))
    if "ContainerDefinitions" in data:  # an AWS::ECS::TaskDefinition's Properties
        return ecs_model.cfn_task_definition_to_api(data, "TaskDefinition")
    return dict(data)


def _from_local_platform(raw: Any) -> tuple[dict[str, Any] | None, list[str] | None]:
    """The base task definition and the Cloud Map names, read as a Create reads them, from the
    workshop platform in a local emulator (started, filled and stopped here)."""
    import logging
    import os

    from meshed_crystal.adapters.cloudmap import CloudMap
    from meshed_crystal.adapters.ecs import Ecs
    from meshed_crystal.mode import read_base as read_from_ecs
    from meshed_crystal.properties import parse_properties

    from tests.support.emulator import start_server
    from tests.support.platform import build_workshop_platform

    props = parse_properties(raw)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    emulator = start_server()
    saved = dict(os.environ)
    try:
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": emulator.endpoint_url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        )
        import boto3

        build_workshop_platform(boto3.Session(region_name="us-east-1"))
        base = read_from_ecs(Ecs(), props) if isinstance(props.task_definition, str) else None
        names = None
        if props.cloud_map_service_id is not None:
            names = list(CloudMap().names_by_id(props.cloud_map_service_id))
        return base, names
    finally:
        os.environ.clear()
        os.environ.update(saved)
        emulator.stop()


def plan(raw: Any, base: Mapping[str, Any] | None, options: Options) -> Planned:
    """What the properties would make; raises PropertyError (as a Create would) or PlanError."""
    _handler_path()
    from meshed_crystal.properties import parse_properties

    props = parse_properties(raw)
    if base is None:
        if isinstance(props.task_definition, str):
            raise PlanError(
                f"TaskDefinition is '{props.task_definition}', a reference to a task definition "
                "in ECS: give its content with --task-definition TD.json"
            )
        base = props.task_definition
    if props.cloud_map_service_id is not None:
        if options.cloud_map_names is None:
            raise PlanError(
                f"CloudMapServiceArn names {props.cloud_map_service_id}, whose names only Cloud "
                "Map knows: give them with --cloud-map-names NAMESPACE SERVICE"
            )
        namespace, service = options.cloud_map_names
    else:
        namespace = str(props.cloud_map_namespace_name)
        service = str(props.cloud_map_service_name)
    if props.mode == "ServiceConnect":
        return _service_connect(raw, props, dict(base), namespace, service, options)
    return _app_mesh(raw, props, dict(base), namespace, service, options)


def _request(raw: Any, options: Options) -> Any:
    from meshed_crystal.actions import Request

    return Request(
        stack_id=options.stack_id
        or PLACEHOLDER_STACK.format(region=options.region, account=options.account),
        logical_id=options.logical_id,
        request_id="plan",
        properties=raw,
        partition=options.partition,
        region=options.region,
        account=options.account,
    )


def _mode(name: str, options: Options) -> Any:
    """The mode as the function builds it (registry), with the provider's default settings but
    ``--envoy-image``, and adapters whose clients refuse any call."""
    from meshed_crystal import registry

    class Offline(registry.Adapters):
        def get(self, name: str, make: Any) -> Any:
            return super().get(name, lambda: make(_NoAws()))

    spec = registry.specs()[name]
    environ = {"ENVOY_IMAGE": options.envoy_image} if options.envoy_image else {}
    return spec.build(spec.settings(environ), Offline())


def _app_mesh(
    raw: Any, props: Any, base: dict[str, Any], namespace: str, service: str, options: Options
) -> Planned:
    # The function's own decision (AppMeshMode.plan, which calls taskdef.derive and
    # mesh_spec), given what its reads would have found for a new resource.
    from meshed_crystal.actions import check_answer_fits
    from meshed_crystal.identity import Revision
    from meshed_crystal.modes.appmesh.identity import mesh_arn
    from meshed_crystal.modes.appmesh.mode import Found, names_of
    from meshed_crystal.modes.appmesh.properties import appmesh

    mode = _mode("AppMesh", options)
    request = _request(raw, options)
    owner = appmesh(props).mesh_owner or options.account
    node_name, service_name = names_of(props, namespace, service)
    found = Found(
        mesh_arn=mesh_arn(options.partition, options.region, owner, appmesh(props).mesh_name),
        mesh_owner=owner,
        namespace=namespace,
        cloud_map_service=service,
        base=base,
        node_name=node_name,
        service_name=service_name,
        node=None,
        node_tags=None,
        service=None,
        service_tags=None,
    )
    decided = mode.plan(request, props, found)
    check_answer_fits(request, mode, decided)
    revision = Revision(str(decided.task_definition["family"]), 1, decided.digest)
    attributes = mode.data(request, decided, revision)
    placeholders = _revision_placeholders()
    if not options.account_given:
        for key, value in attributes.items():
            if options.account in value and key not in placeholders:
                placeholders[key] = "the account (--account)"
        placeholders[""] = "the account (--account)"
    return Planned(
        mode="AppMesh",
        physical_id=str(decided.id),
        base=base,
        task_definition=decided.task_definition,
        specs={
            "Virtual node spec": decided.node_spec,
            "Virtual service spec": decided.service_spec,
        },
        attributes=attributes,
        placeholders=placeholders,
        notes=[
            "At deploy time: the mesh exists, the Cloud Map service exists, the node and service "
            "names are free or this resource's."
        ],
    )


def _revision_placeholders() -> dict[str, str]:
    why = "the revision ECS assigns (1 for a new family)"
    return {"TaskDefinitionArn": why, "TaskDefinitionRevision": why}


def _service_connect(
    raw: Any, props: Any, base: dict[str, Any], namespace_name: str, service: str, options: Options
) -> Planned:
    # What ServiceConnectMode reads from AWS (the namespace) is given or a placeholder here.
    from meshed_crystal.actions import check_answer_fits
    from meshed_crystal.adapters.cloudmap import Namespace
    from meshed_crystal.identity import Revision
    from meshed_crystal.modes.service_connect import mode as sc
    from meshed_crystal.modes.service_connect.properties import service_connect

    settings = service_connect(props)
    placeholders = _revision_placeholders()
    namespace_arn_placeholder = (
        f"arn:{options.partition}:servicediscovery:{options.region}:{options.account}:"
        f"namespace/{PLACEHOLDER_NAMESPACE_ID}"
    )
    if settings.namespace is not None and settings.namespace_is_id:
        given = str(raw["ServiceConnect"]["Namespace"])
        # A name ECS's alias rule takes, so the default alias can be shown (marked below).
        unknown_name = f"name-of-{settings.namespace}".lower()
        namespace = Namespace(settings.namespace, given, unknown_name)
        placeholders["NamespaceName"] = "the name of the namespace the ARN names (Cloud Map)"
    else:
        name = settings.namespace if settings.namespace is not None else namespace_name
        namespace = Namespace(PLACEHOLDER_NAMESPACE_ID, namespace_arn_placeholder, name)
        placeholders["NamespaceArn"] = "the namespace's id (Cloud Map)"
    request = _request(raw, options)
    # The function's own decision, given what its reads would have found for a new resource.
    mode = _mode("ServiceConnect", options)
    decided = mode.plan(request, props, sc.Found(namespace, service, base, {}))
    wiring, content = decided.wiring, decided.task_definition
    if "NamespaceName" in placeholders and wiring.dns_name.endswith(namespace.name):
        for key in ("ClientAliasDnsName", "Endpoint", "VirtualServiceName"):
            placeholders[key] = "the namespace's name (Cloud Map)"
    check_answer_fits(request, mode, decided)
    revision = Revision(str(content["family"]), 1, decided.digest)
    attributes = sc.attributes(request, decided, revision)
    if not options.account_given:
        for key, value in attributes.items():
            if options.account in value and key not in placeholders:
                placeholders[key] = "the account (--account)"
        placeholders[""] = "the account (--account)"
    notes = []
    inert = sc.inert_properties(raw)
    if inert:
        notes.append("Inert in ServiceConnect mode (validated, not used): " + ", ".join(inert))
    notes.append(
        f"At deploy time: the namespace exists; the discovery name '{wiring.discovery_name}' is "
        "not a Cloud Map service that Service Connect did not create."
    )
    return Planned(
        mode="ServiceConnect",
        physical_id=decided.physical_id,
        base=base,
        task_definition=content,
        specs={
            "ServiceConnectConfiguration (the ECS service's)": {
                "Enabled": True,
                "Namespace": namespace.arn,
                "Services": [
                    {
                        "PortName": wiring.port_name,
                        "DiscoveryName": wiring.discovery_name,
                        "ClientAliases": [{"DnsName": wiring.dns_name, "Port": wiring.port}],
                    }
                ],
            }
        },
        attributes=attributes,
        placeholders=placeholders,
        notes=notes,
    )


# -- a template (the user's own, as it is) ---------------------------------------------------

RESOURCE_TYPE = "Custom::MeshedCrystal"
TASK_DEFINITION_TYPE = "AWS::ECS::TaskDefinition"


class FromTemplate(NamedTuple):
    """What a template says about one Custom::MeshedCrystal: its properties (as CloudFormation
    would send them, placeholders where the template does not say), the application's task
    definition when the same template declares it, and what was a placeholder and why."""

    logical_id: str
    properties: dict[str, Any]
    base: dict[str, Any] | None
    base_name: str
    cloud_map_names: tuple[str, str] | None
    marked: list[str]
    uncertain: list[str]
    """Paths (``Listeners[0].Port``, ``TaskDefinition.Cpu``) whose value the template does not
    give and no placeholder of the right shape stands for: a rule broken there is not the
    template's (the lint rules drop it)."""


def _template_module() -> Any:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from scripts import cfn_template

    return cfn_template


def looks_like_template(path: str) -> bool:
    """A CloudFormation template (YAML or JSON, with ``Resources``), not properties or an event."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return True  # not JSON: YAML, which only a template is here
    return isinstance(data, Mapping) and "Resources" in data


def _load_template(path: str) -> Any:
    cfn = _template_module()
    try:
        return cfn.load(path)
    except OSError as error:
        raise PlanError(f"template {path}: {error.strerror}") from error
    except cfn.TemplateError as error:
        raise PlanError(str(error)) from error


def read_template(
    path: str,
    logical_id: str | None,
    parameters: Mapping[str, str],
    options: Options,
    others: Sequence[str] = (),
) -> FromTemplate:
    """The resource ``logical_id`` (or the template's only Custom::MeshedCrystal) of the
    template at ``path``, read by scripts/cfn_template.py as CloudFormation would; ``others``:
    the templates of the stacks it imports from (their exports resolve its Fn::ImportValue)."""
    template = _load_template(path)
    return read_resource(
        template, logical_id, parameters, options, [_load_template(o) for o in others]
    )


def read_resource(
    template: Any,
    logical_id: str | None,
    parameters: Mapping[str, str],
    options: Options,
    others: Sequence[Any] = (),
) -> FromTemplate:
    """The same, from a loaded ``cfn_template.Template`` (the lint rules build theirs from
    cfn-lint's)."""
    cfn = _template_module()
    path = template.path
    found = template.resources_of_type(RESOURCE_TYPE)
    if logical_id is None:
        if len(found) != 1:
            raise PlanError(
                f"{path} has {len(found)} {RESOURCE_TYPE} resources"
                + (f" ({', '.join(found)}): give one with --logical-id" if found else "")
            )
        logical_id = found[0]
    elif logical_id not in found:
        raise PlanError(
            f"{path} has no {RESOURCE_TYPE} {logical_id}"
            + (f" (it has {', '.join(found)})" if found else "")
        )
    pseudo = {"AWS::Region": options.region, "AWS::Partition": options.partition}
    if options.account_given:
        pseudo["AWS::AccountId"] = options.account
    resolver = cfn.Resolver([template, *others], {template.name: dict(parameters)}, pseudo)
    where = ("Resources", logical_id, "Properties")
    raw_node = template.get(where) if isinstance(template.get(where), Mapping) else {}
    marked: list[str] = []
    uncertain: list[str] = []
    base, base_name, raw_task_definition = _template_task_definition(
        cfn, resolver, template, raw_node.get("TaskDefinition"), options, marked, uncertain
    )
    names = None
    if "CloudMapServiceArn" in raw_node:
        found_names = resolver.cloud_map_names(template, raw_node["CloudMapServiceArn"])
        if not isinstance(found_names, cfn.Unresolved):
            names = found_names
    resolved = resolver.resolve(template, where) or {}
    replaced: list[Any] = []
    held = cfn.placeheld(resolved, replaced=replaced)
    for at, unresolved in replaced:
        if at in ("ServiceToken", "ServiceTimeout"):
            continue  # CloudFormation's own keys: the resource never reads them
        if at == "TaskDefinition" and raw_task_definition is not None:
            continue  # said with the task definition
        if at == "CloudMapServiceArn" and names is not None:
            marked.append(
                f"CloudMapServiceArn: {unresolved.reason}; its names, {names[1]} in {names[0]}, "
                "are the template's"
            )
            continue
        shown = unresolved.placeholder if unresolved.placeholder is not None else "placeholder"
        marked.append(f"{at} = {shown}: {unresolved.reason}")
        if unresolved.placeholder is None:
            uncertain.append(at)
    for note in resolver.notes:
        marked.append(note)
    properties = cfn.cloudformation_strings(held)
    if raw_task_definition is not None:
        properties["TaskDefinition"] = raw_task_definition
    return FromTemplate(logical_id, properties, base, base_name, names, marked, uncertain)


def _template_task_definition(
    cfn: Any,
    resolver: Any,
    template: Any,
    node: Any,
    options: Options,
    marked: list[str],
    uncertain: list[str],
) -> tuple[dict[str, Any] | None, str, str | None]:
    """(base, its name, the TaskDefinition property's placeholder) when ``node`` is a !Ref (or
    !GetAtt ...TaskDefinitionArn) of an AWS::ECS::TaskDefinition of the same template."""
    target = None
    if isinstance(node, Mapping) and len(node) == 1:
        ((key, arg),) = node.items()
        if key == "Ref" and isinstance(arg, str):
            target = arg
        elif key == "Fn::GetAtt" and isinstance(arg, list) and arg[1:] == ["TaskDefinitionArn"]:
            target = str(arg[0])
    spec = template.resources.get(target) if target else None
    if not isinstance(spec, Mapping) or spec.get("Type") != TASK_DEFINITION_TYPE:
        return None, "application", None
    resolved = resolver.resolve(template, ("Resources", target, "Properties")) or {}
    replaced: list[Any] = []
    held = cfn.placeheld(resolved, replaced=replaced)
    for at, unresolved in replaced:
        shown = unresolved.placeholder if unresolved.placeholder is not None else "placeholder"
        marked.append(f"{target}.{at} = {shown}: {unresolved.reason}")
        if unresolved.placeholder is None:
            uncertain.append(f"TaskDefinition.{at}")
    properties = cfn.cloudformation_strings(held)
    family = properties.get("Family")
    if not isinstance(family, str) or not family:
        # CloudFormation names a family the template does not: <stack>-<logical id>-<suffix>.
        family = target
        properties["Family"] = family
        marked.append(
            f"{target}.Family = {family}: the template gives none; CloudFormation names it "
            "<stack>-<logical id>-<suffix>"
        )
    _handler_path()
    from meshed_crystal.ecs import model as ecs_model

    base = ecs_model.cfn_task_definition_to_api(properties, f"{target} (AWS::ECS::TaskDefinition)")
    arn = (
        f"arn:{options.partition}:ecs:{options.region}:{options.account}:task-definition/{family}:1"
    )
    marked.append(
        f"TaskDefinition = {arn}: {target}'s revision, known at deploy time (its content is the "
        "template's)"
    )
    return base, f"{target} (AWS::ECS::TaskDefinition)", arn


def _parameters(values: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values:
        key, sep, given = value.partition("=")
        if not sep or not key:
            raise PlanError(f"--parameter {value}: expected KEY=VALUE")
        found[key] = given
    return found


# -- an Update: the plan of the old template against the new one ---------------------------------


def preview_update(old: Planned, new: Planned, logical_id: str) -> list[str]:
    """What CloudFormation's Update of ``logical_id`` from ``old`` to ``new`` does (DESIGN §5.3,
    §5.4, §8): in place or replacement, what changes, and what the cleanup Delete removes."""
    replacement = old.physical_id != new.physical_id
    lines = [f"== Update of {logical_id}: {'REPLACEMENT' if replacement else 'in place'} =="]
    if replacement:
        renamed = [
            f"{key} {old.attributes[key]} -> {new.attributes.get(key)}"
            for key in ("MeshName", "VirtualNodeName", "VirtualServiceName")
            if key in old.attributes and old.attributes[key] != new.attributes.get(key)
        ]
        why = (
            f"Mode {old.mode} -> {new.mode}"
            if old.mode != new.mode
            else ", ".join(renamed) or "the mesh's owner"
        )
        lines += [
            f"The physical id changes ({why}):",
            f"  old: {old.physical_id}",
            f"  new: {new.physical_id}",
        ]
    else:
        lines.append(f"The physical id stays: {new.physical_id}")
    lines += _task_definition_change(old, new, replacement)
    lines += _spec_changes(old, new, replacement)
    lines += _attribute_changes(old, new)
    lines.append("")
    if replacement:
        lines.append(
            "After the whole stack update succeeded, CloudFormation's cleanup Delete of the old id "
            "removes:"
        )
        lines += [f"  - {item}" for item in _cleanup(old, new)]
        lines.append(
            "  (if the stack update fails instead, the rollback deletes the new id and the old "
            "one's resources are untouched)"
        )
    else:
        lines.append(
            "No cleanup Delete (the id stays). The revision replaced stays ACTIVE for a rollback; "
            "older ones of this resource are deregistered."
        )
    return lines


def _task_definition_change(old: Planned, new: Planned, replacement: bool) -> list[str]:
    family = new.task_definition.get("family")
    if old.task_definition == new.task_definition:
        return [f"Task definition: unchanged (family {family}): no new revision"]
    if old.task_definition.get("family") != family:
        return [
            f"Task definition: registered in family {family} (the plan above), no longer in "
            f"{old.task_definition.get('family')}"
        ]
    lines = [
        f"Task definition: a new revision in family {family}"
        + ("" if replacement else "; the previous revision stays ACTIVE")
    ]
    lines += [
        "  " + line
        for line in difflib.unified_diff(
            _json(old.task_definition).splitlines(),
            _json(new.task_definition).splitlines(),
            fromfile="old",
            tofile="new",
            lineterm="",
            n=1,
        )
    ]
    return lines


def _spec_changes(old: Planned, new: Planned, replacement: bool) -> list[str]:
    lines = []
    for title in dict.fromkeys([*old.specs, *new.specs]):
        before, after = old.specs.get(title), new.specs.get(title)
        if before == after:
            lines.append(f"{title}: unchanged")
        elif before is None:
            lines.append(f"{title}: new (created by the Update)")
        elif after is None:
            lines.append(f"{title}: not used any more (see the cleanup below)")
        else:
            verb = "made anew under the new id" if replacement else "updated in place"
            lines.append(f"{title}: {verb}")
            lines += [
                "  " + line
                for line in difflib.unified_diff(
                    _json(before).splitlines(),
                    _json(after).splitlines(),
                    fromfile="old",
                    tofile="new",
                    lineterm="",
                    n=1,
                )
            ]
    return lines


def _attribute_changes(old: Planned, new: Planned) -> list[str]:
    changed = [
        f"  {key}: {old.attributes[key]} -> {new.attributes[key]}"
        for key in new.attributes
        if key in old.attributes and old.attributes[key] != new.attributes[key]
    ]
    gone = [key for key in old.attributes if key not in new.attributes]
    lines = ["Attributes that change:" if changed else "Attributes: the same values"]
    lines += changed
    if gone:
        lines.append(
            f"No longer returned: {', '.join(gone)} (a template or an importer that still reads "
            "one fails the update: lint it, E9102; docs/migration.md)"
        )
    return lines


def _cleanup(old: Planned, new: Planned) -> list[str]:
    """What the Delete of the old id removes (DESIGN §5.4, §8): its own resources, except a name
    the new id took over."""
    items = []
    if old.mode == "AppMesh":
        mesh = old.attributes.get("MeshName")
        kept = new.mode == "AppMesh" and new.attributes.get("MeshName") == mesh
        service, node = (
            old.attributes.get("VirtualServiceName"),
            old.attributes.get("VirtualNodeName"),
        )
        if kept and new.attributes.get("VirtualServiceName") == service:
            items.append(f"not the virtual service {service}: the new id took it over")
        else:
            items.append(f"the virtual service {service} (mesh {mesh})")
        if kept and new.attributes.get("VirtualNodeName") == node:
            items.append(f"not the virtual node {node}: the new id took it over")
        else:
            items.append(f"the virtual node {node} (mesh {mesh})")
    items.append(
        f"the {old.task_definition.get('family')} revisions registered under the old id "
        "(found from ECS by their ownership tags)"
    )
    return items


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)


def render(planned: Planned, *, full: bool, base_name: str = "application") -> str:
    lines = [
        f"Mode: {planned.mode} (no AWS call was made; {MARK} marks a placeholder)",
        f"PhysicalResourceId: {planned.physical_id}"
        + (f"  {MARK} {planned.placeholders['']}" if "" in planned.placeholders else ""),
        "",
        f"== Task definition: family {planned.task_definition.get('family')}, derived from "
        f"{planned.base.get('family') or 'the inline definition'} ==",
    ]
    if full:
        lines.append(_json(planned.task_definition))
    else:
        lines.extend(
            line.rstrip("\n")
            for line in difflib.unified_diff(
                _json(planned.base).splitlines(),
                _json(planned.task_definition).splitlines(),
                fromfile=base_name,
                tofile="derived",
                lineterm="",
                n=2,
            )
        )
    for title, spec in planned.specs.items():
        lines += ["", f"== {title} ==", _json(spec)]
    lines += ["", "== Attributes (Fn::GetAtt) =="]
    width = max(map(len, planned.attributes))
    for key, value in planned.attributes.items():
        why = planned.placeholders.get(key)
        mark = f"  {MARK} {why}" if why else ""
        lines.append(f"{key:<{width}} = {value}{mark}")
    if planned.notes:
        lines += ["", *planned.notes]
    return "\n".join(lines)


def _load(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise PlanError(f"{what} {path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise PlanError(f"{what} {path} is not JSON: {error}") from error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 tasks.py plan",
        description="What a Custom::MeshedCrystal would make, without any AWS call.",
    )
    parser.add_argument(
        "properties",
        metavar="TEMPLATE|PROPERTIES.json",
        help="a CloudFormation template (YAML or JSON), or ResourceProperties JSON, or an event",
    )
    parser.add_argument("--task-definition", help="the application's task definition (JSON)")
    parser.add_argument("--full", action="store_true", help="the whole derived task definition")
    parser.add_argument("--region", default="us-east-1", help="the function's region")
    parser.add_argument("--account", help=f"the account (default: {PLACEHOLDER_ACCOUNT}, marked)")
    parser.add_argument(
        "--logical-id",
        help="the resource's logical id (default: the event's, or the template's only one)",
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a template parameter's value (default: its Default)",
    )
    parser.add_argument(
        "--with",
        dest="others",
        action="append",
        default=[],
        metavar="TEMPLATE",
        help="the template of a stack this one imports from (Fn::ImportValue of its exports, "
        "e.g. the platform's Cloud Map service); repeatable",
    )
    parser.add_argument(
        "--before",
        metavar="OLD_TEMPLATE",
        help="the template as deployed now: preview the Update from it (in place or replacement, "
        "what changes, what the cleanup Delete of the old id removes)",
    )
    parser.add_argument(
        "--cloud-map-names",
        nargs=2,
        metavar=("NAMESPACE", "SERVICE"),
        help="the names of CloudMapServiceArn's service (only Cloud Map knows them)",
    )
    parser.add_argument("--envoy-image", help="the provider's EnvoyImage parameter")
    parser.add_argument(
        "--local",
        action="store_true",
        help="read the task definition and Cloud Map names from the local emulator's workshop "
        "platform (the one `python3 tasks.py local` builds); it reads, never writes",
    )
    args = parser.parse_args(argv)
    _handler_path()
    from meshed_crystal.errors import MeshedCrystalError

    try:
        if looks_like_template(args.properties):
            return _main_template(args)
        if args.before or args.parameter or args.others:
            raise PlanError(
                "--before, --parameter and --with take templates: "
                f"{args.properties} is properties or an event"
            )
        raw, stack_id, logical_id = read_properties(_load(args.properties, "properties file"))
        base = None
        if args.task_definition:
            base = read_base(_load(args.task_definition, "task definition file"))
        elif args.local:
            base, local_names = _from_local_platform(raw)
            args.cloud_map_names = args.cloud_map_names or local_names
            args.account = args.account or "123456789012"
        account = args.account or (
            stack_id.split(":")[4] if stack_id and stack_id.count(":") >= 5 else None
        )
        options = Options(
            region=args.region,
            account=account or PLACEHOLDER_ACCOUNT,
            stack_id=stack_id,
            logical_id=args.logical_id or logical_id or "Crystal",
            cloud_map_names=tuple(args.cloud_map_names) if args.cloud_map_names else None,
            envoy_image=args.envoy_image,
            full=args.full,
            account_given=args.account is not None,
        )
        planned = plan(raw, base, options)
    except (PlanError, MeshedCrystalError) as error:
        print(f"plan: {error}", file=sys.stderr)
        return 1
    if args.task_definition:
        base_name = f"application ({Path(args.task_definition).name})"
    elif args.local:
        base_name = "application (read from the local emulator)"
    else:
        base_name = "application"
    print(render(planned, full=args.full, base_name=base_name))
    return 0


def _main_template(args: argparse.Namespace) -> int:
    """``plan TEMPLATE [--logical-id ID] [--parameter K=V] [--before OLD_TEMPLATE]``; raises
    PlanError or MeshedCrystalError (a Create's Reason) for main to print."""
    from meshed_crystal.errors import MeshedCrystalError

    parameters = _parameters(args.parameter)
    stack = Path(args.properties).stem
    account = args.account or PLACEHOLDER_ACCOUNT
    options = Options(
        region=args.region,
        account=account,
        stack_id=f"arn:aws:cloudformation:{args.region}:{account}:stack/{stack}/00000000-plan",
        logical_id=args.logical_id or "Crystal",
        cloud_map_names=tuple(args.cloud_map_names) if args.cloud_map_names else None,
        envoy_image=args.envoy_image,
        full=args.full,
        account_given=args.account is not None,
    )
    given_base = (
        read_base(_load(args.task_definition, "task definition file"))
        if args.task_definition
        else None
    )

    def planned_from(path: str, logical_id: str | None) -> tuple[FromTemplate, Planned]:
        read = read_template(path, logical_id, parameters, options, args.others)
        chosen = options._replace(
            logical_id=read.logical_id,
            cloud_map_names=options.cloud_map_names or read.cloud_map_names,
        )
        base = read.base if read.base is not None else given_base
        try:
            return read, plan(read.properties, base, chosen)
        except MeshedCrystalError as error:
            raise PlanError(f"{path}, {read.logical_id}: {error}") from error
        except PlanError as error:
            if "--cloud-map-names" in str(error):
                raise PlanError(
                    f"{error}, or give the template that declares it with --with TEMPLATE"
                ) from error
            raise

    read, planned = planned_from(args.properties, args.logical_id)
    base_name = (
        f"application ({Path(args.task_definition).name})"
        if read.base is None and args.task_definition
        else read.base_name
    )
    print(f"Template {args.properties}, resource {read.logical_id} ({RESOURCE_TYPE})")
    print(render(planned, full=args.full, base_name=base_name))
    if read.marked:
        print("\n== From the template: placeholders (known at deploy time) ==")
        print("\n".join(f"{MARK} {line}" for line in read.marked))
    if args.before:
        try:
            _, old = planned_from(args.before, read.logical_id)
        except PlanError as error:
            if f"has no {RESOURCE_TYPE} {read.logical_id}" in str(error):
                raise PlanError(
                    f"{args.before} has no {RESOURCE_TYPE} {read.logical_id}: for it the "
                    "update is a Create (plan the new template alone)"
                ) from error
            raise
        print("")
        print("\n".join(preview_update(old, planned, read.logical_id)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
