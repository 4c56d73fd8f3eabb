"""CSV export of one log: the page's filters, streamed in bounded memory (readers: test_pages)."""

import csv
import io
import json
import tracemalloc

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from audit.services import audit_record
from audit.synthetic import bulk_append
from ipp.toggles import infrastructure_set_flags
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(world):
    infrastructure_set_flags(actor=world.support, infrastructure=world.acme, portal_blocked=True)
    infrastructure_set_flags(actor=world.support, infrastructure=world.emca, ipp_protected=True)
    audit_record(
        actor=world.acme_admin,
        action="membership.changed",
        infrastructure=world.acme,
        details={"user": '=HYPERLINK("http://evil")'},
    )
    return world


def export_rows(client, user, log: str, query: str = "") -> list[dict]:
    client.force_login(user)
    response = client.get(reverse("audit:export", args=[log]) + query)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="audit-{log}-' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_an_export_is_one_logs_entries_newest_first(client, logged):
    rows = export_rows(client, logged.acme_admin, str(logged.acme.pk))
    assert [(r["index"], r["action"]) for r in rows] == [
        ("1", "membership.changed"),
        ("0", "ipp.portal_blocked"),
    ]
    assert export_rows(client, logged.support, str(logged.emca.pk))[0]["infrastructure"] == "EMCA"


def test_export_applies_the_page_filters(client, logged):
    rows = export_rows(client, logged.support, str(logged.acme.pk), "?action=ipp.portal_blocked")
    assert [(r["index"], r["action"], r["infrastructure"], r["actor"]) for r in rows] == [
        ("0", "ipp.portal_blocked", "ACME", "support")
    ]
    client.force_login(logged.support)
    url = reverse("audit:export", args=[str(logged.acme.pk)])
    assert client.get(url + "?since=soon").status_code == 400


def test_exported_rows_carry_details_and_leaf_hashes(client, logged):
    row = export_rows(client, logged.support, str(logged.acme.pk), "?action=membership.changed")[0]
    assert json.loads(row["details"]) == {"user": '=HYPERLINK("http://evil")'}
    entry = AuditEntry.objects.get(action="membership.changed")
    assert row["leaf_hash"] == bytes(entry.leaf_hash).hex()


def test_a_username_cannot_run_as_a_spreadsheet_formula(client, logged):
    sneaky = make_user("@SUM(1+1)")
    audit_record(actor=sneaky, action="module.exported", infrastructure=logged.acme)
    row = export_rows(client, logged.support, str(logged.acme.pk), "?action=module.exported")[0]
    assert row["actor"] == "'@SUM(1+1)"


def test_the_export_link_on_the_page_keeps_the_filters(client, logged):
    client.force_login(logged.support)
    log = str(logged.acme.pk)
    html = client.get(reverse("audit:log", args=[log]) + "?action=module.exported").content
    assert f'href="{reverse("audit:export", args=[log])}?action=module.exported"' in html.decode()


def _export_peak(client, log: str) -> tuple[int, int]:
    response = client.get(reverse("audit:export", args=[log]))
    tracemalloc.start()
    try:
        total = sum(len(chunk) for chunk in response.streaming_content)
        return total, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_a_large_export_streams_in_bounded_memory(client, world):
    client.force_login(world.support)
    log = str(world.acme.pk)
    bulk_append(3_000, infrastructure_id=world.acme.pk)
    small_total, small_peak = _export_peak(client, log)
    bulk_append(9_000, infrastructure_id=world.acme.pk)
    large_total, large_peak = _export_peak(client, log)
    assert large_total > 3.5 * small_total  # four times the rows...
    assert large_peak < 1.5 * small_peak  # ...in about the same memory
    assert large_peak < large_total
