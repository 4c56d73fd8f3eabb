"""verify_audit: every tamper class, against an infrastructure's log and the site log, is caught
naming the log and the first bad index; honest logs print `ok: N entries in K logs`."""

import base64
from io import StringIO

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError

from audit import checks, merkle
from audit.entries import canonical
from audit.models import AuditLog, Cosignature, LogVerification, TreeHead, Witness
from audit.services import audit_record
from core import keys
from core.keys import AuthorityRing
from tests.audit import tamper

pytestmark = pytest.mark.django_db

SIZE = 12


def run() -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_audit", stdout=out)
    except CommandError as exc:
        return 1, str(exc)
    return 0, out.getvalue().strip()


def fill(world, which: str, n: int = SIZE) -> str:
    """n entries in ACME's log or the site log (and one in EMCA's, left alone); its id."""
    infrastructure = world.acme if which == "acme" else None
    for i in range(n):
        audit_record(
            actor=world.support,
            action="module.published" if infrastructure else "user.created",
            infrastructure=infrastructure,
            details={"n": i},
        )
    audit_record(actor=world.support, action="ipp.portal_blocked", infrastructure=world.emca)
    return str(world.acme.pk) if infrastructure else "site"


def caught(log: str, index: int, *words: str) -> str:
    code, text = run()
    assert code == 1, text
    assert f"log {log}: first bad index {index}:" in text, text
    for word in words:
        assert word in text, text
    other_logs = [line for line in text.splitlines()[1:] if not line.startswith(f"log {log}:")]
    assert other_logs == [], text  # the untouched EMCA log is not blamed
    return text


@pytest.fixture(params=["acme", "site"])
def log(request, world) -> str:
    return fill(world, request.param)


def test_honest_logs_verify(world):
    fill(world, "acme")
    fill(world, "site", 3)
    assert run() == (0, f"ok: {SIZE + 3 + 2} entries in 3 logs")


def test_an_empty_site_has_nothing_to_verify(db):
    assert run() == (0, "ok: 0 entries in 0 logs")


def test_each_logs_outcome_is_kept_for_the_pages(log, world):
    run()
    kept = LogVerification.objects.get(log_id=log)
    assert (kept.ok, kept.size, kept.bad_index, kept.problem) == (True, SIZE, None, "")
    tamper.rows(log).filter(index=4).delete()
    run()
    kept.refresh_from_db()
    assert (kept.ok, kept.bad_index) == (False, 4)
    assert "entry 4 is missing" in kept.problem
    assert LogVerification.objects.get(log_id=str(world.emca.pk)).ok


# --- entries --------------------------------------------------------------------------


def test_edited_bytes_are_caught(log):
    changed = tamper.document(log, 5)
    changed["details"]["n"] = "forged"
    tamper.set_bytes(log, 5, changed)
    caught(log, 5, "leaf_hash")


def test_edited_bytes_with_their_leaf_hash_recomputed_are_caught(log):
    tamper.edit_details(log, 5, n="forged")
    caught(log, 5, "root of the signed head at size 6")


def test_edited_bytes_with_every_hash_recomputed_are_caught_by_the_signature(log):
    tamper.edit_details(log, 5, n="forged")
    tamper.rehash(log)
    caught(log, 5, "that does not verify")


def test_a_deleted_entry_is_caught(log):
    tamper.rows(log).filter(index=7).delete()
    caught(log, 7, "entry 7 is missing")


def test_an_inserted_entry_is_caught(log):
    forged = tamper.rows(log).get(index=3)
    document = tamper.document(log, 3)
    document["details"] = {"n": "slipped in"}
    tamper.shift_up(log, 3)
    forged.pk, forged.details = None, document["details"]
    forged.leaf = canonical(document)
    forged.leaf_hash = merkle.leaf_hash(forged.leaf)
    forged.save(force_insert=True)
    tamper.rehash(log)  # every hash and root agrees; only the signatures do not
    caught(log, 3)


def test_reordered_entries_are_caught(log):
    tamper.swap(log, 2, 9)
    caught(log, 2, "root of the signed head at size 3")


def test_truncated_entries_are_caught(log):
    tamper.rows(log).filter(index__gte=8).delete()
    caught(log, 8, "entry 8 is missing")


def test_a_truncation_that_rewrites_the_log_row_is_caught_by_the_heads_left(log):
    tamper.rows(log).filter(index__gte=8).delete()
    tamper.rehash(log)
    caught(log, 8, "a head was signed at size 12")


def test_an_entry_past_the_signed_size_is_caught(log):
    last = tamper.rows(log).get(index=SIZE - 1)
    last.pk, last.index = None, SIZE
    last.save(force_insert=True)
    caught(log, SIZE, "entries past the log's signed size")


def test_an_entry_holding_a_raw_newline_is_read_as_it_is_and_caught(log):
    """An entry holding a raw newline (JSON whitespace: not canonical), its leaf hash
    recomputed, is caught at its index (exports and joined reads split on newlines)."""
    raw = bytes(tamper.rows(log).get(index=5).leaf)
    forged = raw.replace(b'"details":{"n":5}', b'"details":{"n":\n5}')
    assert forged != raw
    tamper.rows(log).filter(index=5).update(leaf=forged, leaf_hash=merkle.leaf_hash(forged))
    caught(log, 5, "root of the signed head at size 6")


def test_two_entries_smuggled_into_one_row_are_caught(log):
    """Entries 5 and 6 joined into one row by a newline and 0x00, the rest renumbered down:
    a reader splitting on newlines would get every original entry back; the rows are fewer."""
    five, six = (bytes(tamper.rows(log).get(index=i).leaf) for i in (5, 6))
    tamper.rows(log).filter(index=5).update(leaf=five + b"\n\x00" + six)
    tamper.rows(log).filter(index=6).delete()
    for index in range(7, SIZE):
        tamper.rows(log).filter(index=index).update(index=index - 1)
    caught(log, 5, "not an entry")
    findings = checks.tree_pass(checks.read_state(log))  # the tree pass alone also fails
    assert [(f.log, f.index) for f in findings] == [(log, SIZE - 1)]


@pytest.mark.parametrize("chunk", [1, 4, 8])
def test_the_tree_pass_reads_chunk_by_chunk_ahead_of_hashing(log, chunk):
    assert checks.tree_pass(checks.read_state(log), chunk) == []
    tamper.swap(log, 6, 10)  # caught in a later chunk than the first
    [finding] = checks.tree_pass(checks.read_state(log), chunk)
    assert (finding.log, finding.index) == (log, 6)
    assert "root of the signed head at size 7" in finding.problem
    tamper.swap(log, 6, 10)
    tamper.rows(log).filter(index=9).delete()  # a query follows: no read may still be running
    [finding] = checks.tree_pass(checks.read_state(log), chunk)
    assert (finding.index, finding.problem) == (9, f"entry 9 is missing (the log's size is {SIZE})")


# --- columns beside the bytes ---------------------------------------------------------


@pytest.mark.parametrize(
    "column, value",
    [
        ("actor_name", "mallory"),
        ("action", "ipp.portal_unblocked"),
        ("subject_label", "Something else"),
        ("details", {"n": "forged"}),
        ("infrastructure_id", 999),
        ("leaf_hash", b"\1" * 32),
    ],
)
def test_a_column_that_disagrees_with_the_bytes_is_caught(log, column, value):
    tamper.rows(log).filter(index=6).update(**{column: value})
    caught(log, 6, column.removesuffix("_id"))


def test_a_changed_time_column_is_caught(log):
    entry = tamper.rows(log).get(index=6)
    tamper.rows(log).filter(index=6).update(created_at=entry.created_at.replace(year=2001))
    caught(log, 6, "created_at")


def test_skipping_the_column_pass_skips_only_the_columns(log):
    tamper.rows(log).filter(index=6).update(actor_name="mallory")
    out = StringIO()
    call_command("verify_audit", "--skip-columns", stdout=out)
    assert out.getvalue().startswith("ok:")


# --- heads, keys and cosignatures -----------------------------------------------------


def test_a_missing_latest_head_is_caught(log):
    TreeHead.objects.filter(log_id=log, size=SIZE).delete()
    caught(log, SIZE - 1, f"the signed head at the log's size {SIZE} is missing")


def test_a_head_signed_by_an_unknown_key_is_caught(log):
    TreeHead.objects.filter(log_id=log, size=SIZE).update(key_id="nobody")
    caught(log, SIZE - 1, "signed by unknown key nobody")


def test_a_tampered_log_row_is_caught(log):
    AuditLog.objects.filter(id=log).update(border=b"\0" * 64)
    caught(log, SIZE, "root or border")


def test_a_rewrite_resigned_with_a_stolen_retired_key_is_caught(log, world):
    old = keys.authority()
    stolen = AuthorityRing(
        "authority", {old.current_id: old.current}, old.current_id, source="stolen", from_env=False
    )
    keys.rotate("authority")
    for i in range(4):  # the log goes on under the new key: heads 13..16
        audit_record(
            actor=None,
            action="user.created" if log == "site" else "module.deployed",
            infrastructure=None if log == "site" else world.acme,
            details={"later": i},
        )
    audit_record(actor=None, action="ipp.portal_unblocked", infrastructure=world.emca)
    keys.retire("authority", stolen.current_id)
    assert run()[0] == 0  # honest: the latest head is by the live key
    tamper.edit_details(log, 14, n="forged")
    tamper.rehash(log, ring=stolen)
    caught(log, 14, "the signed head at the log's size 16 is signed by retired key")


def test_a_head_signed_by_a_retired_key_alone_vouches_for_nothing(log, world):
    first = keys.authority().current_id
    keys.rotate("authority")
    keys.retire("authority", first)
    code, text = run()
    assert code == 1
    for name in (log, str(world.emca.pk)):  # every log whose latest head that key signed
        assert f"log {name}: first bad index 0: " in text
        assert f"is signed by retired key {first}" in text


def _cosign(log: str, size: int, witness_key: Ed25519PrivateKey, name: str = "acme-witness"):
    witness, _ = Witness.objects.get_or_create(
        name=name, defaults={"public_key": witness_key.public_key().public_bytes_raw()}
    )
    head = TreeHead.objects.get(log_id=log, size=size)
    message = merkle.cosignature_message(log, size, bytes(head.root), head.timestamp)
    signature = base64.b64encode(witness_key.sign(message)).decode()
    return Cosignature.objects.create(head=head, witness=witness, signature=signature)


def test_an_honest_cosignature_verifies(log):
    _cosign(log, 10, Ed25519PrivateKey.generate())
    assert run()[0] == 0


def test_a_forged_cosignature_is_caught(log):
    cosignature = _cosign(log, 10, Ed25519PrivateKey.generate())
    forger = Ed25519PrivateKey.generate()
    head = cosignature.head
    message = merkle.cosignature_message(log, 10, bytes(head.root), head.timestamp)
    Cosignature.objects.filter(pk=cosignature.pk).update(
        signature=base64.b64encode(forger.sign(message)).decode()
    )
    code, text = run()
    assert code == 1
    assert (
        f"log {log}: the cosignature by witness 'acme-witness' on the head at size 10 "
        "does not verify"
    ) in text


def test_a_rollback_behind_a_cosigned_head_is_caught(log):
    _cosign(log, 10, Ed25519PrivateKey.generate())
    tamper.rows(log).filter(index__gte=6).delete()
    TreeHead.objects.filter(log_id=log, size__gt=6).exclude(size=10).delete()
    tamper.rehash(log, size=6)  # the log row now says 6 entries, root and border of those
    caught(log, 6, "a witness cosigned its head at size 10", "rolled back")


def test_one_log_can_be_verified_alone(log, world):
    tamper.rows(str(world.emca.pk)).update(actor_name="mallory")
    out = StringIO()
    call_command("verify_audit", "--log", log, stdout=out)
    assert out.getvalue().strip() == f"ok: {SIZE} entries in 1 logs"
    with pytest.raises(CommandError, match="no such log: 4242"):
        call_command("verify_audit", "--log", "4242")
