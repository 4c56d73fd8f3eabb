"""Appending: exact bytes per log, a signed head in the same transaction, O(log n) per append."""

import json
import re

import pytest
from django.db import transaction

from audit import appending, merkle
from audit.entries import canonical
from audit.models import AuditEntry, AuditLog, Cosignature, TreeHead, Witness
from audit.services import audit_event, audit_record, audit_record_all, audit_record_many
from audit.synthetic import bulk_append
from audit.verify import verify_log
from core import keys
from tests import factories
from tests.services import batched

pytestmark = pytest.mark.django_db


RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def leaves_of(log_id: str) -> list[bytes]:
    rows = AuditEntry.objects.filter(log_id=log_id).order_by("index")
    return [bytes(leaf) for leaf in rows.values_list("leaf", flat=True)]


def root_of(log_id: str) -> bytes:
    return merkle.root_from_leaf_hashes(merkle.leaf_hashes_of(leaves_of(log_id)))


def test_an_entry_is_stored_as_the_canonical_bytes_of_what_it_says(world):
    entry = audit_record(
        actor=world.acme_admin,
        action="membership.changed",
        infrastructure=world.acme,
        subject=world.acme_dev_env,
        details={"user": "développeur", "to": {"role": "member"}},
    )
    raw = bytes(entry.leaf)
    document = json.loads(raw)
    assert canonical(document) == raw
    assert raw.decode().isascii() is False  # UTF-8 as is, not \u escapes
    assert document == {
        "action": "membership.changed",
        "actor": {"id": world.acme_admin.pk, "name": "acme_admin"},
        "also": None,
        "details": {"to": {"role": "member"}, "user": "développeur"},
        "index": 0,
        "infrastructure": world.acme.pk,
        "log": str(world.acme.pk),
        "subject": {
            "id": str(world.acme_dev_env.pk),
            "label": "ACME / Development",
            "type": "environment",
        },
        "time": document["time"],
    }
    assert RFC3339_UTC.fullmatch(document["time"])
    assert bytes(entry.leaf_hash) == merkle.leaf_hash(raw)
    assert (entry.log_id, entry.index, entry.subject_label) == (
        str(world.acme.pk),
        0,
        "ACME / Development",
    )


def test_indexes_count_from_zero_in_each_log_and_events_of_no_infrastructure_go_to_site(world):
    for _ in range(3):
        audit_record(actor=world.support, action="ipp.portal_blocked", infrastructure=world.acme)
    audit_record(actor=world.support, action="ipp.portal_blocked", infrastructure=world.emca)
    audit_record(actor=world.support, action="user.created", subject=world.outsider)
    by_log = {
        log: list(
            AuditEntry.objects.filter(log_id=log).order_by("index").values_list("index", flat=True)
        )
        for log in AuditLog.objects.values_list("id", flat=True)
    }
    assert by_log == {str(world.acme.pk): [0, 1, 2], str(world.emca.pk): [0], "site": [0]}
    assert AuditLog.objects.get(id="site").infrastructure_id is None
    assert AuditLog.objects.get(id=str(world.acme.pk)).infrastructure == world.acme


def test_every_append_stores_a_head_signed_over_the_message_of_spec_6(world):
    for n in range(5):
        audit_record(
            actor=None, action="module.published", infrastructure=world.acme, details={"n": n}
        )
    log_id = str(world.acme.pk)
    heads = list(TreeHead.objects.filter(log_id=log_id).order_by("size"))
    assert [head.size for head in heads] == [1, 2, 3, 4, 5]
    leaves = leaves_of(log_id)
    ring = keys.authority()
    for head in heads:
        root = merkle.root_from_leaf_hashes(merkle.leaf_hashes_of(leaves[: head.size]))
        assert bytes(head.root) == root
        assert RFC3339_UTC.fullmatch(head.timestamp)
        message = (
            f"ipp-site tree head v1\n{log_id}\n{head.size}\n{root.hex()}\n{head.timestamp}\n"
        ).encode()
        assert head.key_id == ring.current_id
        assert ring.verify(head.key_id, message, head.signature)
    log = AuditLog.objects.get(id=log_id)
    assert (log.size, bytes(log.root)) == (5, root_of(log_id))
    border = merkle.border_from_leaf_hashes(merkle.leaf_hashes_of(leaves))
    assert bytes(log.border) == merkle.border_to_bytes(border)


def test_a_transfer_event_is_appended_to_both_logs_with_the_same_content(world):
    audit_record(actor=None, action="module.published", infrastructure=world.emca)
    source = audit_record(
        actor=world.acme_admin,
        action="transfer.approved",
        infrastructure=world.acme,
        also=world.emca,
        details={"destination": "EMCA"},
    )
    destination = AuditEntry.objects.get(log_id=str(world.emca.pk), action="transfer.approved")
    assert (source.log_id, source.index) == (str(world.acme.pk), 0)
    assert (destination.index, destination.also_id) == (1, world.emca.pk)
    one, other = (json.loads(bytes(entry.leaf)) for entry in (source, destination))
    assert (one.pop("log"), one.pop("index")) == (str(world.acme.pk), 0)
    assert (other.pop("log"), other.pop("index")) == (str(world.emca.pk), 1)
    assert one == other and one["also"] == world.emca.pk
    assert TreeHead.objects.filter(log_id=str(world.emca.pk), size=2).exists()


def test_the_same_infrastructure_as_also_is_one_entry(world):
    audit_record(actor=None, action="transfer.refused", infrastructure=world.acme, also=world.acme)
    assert AuditEntry.objects.count() == 1 and AuditEntry.objects.get().also_id is None


def test_a_rolled_back_operation_takes_its_entry_and_head_with_it(world):
    audit_record(actor=None, action="module.published", infrastructure=world.acme)
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor=None, action="module.deployed", infrastructure=world.acme)
        raise RuntimeError("the operation failed")
    log = AuditLog.objects.get(id=str(world.acme.pk))
    assert log.size == 1 and AuditEntry.objects.count() == 1
    assert list(TreeHead.objects.values_list("size", flat=True)) == [1]
    assert bytes(log.root) == root_of(log.id)


def test_subjects_are_labelled_for_people(world, publish):
    result = publish(world.developer, world.acme_dev_env)
    entry = AuditEntry.objects.get(action="module.published")
    assert entry.subject_type == "moduleversion"
    assert entry.subject_label == f"{result.module.name} v1"


def test_details_that_json_or_the_databases_would_change_are_stored_as_strings(world):
    entry = audit_record(
        actor=None,
        action="module.published",
        infrastructure=world.acme,
        details={"ratio": 0.1, "big": 1e20, "bad": "a\udc80b", "nul": "a\x00b", 7: (1, 2)},
    )
    entry.refresh_from_db()
    expected = {"ratio": "0.1", "big": "1e+20", "bad": "a?b", "nul": "a\ufffdb", "7": [1, 2]}
    assert entry.details == expected
    assert json.loads(bytes(entry.leaf))["details"] == expected


def test_append_cost_does_not_grow_with_the_log(world, django_assert_num_queries, monkeypatch):
    """Lock, then entry, head, log row, prune: the same queries at 2 entries as at 43."""
    monkeypatch.setattr(appending, "RECENT_HEADS", 1)

    def record():
        audit_record(actor=world.support, action="module.deployed", infrastructure=world.acme)

    record()
    with django_assert_num_queries(1 + batched(4)):  # no savepoint: the caller's transaction
        record()
    for _ in range(40):
        record()
    with django_assert_num_queries(1 + batched(4)):
        record()


def test_an_append_hashes_and_queries_alike_at_2_entries_and_at_1024(
    world, django_assert_num_queries, monkeypatch
):
    """The border keeps an append at O(log n) hashes: from size 2 and from size 1024 (both
    with no carry and two border subtrees after) it is one leaf hash, one node hash and the
    same queries; nothing reads or hashes the entries already there."""
    monkeypatch.setattr(appending, "RECENT_HEADS", 1)
    counted = {"leaf": 0, "node": 0}

    def counting(name, real):
        def hashed(*args):
            counted[name] += 1
            return real(*args)

        return hashed

    monkeypatch.setattr(merkle, "leaf_hash", counting("leaf", merkle.leaf_hash))
    monkeypatch.setattr(merkle, "node_hash", counting("node", merkle.node_hash))

    def append_at(size: int) -> dict:
        assert AuditLog.objects.get(id=str(world.acme.pk)).size == size
        counted.update(leaf=0, node=0)
        with django_assert_num_queries(1 + batched(4)):  # lock; entry, head, prune, log row
            audit_record(actor=world.support, action="module.deployed", infrastructure=world.acme)
        return dict(counted)

    for _ in range(2):
        audit_record(actor=world.support, action="module.deployed", infrastructure=world.acme)
    small = append_at(2)
    bulk_append(1024 - 3, infrastructure_id=world.acme.pk)
    large = append_at(1024)
    assert small == large == {"leaf": 1, "node": 1}
    log = AuditLog.objects.get(id=str(world.acme.pk))
    assert bytes(log.root) == root_of(str(world.acme.pk))  # and it is the right tree


def test_old_heads_are_pruned_but_the_latest_and_cosigned_ones_stay(world, monkeypatch):
    monkeypatch.setattr(appending, "RECENT_HEADS", 3)
    for _ in range(4):
        audit_record(actor=None, action="module.deployed", infrastructure=world.acme)
    witness = Witness.objects.create(name="w", public_key=b"\0" * 32)
    head = TreeHead.objects.get(log_id=str(world.acme.pk), size=2)
    Cosignature.objects.create(head=head, witness=witness, signature="x")
    for _ in range(6):
        audit_record(actor=None, action="module.deployed", infrastructure=world.acme)
    kept = TreeHead.objects.filter(log_id=str(world.acme.pk)).order_by("size")
    assert list(kept.values_list("size", flat=True)) == [2, 8, 9, 10]


def test_a_new_infrastructures_first_entry_creates_its_log(world):
    infra = factories.make_infrastructure("Fresh")
    assert not AuditLog.objects.filter(id=str(infra.pk)).exists()
    audit_record(actor=world.support, action="infrastructure.created", infrastructure=infra)
    assert AuditLog.objects.get(id=str(infra.pk)).size == 1


def test_many_entries_appended_at_once_are_signed_once_and_verify(world):
    audit_record(actor=None, action="module.published", infrastructure=world.acme, details={})
    written = audit_record_many(
        actor=world.acme_admin,
        action="permission.changed",
        infrastructure=world.acme,
        records=[(world.acme, {"n": n}) for n in range(4)],
    )
    log_id = str(world.acme.pk)
    entries = list(AuditEntry.objects.filter(log_id=log_id).order_by("index"))
    assert written == 4 and [e.index for e in entries] == [0, 1, 2, 3, 4]
    assert [e.details for e in entries[1:]] == [{"n": n} for n in range(4)]
    assert [json.loads(e.leaf)["index"] for e in entries] == [0, 1, 2, 3, 4]
    assert [h.size for h in TreeHead.objects.filter(log_id=log_id).order_by("size")] == [1, 5]
    assert verify_log(log_id).ok


def test_a_bulk_change_past_the_load_threshold_is_loaded_and_verifies(
    world, django_assert_num_queries, monkeypatch
):
    monkeypatch.setattr(appending, "ROWS_TO_LOAD", 3)
    monkeypatch.setattr(appending, "RECENT_HEADS", 1)  # so the append prunes a head
    audit_record(actor=None, action="module.published", infrastructure=world.acme)  # the log
    records = [(world.acme, {"n": n, "text": "tab\t\u00e9 \\"}) for n in range(5)]
    with django_assert_num_queries(1 + 1 + batched(3)):  # lock; the load; head, log, prune
        written = audit_record_many(
            actor=world.acme_admin,
            action="permission.changed",
            infrastructure=world.acme,
            records=records,
        )
    log_id = str(world.acme.pk)
    entries = list(AuditEntry.objects.filter(log_id=log_id).order_by("index"))
    assert written == 5 and [e.index for e in entries] == [0, 1, 2, 3, 4, 5]
    assert all(bytes(e.leaf) == canonical(json.loads(bytes(e.leaf))) for e in entries)
    assert [e.details for e in entries[1:]] == [details for _, details in records]
    report = verify_log(log_id)  # the tree pass and the column pass
    assert report.ok, report.findings


def test_events_recorded_together_lock_each_log_once_and_sign_one_head_each(
    world, django_assert_num_queries
):
    """A publish's grant and publish entries (and a two-sided event with them) go in one
    step: each log written is locked once and signs one head over its new entries, which
    are those appending them one by one would have written, at consecutive indexes."""
    audit_record(actor=None, action="module.published", infrastructure=world.acme)
    audit_record(actor=None, action="module.published", infrastructure=world.emca)
    acme, emca = str(world.acme.pk), str(world.emca.pk)
    pending = [
        audit_event(actor=world.developer, action="permission.changed", infrastructure=world.acme),
        audit_event(actor=world.developer, action="module.published", infrastructure=world.acme),
    ]
    with django_assert_num_queries(1 + batched(3)):  # lock; both entries, one head, log row
        first, second = audit_record_all(pending)
    assert (first.log_id, first.index, second.index) == (acme, 1, 2)
    assert [json.loads(e.leaf)["action"] for e in (first, second)] == [
        "permission.changed",
        "module.published",
    ]
    heads = TreeHead.objects.filter(log_id=acme).order_by("size")
    assert list(heads.values_list("size", flat=True)) == [1, 3]

    both = audit_event(
        actor=world.acme_admin,
        action="transfer.requested",
        infrastructure=world.acme,
        also=world.emca,
    )
    mine = audit_event(actor=world.acme_admin, action="module.exported", infrastructure=world.acme)
    requested, exported = audit_record_all([both, mine])
    assert (requested.log_id, requested.index, exported.index) == (acme, 3, 4)
    copy = AuditEntry.objects.get(log_id=emca, index=1)
    assert json.loads(copy.leaf)["action"] == "transfer.requested"
    assert TreeHead.objects.filter(log_id=acme, size=5).count() == 1
    assert TreeHead.objects.filter(log_id=emca, size=2).count() == 1
    assert not TreeHead.objects.filter(log_id=acme, size=4).exists()
    assert verify_log(acme).ok and verify_log(emca).ok
