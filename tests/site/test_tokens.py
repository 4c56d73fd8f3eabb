"""API tokens (SPEC §7): expiry, revocation, per-user limit, no write per request, the page."""

from datetime import timedelta

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ippsite import settings as site_settings
from ippsite.models import ApiToken
from ippsite.tokens import TOKENS_PER_USER
from tests import factories
from tests.site.helpers import post_login

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token"


def _get(client, raw: str, path: str = "/api/v1/modules"):
    return client.get(path, HTTP_AUTHORIZATION=f"Token {raw}")


def _obtain(client, username: str = "developer"):
    return client.post(
        TOKEN_URL,
        {"username": username, "password": factories.PASSWORD},
        content_type="application/json",
    )


def test_auth_token_answers_the_token_and_when_it_expires(world, client, settings):
    settings.IPP_TOKEN_DAYS = 7
    response = _obtain(client)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    expires = parse_datetime(body["expires_at"])
    assert abs(expires - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)
    assert _get(client, body["token"]).status_code == 200


def test_tokens_last_thirty_days_unless_configured():
    assert site_settings.IPP_TOKEN_DAYS == 30


def test_an_expired_token_is_refused_401(world, client):
    row, raw = ApiToken.issue(world.developer)
    ApiToken.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timedelta(days=31), expires_at=timezone.now()
    )

    response = _get(client, raw)

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert "expired" in response.json()["detail"]


def test_delete_auth_token_revokes_the_token_used_for_the_call(world, client):
    _row, raw = ApiToken.issue(world.developer)
    _other_row, other = ApiToken.issue(world.developer)

    response = client.delete(TOKEN_URL, HTTP_AUTHORIZATION=f"Token {raw}")

    assert response.status_code == 204
    refused = _get(client, raw)
    assert refused.status_code == 401
    assert refused.json()["error"] == "not_authenticated"
    assert _get(client, other).status_code == 200


def test_delete_auth_token_without_a_token_is_401(world, client):
    client.force_login(world.developer)  # a session has no token to revoke

    response = client.delete(TOKEN_URL)

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_a_password_change_revokes_every_token_of_that_user(world, client):
    _row, raw = ApiToken.issue(world.developer)
    _row2, raw2 = ApiToken.issue(world.developer)
    _keep, contractor_raw = ApiToken.issue(world.contractor)

    world.developer.set_password("a-new-long-passphrase-2026")
    world.developer.save()

    assert _get(client, raw).status_code == 401
    assert _get(client, raw2).status_code == 401
    assert "password changed" in _get(client, raw).json()["detail"]
    assert _get(client, contractor_raw).status_code == 200


def test_a_hash_upgrade_at_sign_in_is_not_a_password_change(world, client, settings):
    settings.PASSWORD_HASHERS = site_settings.PASSWORD_HASHERS
    user = world.developer
    user.password = make_password(factories.PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    _row, raw = ApiToken.issue(user)

    signed_in = post_login(Client(), "developer")
    assert signed_in.status_code == 302
    user.refresh_from_db()

    assert user.password.startswith("argon2$")
    assert _get(client, raw).status_code == 200


def test_deactivation_revokes_tokens_and_reactivation_does_not_bring_them_back(world, client):
    _row, raw = ApiToken.issue(world.developer)

    world.developer.is_active = False
    world.developer.save()
    assert _get(client, raw).status_code == 401

    world.developer.is_active = True
    world.developer.save()
    response = _get(client, raw)
    assert response.status_code == 401
    assert "deactivated" in response.json()["detail"]


def test_a_sixth_token_revokes_the_oldest(world, client):
    issued = [ApiToken.issue(world.developer) for _ in range(TOKENS_PER_USER)]

    _newest, newest_raw = ApiToken.issue(world.developer)

    assert ApiToken.objects.filter(user=world.developer).alive().count() == TOKENS_PER_USER
    oldest_row, oldest_raw = issued[0]
    oldest_row.refresh_from_db()
    assert oldest_row.revoked_reason == ApiToken.Revoked.REPLACED
    assert _get(client, oldest_raw).status_code == 401
    assert _get(client, issued[1][1]).status_code == 200
    assert _get(client, newest_raw).status_code == 200


def test_an_authenticated_request_writes_nothing_within_the_hour(world, client):
    row, raw = ApiToken.issue(world.developer)
    assert _get(client, raw).status_code == 200  # first use: last_used_at recorded
    row.refresh_from_db()
    first_use = row.last_used_at
    assert first_use is not None

    with CaptureQueriesContext(connection) as queries:
        assert _get(client, raw).status_code == 200
    writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert writes == []
    row.refresh_from_db()
    assert row.last_used_at == first_use


def test_last_used_is_recorded_again_after_an_hour(world, client):
    row, raw = ApiToken.issue(world.developer)
    an_hour_ago = timezone.now() - timedelta(hours=1, seconds=1)
    ApiToken.objects.filter(pk=row.pk).update(last_used_at=an_hour_ago)

    assert _get(client, raw).status_code == 200

    row.refresh_from_db()
    assert row.last_used_at > an_hour_ago + timedelta(hours=1)


def test_tokens_are_stored_only_as_digests(world):
    row, raw = ApiToken.issue(world.developer)
    row.refresh_from_db()
    assert raw not in (row.digest, row.prefix)
    assert row.prefix == raw[:8]


def test_the_tokens_page_lists_my_live_tokens_and_revokes_one(world, client):
    row, raw = ApiToken.issue(world.developer)
    other_row, _other = ApiToken.issue(world.developer)
    revoked, _ = ApiToken.issue(world.developer)
    ApiToken.objects.filter(pk=revoked.pk).update(
        revoked_at=timezone.now(), revoked_reason=ApiToken.Revoked.BY_OWNER
    )
    _theirs, _ = ApiToken.issue(world.contractor)
    client.force_login(world.developer)

    page = client.get("/account/tokens/")

    text = page.content.decode()
    assert page.status_code == 200
    assert text.count('data-testid="api-token"') == 2
    assert f"{row.prefix}…" in text and f"{other_row.prefix}…" in text
    assert "never" in text  # last used
    assert row.expires_at.strftime("%Y-%m-%d") in text

    response = client.post(f"/account/tokens/{row.pk}/revoke", follow=True)

    assert f"Token {row.prefix}… is revoked" in response.content.decode()
    assert _get(client, raw).status_code == 401


def test_nobody_revokes_someone_elses_token_from_the_page(world, client):
    theirs, raw = ApiToken.issue(world.contractor)
    client.force_login(world.developer)

    assert client.post(f"/account/tokens/{theirs.pk}/revoke").status_code == 404
    client.logout()
    assert _get(client, raw).status_code == 200


def test_the_tokens_page_needs_a_signed_in_user(db, client):
    response = client.get("/account/tokens/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
