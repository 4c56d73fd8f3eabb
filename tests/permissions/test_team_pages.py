"""A team's page: its settings, members (added by typing) and modules (ticked in a
searchable list), each list a page at a time."""

import re

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from core.levels import Level
from permissions import door
from tests.permissions.conftest import make_module, make_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(world, acme_modules):
    return make_team(world.acme, "Contractors", Level.REFERENCE, modules=[acme_modules["api"]])


def _url(world, team, **query) -> str:
    url = reverse("team", args=[world.acme.pk, team.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_a_member_is_added_by_name_and_removed_with_one_button(client, world, team, acme_modules):
    client.force_login(world.acme_admin)
    response = client.post(_url(world, team), {"action": "add_member", "user": "contractor"})
    assert response.status_code == 302
    assert door.effective_level(world.contractor, acme_modules["api"]) == Level.REFERENCE
    page = client.get(_url(world, team)).content.decode()
    assert 'data-testid="team-member" data-username="contractor"' in page
    response = client.post(
        _url(world, team), {"action": "remove_member", "user": world.contractor.pk}
    )
    assert response.status_code == 302
    assert door.effective_level(world.contractor, acme_modules["api"]) == Level.NONE
    assert AuditEntry.objects.filter(action="team.changed").count() == 2


def test_only_members_of_the_infrastructure_can_be_added(client, world, team):
    client.force_login(world.acme_admin)
    response = client.post(_url(world, team), {"action": "add_member", "user": "emca_admin"})
    assert response.status_code == 400
    assert "Pick a member of the infrastructure." in response.content.decode()
    assert not team.members.exists()


def test_modules_are_added_and_removed_by_ticking_them(client, world, team, acme_modules):
    client.force_login(world.acme_admin)
    page = client.get(_url(world, team)).content.decode()
    assert re.findall(r'data-testid="addable-module" data-module="([^"]+)"', page) == ["Billing"]
    billing = acme_modules["billing"]
    response = client.post(_url(world, team), {"action": "add_modules", "modules": [billing.pk]})
    assert response.status_code == 302
    assert set(team.modules.values_list("name", flat=True)) == {"OrdersAPI", "Billing"}
    response = client.post(
        _url(world, team), {"action": "remove_modules", "modules": [acme_modules["api"].pk]}
    )
    assert response.status_code == 302
    assert list(team.modules.values_list("name", flat=True)) == ["Billing"]


def test_modules_of_another_infrastructure_cannot_be_added(client, world, team, acme_modules):
    client.force_login(world.acme_admin)
    ledger = acme_modules["ledger"]
    response = client.post(_url(world, team), {"action": "add_modules", "modules": [ledger.pk]})
    assert response.status_code == 400
    assert not team.modules.filter(pk=ledger.pk).exists()


def test_the_lists_are_pages_and_the_search_keeps_the_other_list(client, world, team):
    for i in range(55):
        make_module(world.acme, f"Extra{i:02d}")
    client.force_login(world.acme_admin)
    page = client.get(_url(world, team, add_q="Extra")).content.decode()
    assert page.count('data-testid="addable-module"') == 20
    assert "Page 1 of 3 · 55 in all" in page
    assert "add_q=Extra&amp;add=2" in page
    page = client.get(_url(world, team, add_q="Extra", add=3)).content.decode()
    assert page.count('data-testid="addable-module"') == 15


def test_team_modules_link_to_their_pages(client, world, team, acme_modules):
    client.force_login(world.acme_admin)
    page = client.get(_url(world, team)).content.decode()
    assert f'href="{reverse("module", args=[acme_modules["api"].pk])}"' in page


def test_teams_list_filters_by_name(client, world, team):
    make_team(world.acme, "Auditors", Level.REFERENCE)
    client.force_login(world.acme_admin)
    url = reverse("teams", args=[world.acme.pk])
    names = lambda r: re.findall(r'data-testid="team">\s*<span class="fw-semibold">([^<]+)', r)  # noqa: E731
    assert names(client.get(url).content.decode()) == ["Auditors", "Contractors"]
    assert names(client.get(url, {"q": "contr"}).content.decode()) == ["Contractors"]


def test_each_member_links_their_modules_tab_and_names_their_other_teams(client, world, team):
    team.members.add(world.contractor, world.developer)
    devs = make_team(world.acme, "Devs", Level.OPEN, members=[world.contractor])
    make_team(world.emca, "Elsewhere", Level.OPEN, members=[world.contractor])
    client.force_login(world.acme_admin)
    page = client.get(_url(world, team)).content.decode()
    row = page.split('data-username="contractor"')[1].split("</li>")[0]
    tab = reverse("user_modules", args=[world.acme.pk, world.contractor.pk])
    assert f'href="{tab}"' in row
    assert f'also in <a href="{reverse("team", args=[world.acme.pk, devs.pk])}">Devs</a>' in row
    assert "Elsewhere" not in row and "Contractors</a>" not in row
    developer_row = page.split('data-username="developer"')[1].split("</li>")[0]
    assert "also in" not in developer_row
