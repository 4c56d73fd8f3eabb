# Schema: expiry and revocation columns (expires_at nullable until 0003 fills it).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("ippsite", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="revoked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="revoked_reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("owner", "revoked by its owner"),
                    ("replaced", "replaced by a newer token"),
                    ("password_changed", "password changed"),
                    ("deactivated", "user deactivated"),
                ],
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="apitoken",
            name="last_used_at",
            field=models.DateTimeField(
                blank=True, help_text="Updated at most once an hour.", null=True
            ),
        ),
    ]
