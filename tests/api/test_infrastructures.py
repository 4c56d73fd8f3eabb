"""Infrastructures, their flags, members and environments over the API."""

import re

import pytest

from audit.models import AuditEntry
from registry.models import Environment, Infrastructure, Membership

pytestmark = pytest.mark.django_db(transaction=True)

ACTIVATION_CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){4}$")


def names(reply) -> list[str]:
    return [row["name"] for row in reply.json()["results"]]


# --- POST /infrastructures --------------------------------------------------------------


def test_support_creates_an_infrastructure_with_an_activation_code(api):
    reply = api("support").post("infrastructures", {"name": "Globex", "platform": "odc"})
    assert reply.status == 201
    body = reply.json()
    assert set(body) == {
        "id",
        "name",
        "platform",
        "activation_code",
        "ipp_protected",
        "portal_blocked",
    }
    assert body["name"] == "Globex" and body["platform"] == "odc"
    assert ACTIVATION_CODE.match(body["activation_code"])
    assert body["ipp_protected"] is False and body["portal_blocked"] is False
    assert AuditEntry.objects.filter(
        action="infrastructure.created", infrastructure_id=body["id"]
    ).exists()


@pytest.mark.parametrize(
    "persona", ["acme_admin", "developer", "contractor", "emca_admin", "outsider"]
)
def test_only_support_creates_infrastructures(api, persona):
    reply = api(persona).post("infrastructures", {"name": "Globex", "platform": "o11"})
    assert reply.status == 403
    assert reply.json()["error"] == "permission_denied"
    assert not Infrastructure.objects.filter(name="Globex").exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"platform": "o11"}, "name"),
        ({"name": "Globex", "platform": "o12"}, "platform"),
        ({"name": "Globex", "platform": "o11", "owner": "me"}, "owner"),
        ({"name": 7, "platform": "o11"}, "name"),
    ],
)
def test_invalid_infrastructures_are_refused(api, body, field):
    reply = api("support").post("infrastructures", body)
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_request"
    assert field in reply.json()["detail"]
    assert Infrastructure.objects.count() == 2


def test_a_taken_infrastructure_name_is_a_conflict(api):
    reply = api("support").post("infrastructures", {"name": "ACME", "platform": "o11"})
    assert reply.status == 409 and reply.json()["error"] == "name_taken"
    assert Infrastructure.objects.count() == 2


# --- GET /infrastructures ----------------------------------------------------------------


@pytest.mark.parametrize(
    "persona, expected",
    [
        ("support", ["ACME", "EMCA"]),
        ("acme_admin", ["ACME"]),
        ("developer", ["ACME"]),
        ("contractor", ["ACME"]),
        ("emca_admin", ["EMCA"]),
        ("outsider", []),
    ],
)
def test_each_persona_lists_the_infrastructures_they_belong_to(api, persona, expected):
    reply = api(persona).get("infrastructures")
    assert reply.status == 200
    assert set(reply.json()) == {"count", "next", "previous", "results"}
    assert reply.json()["count"] == len(expected)
    assert names(reply) == expected


def test_infrastructure_lists_are_paginated(api):
    client = api("support")
    first = client.get("infrastructures?page_size=1")
    assert first.json()["count"] == 2 and names(first) == ["ACME"]
    assert first.json()["previous"] is None
    second = client.get(first.json()["next"].split("/api/v1/", 1)[1])
    assert names(second) == ["EMCA"] and second.json()["next"] is None


@pytest.mark.parametrize(
    "persona, status",
    [("support", 200), ("acme_admin", 200), ("developer", 200), ("contractor", 200),
     ("emca_admin", 404), ("outsider", 404)],
)  # fmt: skip
def test_an_infrastructure_is_visible_to_its_members_and_support_only(api, world, persona, status):
    reply = api(persona).get(f"infrastructures/{world.acme.pk}")
    assert reply.status == status
    if status == 200:
        assert reply.json()["activation_code"] == world.acme.activation_code
    else:
        assert reply.json()["error"] == "not_found"


def test_an_unknown_infrastructure_is_404(api):
    assert api("support").get("infrastructures/999999").status == 404


# --- PATCH /infrastructures/{id} -------------------------------------------------------


def test_support_turns_protection_off_and_blocks_the_portal(api, world):
    reply = api("support").patch(
        f"infrastructures/{world.acme.pk}", {"ipp_protected": False, "portal_blocked": True}
    )
    assert reply.status == 200
    assert reply.json()["ipp_protected"] is False
    assert reply.json()["portal_blocked"] is True
    world.acme.refresh_from_db()
    assert (world.acme.ipp_protected, world.acme.portal_blocked) == (False, True)
    actions = set(
        AuditEntry.objects.filter(infrastructure=world.acme).values_list("action", flat=True)
    )
    assert {"ipp.protection_changed", "ipp.portal_blocked"} <= actions


def test_patching_one_flag_leaves_the_other(api, world):
    reply = api("support").patch(f"infrastructures/{world.emca.pk}", {"ipp_protected": True})
    assert reply.status == 200
    assert reply.json()["ipp_protected"] is True and reply.json()["portal_blocked"] is False


@pytest.mark.parametrize(
    "persona, status",
    [
        ("acme_admin", 403),
        ("developer", 403),
        ("contractor", 403),
        ("emca_admin", 404),
        ("outsider", 404),
    ],
)
def test_only_support_toggles_flags(api, world, persona, status):
    reply = api(persona).patch(f"infrastructures/{world.acme.pk}", {"ipp_protected": False})
    assert reply.status == status
    assert reply.json()["error"] == ("permission_denied" if status == 403 else "not_found")
    world.acme.refresh_from_db()
    assert world.acme.ipp_protected is True


# --- /infrastructures/{id}/members -----------------------------------------------------


@pytest.mark.parametrize("persona", ["support", "acme_admin"])
def test_support_and_admins_add_members(api, world, persona):
    body = {
        "username": "outsider",
        "role": "member",
        "default_level": "reference",
        "create_modules": True,
    }
    reply = api(persona).post(f"infrastructures/{world.acme.pk}/members", body)
    assert reply.status == 201
    assert reply.json() == {
        "id": reply.json()["id"],
        "infrastructure": world.acme.pk,
        "username": "outsider",
        "role": "member",
        "default_level": "reference",
        "create_modules": True,
    }
    # the new member now sees the infrastructure
    assert api("outsider").get(f"infrastructures/{world.acme.pk}").status == 200


def test_posting_an_existing_member_changes_the_membership(api, world):
    body = {"username": "developer", "role": "administrator", "default_level": "publish"}
    reply = api("acme_admin").post(f"infrastructures/{world.acme.pk}/members", body)
    assert reply.status == 200
    membership = Membership.objects.get(infrastructure=world.acme, user=world.developer)
    assert membership.role == "administrator" and membership.default_level == 3
    assert AuditEntry.objects.filter(action="membership.changed").exists()


@pytest.mark.parametrize(
    "persona, status",
    [("developer", 403), ("contractor", 403), ("emca_admin", 404), ("outsider", 404)],
)
def test_others_may_not_add_members(api, world, persona, status):
    body = {"username": "outsider", "role": "administrator", "default_level": "publish"}
    reply = api(persona).post(f"infrastructures/{world.acme.pk}/members", body)
    assert reply.status == status
    assert not Membership.objects.filter(user=world.outsider).exists()


def test_a_member_who_is_no_user_is_not_found(api, world):
    body = {"username": "nobody", "role": "member", "default_level": "open"}
    reply = api("acme_admin").post(f"infrastructures/{world.acme.pk}/members", body)
    assert reply.status == 404 and "nobody" in reply.json()["detail"]


def test_a_member_added_without_a_default_level_gets_none(api, world):
    reply = api("acme_admin").post(
        f"infrastructures/{world.acme.pk}/members", {"username": "outsider"}
    )
    assert reply.status == 201, reply.body
    assert reply.json()["default_level"] == "none" and reply.json()["role"] == "member"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"username": "outsider", "role": "owner", "default_level": "open"}, "role"),
        ({"username": "outsider", "role": "member", "default_level": "admin"}, "default_level"),
    ],
)
def test_invalid_memberships_are_refused(api, world, body, field):
    reply = api("acme_admin").post(f"infrastructures/{world.acme.pk}/members", body)
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_request"
    assert field in reply.json()["detail"]


@pytest.mark.parametrize(
    "persona, status",
    [("support", 200), ("acme_admin", 200), ("developer", 403), ("contractor", 403),
     ("emca_admin", 404), ("outsider", 404)],
)  # fmt: skip
def test_members_are_listed_for_admins_and_support(api, world, persona, status):
    reply = api(persona).get(f"infrastructures/{world.acme.pk}/members")
    assert reply.status == status
    if status == 200:
        rows = {row["username"]: row for row in reply.json()["results"]}
        assert set(rows) == {"acme_admin", "contractor", "developer"}
        assert rows["developer"]["default_level"] == "open"
        assert rows["developer"]["create_modules"] is True
        assert rows["acme_admin"]["role"] == "administrator"


# --- /environments ----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["support", "acme_admin"])
def test_support_and_admins_create_environments(api, world, persona):
    reply = api(persona).post("environments", {"infrastructure": world.acme.pk, "name": "Test"})
    assert reply.status == 201
    body = reply.json()
    assert set(body) == {"id", "name", "infrastructure", "serial", "protected"}
    assert body["protected"] is False
    assert body["name"] == "Test" and body["infrastructure"] == world.acme.pk
    assert body["serial"]
    assert Environment.objects.filter(pk=body["id"], serial=body["serial"]).exists()


@pytest.mark.parametrize(
    "persona, status",
    [("developer", 403), ("contractor", 403), ("emca_admin", 404), ("outsider", 404)],
)
def test_others_may_not_create_environments(api, world, persona, status):
    reply = api(persona).post("environments", {"infrastructure": world.acme.pk, "name": "Test"})
    assert reply.status == status
    assert not Environment.objects.filter(name="Test").exists()


def test_a_duplicate_environment_name_is_refused(api, world):
    reply = api("acme_admin").post(
        "environments", {"infrastructure": world.acme.pk, "name": "Production"}
    )
    assert reply.status == 409
    assert reply.json()["error"] == "name_taken"
    assert Environment.objects.filter(infrastructure=world.acme).count() == 2


@pytest.mark.parametrize(
    "persona, expected",
    [("support", 4), ("acme_admin", 2), ("developer", 2), ("emca_admin", 2), ("outsider", 0)],
)
def test_environments_are_listed_by_infrastructure_visibility(api, persona, expected):
    reply = api(persona).get("environments")
    assert reply.status == 200
    assert reply.json()["count"] == expected


def test_environments_filter_by_infrastructure(api, world):
    reply = api("support").get(f"environments?infrastructure={world.emca.pk}")
    assert {row["infrastructure"] for row in reply.json()["results"]} == {world.emca.pk}
    assert api("support").get("environments?infrastructure=abc").status == 400


@pytest.mark.parametrize(
    "persona, status",
    [
        ("support", 200),
        ("developer", 200),
        ("contractor", 200),
        ("emca_admin", 404),
        ("outsider", 404),
    ],
)
def test_an_environment_is_visible_with_its_infrastructure(api, world, persona, status):
    reply = api(persona).get(f"environments/{world.acme_dev_env.pk}")
    assert reply.status == status
    if status == 200:
        assert reply.json()["serial"] == world.acme_dev_env.serial
        assert reply.json()["deployments_url"].endswith(
            f"/api/v1/environments/{world.acme_dev_env.pk}/deployments"
        )
        listed = api(persona).get(f"environments/{world.acme_dev_env.pk}/deployments")
        assert listed.status == 200 and listed.json()["results"] == []
    else:
        assert api(persona).get(f"environments/{world.acme_dev_env.pk}/deployments").status == 404
