"""core.batch.WriteBatch: the parts of one operation's writes, one statement on PostgreSQL."""

import pytest
from django.db import IntegrityError, transaction

from audit.models import AuditLog, Cosignature, TreeHead, Witness
from core import batch as batch_module
from core.batch import WriteBatch
from tests.services import batched

pytestmark = pytest.mark.django_db


def witness(name: str) -> Witness:
    return Witness(name=name, public_key=bytes(32))


def test_nothing_is_written_before_flush_and_inserted_rows_get_their_pks_in_order(
    django_assert_num_queries,
):
    written = [witness(f"w{n}") for n in range(3)]
    batch = WriteBatch()
    batch.insert(Witness, written)
    batch.insert(Witness, [witness("other")])
    assert not Witness.objects.exists() and len(batch) == 2
    with django_assert_num_queries(batched(2)):
        batch.flush()
    names = dict(Witness.objects.values_list("pk", "name"))
    assert [names[w.pk] for w in written] == ["w0", "w1", "w2"]
    assert all(not w._state.adding for w in written)
    assert len(batch) == 0  # a flushed batch is empty; flushing it again writes nothing
    with django_assert_num_queries(0):
        batch.flush()


def test_rows_past_one_statements_worth_are_inserted_in_parts_and_still_get_pks(monkeypatch):
    monkeypatch.setattr(batch_module, "ROWS_PER_INSERT", 2)
    written = [witness(f"w{n}") for n in range(5)]
    batch = WriteBatch()
    batch.insert(Witness, written)
    assert len(batch) == 3
    batch.flush()
    names = dict(Witness.objects.values_list("pk", "name"))
    assert [names[w.pk] for w in written] == [f"w{n}" for n in range(5)]


def test_an_insert_that_ignores_conflicts_skips_only_the_conflicting_rows():
    Witness.objects.create(name="taken", public_key=bytes(32))
    batch = WriteBatch()
    batch.insert(Witness, [witness("taken"), witness("free")], ignore_conflicts=True)
    batch.flush()
    assert sorted(Witness.objects.values_list("name", flat=True)) == ["free", "taken"]


def test_updates_and_deletes_go_in_the_same_statement(django_assert_num_queries):
    log = AuditLog.objects.create(id="site", size=0, root=bytes(32), border=b"")
    heads = [
        TreeHead.objects.create(
            log=log, size=size, root=bytes(32), timestamp="t", key_id="k", signature="s"
        )
        for size in (1, 2, 3)
    ]
    kept = Witness.objects.create(name="w", public_key=bytes(32))
    Cosignature.objects.create(head=heads[0], witness=kept, signature="x")
    batch = WriteBatch()
    batch.update(AuditLog, "site", size=4, border=b"\1" * 32)
    batch.delete(TreeHead.objects.filter(log=log, size__lte=2).exclude(cosignatures__isnull=False))
    batch.insert(
        TreeHead,
        [TreeHead(log=log, size=4, root=bytes(32), timestamp="t", key_id="k", signature="s")],
    )
    with django_assert_num_queries(batched(3)):
        batch.flush()
    log.refresh_from_db()
    assert (log.size, bytes(log.border)) == (4, b"\1" * 32)
    assert list(TreeHead.objects.order_by("size").values_list("size", flat=True)) == [1, 3, 4]


def test_a_failing_part_fails_the_flush_and_the_transaction_keeps_none_of_it():
    Witness.objects.create(name="taken", public_key=bytes(32))
    batch = WriteBatch()
    batch.insert(Witness, [witness("new")])
    batch.insert(Witness, [witness("taken")])  # the unique name: an IntegrityError
    with pytest.raises(IntegrityError), transaction.atomic():
        batch.flush()
    assert list(Witness.objects.values_list("name", flat=True)) == ["taken"]


def test_rows_that_differ_in_one_field_go_in_one_array_valued_insert(django_assert_num_queries):
    """insert_each: one row per value, the other fields from the constants and the model's
    defaults (auto_now_add too); with ignore_conflicts a taken value is skipped."""
    Witness.objects.create(name="taken", public_key=bytes(32))
    batch = WriteBatch()
    batch.insert_each(
        Witness, "name", ["a", "taken", "b"], ignore_conflicts=True, public_key=b"\7" * 32
    )
    with django_assert_num_queries(1):
        batch.flush()
    rows = {w.name: w for w in Witness.objects.all()}
    assert sorted(rows) == ["a", "b", "taken"]
    assert bytes(rows["a"].public_key) == b"\7" * 32 and bytes(rows["taken"].public_key) == bytes(
        32
    )
    assert rows["a"].registered_at is not None
    batch.insert_each(Witness, "name", ["taken"], public_key=bytes(32))  # no ignoring now
    with pytest.raises(IntegrityError), transaction.atomic():
        batch.flush()


def test_rows_with_and_without_a_pk_are_refused_together():
    given = witness("given")
    given.pk = 10_000
    with pytest.raises(ValueError, match="all have their pk, or none"):
        WriteBatch().insert(Witness, [given, witness("unsaved")])


def test_loaded_rows_arrive_byte_for_byte_as_one_statement_without_pks(django_assert_num_queries):
    """load(): COPY on PostgreSQL, executemany on SQLite; every byte value and the characters
    a text format must escape (tab, newline, backslash, non-ASCII) come back as sent."""
    awkward = "tab\tnew\nline back\\slash \u00e9\u4e2d \U0001f600"
    rows = [Witness(name=f"{awkward} {n}", public_key=bytes(range(n, n + 32))) for n in range(3)]
    batch = WriteBatch()
    batch.load(Witness, rows)
    assert len(batch) == 1 and not Witness.objects.exists()
    with django_assert_num_queries(1):
        batch.flush()
    stored = {w.name: bytes(w.public_key) for w in Witness.objects.all()}
    assert stored == {f"{awkward} {n}": bytes(range(n, n + 32)) for n in range(3)}
    assert all(row.pk is None and not row._state.adding for row in rows)


def test_loads_are_written_before_the_other_parts_and_fail_the_flush_with_them():
    batch = WriteBatch()
    batch.load(Witness, [witness("loaded"), witness("kept")])
    batch.delete(Witness.objects.filter(name="loaded"))  # sees the loaded rows
    batch.flush()
    assert list(Witness.objects.values_list("name", flat=True)) == ["kept"]

    batch.load(Witness, [witness("new"), witness("kept")])  # "kept" is taken: unique name
    with pytest.raises(IntegrityError), transaction.atomic():
        batch.flush()
    assert list(Witness.objects.values_list("name", flat=True)) == ["kept"]


def test_rows_with_a_pk_are_not_loaded():
    given = witness("given")
    given.pk = 10_000
    with pytest.raises(ValueError, match="without their pk"):
        WriteBatch().load(Witness, [given])
