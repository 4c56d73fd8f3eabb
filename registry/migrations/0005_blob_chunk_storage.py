"""PostgreSQL: blob chunks are ciphertext, which does not compress; store them out of line
uncompressed (STORAGE EXTERNAL) instead of trying pglz on every megabyte."""

from django.db import migrations


def external(apps, schema_editor, storage="EXTERNAL"):
    if schema_editor.connection.vendor == "postgresql":
        table = schema_editor.quote_name(apps.get_model("modules", "BlobChunk")._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN data SET STORAGE {storage}")


def extended(apps, schema_editor):
    external(apps, schema_editor, storage="EXTENDED")


class Migration(migrations.Migration):
    dependencies = [("modules", "0004_blob_store")]
    operations = [migrations.RunPython(external, extended)]
