"""Who a resource belongs to, in tags, whatever the mode: the owner (stack id and logical id)
on everything the resource creates, so a Create never takes over a name it did not create and a
redelivered Create recognises its own work; and, on each registered revision, what holds it, so
a Delete finds an id's revisions from ECS alone (DESIGN §9). Each mode's physical id and its
own records are the mode's (``modes/appmesh/identity.py``; Service Connect's id is in its mode).
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

PREFIX = "meshed-crystal"
TAG_STACK = f"{PREFIX}:stack-id"
TAG_LOGICAL = f"{PREFIX}:logical-id"
# On each registered revision (with the owner's tags): what holds it, so a Delete finds this
# id's revisions from ECS alone when App Mesh cannot be read (DESIGN §9).
TAG_HOLDER = f"{PREFIX}:held-by"
# The ids the modes issue: ``meshed-crystal:`` (App Mesh) or ``meshed-crystal-<mode>:``. Neither
# crhelper's ids nor the lifecycle's fallback id match: they start with a stack name, which
# holds no ':'.
_ISSUED_BY_A_MODE = re.compile(rf"^{PREFIX}(-[a-z0-9]+)?:")
# ECS and App Mesh tag values hold at most 256 characters.
MAX_TAG_VALUE = 256


def tag_value(text: str) -> str:
    """``text`` if it fits in a tag value, else a digest of it (same text, same value)."""
    if len(text) <= MAX_TAG_VALUE:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def issued_by_a_mode(physical_id: str | None) -> bool:
    """Whether some mode of this product issued the id, registered here today or not."""
    return bool(_ISSUED_BY_A_MODE.match(physical_id or ""))


class Owner(NamedTuple):
    stack_id: str
    logical_id: str

    def tags(self) -> dict[str, str]:
        return {TAG_STACK: self.stack_id, TAG_LOGICAL: self.logical_id}

    def revision_tags(self, holder: str) -> dict[str, str]:
        """The tags that let a Delete find its revisions from ECS alone."""
        return {**self.tags(), TAG_HOLDER: holder}

    def owns(self, tags: dict[str, str]) -> bool:
        return tags.get(TAG_STACK) == self.stack_id and tags.get(TAG_LOGICAL) == self.logical_id


def holder(tags: dict[str, str]) -> str:
    """Who holds a resource, in words for a FAILED Reason."""
    if TAG_STACK in tags:
        stack = tags[TAG_STACK].split("/")[1] if "/" in tags[TAG_STACK] else tags[TAG_STACK]
        return f"resource {tags.get(TAG_LOGICAL, '?')} of stack {stack}"
    return "a resource not created by MeshedCrystal"


class Revision(NamedTuple):
    family: str
    number: int
    digest: str

    def arn(self, partition: str, region: str, account: str) -> str:
        return f"arn:{partition}:ecs:{region}:{account}:task-definition/{self.family}:{self.number}"

    @classmethod
    def of_arn(cls, arn: str, digest: str = "") -> Revision:
        """The revision an ECS task definition ARN names (``…:task-definition/<family>:<n>``)."""
        family, _, number = arn.rpartition("/")[2].rpartition(":")
        return cls(family, int(number), digest)
