# Data: tokens issued before expiry existed expire IPP_TOKEN_DAYS after they were issued.

from datetime import timedelta

from django.conf import settings
from django.db import migrations


def backfill(apps, schema_editor):
    ApiToken = apps.get_model("ippsite", "ApiToken")
    days = timedelta(days=getattr(settings, "IPP_TOKEN_DAYS", 30))
    for token in ApiToken.objects.filter(expires_at__isnull=True).only("id", "created_at"):
        ApiToken.objects.filter(pk=token.pk).update(expires_at=token.created_at + days)


class Migration(migrations.Migration):

    dependencies = [
        ("ippsite", "0002_apitoken_expiry_and_revocation"),
    ]

    # Backwards: 0002's reversal drops the column, so there is nothing to undo here.
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
