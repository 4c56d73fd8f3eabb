"""Invitations over the API (SPEC §3, §7): who invites, lists and revokes; accepting as a new
person or a signed-in user; expiry, revocation and replay answer 410; only a hash is kept."""

import hashlib
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEntry
from ippsite.models import ApiToken
from permissions.models import Invitation
from registry.models import Membership
from tests.api.client import Api
from tests.api.test_members import MATRIX, _expected

pytestmark = pytest.mark.django_db(transaction=True)

INVITE = {"email": "new.dev@example.test", "role": "member", "default_level": "open"}
PASSWORD = "a-long-enough-passphrase-42"


def _token(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _invite(api, world, body=None, persona="acme_admin") -> dict:
    reply = api(persona).post(f"infrastructures/{world.acme.pk}/invitations", body or INVITE)
    assert reply.status == 201, reply.body
    return reply.json()


@pytest.mark.parametrize("persona", list(MATRIX))
def test_who_invites(api, world, persona):
    reply = api(persona).post(f"infrastructures/{world.acme.pk}/invitations", INVITE)
    assert reply.status == _expected(persona, 201), reply.body
    if reply.status == 201:
        body = reply.json()
        assert set(body) == {"id", "url", "expires_at"}
        raw = _token(body["url"])
        invitation = Invitation.objects.get(pk=body["id"])
        # Only a digest of the secret is stored, nowhere the secret itself.
        assert invitation.digest == hashlib.sha256(raw.encode()).hexdigest()
        assert raw not in str(list(Invitation.objects.values()))
        assert raw not in str(list(AuditEntry.objects.values("details", "leaf")))
        assert [m.to for m in mail.outbox] == [["new.dev@example.test"]]
        assert body["url"] in mail.outbox[0].body
        entry = AuditEntry.objects.get(action="invitation.created")
        assert entry.log_id == str(world.acme.pk) and entry.details["email"] == INVITE["email"]
    else:
        assert not Invitation.objects.exists() and mail.outbox == []


@pytest.mark.parametrize("persona", list(MATRIX))
def test_who_lists_invitations_without_secrets(api, world, persona):
    created = _invite(api, world)
    reply = api(persona).get(f"infrastructures/{world.acme.pk}/invitations")
    assert reply.status == _expected(persona, 200), reply.body
    if reply.status == 200:
        (row,) = reply.json()["results"]
        assert row["id"] == created["id"] and row["state"] == "pending"
        assert row["default_level"] == "open" and row["invited_by"] == "acme_admin"
        assert "url" not in row and _token(created["url"]) not in reply.body.decode()


@pytest.mark.parametrize("persona", list(MATRIX))
def test_who_revokes(api, world, persona):
    created = _invite(api, world)
    reply = api(persona).request("DELETE", f"invitations/{created['id']}")
    assert reply.status == _expected(persona, 204), reply.body
    revoked = Invitation.objects.get(pk=created["id"]).revoked_at is not None
    assert revoked is (reply.status == 204)
    if revoked:
        assert AuditEntry.objects.filter(action="invitation.revoked").count() == 1
        again = api(persona).request("DELETE", f"invitations/{created['id']}")
        assert again.status == 204  # idempotent: still revoked, nothing more recorded
        assert AuditEntry.objects.filter(action="invitation.revoked").count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-address"},
        {**INVITE, "role": "owner"},
        {**INVITE, "default_level": "everything"},
        {"role": "member"},
    ],
)
def test_invitations_refuse_what_the_schema_refuses(api, world, body):
    reply = api("acme_admin").post(f"infrastructures/{world.acme.pk}/invitations", body)
    assert reply.status == 400 and reply.json()["error"] == "invalid_request"


def test_a_new_person_accepts_and_gets_what_the_invitation_says(api, world, live_server):
    created = _invite(api, world, {**INVITE, "create_modules": True})
    body = {"token": _token(created["url"]), "username": "newdev", "password": PASSWORD}
    reply = api().post("invitations/accept", body)
    assert reply.status == 201, reply.body
    assert reply.json() == {"username": "newdev", "infrastructure": world.acme.pk}
    membership = Membership.objects.get(user__username="newdev", infrastructure=world.acme)
    assert (membership.role, membership.default_level, membership.create_modules) == (
        "member",
        2,
        True,
    )
    assert membership.user.email == INVITE["email"]
    token = Api(live_server.url).post("auth/token", {"username": "newdev", "password": PASSWORD})
    assert token.status == 200
    accepted = AuditEntry.objects.get(action="invitation.accepted")
    assert accepted.log_id == str(world.acme.pk) and accepted.details["user"] == "newdev"
    assert AuditEntry.objects.get(action="user.created").log_id == "site"

    # The secret works once: a replay is refused, for a new name or a signed-in user.
    replay = api().post("invitations/accept", {**body, "username": "someone_else"})
    assert replay.status == 410 and replay.json()["error"] == "invitation_expired"
    assert api("outsider").post("invitations/accept", body).status == 410
    assert not Membership.objects.filter(user=world.outsider).exists()


def test_a_signed_in_user_just_gets_the_membership(api, world):
    created = _invite(api, world, {**INVITE, "role": "administrator"})
    reply = api("outsider").post("invitations/accept", {"token": _token(created["url"])})
    assert reply.status == 201
    assert reply.json() == {"username": "outsider", "infrastructure": world.acme.pk}
    assert Membership.objects.get(user=world.outsider, infrastructure=world.acme).is_admin


def test_a_member_already_there_gets_409_and_the_invitation_stays_usable(api, world):
    created = _invite(api, world)
    token = _token(created["url"])
    reply = api("developer").post("invitations/accept", {"token": token})
    assert reply.status == 409 and reply.json()["error"] == "already_member"
    assert Invitation.objects.get(pk=created["id"]).state == "pending"


def test_expired_and_revoked_invitations_answer_410(api, world):
    expired = _invite(api, world)
    Invitation.objects.filter(pk=expired["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    revoked = _invite(api, world)
    assert api("support").request("DELETE", f"invitations/{revoked['id']}").status == 204
    for created in (expired, revoked):
        body = {"token": _token(created["url"]), "username": "late", "password": PASSWORD}
        reply = api().post("invitations/accept", body)
        assert reply.status == 410 and reply.json()["error"] == "invitation_expired"
    reply = api().post("invitations/accept", {"token": "x" * 43, "username": "a", "password": "b"})
    assert reply.status == 404 and reply.json()["error"] == "not_found"
    assert not Membership.objects.filter(user__username="late").exists()
    states = {
        row["state"]
        for row in api("acme_admin")
        .get(f"infrastructures/{world.acme.pk}/invitations")
        .json()["results"]
    }
    assert states == {"expired", "revoked"}


def test_the_expiry_follows_ipp_invitation_days(api, world, settings):
    settings.IPP_INVITATION_DAYS = 2
    created = _invite(api, world)
    invitation = Invitation.objects.get(pk=created["id"])
    assert invitation.expires_at - invitation.created_at == pytest.approx(
        timedelta(days=2), abs=timedelta(seconds=5)
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({"username": "developer", "password": PASSWORD}, "username"),
        ({"username": "bad name!", "password": PASSWORD}, "username"),
        ({"username": "newdev", "password": "123"}, "password"),
        ({"username": "newdev"}, "password"),
    ],
)
def test_a_bad_account_is_refused_and_the_invitation_stays_usable(api, world, body, field):
    created = _invite(api, world)
    reply = api().post("invitations/accept", {"token": _token(created["url"]), **body})
    assert reply.status == 400 and field in reply.json()["detail"]
    assert Invitation.objects.get(pk=created["id"]).state == "pending"


def test_the_invitations_list_costs_the_same_for_5_and_50(client, world):
    _row, token = ApiToken.issue(world.acme_admin)
    url = f"/api/v1/infrastructures/{world.acme.pk}/invitations?page_size=100"

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            Invitation.objects.create(
                infrastructure=world.acme,
                email=f"p{i}@example.test",
                digest=f"{i:064d}",
                created_by=world.acme_admin,
                expires_at=timezone.now() + timedelta(days=7),
            )

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, HTTP_AUTHORIZATION=f"Token {token}")
        assert response.status_code == 200
        return len(captured), response.json()["count"]

    queries()
    add(5, 0)
    few = queries()
    add(45, 5)
    many = queries()
    assert (few[1], many[1]) == (5, 50)
    assert few[0] == many[0] <= 8


def test_a_used_invitation_cannot_be_revoked(api, world):
    created = _invite(api, world)
    assert (
        api("outsider").post("invitations/accept", {"token": _token(created["url"])}).status == 201
    )
    reply = api("acme_admin").request("DELETE", f"invitations/{created['id']}")
    assert reply.status == 409 and reply.json()["error"] == "invitation_not_pending"
    assert Invitation.objects.get(pk=created["id"]).state == "accepted"


@pytest.mark.parametrize(
    "body",
    [
        {"token": ""},
        {"token": "ok", "username": ""},
        {"token": "ok", "username": "x", "password": ""},
        {},
    ],
)
def test_accept_refuses_what_the_schema_refuses(api, body):
    reply = api().post("invitations/accept", body)
    assert reply.status == 400 and reply.json()["error"] == "invalid_request"
