"""The old chain, its head, checkpoints and verification row go: 0006 moved them into the logs.

Reversing recreates the tables empty (the chain itself is not rebuilt).
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0006_migrate_chain_into_logs'),
    ]

    operations = [
        migrations.DeleteModel(
            name='AuditCheckpoint',
        ),
        migrations.DeleteModel(
            name='AuditHead',
        ),
        migrations.DeleteModel(
            name='AuditVerification',
        ),
        migrations.DeleteModel(
            name='ChainEntry',
        ),
    ]
