"""Passwords are hashed with Argon2; older PBKDF2 hashes are rewritten at the next sign-in."""

import pytest
from django.contrib.auth.hashers import make_password

from ippsite import settings as site_settings
from tests import factories
from tests.site.helpers import post_login


@pytest.fixture
def production_hashers(settings):
    """The site's own hasher list (the suite's autouse fixture swaps in a fast one)."""
    settings.PASSWORD_HASHERS = site_settings.PASSWORD_HASHERS
    return settings


def _pbkdf2_user(username: str):
    user = factories.make_user(username)
    user.password = make_password(factories.PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    return user


def test_argon2_is_the_hasher_for_new_passwords(production_hashers, db):
    assert site_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    user = factories.make_user("fresh")
    assert user.password.startswith("argon2$")


def test_a_pbkdf2_hash_is_upgraded_to_argon2_at_page_sign_in(production_hashers, db, client):
    user = _pbkdf2_user("legacy")
    assert user.password.startswith("pbkdf2_sha256$")

    response = post_login(client, "legacy")

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$")
    assert user.check_password(factories.PASSWORD)


def test_a_pbkdf2_hash_is_upgraded_to_argon2_when_a_token_is_issued(production_hashers, db, client):
    user = _pbkdf2_user("legacy-api")

    response = client.post(
        "/api/v1/auth/token",
        {"username": "legacy-api", "password": factories.PASSWORD},
        content_type="application/json",
    )

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.password.startswith("argon2$")


def test_a_wrong_password_does_not_touch_the_stored_hash(production_hashers, db, client):
    user = _pbkdf2_user("legacy-wrong")
    before = user.password

    post_login(client, "legacy-wrong", "not-it")

    user.refresh_from_db()
    assert user.password == before
