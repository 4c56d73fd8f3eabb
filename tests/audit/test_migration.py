"""Migration audit.0006: the old chain is verified, then moved into the logs; a broken one is
refused and nothing changes. Runs the real migrations back and forth (slow)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from audit.migrations import _legacy_chain as legacy
from audit.models import AuditEntry, AuditLog, TreeHead
from core import keys
from tests import factories

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BEFORE = [("audit", "0005_log_verification")]
DATA = [("audit", "0006_migrate_chain_into_logs")]


@pytest.fixture
def old_apps():
    """The schema just before the data migration; put back to the latest afterwards."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield executor.loader.project_state(BEFORE).apps
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _chain(apps, rows: list[dict], *, checkpoint_every: int = 2) -> None:
    """Write an old chain as the old audit_record did: hashed, linked, checkpointed."""
    ChainEntry = apps.get_model("audit", "ChainEntry")
    ring, previous = keys.authority(), legacy.GENESIS_HASH
    for seq, fields in enumerate(rows, 1):
        entry = ChainEntry(
            seq=seq,
            created_at=timezone.now(),
            actor_id=fields.get("actor_id"),
            actor_name=fields.get("actor_name", "support"),
            action=fields["action"],
            infrastructure_id=fields.get("infrastructure_id"),
            subject_type=fields.get("subject_type", ""),
            subject_id=fields.get("subject_id", ""),
            details=fields.get("details", {}),
            prev_hash=previous,
        )
        entry.hash = legacy.entry_hash(entry)
        entry.save()
        previous = entry.hash
        if seq % checkpoint_every == 0:
            now = timezone.now()
            key_id, signature = ring.sign(
                legacy.checkpoint_message(seq=seq, hash=entry.hash, created_at=now)
            )
            apps.get_model("audit", "AuditCheckpoint").objects.create(
                seq=seq, hash=entry.hash, created_at=now, key_id=key_id, signature=signature
            )
    apps.get_model("audit", "AuditHead").objects.create(id=1, seq=len(rows), hash=previous)


def _story():
    acme = factories.make_infrastructure("ACME")
    emca = factories.make_infrastructure("EMCA")
    rows = [
        {"action": "user.created", "subject_type": "user", "subject_id": "1"},
        {
            "action": "infrastructure.created",
            "infrastructure_id": acme.pk,
            "subject_type": "infrastructure",
            "subject_id": str(acme.pk),
            "details": {"name": "ACME"},
        },
        {"action": "ipp.protection_changed", "infrastructure_id": acme.pk, "details": {"to": True}},
        {
            "action": "transfer.refused",
            "infrastructure_id": acme.pk,
            "details": {
                "reason": "ipp_portal_blocked",
                "target_activation_code": emca.activation_code,
            },
        },
        {"action": "membership.changed", "infrastructure_id": emca.pk, "details": {"user": "x"}},
    ]
    return acme, emca, rows


def test_a_sound_chain_becomes_the_logs_and_verifies(old_apps):
    acme, emca, rows = _story()
    _chain(old_apps, rows)
    MigrationExecutor(connection).migrate(DATA)

    actions = {
        log: list(
            AuditEntry.objects.filter(log_id=log).order_by("index").values_list("action", flat=True)
        )
        for log in AuditLog.objects.values_list("id", flat=True)
    }
    assert actions == {
        "site": ["user.created"],
        str(acme.pk): ["infrastructure.created", "ipp.protection_changed", "transfer.refused"],
        str(emca.pk): ["transfer.refused", "membership.changed"],
    }
    created = AuditEntry.objects.get(action="infrastructure.created")
    assert (created.subject_label, created.details) == ("ACME", {"name": "ACME"})
    refused = AuditEntry.objects.get(log_id=str(emca.pk), action="transfer.refused")
    assert (refused.infrastructure_id, refused.also_id) == (acme.pk, emca.pk)
    assert TreeHead.objects.filter(log_id=str(acme.pk), size=3).exists()
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # verify_audit runs on today's schema
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().strip() == "ok: 6 entries in 3 logs"


def _broken(apps, how: str) -> str:
    ChainEntry = apps.get_model("audit", "ChainEntry")
    if how == "edited":
        ChainEntry.objects.filter(seq=2).update(details={"name": "Mallory"})
        return "entry 2: its hash does not match its content"
    if how == "deleted":
        ChainEntry.objects.filter(seq=3).delete()
        return "entry 3 is missing"
    if how == "truncated":
        ChainEntry.objects.filter(seq__gte=7).delete()
        apps.get_model("audit", "AuditHead").objects.update(seq=6)
        return "truncated: a checkpoint at 10 but the chain ends at 6"
    apps.get_model("audit", "AuditCheckpoint").objects.filter(seq=2).update(signature="AAAA")
    return "checkpoint at 2: its signature does not verify"


@pytest.mark.parametrize("how", ["edited", "deleted", "truncated", "forged checkpoint"])
def test_a_broken_chain_is_refused_and_nothing_changes(old_apps, how):
    _acme, _emca, rows = _story()
    _chain(old_apps, rows * 2)  # ten entries, checkpoints at 2, 4, 6, 8 and 10
    problem = _broken(old_apps, how)
    with pytest.raises(RuntimeError) as refused:
        MigrationExecutor(connection).migrate(DATA)
    assert "The old audit chain does not verify, so it is not migrated" in str(refused.value)
    assert problem in str(refused.value)
    assert "nothing was changed" in str(refused.value)
    assert not AuditEntry.objects.exists() and not AuditLog.objects.exists()
    assert old_apps.get_model("audit", "ChainEntry").objects.exists()
    old_apps.get_model("audit", "ChainEntry").objects.all().delete()  # let teardown migrate


def test_going_back_before_0006_removes_the_logs_while_the_chain_is_there(old_apps):
    _acme, _emca, rows = _story()
    _chain(old_apps, rows)
    MigrationExecutor(connection).migrate(DATA)
    assert AuditEntry.objects.count() == 6
    MigrationExecutor(connection).migrate(BEFORE)
    assert old_apps.get_model("audit", "AuditEntry").objects.count() == 0
    assert old_apps.get_model("audit", "ChainEntry").objects.count() == 5
    old_apps.get_model("audit", "ChainEntry").objects.all().delete()
