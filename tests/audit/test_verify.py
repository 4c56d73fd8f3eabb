"""verify_audit: ok on an intact chain; each kind of tampering is named by its first bad seq."""

import pytest
from django.db import connection

from audit.chain import entry_hash
from audit.models import AuditCheckpoint, AuditEntry, AuditHead
from core import keys

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(world, append, settings, django_capture_on_commit_callbacks):
    """30 entries, a signed checkpoint every 10 (at 10, 20, 30), mirrored to the file too."""
    settings.IPP_AUDIT_CHECKPOINT_EVERY = 10
    with django_capture_on_commit_callbacks(execute=True):
        append(15, actor=world.acme_admin, infrastructure=world.acme)
        append(15, actor=world.emca_admin, infrastructure=world.emca)
    assert list(AuditCheckpoint.objects.order_by("seq").values_list("seq", flat=True)) == [
        10,
        20,
        30,
    ]
    return world


def _rehash_from(seq: int) -> None:
    """What a careful attacker does: recompute every hash and link from `seq` on, and the head."""
    prev = AuditEntry.objects.get(seq=seq - 1).hash if seq > 1 else "0" * 64
    for entry in AuditEntry.objects.filter(seq__gte=seq).order_by("seq"):
        entry.prev_hash = prev
        entry.hash = entry_hash(entry)
        AuditEntry.objects.filter(pk=entry.pk).update(prev_hash=entry.prev_hash, hash=entry.hash)
        prev = entry.hash
    AuditHead.objects.update(hash=prev, seq=AuditEntry.objects.order_by("-seq").first().seq)


def test_an_intact_chain_verifies(chain, verify_command):
    assert verify_command() == (0, "ok: 30 entries")


def test_an_empty_log_verifies(db, verify_command):
    assert verify_command() == (0, "ok: 0 entries")


def test_editing_an_entry_is_named_by_its_seq(chain, verify_command):
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEntry._meta.db_table} SET details = %s WHERE seq = 17", ['{"n": 999}']
        )
    assert verify_command() == (1, "tampered: entry 17: hash mismatch")


def test_changing_an_entrys_actor_is_named_by_its_seq(chain, verify_command):
    AuditEntry.objects.filter(seq=4).update(actor_name="someone_else")
    assert verify_command() == (1, "tampered: entry 4: hash mismatch")


def test_deleting_a_middle_entry_is_named_by_its_seq(chain, verify_command):
    AuditEntry.objects.filter(seq=17).delete()
    assert verify_command() == (1, "tampered: entry 17 missing")


def test_swapping_two_entries_is_named_by_the_first_seq(chain, verify_command):
    AuditEntry.objects.filter(seq=5).update(seq=1000)
    AuditEntry.objects.filter(seq=6).update(seq=5)
    AuditEntry.objects.filter(seq=1000).update(seq=6)
    code, text = verify_command()
    assert code == 1 and text.startswith("tampered: entry 5:")


def test_deleting_the_tail_past_a_checkpoint_is_truncation(chain, verify_command):
    AuditEntry.objects.filter(seq__gt=25).delete()
    last = AuditEntry.objects.get(seq=25)
    AuditHead.objects.update(seq=25, hash=last.hash)  # even with the head moved back
    assert verify_command() == (1, "truncated: checkpoint at 30 but chain ends at 25")


def test_deleting_the_tail_without_touching_the_head_is_caught(chain, verify_command):
    AuditEntry.objects.filter(seq__gt=25).delete()
    assert verify_command() == (1, "truncated: checkpoint at 30 but chain ends at 25")


def test_rewriting_the_whole_chain_consistently_fails_at_the_first_checkpoint(
    chain, verify_command
):
    AuditEntry.objects.filter(seq=3).update(details={"n": "rewritten"})
    _rehash_from(3)
    assert verify_command() == (1, "tampered: entry 10: differs from the signed checkpoint")


def test_rewriting_the_checkpoints_too_fails_their_signatures(chain, verify_command):
    AuditEntry.objects.filter(seq=3).update(details={"n": "rewritten"})
    _rehash_from(3)
    for checkpoint in AuditCheckpoint.objects.all():
        checkpoint.hash = AuditEntry.objects.get(seq=checkpoint.seq).hash
        checkpoint.save(update_fields=["hash"])
    assert verify_command() == (1, "tampered: checkpoint at 10: signature does not verify")


def test_a_checkpoint_signed_by_another_key_does_not_verify(chain, verify_command, settings):
    # An attacker with their own key: the keyring knows only the site's keys.
    import shutil

    shutil.rmtree(settings.IPP_KEYS_DIR / "authority")
    keys.reload()  # the next use generates a fresh, different authority key
    assert verify_command() == (1, "tampered: checkpoint at 10: signature does not verify")


def test_moving_the_head_is_caught(chain, verify_command):
    AuditHead.objects.update(hash="a" * 64)
    assert verify_command() == (1, "tampered: entry 30: the head row disagrees with the chain")


def test_a_rotated_key_still_verifies_older_checkpoints(chain, append, verify_command):
    keys.rotate("authority")
    append(10, actor=chain.support)
    key_ids = set(AuditCheckpoint.objects.values_list("key_id", flat=True))
    assert len(key_ids) == 2
    assert verify_command() == (0, "ok: 40 entries")


def test_checkpoints_signed_by_a_retired_key_are_untrusted(chain, verify_command):
    old = keys.authority().current_id
    keys.rotate("authority")
    keys.retire("authority", old)
    assert verify_command() == (1, f"untrusted: checkpoint at 10: signed by retired key {old}")


def test_every_action_recorded_in_code_has_a_label():
    import re
    from pathlib import Path

    from audit.actions import ACTIONS

    root = Path(__file__).resolve().parents[2]
    recorded = set()
    for app in ("modules", "ipp", "portal", "permissions", "ippsite"):
        for path in (root / app).rglob("*.py"):
            recorded |= set(re.findall(r'action="([a-z_]+\.[a-z_]+)"', path.read_text()))
    assert recorded, "no audit_record calls found"
    assert recorded - set(ACTIONS) == set()
