"""The session engine (ippsite/sessions.py): every session row carries its user's id, so
deactivating a user ends their sessions with one DELETE, whatever else is signed in."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ippsite.jobs import clear_sessions
from ippsite.models import Session
from ippsite.sessions import SessionStore
from ippsite.support_ui.accounts import sessions_end, user_set_active
from tests import factories
from tests.site.helpers import post_login

pytestmark = pytest.mark.django_db


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    assert client.get(reverse("catalog")).status_code == 200
    return client


def _session_of(user) -> str:
    """A live session signed in as `user`, written as login() leaves it (no request)."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    store.create()
    return store.session_key


def test_the_site_uses_the_session_engine_with_user_ids():
    assert settings.SESSION_ENGINE == "ippsite.sessions"
    assert SessionStore.get_model_class() is Session


def test_a_signed_in_session_row_carries_its_users_id(world, client):
    assert post_login(client, "developer").status_code == 302
    row = Session.objects.get(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value)
    assert row.user_id == world.developer.pk
    assert row.get_decoded()[SESSION_KEY] == str(world.developer.pk)

    forced = _signed_in(world.contractor)
    assert Session.objects.get(session_key=forced.session.session_key).user_id == (
        world.contractor.pk
    )

    client.post(reverse("logout"))
    assert not Session.objects.filter(user_id=world.developer.pk).exists()


def test_an_anonymous_session_has_no_user_id(db):
    store = SessionStore()
    store["seen"] = True
    store.create()
    assert Session.objects.get(session_key=store.session_key).user_id is None


def test_deactivation_ends_all_of_that_users_sessions_and_none_of_anothers(world):
    contractor = [_signed_in(world.contractor) for _ in range(3)]
    developer = [_signed_in(world.developer) for _ in range(2)]

    changed = user_set_active(actor=world.support, user=world.contractor, is_active=False)

    assert changed["sessions"] == 3
    assert not Session.objects.filter(user_id=world.contractor.pk).exists()
    for client in contractor:
        assert client.get(reverse("catalog")).status_code == 302
    assert Session.objects.filter(user_id=world.developer.pk).count() == 2
    for client in developer:
        assert client.get(reverse("catalog")).status_code == 200


def test_an_expired_session_is_not_counted_as_ended(world):
    live = _session_of(world.contractor)
    expired = _session_of(world.contractor)
    Session.objects.filter(pk=expired).update(expire_date=timezone.now() - timedelta(days=1))
    assert sessions_end(world.contractor) == 1
    assert not Session.objects.filter(pk=live).exists()


def test_ending_a_users_sessions_costs_one_delete_for_5_and_50_other_sessions(world):
    """Fails if sessions_end goes back to reading and decoding every live session."""
    others = [factories.make_user(f"member{n:02d}") for n in range(10)]

    def queries(other_sessions: int) -> list[str]:
        Session.objects.all().delete()
        for n in range(other_sessions):
            _session_of(others[n % len(others)])
        _session_of(world.contractor)
        _session_of(world.contractor)
        with CaptureQueriesContext(connection) as captured:
            assert sessions_end(world.contractor) == 2
        assert Session.objects.count() == other_sessions
        return [query["sql"] for query in captured]

    few, many = queries(5), queries(50)
    assert len(few) == len(many) == 1
    assert many[0].startswith("DELETE") and "session_data" not in many[0]


@pytest.mark.parametrize("clear", ["command", "job"])
def test_clearsessions_and_its_daily_job_clear_the_engines_expired_sessions(world, clear):
    live, expired = _session_of(world.developer), _session_of(world.developer)
    Session.objects.filter(pk=expired).update(expire_date=timezone.now() - timedelta(days=1))
    if clear == "command":
        call_command("clearsessions")
    else:
        assert settings.CELERY_BEAT_SCHEDULE["clear-sessions"]["task"] == clear_sessions.name
        clear_sessions.apply().get()
    assert list(Session.objects.values_list("pk", flat=True)) == [live]
