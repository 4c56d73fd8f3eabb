"""The checkpoint mirror: every signed checkpoint also lives in IPP_DATA_DIR/audit/checkpoints.jsonl.

Someone who can write the database can delete every checkpoint row and then rewrite or
truncate the chain consistently; the file still vouches for it.
"""

import json
import stat
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from audit.chain import iso_utc
from audit.checkpoints import _sign, checkpoint_now
from audit.mirror import mirror_path
from audit.models import AuditCheckpoint, AuditEntry, AuditHead
from audit.services import audit_record
from audit.verify import chain_status
from tests.audit.test_verify import _rehash_from

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(world, append, settings, django_capture_on_commit_callbacks):
    """30 entries with checkpoints at 10, 20, 30, committed (so mirrored)."""
    settings.IPP_AUDIT_CHECKPOINT_EVERY = 10
    with django_capture_on_commit_callbacks(execute=True):
        append(30, actor=world.acme_admin, infrastructure=world.acme)
    return world


def _lines(path=None) -> list[dict]:
    return [json.loads(line) for line in (path or mirror_path()).read_text().splitlines()]


def _verify(*args) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return 1, str(exc), err.getvalue().strip()
    return 0, out.getvalue().strip(), err.getvalue().strip()


def test_each_checkpoint_is_mirrored_with_its_signed_content(chain, settings):
    path = settings.IPP_DATA_DIR / "audit" / "checkpoints.jsonl"
    assert mirror_path() == path
    assert _lines(path) == [
        {
            "seq": cp.seq,
            "hash": cp.hash,
            "created_at": iso_utc(cp.created_at),
            "key_id": cp.key_id,
            "signature": cp.signature,
        }
        for cp in AuditCheckpoint.objects.order_by("seq")
    ]
    assert [line["seq"] for line in _lines(path)] == [10, 20, 30]
    assert _verify() == (0, "ok: 30 entries", "")


def test_the_mirror_file_is_0600_in_a_0700_directory(chain):
    assert stat.S_IMODE(mirror_path().stat().st_mode) == 0o600
    assert stat.S_IMODE(mirror_path().parent.stat().st_mode) == 0o700


def test_deleting_every_db_checkpoint_then_rewriting_fails_at_the_first_mirrored_one(chain):
    AuditCheckpoint.objects.all().delete()
    AuditEntry.objects.filter(seq=3).update(details={"n": "rewritten"})
    _rehash_from(3)
    assert _verify()[:2] == (1, "tampered: entry 10: differs from the signed checkpoint")


def test_deleting_every_db_checkpoint_then_truncating_is_truncation(chain):
    AuditCheckpoint.objects.all().delete()
    AuditEntry.objects.filter(seq__gt=25).delete()
    AuditHead.objects.update(seq=25, hash=AuditEntry.objects.get(seq=25).hash)
    assert _verify()[:2] == (1, "truncated: checkpoint at 30 but chain ends at 25")


def test_deleting_every_db_checkpoint_then_truncating_below_one_is_truncation(chain):
    AuditCheckpoint.objects.all().delete()
    AuditEntry.objects.filter(seq__gt=7).delete()
    AuditHead.objects.update(seq=7, hash=AuditEntry.objects.get(seq=7).hash)
    assert _verify()[:2] == (1, "truncated: checkpoint at 30 but chain ends at 7")


def test_a_deleted_db_checkpoint_is_named(chain):
    AuditCheckpoint.objects.filter(seq__in=[20, 30]).delete()
    assert _verify()[:2] == (1, "tampered: checkpoint at 20 missing from the database")


def test_an_edited_mirror_line_fails_its_signature(chain):
    lines = _lines()
    lines[1]["hash"] = AuditEntry.objects.get(seq=19).hash
    mirror_path().write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert _verify()[:2] == (
        1,
        "tampered: checkpoint at 20 in checkpoints.jsonl: signature does not verify",
    )


def test_a_forged_mirror_line_beyond_the_chain_is_tampering_not_truncation(chain):
    forged = {**_lines()[-1], "seq": 1000}
    with mirror_path().open("a") as fh:
        fh.write(json.dumps(forged) + "\n")
    assert _verify()[:2] == (
        1,
        "tampered: checkpoint at 1000 in checkpoints.jsonl: signature does not verify",
    )


def test_a_db_checkpoint_that_differs_from_its_mirrored_copy_is_named(chain):
    # Both validly signed, yet different: the row was swapped for another signed statement.
    mirrored = _lines()[1]
    cp20 = AuditCheckpoint.objects.get(seq=20)
    cp20.delete()
    _sign(seq=20, hash=cp20.hash)  # same seq and hash, a new time and signature
    assert AuditCheckpoint.objects.get(seq=20).signature != mirrored["signature"]
    assert _verify()[:2] == (1, "tampered: checkpoint at 20: differs from checkpoints.jsonl")


def test_a_missing_mirror_is_a_warning_unless_strict(chain):
    mirror_path().unlink()
    code, text, err = _verify()
    assert (code, text) == (0, "ok: 30 entries")
    assert err.startswith("warning: no checkpoint mirror at ")
    code, text, _ = _verify("--strict")
    assert code == 1 and text.startswith("missing: no checkpoint mirror at ")


def test_a_checkpoint_missing_from_the_mirror_is_a_warning_unless_strict(chain):
    mirror_path().write_text("".join(json.dumps(line) + "\n" for line in _lines()[:2]))
    code, text, err = _verify()
    assert (code, text) == (0, "ok: 30 entries")
    assert "1 checkpoint(s) in the database are not in" in err and "(first at 30)" in err
    code, text, _ = _verify("--strict")
    assert code == 1 and "(first at 30)" in text


def test_a_torn_line_is_isolated_and_the_next_checkpoint_still_lands(
    chain, append, django_capture_on_commit_callbacks
):
    with mirror_path().open("a") as fh:
        fh.write('{"seq": 40, "ha')  # a crash mid-write
    with django_capture_on_commit_callbacks(execute=True):
        append(10)
    torn, last = mirror_path().read_text().splitlines()[-2:]
    assert torn == '{"seq": 40, "ha' and json.loads(last)["seq"] == 40
    code, text, err = _verify()
    assert (code, text) == (0, "ok: 40 entries")
    assert "unreadable line(s) 4" in err


def test_the_page_status_catches_a_rewrite_after_checkpoints_were_deleted(chain):
    assert chain_status().verified_seq == 30
    AuditCheckpoint.objects.all().delete()
    AuditEntry.objects.filter(seq__gt=25).delete()
    AuditHead.objects.update(seq=25, hash=AuditEntry.objects.get(seq=25).hash)
    status = chain_status()
    assert (status.ok, status.problem) == (
        False,
        "truncated: checkpoint at 30 but chain ends at 25",
    )


def test_the_incremental_status_names_a_rewrite_within_its_budget(chain):
    AuditCheckpoint.objects.all().delete()
    AuditEntry.objects.filter(seq=3).update(details={"n": "rewritten"})
    _rehash_from(3)
    assert chain_status(budget=5).ok  # entries 1–5: nothing signed there yet
    status = chain_status(budget=5)
    assert (status.ok, status.bad_seq) == (False, 10)
    assert status.problem == "tampered: entry 10: differs from the signed checkpoint"


def test_checkpoint_now_is_mirrored(world, append, django_capture_on_commit_callbacks):
    append(3, actor=world.support)
    with django_capture_on_commit_callbacks(execute=True):
        checkpoint = checkpoint_now()
    assert [line["seq"] for line in _lines()] == [checkpoint.seq] == [3]


def test_the_location_can_be_set(
    chain, settings, tmp_path, append, django_capture_on_commit_callbacks
):
    other = tmp_path / "elsewhere" / "cps.jsonl"
    settings.IPP_AUDIT_CHECKPOINT_FILE = str(other)
    with django_capture_on_commit_callbacks(execute=True):
        append(10)
    assert [line["seq"] for line in _lines(other)] == [40]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_checkpoint_is_never_mirrored(settings):
    settings.IPP_AUDIT_CHECKPOINT_EVERY = 5
    for i in range(5):
        audit_record(actor=None, action="module.published", details={"n": i})
    assert [line["seq"] for line in _lines()] == [5]

    with pytest.raises(RuntimeError), transaction.atomic():
        for i in range(5):
            audit_record(actor=None, action="module.published", details={"n": i})
        assert AuditCheckpoint.objects.filter(seq=10).exists()
        raise RuntimeError("the operation fails after its checkpoint was signed")

    assert not AuditCheckpoint.objects.filter(seq=10).exists()
    assert [line["seq"] for line in _lines()] == [5]
    for i in range(5):
        audit_record(actor=None, action="module.published", details={"n": i})
    assert [line["seq"] for line in _lines()] == [5, 10]
    assert _verify() == (0, "ok: 10 entries", "")


def test_an_unreadable_mirror_is_a_warning_unless_strict(chain):
    mirror_path().unlink()
    mirror_path().mkdir()
    code, text, err = _verify()
    assert (code, text) == (0, "ok: 30 entries")
    assert err.startswith("warning: cannot read the checkpoint mirror ")
    assert _verify("--strict")[0] == 1
