"""Appending: same transaction as the operation, linked hashes, signed checkpoints."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from audit.chain import GENESIS_HASH, checkpoint_message
from audit.checkpoints import checkpoint_now
from audit.models import AuditCheckpoint, AuditEntry, AuditHead
from audit.services import audit_record
from core import keys
from ipp.toggles import infrastructure_set_flags
from registry.models import Infrastructure

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def test_an_operation_rolled_back_leaves_no_audit_entry(world):
    with pytest.raises(Boom), transaction.atomic():
        infrastructure_set_flags(actor=world.support, infrastructure=world.emca, ipp_protected=True)
        raise Boom
    assert not Infrastructure.objects.get(pk=world.emca.pk).ipp_protected
    assert AuditEntry.objects.count() == 0
    assert AuditHead.objects.filter(seq__gt=0).count() == 0


def test_a_committed_operation_is_recorded_with_actor_subject_and_details(world):
    infrastructure_set_flags(actor=world.support, infrastructure=world.emca, portal_blocked=True)
    entry = AuditEntry.objects.get()
    assert (entry.seq, entry.action, entry.actor_name) == (1, "ipp.portal_blocked", "support")
    assert entry.infrastructure_id == world.emca.pk
    assert (entry.subject_type, entry.subject_id) == ("infrastructure", str(world.emca.pk))
    assert entry.details == {"from": False, "to": True}


def test_entries_link_each_to_the_previous_and_the_head_follows(world, append):
    entries = append(3, actor=world.support, infrastructure=world.acme)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS_HASH
    assert entries[1].prev_hash == entries[0].hash
    assert entries[2].prev_hash == entries[1].hash
    assert len({e.hash for e in entries}) == 3
    head = AuditHead.objects.get()
    assert (head.seq, head.hash) == (3, entries[2].hash)


def test_deleting_a_user_leaves_their_entries_untouched(world, append, verify_command):
    append(2, actor=world.outsider)
    world.outsider.delete()
    assert list(AuditEntry.objects.values_list("actor_name", flat=True)) == ["outsider"] * 2
    assert verify_command() == (0, "ok: 2 entries")


def test_a_checkpoint_is_signed_every_configured_number_of_entries(world, append, settings):
    settings.IPP_AUDIT_CHECKPOINT_EVERY = 4
    append(9, actor=world.support)
    assert list(AuditCheckpoint.objects.order_by("seq").values_list("seq", flat=True)) == [4, 8]
    settings.IPP_AUDIT_CHECKPOINT_EVERY = 5  # read at call time
    append(1, actor=world.support)
    assert list(AuditCheckpoint.objects.order_by("seq").values_list("seq", flat=True)) == [4, 8, 10]


def test_a_checkpoint_signature_covers_seq_hash_and_time_with_the_authority_key(
    world, append, settings
):
    settings.IPP_AUDIT_CHECKPOINT_EVERY = 2
    entries = append(2, actor=world.support)
    checkpoint = AuditCheckpoint.objects.get()
    assert checkpoint.hash == entries[1].hash
    keyring = keys.authority()
    message = checkpoint_message(seq=2, hash=checkpoint.hash, created_at=checkpoint.created_at)
    assert keyring.verify(checkpoint.key_id, message, checkpoint.signature)
    forged = checkpoint_message(seq=3, hash=checkpoint.hash, created_at=checkpoint.created_at)
    assert not keyring.verify(checkpoint.key_id, forged, checkpoint.signature)
    assert (settings.IPP_KEYS_DIR / "authority" / f"{checkpoint.key_id}.key").exists()


def test_a_rolled_back_operation_takes_its_checkpoint_with_it(world, settings):
    settings.IPP_AUDIT_CHECKPOINT_EVERY = 1
    with pytest.raises(Boom), transaction.atomic():
        audit_record(actor=world.support, action="module.published")
        raise Boom
    assert AuditCheckpoint.objects.count() == 0


def test_checkpoint_now_signs_the_current_head_once(world, append):
    assert checkpoint_now() is None  # nothing to sign yet
    entries = append(3, actor=world.support)
    checkpoint = checkpoint_now()
    assert (checkpoint.seq, checkpoint.hash) == (3, entries[-1].hash)
    assert checkpoint_now().pk == checkpoint.pk
    assert AuditCheckpoint.objects.count() == 1


def test_audit_checkpoint_command_reports_the_signed_seq(world, append):
    out = StringIO()
    call_command("audit_checkpoint", stdout=out)
    assert "nothing to sign" in out.getvalue()
    append(5, actor=world.support)
    out = StringIO()
    call_command("audit_checkpoint", stdout=out)
    assert "checkpoint at #5" in out.getvalue()
    assert AuditCheckpoint.objects.filter(seq=5).exists()


def test_audit_checkpoint_command_refuses_a_head_that_points_nowhere(world, append):
    from django.core.management.base import CommandError

    append(3, actor=world.support)
    AuditHead.objects.update(hash="f" * 64)
    with pytest.raises(CommandError, match="does not match"):
        call_command("audit_checkpoint", stdout=StringIO())
    assert AuditCheckpoint.objects.count() == 0


def test_details_survive_the_database_round_trip_and_still_verify(world, verify_command):
    import datetime
    import uuid

    entry = audit_record(
        actor=world.support,
        action="module.published",
        details={
            "ratio": 1e20,
            "small": 0.1,
            "when": datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC),
            "key": uuid.UUID(int=7),
            "nested": {"b": [1, 2.5, "x"], "a": None},
            "unicode": "Ação ✓",
        },
    )
    stored = AuditEntry.objects.get(pk=entry.pk).details
    assert stored["ratio"] == "1e+20" and stored["nested"]["b"] == [1, "2.5", "x"]
    assert stored["key"] == str(uuid.UUID(int=7))
    assert verify_command() == (0, "ok: 1 entries")


def test_a_broken_authority_key_skips_the_checkpoint_but_not_the_operation(
    world, settings, monkeypatch
):
    settings.IPP_AUDIT_CHECKPOINT_EVERY = 1
    monkeypatch.setenv("IPP_AUTHORITY_KEYS", "not-a-key")
    infrastructure_set_flags(actor=world.support, infrastructure=world.emca, portal_blocked=True)
    assert Infrastructure.objects.get(pk=world.emca.pk).portal_blocked
    assert AuditEntry.objects.count() == 1 and AuditCheckpoint.objects.count() == 0
    monkeypatch.delenv("IPP_AUTHORITY_KEYS")
    assert checkpoint_now().seq == 1
