# Schema: the session engine's table (ippsite/sessions.py), with an indexed user id.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("ippsite", "0004_apitoken_expiry_required"),
    ]

    operations = [
        migrations.CreateModel(
            name="Session",
            fields=[
                (
                    "session_key",
                    models.CharField(
                        max_length=40, primary_key=True, serialize=False, verbose_name="session key"
                    ),
                ),
                ("session_data", models.TextField(verbose_name="session data")),
                ("expire_date", models.DateTimeField(db_index=True, verbose_name="expire date")),
                ("user_id", models.BigIntegerField(blank=True, db_index=True, null=True)),
            ],
            options={
                "verbose_name": "session",
                "verbose_name_plural": "sessions",
                "ordering": ["expire_date"],
                "abstract": False,
            },
        ),
    ]
