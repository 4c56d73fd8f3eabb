"""Where the database itself holds every entry's columns to its bytes (PostgreSQL).

On PostgreSQL two CHECK constraints (migration 0008) refuse any row whose columns say
something other than its bytes, or whose leaf hash is not the hash of its bytes: an INSERT,
an UPDATE or a COPY that would make them disagree fails, whoever runs it. A validated CHECK
constraint holds for every row the table has, old rows included (PostgreSQL checks them all
when it is added or validated). So verify_audit need not decode every entry to compare its
columns (the slow pass, audit.checks.column_pass) as long as the constraints are there,
validated and exactly as built: `why_not_held` checks that once per run, against a scratch
copy of the definitions built in the same session, together with the checked columns' types
and that `audit_entry` is a plain table. When any of that does not hold, verify_audit
decodes every entry as before.

What the constraints cannot stop, and what `verify_audit --decode` (and the scheduled
verification job, which always decodes) is there for: a superuser editing the system
catalogs, or someone editing the database's files on disk. The entry bytes themselves are
never taken on trust: the tree pass hashes every one of them in every run.

On SQLite, any connection can turn CHECK constraints off for itself (`PRAGMA
ignore_check_constraints`) and leave no trace in the schema, so the database cannot vouch
for the columns there and verify_audit always decodes.
"""

from django.db import DatabaseError, connection, transaction

from audit.models import AuditEntry

TABLE = AuditEntry._meta.db_table

# name -> the CHECK expression. Mirrors audit.entries.Event.document (the bytes) and
# Event.columns (the columns): change one and all three change together, with a migration
# (0008 froze this text as it was then).
CHECKS = {
    "audit_entry_is_its_bytes": """
        convert_from(leaf, 'UTF8')::jsonb = jsonb_build_object(
            'action', action,
            'actor', CASE WHEN actor_id IS NULL AND actor_name = '' THEN NULL
                ELSE jsonb_build_object('id', actor_id, 'name', actor_name) END,
            'also', also_id,
            'details', details,
            'index', "index",
            'infrastructure', infrastructure_id,
            'log', log_id,
            'subject', CASE WHEN subject_type = '' AND subject_id = '' AND subject_label = ''
                THEN NULL
                ELSE jsonb_build_object(
                    'id', subject_id, 'label', subject_label, 'type', subject_type) END,
            'time', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        )
    """,
    "audit_entry_leaf_hash_is_its_bytes": "leaf_hash = sha256('\\x00'::bytea || leaf)",
}

# The columns the checks read, whose types must be those the models give them.
COLUMNS = (
    "leaf",
    "leaf_hash",
    "action",
    "actor_id",
    "actor_name",
    "also_id",
    "details",
    "index",
    "infrastructure_id",
    "log_id",
    "subject_type",
    "subject_id",
    "subject_label",
    "created_at",
)

_SCRATCH = "audit_entry_as_built"


def _column_types(cursor, table: str) -> dict[str, str]:
    cursor.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        [table],
    )
    return {name: kind for name, kind in cursor.fetchall() if name in COLUMNS}


def _checks(cursor, table: str) -> dict[str, tuple[bool, str]]:
    cursor.execute(
        "SELECT conname, convalidated, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'c'",
        [table],
    )
    return {name: (valid, definition) for name, valid, definition in cursor.fetchall()}


def _as_built(cursor) -> tuple[dict[str, str], dict[str, tuple[bool, str]]]:
    """The column types and constraint definitions as this server spells them, from a
    scratch table built from the models and CHECKS (dropped again: the caller rolls back)."""
    q = connection.ops.quote_name
    fields = {field.column: field for field in AuditEntry._meta.concrete_fields}
    columns = ", ".join(f"{q(name)} {fields[name].db_type(connection)}" for name in COLUMNS)
    cursor.execute(f"CREATE TEMPORARY TABLE {q(_SCRATCH)} ({columns})")
    for name, expression in CHECKS.items():
        cursor.execute(f"ALTER TABLE {q(_SCRATCH)} ADD CONSTRAINT {q(name)} CHECK ({expression})")
    return _column_types(cursor, _SCRATCH), _checks(cursor, _SCRATCH)


def why_not_held() -> str | None:
    """None when the database refuses, for every row it holds, columns that disagree with the
    bytes; otherwise why it cannot be relied on (verify_audit then decodes every entry)."""
    if connection.vendor != "postgresql":
        return (
            f"on {connection.display_name} any connection can turn CHECK constraints off, so "
            "the database cannot vouch for the columns"
        )
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            try:
                cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [TABLE])
                kind = cursor.fetchone()[0]
                types, checks = _column_types(cursor, TABLE), _checks(cursor, TABLE)
                built_types, built_checks = _as_built(cursor)
            finally:
                transaction.set_rollback(True)  # the scratch table goes
    except DatabaseError as error:  # e.g. no right to create a temporary table
        return f"its constraints could not be compared with the ones built ({error})"
    if kind != "r":
        return f"{TABLE} is not a plain table (relkind {kind!r})"
    if types != built_types:
        changed = sorted(name for name in COLUMNS if types.get(name) != built_types.get(name))
        return f"the type of column(s) {', '.join(changed)} of {TABLE} changed"
    for name, (_valid, definition) in built_checks.items():
        if name not in checks:
            return f"the constraint {name} is missing"
        valid, actual = checks[name]
        if not valid:
            return f"the constraint {name} is not validated (NOT VALID: old rows unchecked)"
        if actual != definition:
            return f"the constraint {name} is not the one built (it reads {actual})"
    return None
