"""PostgreSQL refuses any audit row whose columns disagree with its bytes (audit/enforced.py).

Two CHECK constraints, added validated: PostgreSQL checks every row the table already holds
and refuses the migration, changing nothing, if one disagrees (run `manage.py verify_audit
--decode` to find it). Nothing on SQLite (a connection can turn CHECK constraints off there).
The expressions are frozen here as they were when this was written: audit.enforced.CHECKS is
what verify_audit compares the live constraints with.
"""

from django.db import IntegrityError, migrations

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


def add(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, expression in CHECKS.items():
        try:
            schema_editor.execute(
                f'ALTER TABLE "audit_entry" ADD CONSTRAINT "{name}" CHECK ({expression})'
            )
        except IntegrityError as error:
            raise RuntimeError(
                "Some audit entries' columns disagree with their bytes, so PostgreSQL cannot "
                f"hold them to it ({name}); nothing was changed. Run `manage.py verify_audit "
                f"--decode` to find them. ({error})"
            ) from error


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in CHECKS:
        schema_editor.execute(f'ALTER TABLE "audit_entry" DROP CONSTRAINT IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0007_drop_chain"),
    ]

    operations = [migrations.RunPython(add, drop, elidable=False)]
