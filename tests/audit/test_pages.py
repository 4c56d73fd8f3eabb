"""The audit log page: who sees what, filters, chain status, full verification."""

import pytest
from django.urls import reverse

from audit.services import audit_record
from ipp.toggles import infrastructure_set_flags

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(world):
    infrastructure_set_flags(actor=world.support, infrastructure=world.acme, portal_blocked=True)
    infrastructure_set_flags(actor=world.support, infrastructure=world.emca, ipp_protected=True)
    audit_record(actor=world.support, action="user.created", subject=world.outsider, details={})
    return world


def page_for(client, user, query: str = ""):
    client.force_login(user)
    return client.get(reverse("audit:log") + query)


def shown(response) -> list[str]:
    return [f"{entry.log_id}:{entry.index}" for entry in response.context["page"]]


def rows(world, *names) -> list[str]:
    """a: ACME's portal blocked, b: EMCA protected, c: the outsider created (site log)."""
    return [
        {"a": f"{world.acme.pk}:0", "b": f"{world.emca.pk}:0", "c": "site:0"}[name]
        for name in names
    ]


@pytest.mark.parametrize(
    "persona, status, expected",
    [
        ("support", 200, "cba"),
        ("acme_admin", 200, "a"),
        ("emca_admin", 200, "b"),
        ("developer", 403, None),
        ("contractor", 403, None),
        ("outsider", 403, None),
    ],
)
def test_audit_page_permission_matrix(client, logged, persona, status, expected):
    response = page_for(client, logged.personas()[persona])
    assert response.status_code == status
    if expected is not None:
        assert shown(response) == rows(logged, *expected)


def test_anonymous_visitors_are_sent_to_sign_in(client, logged):
    response = client.get(reverse("audit:log"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_nav_bar_links_the_audit_log(client, logged):
    response = page_for(client, logged.support)
    assert f'href="{reverse("audit:log")}"' in response.content.decode()


def test_entries_show_actor_action_badge_and_infrastructure(client, logged):
    html = page_for(client, logged.acme_admin).content.decode()
    assert "IPP portal blocked" in html and "text-bg-danger" in html
    assert "ACME" in html and "support" in html
    assert "EMCA" not in html.split('data-testid="audit-entries"')[1]


def test_infrastructure_choices_are_only_those_the_viewer_may_read(client, logged):
    form = page_for(client, logged.acme_admin).context["form"]
    assert list(form.fields["infrastructure"].queryset) == [logged.acme]
    form = page_for(client, logged.support).context["form"]
    assert set(form.fields["infrastructure"].queryset) == {logged.acme, logged.emca}


def test_an_administrator_asking_for_another_infrastructure_gets_403(client, logged):
    response = page_for(client, logged.acme_admin, f"?infrastructure={logged.emca.pk}")
    assert response.status_code == 403


def test_filters_narrow_the_list(client, logged):
    emca = page_for(client, logged.support, f"?infrastructure={logged.emca.pk}")
    assert shown(emca) == rows(logged, "b")
    assert shown(page_for(client, logged.support, "?action=user.created")) == rows(logged, "c")
    assert shown(page_for(client, logged.support, "?actor=nobody")) == []


def test_action_choices_come_from_the_registry(client, logged):
    form = page_for(client, logged.support).context["form"]
    codes = [code for code, _label in form.fields["action"].choices]
    assert "transfer.approved" in codes and "membership.changed" in codes


def test_a_bad_date_shows_the_form_error_instead_of_entries(client, logged):
    response = page_for(client, logged.support, "?since=last+week")
    assert response.status_code == 200
    assert response.context["page"] is None
    assert "is not an ISO date" in response.content.decode()


def test_no_matching_entries_shows_an_empty_state(client, logged):
    html = page_for(client, logged.support, "?action=transfer.approved").content.decode()
    assert 'data-testid="audit-empty"' in html


def test_the_list_is_paginated(client, logged, append):
    append(60, actor=logged.support, infrastructure=logged.acme)
    first = page_for(client, logged.support, f"?infrastructure={logged.acme.pk}")
    acme = logged.acme.pk
    assert shown(first)[:2] == [f"{acme}:60", f"{acme}:59"] and len(shown(first)) == 50
    second = page_for(client, logged.support, f"?infrastructure={acme}&page=2")
    assert shown(second) == [f"{acme}:{i}" for i in range(10, -1, -1)]


def test_the_page_costs_the_same_number_of_queries_at_any_length(
    client, logged, append, django_assert_max_num_queries
):
    client.force_login(logged.acme_admin)
    append(5, actor=logged.support, infrastructure=logged.acme)
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("audit:log"))
    append(120, actor=logged.support, infrastructure=logged.acme)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("audit:log"))
