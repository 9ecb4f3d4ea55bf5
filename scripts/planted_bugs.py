"""Bugs planted one at a time: which tests catch each (docs/testing.md, "Planted bugs").

    .venv/bin/python scripts/planted_bugs.py [--only ID,ID] [PYTEST ARGS]   (default: tests/fast)

Each entry of BUGS is a regression that once went unnoticed or could (issue 17 names the first
five of Service Connect's): a text replacement in a module of ``handler/meshed_crystal``. For
each one this writes the module with the bug, runs pytest on the given tests, writes the module
back (also on Ctrl-C), and prints the tests that failed: a bug no test catches is "missed".

The modules are edited in place, so it refuses to run while ``handler/`` has uncommitted
changes. A replacement that no longer matches its module (the code moved on) is reported as
"stale", not planted.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
H = "handler/meshed_crystal/"
# (id, module, text, replacement, the bug in words)
BUGS: list[tuple[str, str, str, str, str]] = [
    (
        "SC1",
        H + "service_connect.py",
        "held.sort(key=lambda h: (h[0], h[1].number), reverse=True)",
        "held.sort(key=lambda h: (h[0], h[1].number), reverse=False)",
        "reverse the order of the id's revisions",
    ),
    (
        "SC2",
        H + "service_connect.py",
        "port=settings.client_alias_port or port,",
        "port=port,",
        "ignore ServiceConnect.ClientAlias.Port",
    ),
    (
        "SC3",
        H + "service_connect.py",
        '                else:\n                    mapping.pop("appProtocol", None)\n',
        "",
        "keep a stale appProtocol on a tcp port",
    ),
    (
        "SC4",
        H + "service_connect.py",
        "dns_name = settings.client_alias_dns_name or default_client_alias(",
        "dns_name = default_client_alias(",
        "ignore ClientAlias.DnsName",
    ),
    (
        "SC5",
        H + "service_connect.py",
        'scheme = "" if not wiring.app_protocol else "http://"',
        'scheme = "http://"',
        "a tcp endpoint gets http://",
    ),
    (
        "SC6",
        H + "service_connect.py",
        "if not chosen.registered and chosen.revision != plan.held[0]:",
        "if False:",
        "a rollback is not recorded as the newest revision",
    ),
    (
        "SC7",
        H + "service_connect.py",
        "(held[0][0] + 1 if held else 1)",
        "(held[0][0] if held else 1)",
        "the sequence is not incremented",
    ),
    (
        "SC8",
        H + "service_connect.py",
        "        if tags.get(key) == value:\n            return",
        "        if False:\n            return",
        "Service Connect's own discovery service taken for a collision",
    ),
    (
        "SC9",
        H + "service_connect.py",
        "        if existing is None:\n            return",
        "        if True:\n            return",
        "the discovery-name collision is not checked",
    ),
    (
        "SC10",
        H + "service_connect.py",
        "    check_base(result)\n",
        "",
        "no Service Connect base checks (memory, links)",
    ),
    (
        "L1",
        H + "actions.py",
        "ACTIVE_REVISIONS = 2",
        "ACTIVE_REVISIONS = 3",
        "three revisions kept ACTIVE",
    ),
    (
        "L2",
        H + "actions.py",
        "        except BaseException:\n            undo.run()\n            raise",
        "        except BaseException:\n            raise",
        "a failed Create is not undone",
    ),
    (
        "L3",
        H + "mode.py",
        "        if (revision.family, revision.digest) == (family, digest):",
        "        if False:",
        "no revision reuse",
    ),
    (
        "L4",
        H + "actions.py",
        "        revisions = set(in_ecs.result())",
        "        revisions = set(in_ecs.result()) if False else set()",
        "a Delete ignores the revisions found in ECS",
    ),
    (
        "L5",
        H + "mode.py",
        "        for what, step in reversed(self.steps):",
        "        for what, step in self.steps:",
        "undo runs oldest first",
    ),
    (
        "L6",
        H + "mode.py",
        "    return {arn: tags for arn, tags in tagged.items() if arn in active}",
        "    return dict(tagged)",
        "INACTIVE revisions taken for held ones",
    ),
    (
        "L7",
        H + "actions.py",
        "chosen.revisions[ACTIVE_REVISIONS:]",
        "chosen.revisions[len(chosen.revisions) :]",
        "old revisions never deregistered",
    ),
    (
        "L8",
        H + "actions.py",
        "        if recorded is not None:\n"
        "            self._deregister(sorted(revisions | recorded))\n"
        "        deletion.finish()",
        "        deletion.finish()\n        if recorded is not None:\n"
        "            self._deregister(sorted(revisions | recorded))",
        "a Delete deregisters the revisions only after App Mesh answered",
    ),
    (
        "A1",
        H + "appmesh_mode.py",
        "        found, pid = plan.found, plan.id\n        _owned(",
        "        found, pid = plan.found, plan.id\n        return\n        _owned(",
        "ownership not claimed before the first write",
    ),
    (
        "A2",
        H + "appmesh_mode.py",
        "                if duplicate is not None:\n                    self.ecs.deregister",
        "                if False:\n                    self.ecs.deregister",
        "a concurrent duplicate's revision is not deregistered",
    ),
    (
        "A3",
        H + "appmesh_mode.py",
        "                    service_wanted[TAG_HANDED_FROM] = previous",
        "                    pass",
        "the hand-over is not recorded on the service",
    ),
    (
        "A4",
        H + "appmesh_mode.py",
        "            if held.node_name != me.node_name:\n",
        "            if False:\n",
        "a failed replacement does not give the service name back",
    ),
    (
        "A5",
        H + "appmesh_mode.py",
        '(self.retired == "auto" and gone.kind != "access-denied")',
        '(self.retired == "auto")',
        "a denial passes for App Mesh gone",
    ),
    (
        "A6",
        H + "appmesh_mode.py",
        '            if pruned(node.get("spec")) != pruned(plan.node_spec):',
        "            if False:",
        "the node spec is not updated (rollback does not restore it)",
    ),
    (
        "A7",
        H + "appmesh_mode.py",
        "        if node_tags.get(TAG_ENVOY_IMAGE) != envoy_image:\n            return None",
        "        if False:\n            return None",
        "a no-op update ignores the provider's new Envoy image",
    ),
    (
        "A8",
        H + "appmesh_mode.py",
        '!= me.node_name:\n            logger.info("the virtual service is provided by another',
        '== "":\n            logger.info("the virtual service is provided by another',
        "a Delete without CloudFormation's answer removes another id's service",
    ),
    (
        "A9",
        H + "appmesh_mode.py",
        '        return self.retired == "true" or',
        '        return self.retired == "false" or',
        "AppMeshRetired=true does not finish a Delete",
    ),
    (
        "A10",
        H + "appmesh_mode.py",
        '        if self.retired == "true":\n            raise AppMeshUnavailableError(',
        "        if False:\n            raise AppMeshUnavailableError(",
        "AppMeshRetired=true still lets a Create call App Mesh",
    ),
]


def run(tests: list[str]) -> tuple[list[str], str]:
    """The tests that failed (without parameters), and pytest's summary line."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    failed = {re.sub(r"\[.*$", "", f) for f in re.findall(r"^FAILED (\S+)", done.stdout, re.M)}
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return sorted(f.split("::")[-1] for f in failed), (lines[-1] if lines else done.stderr[-200:])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="", help="comma-separated ids")
    args, tests = parser.parse_known_args()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "handler"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if dirty:
        print("handler/ has uncommitted changes; commit or stash them first", file=sys.stderr)
        return 2
    only = set(filter(None, args.only.split(",")))
    missed = 0
    for bug, module, text, replacement, words in BUGS:
        if only and bug not in only:
            continue
        path = ROOT / module
        original = path.read_text()
        if original.count(text) != 1:
            print(f"{bug:5} stale   {words}")
            continue
        try:
            path.write_text(original.replace(text, replacement))
            failed, summary = run(tests or ["tests/fast"])
        finally:
            path.write_text(original)
        missed += not failed
        verdict = "caught" if failed else "MISSED"
        print(f"{bug:5} {verdict:7} {words}: {', '.join(failed) or '-'} ({summary})", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
