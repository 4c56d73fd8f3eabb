"""The old chain's entries move aside (table audit_chainentry) until their data is migrated."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_auditverification_alter_auditentry_actor_and_more"),
    ]

    operations = [
        migrations.RenameModel("AuditEntry", "ChainEntry"),
    ]
