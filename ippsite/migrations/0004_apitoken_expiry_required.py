# Schema: every token has an expiry; constraints and the per-user index.

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("ippsite", "0003_apitoken_expiry_backfill"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(),
        ),
        migrations.AddIndex(
            model_name="apitoken",
            index=models.Index(
                fields=["user", "revoked_at", "expires_at"], name="apitoken_user_alive"
            ),
        ),
        migrations.AddConstraint(
            model_name="apitoken",
            constraint=models.CheckConstraint(
                condition=models.Q(("expires_at__gt", models.F("created_at"))),
                name="apitoken_expires_after_issue",
            ),
        ),
        migrations.AddConstraint(
            model_name="apitoken",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("revoked_at__isnull", True), ("revoked_reason", "")),
                    models.Q(
                        ("revoked_at__isnull", False), models.Q(("revoked_reason", ""), _negated=True)
                    ),
                    _connector="OR",
                ),
                name="apitoken_revoked_with_reason",
            ),
        ),
    ]
