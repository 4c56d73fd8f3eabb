"""`ipp_backfill_provenance` fills rule 9 for versions stored before it existed."""

from django.core.management import call_command

from ipp.models import ContentProvenance, KeyProvenance, VersionFingerprint
from tests import factories

BIG = b"line of real source code that is long enough to be fingerprinted\n" * 3


def test_backfill_records_what_publishing_would_have(world, publish, capsys):
    result = publish(world.acme_admin, world.acme_dev_env, factories.manifest(), {"a.oml": BIG})
    expected = set(ContentProvenance.objects.values_list("fingerprint", flat=True))
    assert expected
    ContentProvenance.objects.all().delete()
    KeyProvenance.objects.all().delete()
    VersionFingerprint.objects.all().delete()

    call_command("ipp_backfill_provenance")
    assert "ok: provenance recorded for 1 versions" in capsys.readouterr().out
    assert set(ContentProvenance.objects.values_list("fingerprint", flat=True)) == expected
    provenance = KeyProvenance.objects.get(key=result.module.key)
    assert provenance.marked_code == world.acme.activation_code

    call_command("ipp_backfill_provenance")  # nothing left to do
    assert "for 0 versions" in capsys.readouterr().out
