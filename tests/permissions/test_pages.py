"""The permission pages as a user sees them (Django test client)."""

import re

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from core.levels import Level
from permissions import door
from tests.permissions.conftest import make_grant, make_module, make_team

pytestmark = pytest.mark.django_db


def html(response) -> str:
    return response.content.decode()


def test_contractor_catalog_is_empty_and_says_what_to_do_next(client, world, acme_modules):
    client.force_login(world.contractor)
    page = html(client.get(reverse("catalog")))
    assert (
        "No modules yet — ask an administrator of your infrastructure to grant you reference"
        in page
    )


def test_catalog_shows_referenceable_modules_with_badges_and_interface_never_source(
    client, world, acme_modules
):
    make_grant(world.contractor, acme_modules["api"], Level.REFERENCE)
    client.force_login(world.contractor)
    page = html(client.get(reverse("catalog")))
    assert re.findall(r'data-module="([^"]+)"', page) == ["OrdersAPI"]
    assert 'data-level="reference"' in page and "text-bg-info" in page
    assert "GetOrder" in page and "PlaceOrder" in page
    assert reverse("module", args=[acme_modules["api"].pk]) in page
    assert "/source" not in page


def test_catalog_search_and_filters(client, world, acme_modules):
    client.force_login(world.developer)
    names = lambda r: re.findall(r'data-module="([^"]+)"', html(r))  # noqa: E731
    assert names(client.get(reverse("catalog"))) == ["Billing", "OrdersAPI"]
    assert names(client.get(reverse("catalog"), {"q": "orders"})) == ["OrdersAPI"]
    assert names(client.get(reverse("catalog"), {"level": "publish"})) == []
    assert names(
        client.get(reverse("catalog"), {"level": "open", "infrastructure": world.acme.pk})
    ) == ["Billing", "OrdersAPI"]
    assert "No module matches these filters" in html(client.get(reverse("catalog"), {"q": "zzz"}))


def test_catalog_paginates_by_fifty(client, world):
    for i in range(55):
        make_module(world.acme, f"Mod{i:02d}")
    client.force_login(world.developer)
    first = html(client.get(reverse("catalog")))
    assert first.count('data-testid="catalog-module"') == 50
    assert "Page 1 of 2" in first
    assert (
        html(client.get(reverse("catalog"), {"page": 2})).count('data-testid="catalog-module"') == 5
    )


def test_modules_tab_shows_every_module_with_level_and_source(client, world, acme_modules):
    make_team(
        world.acme,
        "Contractors",
        Level.REFERENCE,
        members=[world.contractor],
        modules=[acme_modules["api"]],
    )
    make_grant(world.contractor, acme_modules["billing"], Level.OPEN)
    client.force_login(world.acme_admin)
    page = html(client.get(reverse("user_modules", args=[world.acme.pk, world.contractor.pk])))
    assert re.findall(r'data-testid="user-module" data-module="([^"]+)"', page) == [
        "Billing",
        "OrdersAPI",
    ]
    team = world.acme.teams.get()
    assert re.search(
        rf'<a href="{reverse("team", args=[world.acme.pk, team.pk])}" data-testid="team-link">'
        r"team Contractors</a> \(reference\)",
        page,
    )
    assert "grant (open)" in page
    assert "Ledger" not in page


def test_modules_tab_bulk_change_grants_the_ticked_modules(client, world, acme_modules):
    client.force_login(world.acme_admin)
    url = reverse("user_modules", args=[world.acme.pk, world.contractor.pk])
    response = client.post(
        url, {"modules": [acme_modules["api"].pk], "level": "reference"}, follow=True
    )
    assert response.status_code == 200
    assert "grant is now reference on 1 module" in html(response)
    assert door.effective_level(world.contractor, acme_modules["api"]) == Level.REFERENCE
    assert door.effective_level(world.contractor, acme_modules["billing"]) == Level.NONE


def test_modules_tab_bulk_change_without_ticks_says_so(client, world, acme_modules):
    client.force_login(world.acme_admin)
    url = reverse("user_modules", args=[world.acme.pk, world.contractor.pk])
    response = client.post(url, {"level": "reference"})
    assert response.status_code == 400
    assert "Tick the modules to change first." in html(response)


def test_modules_tab_filters_by_name_and_level(client, world, acme_modules):
    make_grant(world.contractor, acme_modules["billing"], Level.OPEN)
    client.force_login(world.acme_admin)
    url = reverse("user_modules", args=[world.acme.pk, world.contractor.pk])
    rows = lambda r: re.findall(r'data-testid="user-module" data-module="([^"]+)"', html(r))  # noqa: E731
    assert rows(client.get(url, {"level": "open"})) == ["Billing"]
    assert rows(client.get(url, {"level": "none"})) == ["OrdersAPI"]
    assert rows(client.get(url, {"q": "ord"})) == ["OrdersAPI"]


def test_administrator_cannot_change_their_own_levels_from_the_modules_tab(
    client, world, acme_modules
):
    client.force_login(world.acme_admin)
    url = reverse("user_modules", args=[world.acme.pk, world.acme_admin.pk])
    response = client.post(url, {"modules": [acme_modules["api"].pk], "level": "none"})
    assert response.status_code == 403
    assert "You cannot change your own level" in html(response)


def test_module_permissions_tab_lists_members_and_grants(client, world, acme_modules):
    api = acme_modules["api"]
    client.force_login(world.acme_admin)
    url = reverse("module_permissions", args=[api.pk])
    response = client.post(url, {"user": "contractor", "level": "open"}, follow=True)
    page = html(response)
    assert "contractor is granted open on OrdersAPI" in page
    assert re.findall(r'data-testid="permission-row" data-username="([^"]+)"', page) == [
        "acme_admin",
        "contractor",
        "developer",
    ]
    assert door.effective_level(world.contractor, api) == Level.OPEN
    response = client.post(url, {"user": "contractor", "level": "none"}, follow=True)
    assert "grant on OrdersAPI is removed" in html(response)
    assert door.effective_level(world.contractor, api) == Level.NONE


def test_module_permissions_form_searches_members_as_you_type_but_not_yourself(
    client, world, acme_modules
):
    client.force_login(world.acme_admin)
    page = html(client.get(reverse("module_permissions", args=[acme_modules["api"].pk])))
    field = re.search(r"<input [^>]*name=\"user\"[^>]*>", page).group(0)
    assert not re.search(r'<select[^>]*name="user"', page)  # no list of every member
    picker = re.search(r'data-picker-url="([^"]+)"', field).group(1).replace("&amp;", "&")
    assert picker.startswith(reverse("member_picker", args=[world.acme.pk]))
    assert "/static/js/picker.js" in page
    found = client.get(picker).json()
    assert [r["value"] for r in found["results"]] == ["contractor", "developer"]
    assert found["more"] is False


def test_explain_page_says_which_source_wins(client, world, acme_modules):
    api = acme_modules["api"]
    make_team(world.acme, "Contractors", Level.REFERENCE, members=[world.contractor], modules=[api])
    make_grant(world.contractor, api, Level.OPEN)
    client.force_login(world.acme_admin)
    page = html(client.get(reverse("explain", args=[api.pk, world.contractor.pk])))
    assert "Why does contractor have" in page
    assert re.search(r'data-testid="winner">grant</strong> wins with open', page)
    assert "team Contractors" in page and "default of ACME" in page


def test_a_member_can_ask_why_they_have_their_own_level(client, world, acme_modules):
    client.force_login(world.developer)
    page = html(client.get(reverse("explain", args=[acme_modules["api"].pk, world.developer.pk])))
    assert "default of ACME</strong> wins with open" in page


def test_administrator_adds_a_member_from_the_users_page(client, world):
    client.force_login(world.acme_admin)
    url = reverse("infrastructure_users", args=[world.acme.pk])
    response = client.post(
        url, {"username": "outsider", "role": "member", "default_level": 1}, follow=True
    )
    assert "outsider is a member of ACME" in html(response)
    assert 'data-username="outsider"' in html(response)
    assert AuditEntry.objects.filter(action="membership.changed").exists()
    response = client.post(url, {"username": "nobody", "role": "member", "default_level": 0})
    assert response.status_code == 400 and "There is no user called nobody" in html(response)


def test_administrator_creates_and_edits_a_team(client, world, acme_modules):
    client.force_login(world.acme_admin)
    response = client.post(
        reverse("teams", args=[world.acme.pk]), {"name": "Contractors", "level": "reference"}
    )
    team = world.acme.teams.get()
    url = reverse("team", args=[world.acme.pk, team.pk])
    assert response.status_code == 302 and response["Location"] == url
    assert client.post(url, {"action": "settings", "name": "Contractors", "level": "open"})
    assert client.post(url, {"action": "add_member", "user": "contractor"}).status_code == 302
    response = client.post(url, {"action": "add_modules", "modules": [acme_modules["api"].pk]})
    assert response.status_code == 302
    assert door.effective_level(world.contractor, acme_modules["api"]) == Level.OPEN
    page = html(client.get(reverse("teams", args=[world.acme.pk])))
    assert "Contractors" in page and "1 member · 1 module" in page
