"""Sign-in lockout (SPEC §7): 10 failures for one username in 15 minutes lock it, page and API."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone

from ippsite.security import lockout
from tests import factories
from tests.site.helpers import post_login

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token"


def _fail_page(client, username: str, times: int):
    response = None
    for _ in range(times):
        response = post_login(client, username, "wrong")
    return response


def _fail_api(client, username: str, times: int):
    response = None
    for _ in range(times):
        response = client.post(
            TOKEN_URL, {"username": username, "password": "wrong"}, content_type="application/json"
        )
    return response


def _sign_in(client, username: str):
    return post_login(client, username)


def test_nine_failures_still_let_the_right_password_in(world, client):
    _fail_page(client, "developer", 9)

    response = _sign_in(client, "developer")

    assert response.status_code == 302


def test_the_tenth_failure_locks_the_username_on_the_page_with_one_clear_message(world, client):
    response = _fail_page(client, "developer", 10)

    assert response.status_code == 429
    text = response.content.decode()
    assert text.count("Too many failed sign-ins") == 1
    assert "Wrong username or password" not in text
    assert int(response["Retry-After"]) > 14 * 60


def test_a_locked_username_is_refused_even_with_the_right_password(world, client):
    _fail_page(client, "developer", 10)

    response = _sign_in(client, "developer")

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # The message is the answer to that POST only: the sign-in page itself is plain again.
    assert "Too many failed sign-ins" not in client.get("/login/").content.decode()


def test_the_api_refuses_a_locked_username_with_429_too_many_attempts(world, client):
    _fail_page(client, "developer", 10)

    response = client.post(
        TOKEN_URL,
        {"username": "developer", "password": factories.PASSWORD},
        content_type="application/json",
    )

    assert response.status_code == 429
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == "too_many_attempts"
    assert "15 minutes" in body["detail"]
    assert "Retry-After" in response


def test_api_failures_count_towards_the_same_lock(world, client):
    response = _fail_api(client, "developer", 10)

    assert response.status_code == 429
    assert response.json()["error"] == "too_many_attempts"
    assert _sign_in(Client(), "developer").status_code == 429


def test_the_lock_is_per_username(world, client):
    _fail_page(client, "developer", 10)

    assert _sign_in(client, "contractor").status_code == 302


def test_the_lock_ends_after_fifteen_minutes(world, client):
    _fail_page(client, "developer", 10)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=5))

    assert _sign_in(client, "developer").status_code == 302


def test_trying_during_the_lock_does_not_extend_it(world, client):
    _fail_page(client, "developer", 10)
    locked_at = AccessAttempt.objects.get(username="developer").attempt_time

    _fail_page(client, "developer", 3)

    assert AccessAttempt.objects.get(username="developer").attempt_time == locked_at


def test_support_lists_locked_usernames_and_unlocks_one(world, client):
    _fail_page(Client(), "developer", 10)
    _fail_page(Client(), "contractor", 4)  # not locked: not listed
    client.force_login(world.support)

    page = client.get("/support/lockouts/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Unlock developer" in text
    assert "Unlock contractor" not in text

    response = client.post("/support/lockouts/", {"username": "developer"}, follow=True)

    assert "developer may sign in again" in response.content.decode()
    assert "Unlock developer" not in response.content.decode()
    assert _sign_in(Client(), "developer").status_code == 302


@pytest.mark.parametrize("persona", ["acme_admin", "developer", "outsider"])
def test_only_support_may_see_or_lift_locks(world, client, persona):
    _fail_page(Client(), "contractor", 10)
    client.force_login(world.personas()[persona])

    assert client.get("/support/lockouts/").status_code == 403
    assert client.post("/support/lockouts/", {"username": "contractor"}).status_code == 403
    assert lockout.locked_usernames()[0].username == "contractor"


def test_anonymous_visitors_are_sent_to_sign_in(db, client):
    response = client.get("/support/lockouts/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_lift_service_refuses_anyone_but_support(world):
    with pytest.raises(PermissionDenied):
        lockout.lockout_lift(actor=world.acme_admin, username="developer")


def test_the_dashboard_links_the_lock_list_for_support_only(world, client):
    client.force_login(world.support)
    assert 'data-testid="lockouts-link"' in client.get("/").content.decode()
    client.force_login(world.acme_admin)
    assert 'data-testid="lockouts-link"' not in client.get("/").content.decode()


def test_a_locked_username_cannot_sign_in_through_a_call_without_a_request(world):
    """The test client's login() calls authenticate() with no request: still locked."""
    _fail_page(Client(), "developer", 10)

    assert not Client().login(username="developer", password=factories.PASSWORD)
    assert Client().login(username="contractor", password=factories.PASSWORD)
