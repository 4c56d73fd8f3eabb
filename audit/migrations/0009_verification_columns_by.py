"""LogVerification keeps how a run held the columns to the bytes (columns_by), not only
whether it did. A run recorded before says which only on SQLite, where every run decoded;
on PostgreSQL "verify now" may have relied on the constraints, so it is recorded as not
known ("") and the page asks for a new run rather than claim what it cannot know."""

from django.db import migrations, models


def _checked_now(schema_editor) -> None:
    # The log foreign key is deferred on PostgreSQL: an UPDATE would leave trigger events
    # pending, and PostgreSQL refuses the ALTER TABLE that follows in this transaction.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def forward(apps, schema_editor):
    _checked_now(schema_editor)
    LogVerification = apps.get_model("audit", "LogVerification")
    decoded = schema_editor.connection.vendor == "sqlite"
    LogVerification.objects.filter(columns_checked=True).update(
        columns_by="decoded" if decoded else ""
    )


def backward(apps, schema_editor):
    _checked_now(schema_editor)
    LogVerification = apps.get_model("audit", "LogVerification")
    LogVerification.objects.update(columns_checked=True)
    LogVerification.objects.filter(columns_by="").update(columns_checked=False)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0008_entry_columns_held_by_postgresql"),
    ]

    operations = [
        migrations.AddField(
            model_name="logverification",
            name="columns_by",
            field=models.CharField(blank=True, default="", max_length=8),
        ),
        migrations.RunPython(forward, backward),
        migrations.RemoveField(model_name="logverification", name="columns_checked"),
    ]
