"""POST /users: support creates accounts; nobody else may."""

import pytest

from audit.models import AuditEntry
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
