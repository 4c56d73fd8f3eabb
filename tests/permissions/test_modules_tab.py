"""The Modules tab: names link, a grant changed on one row, and "all N matching"."""

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEntry, TreeHead
from core.levels import Level
from permissions import door
from registry.models import Module
from tests.permissions.conftest import make_grant, make_module, make_team

pytestmark = pytest.mark.django_db


def _url(world, user=None) -> str:
    return reverse("user_modules", args=[world.acme.pk, (user or world.contractor).pk])


def test_module_names_link_to_the_module_page(client, world, acme_modules):
    client.force_login(world.acme_admin)
    page = client.get(_url(world)).content.decode()
    for name in ("api", "billing"):
        assert f'href="{reverse("module", args=[acme_modules[name].pk])}"' in page


def test_each_row_shows_the_grant_in_its_own_select(client, world, acme_modules):
    make_grant(world.contractor, acme_modules["billing"], Level.OPEN)
    client.force_login(world.acme_admin)
    page = client.get(_url(world)).content.decode()
    select = page.split(f'name="level_{acme_modules["billing"].pk}"')[1].split("</select>")[0]
    assert re.search(r'<option value="open" selected>', select)


def test_one_rows_save_changes_only_that_module(client, world, acme_modules):
    api, billing = acme_modules["api"], acme_modules["billing"]
    client.force_login(world.acme_admin)
    response = client.post(
        _url(world),
        {
            "row": api.pk,
            f"level_{api.pk}": "open",
            f"level_{billing.pk}": "publish",
            "level": "reference",
            "modules": [billing.pk],
        },
        follow=True,
    )
    assert (
        "contractor&#x27;s grant is now open on 1 module (1 changed)" in response.content.decode()
    )
    assert door.effective_level(world.contractor, api) == Level.OPEN
    assert door.effective_level(world.contractor, billing) == Level.NONE


def test_a_row_of_another_page_or_infrastructure_is_refused(client, world, acme_modules):
    ledger = acme_modules["ledger"]
    client.force_login(world.acme_admin)
    response = client.post(_url(world), {"row": ledger.pk, f"level_{ledger.pk}": "open"})
    assert response.status_code == 400
    assert door.effective_level(world.contractor, ledger) == Level.NONE


def test_all_matching_changes_every_module_the_filter_selects_on_every_page(client, world):
    for i in range(60):
        make_module(world.acme, f"Shop{i:02d}")
    make_module(world.acme, "Other")
    client.force_login(world.acme_admin)
    url = _url(world) + "?q=shop"
    page = client.get(url).content.decode()
    assert "Apply to all 60 modules matching the filter" in page
    response = client.post(url, {"all_matching": "on", "level": "reference"})
    assert response.status_code == 302 and response["Location"] == url
    levels = door.modules_for_user(world.contractor).values_list("name", flat=True)
    assert sorted(levels) == [f"Shop{i:02d}" for i in range(60)]
    entries = AuditEntry.objects.filter(action="permission.changed").order_by("index")
    assert [e.subject_label for e in entries] == [f"Shop{i:02d}" for i in range(60)]
    assert entries[0].details == {
        "user": "contractor",
        "module": "Shop00",
        "from": "none",
        "to": "reference",
        "source": "grant",
        "bulk": True,
        "all_matching": {"name": "shop", "level": ""},
    }
    # All 60 under one signed head: the log's head grew by 60 in one append.
    heads = TreeHead.objects.filter(log_id=str(world.acme.pk)).order_by("size")
    assert heads.last().size - entries[0].index == 60
    assert not heads.filter(size__gt=entries[0].index, size__lt=heads.last().size).exists()
    (grant,) = [
        s
        for s in door.explain_level(world.contractor, Module.objects.get(name="Shop07"))
        if s.kind == "grant"
    ]
    assert grant.label == "grant by acme_admin"  # the explanation finds who granted it


def test_all_matching_with_a_level_filter_changes_only_the_modules_at_that_level(client, world):
    opened = [make_module(world.acme, f"Open{i}") for i in range(3)]
    referenced = make_module(world.acme, "Referenced")
    by_team = make_module(world.acme, "ByTeam")
    for module in opened:
        make_grant(world.contractor, module, Level.OPEN)
    make_grant(world.contractor, referenced, Level.REFERENCE)
    make_team(world.acme, "Readers", Level.OPEN, members=[world.contractor], modules=[by_team])
    client.force_login(world.acme_admin)
    url = _url(world) + "?level=open"
    response = client.post(url, {"all_matching": "on", "level": "publish"}, follow=True)
    assert "grant is now publish on every module matching the filter (4 changed)" in (
        response.content.decode()
    )
    level = door.effective_level
    assert [level(world.contractor, m) for m in opened] == [Level.PUBLISH] * 3
    assert level(world.contractor, by_team) == Level.PUBLISH  # a new grant over the team's
    assert level(world.contractor, referenced) == Level.REFERENCE  # did not match: untouched
    entries = AuditEntry.objects.filter(action="permission.changed")
    assert sorted((e.subject_label, e.details["from"]) for e in entries) == [
        ("ByTeam", "none"),
        ("Open0", "open"),
        ("Open1", "open"),
        ("Open2", "open"),
    ]


def test_all_matching_none_removes_only_the_matching_grants(client, world):
    shops = [make_module(world.acme, f"Shop{i}") for i in range(3)]
    other = make_module(world.acme, "Other")
    for module in [*shops, other]:
        make_grant(world.contractor, module, Level.OPEN)
    client.force_login(world.acme_admin)
    client.post(_url(world) + "?q=shop", {"all_matching": "on", "level": "none"})
    visible = door.modules_for_user(world.contractor).values_list("name", flat=True)
    assert list(visible) == ["Other"]


def test_all_matching_costs_the_same_for_5_and_500_modules(client, world):
    def grow(start, count):
        Module.objects.bulk_create(
            Module(infrastructure=world.acme, key=uuid.uuid4(), name=f"Bulk{i:04d}")
            for i in range(start, start + count)
        )
        for module in Module.objects.filter(name__startswith="Bulk")[start : start + 2]:
            make_grant(world.contractor, module, Level.OPEN)  # some have a grant to update

    def post(level):
        with CaptureQueriesContext(connection) as ctx:
            response = client.post(_url(world) + "?q=bulk", {"all_matching": "on", "level": level})
        assert response.status_code == 302
        # Not counted: SQLite splits the audit entries' one bulk INSERT into batches of its
        # parameters' limit, and old heads start being pruned once the log passes 1,000
        # entries. Nothing else may be done per module.
        skipped = ('INSERT INTO "audit_entry"', 'DELETE FROM "audit_')
        return len([q for q in ctx.captured_queries if not q["sql"].startswith(skipped)])

    client.force_login(world.acme_admin)
    grow(0, 5)
    post("publish")  # the first entry of ACME's audit log creates the log: not counted
    small = post("reference"), post("none")
    grow(5, 495)
    assert (post("reference"), post("none")) == small
    assert door.modules_for_user(world.contractor).count() == 0


def test_without_ticks_or_all_matching_nothing_changes(client, world, acme_modules):
    client.force_login(world.acme_admin)
    response = client.post(_url(world), {"level": "open"})
    assert response.status_code == 400
    assert "Tick the modules to change first." in response.content.decode()


def test_the_users_list_has_a_teams_column_linking_each_team(client, world, acme_modules):
    team = make_team(world.acme, "Contractors", Level.REFERENCE, members=[world.contractor])
    client.force_login(world.acme_admin)
    page = client.get(reverse("infrastructure_users", args=[world.acme.pk])).content.decode()
    assert '<th scope="col">Teams</th>' in page
    row = page.split('data-username="contractor"')[1].split("</tr>")[0]
    assert f'<a href="{reverse("team", args=[world.acme.pk, team.pk])}">Contractors</a>' in row


def test_support_sees_the_teams_column_without_links_it_could_not_open(client, world):
    make_team(world.acme, "Contractors", Level.REFERENCE, members=[world.contractor])
    client.force_login(world.support)
    page = client.get(reverse("infrastructure_users", args=[world.acme.pk])).content.decode()
    row = page.split('data-username="contractor"')[1].split("</tr>")[0]
    assert "Contractors" in row and "/teams/" not in page


def test_the_explanation_links_its_team_for_administrators_only(client, world, acme_modules):
    api = acme_modules["api"]
    team = make_team(world.acme, "Devs", Level.PUBLISH, members=[world.developer], modules=[api])
    team_url = reverse("team", args=[world.acme.pk, team.pk])
    client.force_login(world.acme_admin)
    page = client.get(reverse("explain", args=[api.pk, world.developer.pk])).content.decode()
    assert f'<a href="{team_url}" data-testid="team-link">team Devs</a>' in page
    client.force_login(world.developer)
    page = client.get(reverse("explain", args=[api.pk, world.developer.pk])).content.decode()
    assert "team Devs" in page and team_url not in page
    assert reverse("module_permissions", args=[api.pk]) not in page
