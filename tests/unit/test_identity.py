"""The physical id and the tags, exactly: what a Delete reads back must be what a Create wrote.

These pin the formats to the character (docs/testing.md, "Mutation score": each mutant of
identity.py that survived the lifecycle tests is killed here or listed there as equivalent).
"""

from __future__ import annotations

import hashlib

import pytest
from meshed_crystal import identity
from meshed_crystal.identity import (
    MAX_TAG_VALUE,
    TAG_HOLDER,
    TAG_LOGICAL,
    TAG_STACK,
    Owner,
    Revision,
)
from meshed_crystal.modes.appmesh import identity as appmesh_identity
from meshed_crystal.modes.appmesh.identity import TAG_FAMILY, TAG_REVISIONS, TAG_SERVICE, PhysicalId

STACK = "arn:aws:cloudformation:us-east-1:111122223333:stack/shop/0f1e2d3c"
ID = PhysicalId("111122223333", "appmesh-workshop", "crystal-lb-vanilla", "crystal.local")


def test_the_tag_keys_are_the_ones_deployed_resources_carry() -> None:
    assert (TAG_STACK, TAG_LOGICAL, TAG_REVISIONS, TAG_FAMILY, TAG_HOLDER, TAG_SERVICE) == (
        "meshed-crystal:stack-id",
        "meshed-crystal:logical-id",
        "meshed-crystal:revisions",
        "meshed-crystal:family",
        "meshed-crystal:held-by",
        "meshed-crystal:service",
    )


def test_a_physical_id_round_trips_through_its_text() -> None:
    text = "meshed-crystal:111122223333:appmesh-workshop:crystal-lb-vanilla:crystal.local"
    assert str(ID) == text
    assert PhysicalId.parse(text) == ID


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "shop-Crystal-1A2B3C4D",  # crhelper's or CloudFormation's
        "meshed-crystal:11112222333:mesh:node:service",  # an owner of 11 digits
        "meshed-crystal:1111222233334:mesh:node:service",
        "meshed-crystal:111122223333:mesh:node",
        "meshed-crystal:111122223333:mesh:node:service:extra",
        "meshed-crystal:111122223333::node:service",
        "xmeshed-crystal:111122223333:mesh:node:service",
    ],
)
def test_ids_this_resource_never_issued_parse_to_none(text: str | None) -> None:
    assert PhysicalId.parse(text) is None


def test_mesh_arns() -> None:
    assert appmesh_identity.mesh_arn("aws", "us-east-1", "111122223333", "m") == (
        "arn:aws:appmesh:us-east-1:111122223333:mesh/m"
    )
    assert ID.mesh_arn("aws-cn", "cn-north-1") == (
        "arn:aws-cn:appmesh:cn-north-1:111122223333:mesh/appmesh-workshop"
    )


def test_same_mesh_compares_owner_and_name_only() -> None:
    assert ID.same_mesh(ID._replace(node_name="other", service_name="other.local"))
    assert not ID.same_mesh(ID._replace(mesh_owner="444455556666"))
    assert not ID.same_mesh(ID._replace(mesh_name="other-mesh"))


def test_the_revision_holder_names_the_node() -> None:
    assert ID.revision_holder() == "appmesh/111122223333/appmesh-workshop/crystal-lb-vanilla"
    # The holder is a tag value: a long one becomes its digest.
    long = ID._replace(node_name="n" * 255)
    text = f"appmesh/111122223333/appmesh-workshop/{'n' * 255}"
    assert long.revision_holder() == "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_tag_value_keeps_text_up_to_the_limit_and_digests_beyond() -> None:
    assert identity.tag_value("a" * MAX_TAG_VALUE) == "a" * MAX_TAG_VALUE
    over = "a" * (MAX_TAG_VALUE + 1)
    assert identity.tag_value(over) == "sha256:" + hashlib.sha256(over.encode()).hexdigest()
    assert MAX_TAG_VALUE == 256


def test_owner_tags() -> None:
    owner = Owner(STACK, "Crystal")
    assert owner.tags() == {TAG_STACK: STACK, TAG_LOGICAL: "Crystal"}
    assert owner.revision_tags("holder") == {
        TAG_STACK: STACK,
        TAG_LOGICAL: "Crystal",
        TAG_HOLDER: "holder",
    }
    assert owner.owns({TAG_STACK: STACK, TAG_LOGICAL: "Crystal", "other": "x"})
    assert not owner.owns({TAG_STACK: STACK, TAG_LOGICAL: "Other"})
    assert not owner.owns({TAG_STACK: STACK + "x", TAG_LOGICAL: "Crystal"})
    assert not owner.owns({})


def test_holder_in_words() -> None:
    assert identity.holder({TAG_STACK: STACK, TAG_LOGICAL: "Crystal"}) == (
        "resource Crystal of stack shop"
    )
    assert identity.holder({TAG_STACK: "shop"}) == "resource ? of stack shop"
    assert identity.holder({"Name": "x"}) == "a resource not created by MeshedCrystal"


def test_revision_arn() -> None:
    assert Revision("fam", 7, "d").arn("aws", "eu-west-1", "111122223333") == (
        "arn:aws:ecs:eu-west-1:111122223333:task-definition/fam:7"
    )


@pytest.mark.parametrize(
    ("arn", "family", "number"),
    [
        ("arn:aws:ecs:eu-west-1:111122223333:task-definition/payments-api:3", "payments-api", 3),
        (
            "arn:aws-us-gov:ecs:us-gov-west-1:111122223333:task-definition/a_b-c:1000000",
            "a_b-c",
            1000000,
        ),
    ],
)
def test_a_revision_is_read_from_its_arn(arn: str, family: str, number: int) -> None:
    assert Revision.of_arn(arn) == Revision(family, number, "")
    assert Revision.of_arn(arn, "sha256:d") == Revision(family, number, "sha256:d")


@pytest.mark.parametrize(
    ("physical_id", "issued"),
    [
        ("meshed-crystal:111122223333:payments-mesh:payments-node:payments", True),
        ("meshed-crystal-sc:111122223333:Payments:0f1e2d3c", True),
        ("meshed-crystal-taskonly:x", True),
        # A failed Create's fallback id and crhelper's start with a stack name: no ':' follows
        ("meshed-crystal-demo_Payments_1A2B3C4D", False),
        ("payments_Payments_1A2B3C4D", False),
        ("meshed-crystal-SC:x", False),
        ("xmeshed-crystal:x", False),
        ("", False),
        (None, False),
    ],
)
def test_an_id_issued_by_some_mode_of_this_product(physical_id: str | None, issued: bool) -> None:
    assert identity.issued_by_a_mode(physical_id) is issued


def test_revisions_round_trip_through_the_tags() -> None:
    revisions = [Revision("fam", 3, "c3"), Revision("fam", 2, "b2"), Revision("old", 1, "a1")]
    tags = appmesh_identity.revision_tags(revisions)
    assert tags == {TAG_FAMILY: "fam", TAG_REVISIONS: "3=c3 2=b2 old:1=a1"}
    assert appmesh_identity.parse_revisions(tags) == revisions
    assert appmesh_identity.revision_tags([]) == {TAG_FAMILY: "", TAG_REVISIONS: ""}


def test_parse_revisions_reads_old_items_and_skips_garbage() -> None:
    tags = {TAG_REVISIONS: "fam:4=d4 5=e5 fam:x=zz =q", TAG_FAMILY: "cur"}
    assert appmesh_identity.parse_revisions(tags) == [
        Revision("fam", 4, "d4"),
        Revision("cur", 5, "e5"),
    ]
    # Without TAG_FAMILY (written before it existed) an item without a family is skipped.
    assert appmesh_identity.parse_revisions({TAG_REVISIONS: "5=e5 fam:4=d4"}) == [
        Revision("fam", 4, "d4")
    ]
    assert appmesh_identity.parse_revisions({}) == []
    # An item splits at its first "=": what follows is the digest, whatever it holds.
    assert appmesh_identity.parse_revisions({TAG_REVISIONS: "3=ab=c", TAG_FAMILY: "f"}) == [
        Revision("f", 3, "ab=c")
    ]


def test_revision_tags_keep_what_fits_in_a_tag_value_newest_first() -> None:
    digest = "d" * 60
    revisions = [Revision("fam", n, digest) for n in range(10, 0, -1)]
    value = appmesh_identity.revision_tags(revisions)[TAG_REVISIONS]
    assert len(value) <= MAX_TAG_VALUE
    # Each item is 63 characters and a space: four fit in 256 (4 * 63 + 3 = 255), five do not.
    assert value == " ".join(f"{n}={digest}" for n in (10, 9, 8, 7))
    # Exactly at the limit: kept.
    exact = [Revision("fam", 1, "e" * (MAX_TAG_VALUE - 2))]
    assert appmesh_identity.revision_tags(exact)[TAG_REVISIONS] == "1=" + "e" * (MAX_TAG_VALUE - 2)


def test_a_longer_item_after_the_limit_stops_the_list() -> None:
    # The first item that does not fit ends the list even if a later, shorter one would fit.
    revisions = [Revision("f", 2, "a" * 250), Revision("f", 1, "b" * 10), Revision("f", 0, "c")]
    assert appmesh_identity.revision_tags(revisions)[TAG_REVISIONS] == "2=" + "a" * 250


def test_served_services_and_serving_tags() -> None:
    assert appmesh_identity.served_services({TAG_SERVICE: "a.local b.local"}) == [
        "a.local",
        "b.local",
    ]
    assert appmesh_identity.served_services({}) == []
    assert appmesh_identity.serving_tags("new.local", None) == {TAG_SERVICE: "new.local"}
    before = {TAG_SERVICE: "old.local new.local older.local"}
    assert appmesh_identity.serving_tags("new.local", before) == {
        TAG_SERVICE: "new.local old.local older.local"
    }


def test_serving_tags_keep_what_fits() -> None:
    first = "s" * 200
    second = "t" * 55  # 200 + 1 + 55 = 256: fits exactly
    third = "u"
    before = {TAG_SERVICE: f"{second} {third}"}
    assert appmesh_identity.serving_tags(first, before) == {TAG_SERVICE: f"{first} {second}"}
    # One more character and the second no longer fits; the list stops there.
    before = {TAG_SERVICE: f"{second}x {third}"}
    assert appmesh_identity.serving_tags(first, before) == {TAG_SERVICE: first}
    # The service itself, listed before, is skipped even when the candidate would not fit.
    before = {TAG_SERVICE: f"{first} {third}"}
    assert appmesh_identity.serving_tags(first, before) == {TAG_SERVICE: f"{first} {third}"}
