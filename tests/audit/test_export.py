"""CSV export: same readers and filters as the page, streamed in bounded memory."""

import csv
import io
import json
import tracemalloc

import pytest
from django.urls import reverse

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


def export_rows(client, user, query: str = "") -> list[dict]:
    client.force_login(user)
    response = client.get(reverse("audit:export") + query)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize(
    "persona, status, expected",
    [
        ("support", 200, ["acme:1", "emca:0", "acme:0"]),
        ("acme_admin", 200, ["acme:1", "acme:0"]),
        ("emca_admin", 200, ["emca:0"]),
        ("developer", 403, None),
        ("contractor", 403, None),
        ("outsider", 403, None),
    ],
)
def test_export_permission_matrix(client, logged, persona, status, expected):
    user = logged.personas()[persona]
    if expected is None:
        client.force_login(user)
        assert client.get(reverse("audit:export")).status_code == status
    else:
        names = {str(logged.acme.pk): "acme", str(logged.emca.pk): "emca"}
        shown = [f"{names[row['log']]}:{row['index']}" for row in export_rows(client, user)]
        assert shown == expected


def test_anonymous_export_is_sent_to_sign_in(client, logged):
    response = client.get(reverse("audit:export"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_export_applies_the_page_filters(client, logged):
    rows = export_rows(
        client, logged.support, f"?infrastructure={logged.acme.pk}&action=ipp.portal_blocked"
    )
    assert [(r["index"], r["action"], r["infrastructure"], r["actor"]) for r in rows] == [
        ("0", "ipp.portal_blocked", "ACME", "support")
    ]
    client.force_login(logged.acme_admin)
    assert (
        client.get(reverse("audit:export") + f"?infrastructure={logged.emca.pk}").status_code == 403
    )
    assert client.get(reverse("audit:export") + "?since=soon").status_code == 400


def test_exported_rows_carry_details_and_hashes(client, logged):
    row = export_rows(client, logged.support, "?action=membership.changed")[0]
    assert json.loads(row["details"]) == {"user": '=HYPERLINK("http://evil")'}
    assert len(row["leaf_hash"]) == 64


def test_a_username_cannot_run_as_a_spreadsheet_formula(client, logged):
    sneaky = make_user("@SUM(1+1)")
    audit_record(actor=sneaky, action="module.exported", infrastructure=logged.acme)
    row = export_rows(client, logged.support, "?action=module.exported")[0]
    assert row["actor"] == "'@SUM(1+1)"


def test_the_export_link_on_the_page_keeps_the_filters(client, logged):
    client.force_login(logged.support)
    html = client.get(reverse("audit:log") + "?action=user.created").content.decode()
    assert f'href="{reverse("audit:export")}?action=user.created"' in html


def _export_peak(client) -> tuple[int, int]:
    response = client.get(reverse("audit:export"))
    tracemalloc.start()
    try:
        total = sum(len(chunk) for chunk in response.streaming_content)
        return total, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_a_large_export_streams_in_bounded_memory(client, world):
    client.force_login(world.support)
    bulk_append(3_000, infrastructure_id=world.acme.pk)
    small_total, small_peak = _export_peak(client)
    bulk_append(9_000, infrastructure_id=world.acme.pk)
    large_total, large_peak = _export_peak(client)
    assert large_total > 3.5 * small_total  # four times the rows...
    assert large_peak < 1.5 * small_peak  # ...in about the same memory
    assert large_peak < large_total
