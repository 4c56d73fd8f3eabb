"""GET /api/v1/audit: who reads what, filters, shape, order, pagination."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEntry
from audit.services import audit_record
from ipp.toggles import infrastructure_set_flags
from ippsite.models import ApiToken
from tests.audit import tamper

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(world):
    """Entries for ACME, for EMCA, and one with no infrastructure (user.created)."""
    infrastructure_set_flags(actor=world.support, infrastructure=world.acme, portal_blocked=True)
    infrastructure_set_flags(actor=world.support, infrastructure=world.emca, ipp_protected=True)
    audit_record(
        actor=world.acme_admin,
        action="membership.changed",
        infrastructure=world.acme,
        subject=world.acme,
        details={"user": "developer"},
    )
    audit_record(actor=world.support, action="user.created", subject=world.outsider, details={})
    return world


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def seqs(response) -> list[str]:
    """The listed entries as 'log:index action', newest first."""
    return [f"{row['log']}:{row['index']} {row['action']}" for row in response.json()["results"]]


def expected(world, *names) -> list[str]:
    """Names among a (ACME blocked), b (EMCA protected), c (membership), d (user created)."""
    acme, emca = world.acme.pk, world.emca.pk
    rows = {
        "a": f"{acme}:0 ipp.portal_blocked",
        "b": f"{emca}:0 ipp.protection_changed",
        "c": f"{acme}:1 membership.changed",
        "d": "site:0 user.created",
    }
    return [rows[name] for name in names]


@pytest.mark.parametrize(
    "persona, status, expected_rows",
    [
        ("support", 200, "dcba"),
        ("acme_admin", 200, "ca"),
        ("emca_admin", 200, "b"),
        ("developer", 403, None),
        ("contractor", 403, None),
        ("outsider", 403, None),
    ],
)
def test_audit_api_permission_matrix(logged, persona, status, expected_rows):
    response = client_for(logged.personas()[persona]).get("/api/v1/audit")
    assert response.status_code == status
    if expected_rows is None:
        assert response.json()["error"] == "permission_denied"
    else:
        assert seqs(response) == expected(logged, *expected_rows)


def test_anonymous_callers_are_refused(logged):
    response = client_for().get("/api/v1/audit")
    assert response.status_code in (401, 403)
    assert response.json()["error"] == "not_authenticated"


def test_an_administrator_asking_for_another_infrastructure_gets_403(logged):
    client = client_for(logged.acme_admin)
    assert client.get(f"/api/v1/audit?infrastructure={logged.emca.pk}").status_code == 403
    assert client.get("/api/v1/audit?infrastructure=99999").status_code == 403
    assert client.get("/api/v1/audit?log=site").status_code == 403
    own = client.get(f"/api/v1/audit?infrastructure={logged.acme.pk}")
    assert own.status_code == 200 and seqs(own) == expected(logged, "c", "a")


def test_support_filters_by_infrastructure_action_and_actor(logged):
    client = client_for(logged.support)
    assert seqs(client.get(f"/api/v1/audit?infrastructure={logged.emca.pk}")) == expected(
        logged, "b"
    )
    assert seqs(client.get("/api/v1/audit?log=site")) == expected(logged, "d")
    assert seqs(client.get("/api/v1/audit?action=ipp.portal_blocked")) == expected(logged, "a")
    assert seqs(client.get("/api/v1/audit?actor=acme_admin")) == expected(logged, "c")
    assert seqs(client.get("/api/v1/audit?actor=acme_admin&action=user.created")) == []


def test_since_and_until_accept_dates_and_datetimes(logged):
    # Backdated in the time column only (the filters read it; nothing here reads the bytes),
    # which PostgreSQL's constraints would refuse: dropped first.
    tamper.disarm()
    AuditEntry.objects.filter(action="ipp.portal_blocked").update(
        created_at=timezone.now() - timedelta(days=10)
    )
    client = client_for(logged.support)
    today = timezone.now().date()
    old_day = (timezone.now() - timedelta(days=10)).date()
    assert seqs(client.get(f"/api/v1/audit?since={today.isoformat()}")) == expected(
        logged, "d", "c", "b"
    )
    assert seqs(client.get(f"/api/v1/audit?until={old_day.isoformat()}")) == expected(logged, "a")
    moment = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert seqs(client.get(f"/api/v1/audit?until={moment}")) == expected(logged, "a")
    assert seqs(client.get(f"/api/v1/audit?since={moment}")) == expected(logged, "d", "c", "b")


@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday",
        "until=2026-13-01",
        "since=2026-11-02&until=2026-11-01",
        "infrastructure=abc",
    ],
)
def test_bad_filter_values_are_400_invalid_request(logged, query):
    response = client_for(logged.support).get(f"/api/v1/audit?{query}")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["detail"]


def test_an_entry_has_the_documented_shape(logged):
    row = (
        client_for(logged.support)
        .get("/api/v1/audit?action=ipp.portal_blocked")
        .json()["results"][0]
    )
    entry = AuditEntry.objects.get(action="ipp.portal_blocked")
    assert set(row) == {
        "seq",
        "log",
        "index",
        "time",
        "actor",
        "action",
        "infrastructure",
        "also",
        "subject",
        "details",
        "leaf_hash",
    }
    assert (row["log"], row["index"], row["seq"]) == (str(logged.acme.pk), 0, entry.seq)
    assert row["actor"] == "support"
    assert (row["infrastructure"], row["also"]) == (logged.acme.pk, None)
    assert row["subject"] == {"type": "infrastructure", "id": str(logged.acme.pk), "label": "ACME"}
    assert row["details"] == {"from": False, "to": True}
    assert row["leaf_hash"] == bytes(entry.leaf_hash).hex()


def test_entries_without_a_subject_say_so(logged):
    client = client_for(logged.support)
    audit_record(actor=logged.support, action="module.exported", details={})
    assert (
        client.get("/api/v1/audit?action=module.exported").json()["results"][0]["subject"] is None
    )


def test_the_list_is_paginated_newest_first_and_works_with_a_trailing_slash(logged, append):
    append(60, actor=logged.support, infrastructure=logged.acme)
    body = client_for(logged.support).get("/api/v1/audit/").json()
    assert body["count"] == 64
    everything = list(AuditEntry.objects.order_by("-seq").values_list("seq", flat=True))
    assert [r["seq"] for r in body["results"]] == everything[:50]
    assert body["next"] and body["previous"] is None
    second = client_for(logged.support).get(body["next"]).json()
    assert [r["seq"] for r in second["results"]] == everything[50:]


def test_token_authentication_works(logged):
    _token, raw = ApiToken.issue(logged.emca_admin)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    response = client.get("/api/v1/audit")
    assert response.status_code == 200 and seqs(response) == expected(logged, "b")
