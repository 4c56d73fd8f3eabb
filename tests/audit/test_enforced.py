"""PostgreSQL holds every entry's columns to its bytes (audit.enforced, migration 0008), and
verify_audit relies on that only while the constraints are there exactly as built.

Each refusal below is a test of one part of the constraints: without it the UPDATE would go
through. Each "not held" case is something an intruder owning the table can do to get a
lying column past the database; verify_audit then decodes every entry and finds it.
"""

import importlib
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from audit import enforced, merkle
from audit.models import AuditEntry, LogVerification
from audit.services import audit_record
from audit.verify import verify_log, verify_logs
from ippsite import jobs

pytestmark = pytest.mark.django_db


def postgres(test):
    """PostgreSQL only: SQLite has no such constraints (audit.enforced)."""
    skip = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's constraints")
    return pytest.mark.postgres(skip(test))


@pytest.fixture
def site(world) -> str:
    """ACME's log with eight two-sided entries (EMCA's log has them too): an actor, a
    subject, the other side and nested details on each. Named for the log it returns."""
    for i in range(8):
        audit_record(
            actor=world.support,
            action="transfer.requested",
            infrastructure=world.acme,
            subject=world.acme,
            also=world.emca,
            details={"n": i, "nested": {"a": [1, "two"]}},
        )
    return str(world.acme.pk)


def _entries(log: str):
    return AuditEntry.objects.filter(log_id=log)  # not tamper.rows: that drops the constraints


def _sql(*statements: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending trigger events: DDL may run
        for statement in statements:
            cursor.execute(statement)


def _run(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return 1, str(exc), err.getvalue()
    return 0, out.getvalue().strip(), err.getvalue()


# --- the database refuses -----------------------------------------------------------------


@postgres
@pytest.mark.parametrize(
    "column, value",
    [
        ("action", "ipp.portal_unblocked"),
        ("actor_id", 999_999),
        ("actor_name", "mallory"),
        ("also_id", None),
        ("details", {"n": "forged", "nested": {"a": [1, "two"]}}),
        ("infrastructure_id", 999_999),
        ("subject_type", "module"),
        ("subject_id", "999"),
        ("subject_label", "Something else"),
        ("index", 100),
        ("leaf_hash", b"\1" * 32),
    ],
)
def test_postgresql_refuses_a_column_that_disagrees_with_the_bytes(site, column, value):
    with pytest.raises(IntegrityError, match="check constraint"), transaction.atomic():
        _entries(site).filter(index=3).update(**{column: value})


@postgres
def test_postgresql_refuses_a_moved_time_and_changed_bytes(site):
    entry = _entries(site).get(index=3)
    with pytest.raises(IntegrityError, match="audit_entry_is_its_bytes"), transaction.atomic():
        _entries(site).filter(index=3).update(created_at=entry.created_at.replace(year=2001))
    forged = bytes(entry.leaf).replace(b'"n":3', b'"n":4')
    with pytest.raises(IntegrityError, match="check constraint"), transaction.atomic():
        _entries(site).filter(index=3).update(leaf=forged)  # the leaf hash no longer matches
    with pytest.raises(IntegrityError, match="audit_entry_is_its_bytes"), transaction.atomic():
        # with its leaf hash, the columns still say n = 3
        _entries(site).filter(index=3).update(leaf=forged, leaf_hash=merkle.leaf_hash(forged))


@postgres
def test_postgresql_takes_a_whole_consistent_row(site):
    """The constraints compare, they do not forbid: a row rewritten consistently (bytes, leaf
    hash and columns together) is taken, and only the tree pass can tell."""
    entry = _entries(site).get(index=3)
    forged = bytes(entry.leaf).replace(b'"n":3', b'"n":4')
    details = {**entry.details, "n": 4}
    _entries(site).filter(index=3).update(
        leaf=forged, leaf_hash=merkle.leaf_hash(forged), details=details
    )
    code, text, _ = _run()
    assert code == 1 and f"log {site}: first bad index 3: the entries before index 4" in text


# --- verify_audit relies on them only while they hold -------------------------------------


@postgres
def test_while_the_constraints_hold_verify_audit_does_not_decode(site):
    assert enforced.why_not_held() is None
    assert verify_log(site).columns_by == "database"
    assert verify_log(site, decode=True).columns_by == "decoded"
    assert _run() == (0, "ok: 16 entries in 2 logs", "")


def test_on_sqlite_every_entry_is_decoded(site):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    assert "turn CHECK constraints off" in enforced.why_not_held()
    report = verify_log(site)
    assert report.ok and report.columns_by == "decoded"
    _entries(site).filter(index=5).update(actor_name="mallory")  # nothing refuses it here
    code, text, err = _run()
    assert code == 1 and f"log {site}: first bad index 5: entry 5: column(s) actor_name" in text
    assert err == ""


def _lie(log: str) -> None:
    """With the constraints gone: entry 5's action column says something else."""
    _sql(*(f'ALTER TABLE audit_entry DROP CONSTRAINT "{name}"' for name in enforced.CHECKS))
    _entries(log).filter(index=5).update(action="ipp.portal_unblocked")


def _check(name: str) -> str:
    return enforced.CHECKS[name]


@postgres
@pytest.mark.parametrize(
    "attack, why",
    [
        ([], "the constraint audit_entry_is_its_bytes is missing"),
        (
            [
                "ALTER TABLE audit_entry ADD CONSTRAINT audit_entry_is_its_bytes "
                f"CHECK ({_check('audit_entry_is_its_bytes')}) NOT VALID",
                "ALTER TABLE audit_entry ADD CONSTRAINT audit_entry_leaf_hash_is_its_bytes "
                f"CHECK ({_check('audit_entry_leaf_hash_is_its_bytes')})",
            ],
            "the constraint audit_entry_is_its_bytes is not validated",
        ),
        (
            [
                "ALTER TABLE audit_entry ADD CONSTRAINT audit_entry_is_its_bytes "
                "CHECK (action IS NOT NULL)",
                "ALTER TABLE audit_entry ADD CONSTRAINT audit_entry_leaf_hash_is_its_bytes "
                f"CHECK ({_check('audit_entry_leaf_hash_is_its_bytes')})",
            ],
            "the constraint audit_entry_is_its_bytes is not the one built",
        ),
        (
            ["ALTER TABLE audit_entry ALTER COLUMN action TYPE text"],
            "the type of column(s) action of audit_entry changed",
        ),
        (
            [
                "ALTER TABLE audit_entry RENAME TO audit_entry_hidden",
                "CREATE VIEW audit_entry AS SELECT * FROM audit_entry_hidden",
            ],
            "audit_entry is not a plain table (relkind 'v')",
        ),
    ],
    ids=["dropped", "not-valid", "weaker", "retyped", "a-view"],
)
def test_a_lying_column_past_weakened_constraints_is_found_by_decoding(site, attack, why):
    _lie(site)
    _sql(*attack)
    assert enforced.why_not_held().startswith(why)
    code, text, err = _run()
    assert code == 1, text
    assert f"log {site}: first bad index 5: entry 5: column(s) action disagree" in text, text
    assert err.startswith("warning: every entry decoded, as " + why), err


@postgres
def test_postgresql_refuses_to_attach_a_table_of_unchecked_rows(site):
    """Rows of a table inheriting audit_entry are read with its own; one holding a lying row
    under NOT VALID constraints cannot be attached (a validated inherited one would refuse
    the row): so inheritance needs no check of its own in audit.enforced."""
    _sql(
        "CREATE TABLE audit_entry_heir (LIKE audit_entry)",
        f"INSERT INTO audit_entry_heir SELECT * FROM audit_entry WHERE log_id = '{site}' "
        "AND index = 5",
        "UPDATE audit_entry_heir SET action = 'ipp.portal_unblocked'",
        *(
            f'ALTER TABLE audit_entry_heir ADD CONSTRAINT "{name}" CHECK ({check}) NOT VALID'
            for name, check in {**enforced.CHECKS, "audit_entry_index": '"index" >= 0'}.items()
        ),
    )
    with pytest.raises(DatabaseError, match="NOT VALID constraint"), transaction.atomic():
        _sql("ALTER TABLE audit_entry_heir INHERIT audit_entry")


@postgres
def test_without_the_right_to_compare_every_entry_is_decoded(site):
    role = "audit_reader_without_temp"
    _sql(
        f"CREATE ROLE {role}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
        f"REVOKE TEMPORARY ON DATABASE {connection.settings_dict['NAME']} FROM PUBLIC",
        f"SET ROLE {role}",
    )
    why = enforced.why_not_held()
    _sql("RESET ROLE")
    assert why.startswith("its constraints could not be compared with the ones built"), why


@postgres
def test_catalog_surgery_is_what_decode_and_the_job_are_for(site):
    """A superuser who marks a NOT VALID constraint validated in the catalog fools the
    schema check: the documented limit. `--decode` and the scheduled job still decode."""
    _lie(site)
    _sql(
        *(
            f'ALTER TABLE audit_entry ADD CONSTRAINT "{name}" CHECK ({check}) NOT VALID'
            for name, check in enforced.CHECKS.items()
        ),
        "UPDATE pg_constraint SET convalidated = true WHERE conrelid = 'audit_entry'::regclass",
    )
    assert enforced.why_not_held() is None
    assert _run()[0] == 0  # what the database vouches for, it was made to vouch for
    code, text, _ = _run("--decode")
    assert code == 1 and "first bad index 5: entry 5: column(s) action" in text, text
    assert jobs.verify_audit_logs() == 1
    assert LogVerification.objects.get(log_id=site).bad_index == 5
    assert LogVerification.objects.exclude(log_id=site).get().ok


def test_decode_and_skip_columns_exclude_each_other(site):
    code, text, _ = _run("--decode", "--skip-columns")
    assert (code, text) == (1, "--skip-columns and --decode exclude each other")


@postgres
def test_verify_logs_looks_at_the_constraints_once(site):
    with CaptureQueriesContext(connection) as queries:
        reports = verify_logs(keep=False)
    assert [r.columns_by for r in reports] == ["database", "database"]
    looked = [q["sql"] for q in queries if "pg_constraint" in q["sql"]]
    assert len(looked) == 2  # the table's and the scratch copy's, for both logs


# --- the migration ------------------------------------------------------------------------

migration = importlib.import_module("audit.migrations.0008_entry_columns_held_by_postgresql")


@postgres
def test_the_migration_refuses_rows_that_disagree_and_changes_nothing(site):
    _lie(site)
    with pytest.raises(RuntimeError, match="verify_audit --decode"), transaction.atomic():
        with connection.schema_editor() as editor:
            migration.add(None, editor)
    assert enforced.why_not_held() == "the constraint audit_entry_is_its_bytes is missing"
    _entries(site).filter(index=5).update(action="transfer.requested")  # the lie undone
    with connection.schema_editor() as editor:
        migration.add(None, editor)
    assert enforced.why_not_held() is None
    with connection.schema_editor() as editor:
        migration.drop(None, editor)
    assert enforced.why_not_held() == "the constraint audit_entry_is_its_bytes is missing"


@postgres
def test_the_migration_and_the_live_definitions_are_the_same():
    assert migration.CHECKS == enforced.CHECKS
