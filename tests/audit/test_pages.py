"""The audit pages: which logs one reads, a log's entries with readable subjects and details,
its signed head and the outcome of its last verification (never verified per view)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from audit.models import AuditEntry, LogVerification
from audit.services import audit_record
from ipp.toggles import infrastructure_set_flags
from ippsite.audit_ui.display import details_lines
from tests.audit import tamper

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(world):
    infrastructure_set_flags(actor=world.support, infrastructure=world.acme, portal_blocked=True)
    infrastructure_set_flags(actor=world.support, infrastructure=world.emca, ipp_protected=True)
    audit_record(actor=world.support, action="user.created", subject=world.outsider, details={})
    world.acme_log, world.emca_log = str(world.acme.pk), str(world.emca.pk)
    return world


def get(client, user, url: str):
    client.force_login(user)
    return client.get(url)


def log_url(log: str, query: str = "") -> str:
    return reverse("audit:log", args=[log]) + query


def shown(response) -> list[int]:
    return [row.entry.index for row in response.context["page"].rows]


# --- who reads what -------------------------------------------------------------------


@pytest.mark.parametrize(
    "persona, readable",
    [
        ("support", {"acme", "emca", "site"}),
        ("acme_admin", {"acme"}),
        ("emca_admin", {"emca"}),
        ("developer", set()),
        ("contractor", set()),
        ("outsider", set()),
    ],
)
def test_log_page_permission_matrix(client, logged, persona, readable):
    user = logged.personas()[persona]
    for name, log in (("acme", logged.acme_log), ("emca", logged.emca_log), ("site", "site")):
        assert get(client, user, log_url(log)).status_code == (200 if name in readable else 404)
        export = client.get(reverse("audit:export", args=[log]))
        assert export.status_code == (200 if name in readable else 404)
    assert client.get(log_url("4242")).status_code == 404


def test_the_list_of_logs_is_for_support_and_administrators(client, logged):
    listed = get(client, logged.support, reverse("audit:logs"))
    assert [row[0].id for row in listed.context["logs"]] == sorted(
        [logged.acme_log, logged.emca_log, "site"]
    )
    only_one = get(client, logged.acme_admin, reverse("audit:logs"))
    assert only_one.status_code == 302 and only_one.url == log_url(logged.acme_log)
    assert get(client, logged.developer, reverse("audit:logs")).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, logged):
    response = client.get(log_url("site"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


@pytest.mark.parametrize(
    "persona, offered",
    [("support", True), ("acme_admin", True), ("developer", False), ("outsider", False)],
)
def test_the_nav_bar_offers_the_audit_log_only_to_those_who_read_one(
    client, logged, persona, offered
):
    html = get(client, logged.personas()[persona], reverse("dashboard")).content.decode()
    assert (f'href="{reverse("audit:logs")}"' in html) is offered


# --- entries ----------------------------------------------------------------------------


def test_entries_show_actor_action_badge_subject_and_infrastructure(client, logged):
    html = get(client, logged.acme_admin, log_url(logged.acme_log)).content.decode()
    table = html.split('data-testid="audit-entries"')[1]
    assert "IPP portal blocked" in table and "text-bg-danger" in table
    assert "infrastructure: ACME" in table and "support" in table
    assert "EMCA" not in table


def test_details_are_labelled_lines_whatever_their_keys():
    details = {
        "items": [{"module": "CustomerCore", "key": "k", "version": 3, "digest": "d"}],
        "keys": ["a", "b"],
        "at_once": False,
        "to": {"role": "member", "default_level": "open"},
        "note": "x" * 400,
    }
    lines = dict(details_lines(details))
    assert lines["Items"] == "CustomerCore v3"
    assert lines["Keys"] == "a; b"
    assert lines["At once"] == "no"
    assert lines["To"] == "role: member, default level: open"
    assert len(lines["Note"]) == 300 and lines["Note"].endswith("…")


def test_filters_narrow_the_list(client, logged, append):
    append(3, actor=logged.acme_admin, infrastructure=logged.acme, action="module.deployed")
    url = log_url(logged.acme_log)
    assert shown(get(client, logged.support, url + "?action=module.deployed")) == [3, 2, 1]
    assert shown(get(client, logged.support, url + "?actor=support")) == [0]
    assert shown(get(client, logged.support, url + "?actor=nobody")) == []
    form = get(client, logged.support, url).context["form"]
    codes = [code for code, _label in form.fields["action"].choices]
    assert "transfer.approved" in codes and "witness.registered" in codes


def test_a_bad_date_shows_the_form_error_instead_of_entries(client, logged):
    response = get(client, logged.support, log_url("site", "?since=last+week"))
    assert response.status_code == 200 and response.context["page"] is None
    assert "is not an ISO date" in response.content.decode()


def test_the_list_is_paginated_newest_first(client, logged, append):
    append(60, actor=logged.support, infrastructure=logged.acme)
    first = get(client, logged.support, log_url(logged.acme_log))
    assert shown(first) == list(range(60, 10, -1))
    assert shown(get(client, logged.support, log_url(logged.acme_log, "?page=2"))) == list(
        range(10, -1, -1)
    )


def test_the_page_costs_the_same_number_of_queries_at_any_length(
    client, logged, append, django_assert_max_num_queries
):
    client.force_login(logged.acme_admin)
    append(5, actor=logged.support, infrastructure=logged.acme)
    with django_assert_max_num_queries(20) as few:
        client.get(log_url(logged.acme_log))
    append(120, actor=logged.support, infrastructure=logged.acme)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(log_url(logged.acme_log))


# --- the signed head and the last verification ---------------------------------------


def test_the_head_and_its_signature_are_shown(client, logged):
    html = get(client, logged.support, log_url(logged.acme_log)).content.decode()
    head = html.split('data-testid="tree-head"')[1].split("</section>")[0]
    assert "1 entry" in head and "signature valid" in head
    assert "No witness has cosigned this head yet" in head


def test_the_status_comes_from_the_last_verification_not_from_the_page(client, logged):
    url = log_url(logged.acme_log)
    box = get(client, logged.support, url).content.decode().split('data-testid="verification"')[1]
    assert "has not been verified in full yet" in box
    call_command("verify_audit")
    box = get(client, logged.support, url).content.decode().split('data-testid="verification"')[1]
    assert "verified" in box and "1 entries" in box
    tamper.rows(logged.acme_log).filter(index=0).update(actor_name="mallory")
    kept = LogVerification.objects.get(log_id=logged.acme_log).verified_at
    box = get(client, logged.support, url).content.decode().split('data-testid="verification"')[1]
    assert "failed" not in box  # a page view verifies nothing...
    assert LogVerification.objects.get(log_id=logged.acme_log).verified_at == kept
    call_command("verify_audit", "--log", "site")
    with pytest.raises(Exception, match="first bad index 0"):
        call_command("verify_audit", "--log", logged.acme_log)  # ...a run does
    box = get(client, logged.support, url).content.decode().split('data-testid="verification"')[1]
    assert "failed" in box and "first bad index 0" in box and "actor_name" in box


def test_the_status_says_how_the_last_run_held_the_columns_to_the_bytes(client, logged):
    def said() -> str:
        page = get(client, logged.support, log_url(logged.acme_log)).content.decode()
        return page.split('data-testid="columns-by"')[1].split("</p>")[0]

    quiet = {"stdout": StringIO(), "stderr": StringIO()}
    call_command("verify_audit", "--skip-columns", **quiet)
    assert "were not compared with the signed bytes in that run" in said()
    call_command("verify_audit", "--decode", **quiet)
    assert "Every entry was decoded" in said()
    call_command("verify_audit", **quiet)  # as shipped: the constraints where they hold
    if connection.vendor == "postgresql":
        assert "held to the signed bytes by the database's own constraints" in said()
    else:
        assert "Every entry was decoded" in said()


def test_entries_appended_since_the_last_run_are_counted(client, logged, append):
    call_command("verify_audit")
    append(2, actor=logged.support, infrastructure=logged.acme)
    html = get(client, logged.acme_admin, log_url(logged.acme_log)).content.decode()
    assert "2 entries were appended since that run" in html


@pytest.mark.parametrize(
    "persona, log, status",
    [
        ("support", "acme", 302),
        ("acme_admin", "acme", 302),
        ("acme_admin", "emca", 404),
        ("developer", "acme", 404),
    ],
)
def test_verify_now_is_for_the_logs_readers(client, logged, persona, log, status):
    target = logged.acme_log if log == "acme" else logged.emca_log
    client.force_login(logged.personas()[persona])
    response = client.post(reverse("audit:verify", args=[target]))
    assert response.status_code == status
    assert LogVerification.objects.filter(log_id=target).exists() is (status == 302)


def test_verify_now_reports_a_break_and_keeps_it(client, logged):
    tamper.rows(logged.acme_log).filter(index=0).update(action="ipp.portal_unblocked")
    client.force_login(logged.acme_admin)
    response = client.post(reverse("audit:verify", args=[logged.acme_log]), follow=True)
    html = response.content.decode()
    assert "Verification failed: log" in html and "first bad index 0" in html
    assert LogVerification.objects.get(log_id=logged.acme_log).bad_index == 0
    assert client.get(reverse("audit:verify", args=[logged.acme_log])).status_code == 405


def test_the_destination_page_shows_a_transfer_and_only_its_own_entries(client, logged):
    audit_record(
        actor=logged.acme_admin,
        action="transfer.requested",
        infrastructure=logged.acme,
        also=logged.emca,
        details={"destination": "EMCA", "items": [{"module": "CustomerCore", "version": 1}]},
    )
    page = get(client, logged.emca_admin, log_url(logged.emca_log))
    actions = [row.entry.action for row in page.context["page"].rows]
    assert actions == ["transfer.requested", "ipp.protection_changed"]
    table = page.content.decode().split('data-testid="audit-entries"')[1]
    assert "ACME → EMCA" in table and "CustomerCore v1" in table
    assert "IPP portal blocked" not in table
    assert AuditEntry.objects.filter(log_id=logged.acme_log, action="transfer.requested").exists()


def test_subjects_read_as_names_not_model_names_and_ids(client, world, publish):
    version = publish(world.developer, world.acme_dev_env).version
    html = get(client, world.acme_admin, log_url(str(world.acme.pk))).content.decode()
    table = html.split('data-testid="audit-entries"')[1]
    assert f"module version: {version.module.name} v{version.number}" in table
    assert "moduleversion" not in table and f"moduleversion {version.pk}" not in table
