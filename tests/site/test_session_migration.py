"""Migration ippsite.0006: the live sessions of django.contrib.sessions' table move to the
engine's, with their user ids, so the upgrade signs nobody out; expired ones are dropped.
Runs the real migrations back and forth."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.contrib.sessions.models import Session as DjangoSession
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ippsite.models import Session

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BEFORE = [("ippsite", "0005_session")]
DATA = [("ippsite", "0006_session_carry_over")]


@pytest.fixture
def before():
    """The schema just before the data migration; put back to the latest afterwards."""
    MigrationExecutor(connection).migrate(BEFORE)
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _old_session(data: dict) -> str:
    """A row of django_session as Django's own database engine writes it."""
    store = DjangoSessionStore()
    store.update(data)
    store.create()
    return store.session_key


def _old_sign_in(settings, user) -> str:
    """A session signed in before the upgrade: Django's engine, its table."""
    engine = settings.SESSION_ENGINE
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    client = Client()
    client.force_login(user)
    settings.SESSION_ENGINE = engine
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert DjangoSession.objects.filter(session_key=key).exists()
    return key


def test_live_sessions_move_over_with_their_user_ids_and_expired_ones_are_dropped(
    before, world, settings
):
    developer = _old_sign_in(settings, world.developer)
    anonymous = _old_session({"seen": True})
    expired = _old_session({SESSION_KEY: str(world.contractor.pk)})
    DjangoSession.objects.filter(pk=expired).update(expire_date=timezone.now())

    MigrationExecutor(connection).migrate(DATA)

    assert dict(Session.objects.values_list("session_key", "user_id")) == {
        developer: world.developer.pk,
        anonymous: None,
    }
    assert not DjangoSession.objects.exists()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = developer
    assert client.get(reverse("catalog")).status_code == 200  # still signed in


def test_going_back_before_0006_moves_the_live_sessions_back(before, world, settings):
    key = _old_sign_in(settings, world.developer)
    MigrationExecutor(connection).migrate(DATA)
    assert Session.objects.filter(user_id=world.developer.pk).count() == 1

    MigrationExecutor(connection).migrate(BEFORE)

    assert not Session.objects.exists()
    moved = DjangoSession.objects.get()
    assert moved.session_key == key
    assert moved.get_decoded()[SESSION_KEY] == str(world.developer.pk)
