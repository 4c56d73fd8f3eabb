"""Support's console (SPEC §8): users (search, create, deactivate, reactivate),
infrastructures and environments (create). Support only, and offered to support only."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEntry
from ippsite.models import ApiToken, Session
from registry.models import Environment, Infrastructure
from tests import factories

pytestmark = pytest.mark.django_db

User = get_user_model()
PASSWORD = "a-long-enough-passphrase-42"
PAGES = {
    "users": lambda w: reverse("support_users"),
    "infrastructures": lambda w: reverse("support_infrastructures"),
    "deactivate": lambda w: reverse("support_user_deactivate", args=[w.outsider.pk]),
}


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize(
    "persona", ["support", "acme_admin", "developer", "contractor", "emca_admin", "outsider"]
)
def test_only_support_opens_the_console(client, world, page, persona):
    client.force_login(world.personas()[persona])
    status = 200 if persona == "support" else 403
    assert client.get(PAGES[page](world)).status_code == status
    if status == 403:
        assert client.post(PAGES[page](world), {}).status_code == 403
        reactivate = reverse("support_user_reactivate", args=[world.outsider.pk])
        assert client.post(reactivate).status_code == 403
        assert User.objects.get(pk=world.outsider.pk).is_active


@pytest.mark.parametrize("persona", ["support", "acme_admin", "developer", "contractor"])
def test_the_navigation_offers_the_console_to_support_only(client, world, persona):
    client.force_login(world.personas()[persona])
    page = client.get(reverse("dashboard")).content.decode()
    assert (reverse("support_users") in page) is (persona == "support")


def test_the_dashboard_points_support_without_infrastructures_to_the_console(client, db):
    support = factories.make_user("helpdesk", staff=True)
    client.force_login(support)
    page = client.get(reverse("dashboard")).content.decode()
    assert "or the admin" not in page
    assert reverse("support_infrastructures") in page


def test_support_creates_a_user_who_can_sign_in(client, world):
    client.force_login(world.support)
    response = client.post(
        reverse("support_users"),
        {
            "username": "newdev",
            "email": "n@example.test",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    assert User.objects.get(username="newdev").check_password(PASSWORD)
    assert AuditEntry.objects.get(action="user.created").log_id == "site"
    weak = client.post(
        reverse("support_users"), {"username": "weak", "password1": "123", "password2": "123"}
    )
    assert weak.status_code == 400 and not User.objects.filter(username="weak").exists()
    taken = client.post(
        reverse("support_users"),
        {"username": "developer", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert taken.status_code == 400


def test_support_searches_users_and_the_list_is_paginated(client, world):
    client.force_login(world.support)
    page = client.get(reverse("support_users"), {"q": "contr"}).content.decode()
    assert 'data-username="contractor"' in page and 'data-username="developer"' not in page


def test_the_user_list_costs_the_same_for_5_and_50_users(client, world):
    client.force_login(world.support)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("support_users")).status_code == 200
        return len(captured)

    User.objects.exclude(
        username__in=["support", "acme_admin", "developer", "contractor", "emca_admin"]
    ).delete()
    few = queries()
    for n in range(45):
        factories.make_user(f"u{n:02d}")
    assert User.objects.count() == 50
    assert queries() == few


def test_deactivating_on_the_page_ends_sessions_and_tokens(client, world):
    other = client_for(world.contractor)
    _row, raw = ApiToken.issue(world.contractor)
    client.force_login(world.support)
    url = reverse("support_user_deactivate", args=[world.contractor.pk])
    assert 'data-testid="confirm-deactivate"' in client.get(url).content.decode()
    assert client.post(url).status_code == 302
    world.contractor.refresh_from_db()
    assert not world.contractor.is_active
    assert other.get(reverse("catalog")).status_code == 302
    assert ApiToken.objects.get(user=world.contractor).revoked_at is not None
    assert client.get("/api/v1/modules", HTTP_AUTHORIZATION=f"Token {raw}").status_code == 401
    page = client.get(reverse("support_users"), {"q": "contractor"}).content.decode()
    assert "deactivated" in page
    assert (
        client.post(reverse("support_user_reactivate", args=[world.contractor.pk])).status_code
        == 302
    )
    world.contractor.refresh_from_db()
    assert world.contractor.is_active
    assert Session.objects.count() == 1  # support's own; the contractor's stays ended
    assert (
        client.post(reverse("support_user_deactivate", args=[world.support.pk])).status_code == 400
    )


def client_for(user):
    other = Client()
    other.force_login(user)
    assert other.get(reverse("catalog")).status_code == 200
    return other


def test_support_creates_infrastructures_and_environments(client, world):
    client.force_login(world.support)
    url = reverse("support_infrastructures")
    assert (
        client.post(
            url, {"action": "infrastructure", "name": "Initech", "platform": "odc"}
        ).status_code
        == 302
    )
    initech = Infrastructure.objects.get(name="Initech")
    assert initech.platform == "odc"
    assert (
        client.post(
            url, {"action": "infrastructure", "name": "Initech", "platform": "o11"}
        ).status_code
        == 400
    )
    response = client.post(
        url,
        {
            "action": "environment",
            "infrastructure": initech.pk,
            "name": "Production",
            "protected": "on",
        },
    )
    assert response.status_code == 302
    assert Environment.objects.get(infrastructure=initech).protected
    page = client.get(url).content.decode()
    assert 'data-name="Initech"' in page
    assert (
        AuditEntry.objects.filter(
            action__in=["infrastructure.created", "environment.created"]
        ).count()
        == 2
    )
