"""The audit log page: who sees what, filters, chain status, full verification."""

import pytest
from django.urls import reverse

from audit.models import AuditEntry, AuditVerification
from audit.services import audit_record
from ipp.toggles import infrastructure_set_flags
from tests.factories import PASSWORD

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


def shown_seqs(response) -> list[int]:
    return [entry.seq for entry in response.context["page"]]


@pytest.mark.parametrize(
    "persona, status, expected",
    [
        ("support", 200, [3, 2, 1]),
        ("acme_admin", 200, [1]),
        ("emca_admin", 200, [2]),
        ("developer", 403, None),
        ("contractor", 403, None),
        ("outsider", 403, None),
    ],
)
def test_audit_page_permission_matrix(client, logged, persona, status, expected):
    response = page_for(client, logged.personas()[persona])
    assert response.status_code == status
    if expected is not None:
        assert shown_seqs(response) == expected


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
    assert shown_seqs(page_for(client, logged.support, f"?infrastructure={logged.emca.pk}")) == [2]
    assert shown_seqs(page_for(client, logged.support, "?action=user.created")) == [3]
    assert shown_seqs(page_for(client, logged.support, "?actor=nobody")) == []


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
    first = page_for(client, logged.support)
    assert shown_seqs(first)[:2] == [63, 62] and len(shown_seqs(first)) == 50
    assert shown_seqs(page_for(client, logged.support, "?page=2")) == list(range(13, 0, -1))


def test_the_page_costs_the_same_number_of_queries_at_any_length(
    client, logged, append, django_assert_max_num_queries
):
    client.force_login(logged.acme_admin)
    client.get(reverse("audit:log"))  # the first view verifies what is new
    append(5, actor=logged.support, infrastructure=logged.acme)
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("audit:log"))
    append(120, actor=logged.support, infrastructure=logged.acme)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("audit:log"))


# -- chain status ---------------------------------------------------------------------


def status_box(response) -> str:
    html = response.content.decode()
    start = html.rindex("<div", 0, html.index('data-testid="chain-status"'))
    return html[start : html.index('<div class="card', start)]


def test_the_status_box_says_how_far_the_chain_is_verified(client, logged, settings, append):
    settings.IPP_AUDIT_CHECKPOINT_EVERY = 4
    append(2, actor=logged.support)
    box = status_box(page_for(client, logged.support))
    assert "Chain verified: 5 entries" in box
    assert "up to #5" in box
    assert "last signed checkpoint #4" in box


def test_tampering_with_new_entries_turns_the_status_box_red(client, logged, append):
    page_for(client, logged.support)  # verified up to #3
    append(3, actor=logged.support)
    AuditEntry.objects.filter(seq=5).update(details={"n": "forged"})
    response = page_for(client, logged.emca_admin)
    box = status_box(response)
    assert "alert-danger" in box
    assert "Chain broken at entry #5" in box and "hash mismatch" in box
    assert "Verify everything now" not in box  # support only


def test_the_break_stays_visible_on_later_views(client, logged):
    page_for(client, logged.support)
    AuditEntry.objects.filter(seq=3).delete()
    assert "Chain broken at entry #3" in status_box(page_for(client, logged.support))
    assert "Chain broken at entry #3" in status_box(page_for(client, logged.support))


def test_support_can_verify_everything_now_and_find_an_old_break(client, logged, append):
    append(10, actor=logged.support)
    assert "Chain verified: 13 entries" in status_box(page_for(client, logged.support))
    # An edit below what was verified: pages do not re-read old entries, a full run does.
    AuditEntry.objects.filter(seq=2).update(actor_name="mallory")
    assert "Chain verified" in status_box(page_for(client, logged.support))
    response = client.post(reverse("audit:verify"), follow=True)
    assert (
        "Chain verification failed: tampered: entry 2: hash mismatch" in response.content.decode()
    )
    assert "Chain broken at entry #2" in status_box(response)


def test_a_full_verification_clears_a_break_once_the_chain_is_restored(client, logged):
    entry = AuditEntry.objects.get(seq=2)
    page_for(client, logged.support)
    AuditEntry.objects.filter(seq=3).update(actor_name="mallory")
    client.post(reverse("audit:verify"))
    assert AuditVerification.objects.get().failure_seq == 3
    AuditEntry.objects.filter(seq=3).update(actor_name="support")  # restored from backup
    response = client.post(reverse("audit:verify"), follow=True)
    assert "Chain verified in full: 3 entries are intact." in response.content.decode()
    assert "Chain verified: 3 entries" in status_box(response)
    assert entry.hash == AuditEntry.objects.get(seq=2).hash


@pytest.mark.parametrize("persona", ["acme_admin", "emca_admin", "developer", "outsider"])
def test_only_support_may_run_a_full_verification(client, logged, persona):
    client.force_login(logged.personas()[persona])
    assert client.post(reverse("audit:verify")).status_code == 403
    assert AuditVerification.objects.filter(full_verified_at__isnull=False).count() == 0


def test_signing_in_with_a_password_reaches_the_log(client, logged):
    assert client.login(username="acme_admin", password=PASSWORD)
    assert client.get(reverse("audit:log")).status_code == 200
