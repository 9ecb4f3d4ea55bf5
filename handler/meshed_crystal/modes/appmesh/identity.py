"""What an App Mesh-mode physical id and the node's tags say about what it created.

The physical id names everything a Delete needs without any other state:
``meshed-crystal:<mesh owner>:<mesh>:<virtual node>:<virtual service>``. It changes exactly when
a replacement property changes, which is how CloudFormation learns about a replacement.

Ownership lives in tags on the App Mesh resources (``meshed_crystal.identity``). The virtual
node also carries the ACTIVE revisions of the proxied family that belong to it, with a digest of
each revision's content, so an Update knows without reading ECS whether the derived task
definition changed, and a rollback finds the previous revision again.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from meshed_crystal.identity import MAX_TAG_VALUE, PREFIX, Revision, tag_value

TAG_REVISIONS = f"{PREFIX}:revisions"
TAG_FAMILY = f"{PREFIX}:family"
# The Envoy image of the current revision: an Update with unchanged properties still derives
# a new revision when the provider's default image was bumped since.
TAG_ENVOY_IMAGE = f"{PREFIX}:envoy-image"
# On the node: the virtual services of the ids that wrote it, latest first (after a replacement
# that kept the node, the old id's service too). On a virtual service handed over from another
# node: that node. When CloudFormation cannot say which id the stack holds,
# a Delete keeps what these show another id of the same resource uses (DESIGN §5.4).
TAG_SERVICE = f"{PREFIX}:service"
TAG_HANDED_FROM = f"{PREFIX}:handed-from"

_ID = re.compile(
    r"^meshed-crystal:(?P<owner>\d{12}):(?P<mesh>[^:]+):(?P<node>[^:]+):"
    r"(?P<service>[^:]+)$"
)


def mesh_arn(partition: str, region: str, owner: str, name: str) -> str:
    """A mesh's ARN: its owner's account, its name (App Mesh needs no read to know it)."""
    return f"arn:{partition}:appmesh:{region}:{owner}:mesh/{name}"


class PhysicalId(NamedTuple):
    mesh_owner: str
    mesh_name: str
    node_name: str
    service_name: str

    def __str__(self) -> str:
        return f"{PREFIX}:{self.mesh_owner}:{self.mesh_name}:{self.node_name}:{self.service_name}"

    @classmethod
    def parse(cls, text: str | None) -> PhysicalId | None:
        """None for ids this resource never issued (crhelper's, CloudFormation's, garbage)."""
        match = _ID.match(text or "")
        if not match:
            return None
        return cls(match["owner"], match["mesh"], match["node"], match["service"])

    def mesh_arn(self, partition: str, region: str) -> str:
        return mesh_arn(partition, region, self.mesh_owner, self.mesh_name)

    def same_mesh(self, other: PhysicalId) -> bool:
        return (self.mesh_owner, self.mesh_name) == (other.mesh_owner, other.mesh_name)

    def revision_holder(self) -> str:
        """The value of TAG_HOLDER on this id's revisions: they belong to its virtual node (an
        id that keeps the node after a replacement keeps its revisions too)."""
        return tag_value(f"appmesh/{self.mesh_owner}/{self.mesh_name}/{self.node_name}")


def parse_revisions(tags: dict[str, str]) -> list[Revision]:
    """The ACTIVE proxied revisions a node holds, newest first.

    An item is ``<number>=<digest>`` in the family of TAG_FAMILY, or ``<family>:<number>=<digest>``
    (another family, and every item written before TAG_FAMILY existed).
    """
    current_family = tags.get(TAG_FAMILY, "")
    revisions = []
    for item in tags.get(TAG_REVISIONS, "").split():
        name, _, digest = item.partition("=")
        family, _, number = name.rpartition(":")
        family = family or current_family
        if family and number.isdigit():
            revisions.append(Revision(family, int(number), digest))
    return revisions


def revision_tags(revisions: list[Revision]) -> dict[str, str]:
    """The node's record of its revisions, newest first, in two tag values of at most
    MAX_TAG_VALUE characters: the family of the newest in TAG_FAMILY (a family is at most 255
    characters), and each revision as ``<number>=<digest>`` (its family only when another), so a
    255-character family keeps both the current revision and the one a rollback returns to."""
    family = revisions[0].family if revisions else ""
    value = ""
    for r in revisions:
        item = f"{r.number}={r.digest}"
        if r.family != family:
            item = f"{r.family}:{item}"
        candidate = f"{value} {item}".strip()
        if len(candidate) > MAX_TAG_VALUE:
            break
        value = candidate
    return {TAG_FAMILY: family, TAG_REVISIONS: value}


def served_services(tags: dict[str, str]) -> list[str]:
    """The virtual services a node's tags say it serves, latest first."""
    return tags.get(TAG_SERVICE, "").split()


def serving_tags(service: str, before: dict[str, str] | None) -> dict[str, str]:
    """TAG_SERVICE for a node that now serves ``service``; those it served before follow as
    they fit (a Delete that CloudFormation cannot inform checks them)."""
    value = service
    for earlier in served_services(before or {}):
        candidate = f"{value} {earlier}"
        if earlier == service:
            continue
        if len(candidate) > MAX_TAG_VALUE:
            break
        value = candidate
    return {TAG_SERVICE: value}
