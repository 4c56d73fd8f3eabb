"""POST /users: support creates accounts; PATCH /users/{username} {is_active}: support
deactivates (sessions and tokens end at once) and reactivates. Nobody else may."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from audit.models import AuditEntry
from ippsite.models import ApiToken, Session
from tests.api.client import Api

pytestmark = pytest.mark.django_db(transaction=True)

NEW_USER = {
    "username": "newdev",
    "password": "a-long-enough-passphrase-42",
    "email": "n@example.test",
}


def test_support_creates_a_user_who_can_then_get_a_token(api, live_server):
    reply = api("support").post("users", NEW_USER)
    assert reply.status == 201
    assert reply.json()["username"] == "newdev"
    assert set(reply.json()) == {"id", "username"}
    assert AuditEntry.objects.filter(action="user.created").count() == 1

    token = Api(live_server.url).post(
        "auth/token", {"username": "newdev", "password": NEW_USER["password"]}
    )
    assert token.status == 200


@pytest.mark.parametrize(
    "persona", ["acme_admin", "developer", "contractor", "emca_admin", "outsider"]
)
def test_only_support_creates_users(api, persona):
    reply = api(persona).post("users", NEW_USER)
    assert reply.status == 403
    assert reply.json()["error"] == "permission_denied"
    assert api("support").post("users", NEW_USER).status == 201  # the name was not taken


@pytest.mark.parametrize(
    "body, field",
    [
        ({**NEW_USER, "username": "developer"}, "username"),
        ({**NEW_USER, "username": "bad name!"}, "username"),
        ({**NEW_USER, "password": "123"}, "password"),
        ({**NEW_USER, "email": "not-an-email"}, "email"),
        ({"username": "x"}, "password"),
    ],
)
def test_invalid_users_are_refused_with_the_field_named(api, body, field):
    reply = api("support").post("users", body)
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_request"
    assert field in reply.json()["detail"]


@pytest.mark.parametrize(
    "persona, status",
    [
        ("support", 200),
        ("acme_admin", 403),
        ("developer", 403),
        ("contractor", 403),
        ("emca_admin", 403),
        ("outsider", 403),
        (None, 401),
    ],
)
def test_only_support_deactivates_users(api, world, persona, status):
    reply = api(persona).patch("users/outsider", {"is_active": False})
    assert reply.status == status, reply.body
    world.outsider.refresh_from_db()
    assert world.outsider.is_active is (status != 200)
    if status == 200:
        assert reply.json() == {"id": world.outsider.pk, "username": "outsider", "is_active": False}
    # Nobody but support learns whether a username exists.
    assert api(persona).patch("users/nobody", {"is_active": False}).status == (
        404 if persona == "support" else status
    )


@pytest.mark.parametrize("body", [{"is_active": "maybe"}, {"is_active": None}, {"active": False}])
def test_deactivation_needs_a_boolean(api, body):
    reply = api("support").patch("users/outsider", body)
    assert reply.status == 400 and reply.json()["error"] == "invalid_request"


def test_a_patch_that_names_no_field_changes_nothing(api, world):
    reply = api("support").patch("users/outsider", {})
    assert reply.status == 200 and reply.json()["is_active"] is True
    world.outsider.refresh_from_db()
    assert world.outsider.is_active


def test_support_cannot_deactivate_themselves(api, world):
    reply = api("support").patch("users/support", {"is_active": False})
    assert reply.status == 400
    world.support.refresh_from_db()
    assert world.support.is_active


def test_deactivation_ends_sessions_and_tokens_at_once_and_reactivation_brings_none_back(
    api, world, client
):
    client.force_login(world.contractor)
    assert client.get(reverse("catalog")).status_code == 200
    contractor = api("contractor")
    assert contractor.get("modules").status == 200
    other_session = Session.objects.count()

    assert api("support").patch("users/contractor", {"is_active": False}).status == 200

    response = client.get(reverse("catalog"))
    assert response.status_code == 302 and reverse("login") in response["Location"]
    assert Session.objects.count() == other_session - 1
    reply = contractor.get("modules")
    assert reply.status == 401 and reply.json()["error"] == "not_authenticated"
    assert ApiToken.objects.get(user=world.contractor).revoked_reason == "deactivated"
    entry = AuditEntry.objects.get(action="user.deactivated")
    assert entry.log_id == "site" and entry.details["username"] == "contractor"
    assert entry.details["sessions_ended"] == 1

    assert api("support").patch("users/contractor", {"is_active": True}).status == 200
    assert get_user_model().objects.get(username="contractor").is_active
    assert contractor.get("modules").status == 401  # the old token stays revoked
    assert client.get(reverse("catalog")).status_code == 302  # the old session stays ended
    assert api("contractor").get("modules").status == 200  # a new token works
    assert AuditEntry.objects.filter(action="user.reactivated", log__id="site").count() == 1
