"""sweep_blobs removes what no version points to, once older than the grace period."""

import os
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F

from publishing import services
from registry.models import Blob, ModuleVersion
from registry.packs import pack_name
from registry.selectors import open_version_source
from registry.sweep import parse_grace, sweep_blobs

HOUR = timedelta(hours=1)


class Crash(Exception):
    pass


def age(store, name: str, seconds: float) -> None:
    """Make `name` look `seconds` older than it is."""
    if store.kind == "filesystem":
        path = store.root / name
        then = path.stat().st_mtime - seconds
        os.utime(path, (then, then))
    else:
        Blob.objects.filter(name=name).update(
            created_at=F("created_at") - timedelta(seconds=seconds)
        )


def names(store) -> set[str]:
    return {info.name for info in store.listing()}


def crash_before_commit(monkeypatch):
    """The publish fails after storing its source, and the process dies before cleaning up."""

    def boom(**kwargs):
        raise Crash("killed between writing the source and committing the row")

    monkeypatch.setattr(services, "provenance_record", boom)
    monkeypatch.setattr(services.packs, "remove_source", lambda *args, **kwargs: None)


def test_a_crash_between_write_and_commit_leaves_an_object_swept_after_the_grace_period(
    blob_store, world, publish, monkeypatch
):
    kept = publish(world.developer, world.acme_dev_env).version
    with monkeypatch.context() as patch:
        crash_before_commit(patch)
        with pytest.raises(Crash):
            publish(world.developer, world.acme_dev_env, files={"Logic/Other.oml": b"other"})
    assert ModuleVersion.objects.count() == 1
    orphans = names(blob_store) - {pack_name(kept.storage_id)}
    if blob_store.kind == "database" and connection.vendor == "sqlite":
        assert orphans == set()  # one writer: the object was in the row's transaction
        return
    assert len(orphans) == 1

    report = sweep_blobs(grace=HOUR)  # a publish still running looks just like this
    assert report.removed == [] and report.young == 2
    assert names(blob_store) == orphans | {pack_name(kept.storage_id)}

    (orphan,) = orphans
    age(blob_store, orphan, 2 * 3600)
    report = sweep_blobs(grace=HOUR)
    assert report.removed == [orphan]
    assert names(blob_store) == {pack_name(kept.storage_id)}
    assert open_version_source(kept).list_files()


def test_versions_in_use_are_never_swept_however_old(blob_store, world, publish):
    version = publish(world.developer, world.acme_dev_env).version
    age(blob_store, pack_name(version.storage_id), 30 * 86400)
    report = sweep_blobs(grace=timedelta(0))
    assert report.removed == [] and report.referenced == 1
    assert open_version_source(version).list_files()


def test_objects_of_other_names_are_left_alone(blob_store, db):
    blob_store.write("transfer-package-1", [b"not a version's source"])
    age(blob_store, "transfer-package-1", 2 * 3600)
    report = sweep_blobs(grace=HOUR)
    assert report.foreign == 1 and report.removed == []
    assert blob_store.exists("transfer-package-1")


def test_a_dead_writes_leftover_is_swept_after_the_grace_period(settings, db):
    settings.IPP_BLOB_STORE = "filesystem"
    store = services.packs.blobs.get_store()
    store.create("00000000-0000-4000-8000-000000000002.pack").write(b"half")  # then kill -9
    (leftover,) = names(store)
    assert sweep_blobs(grace=HOUR).leftovers == []
    age(store, leftover, 2 * 3600)
    assert sweep_blobs(grace=HOUR).leftovers == [leftover]
    assert names(store) == set()


def test_a_killed_publish_of_an_earlier_release_leaves_a_directory_that_is_swept(settings, db):
    """Releases before packs wrote a version into a .tmp-<id>-* directory (issue 12)."""
    settings.IPP_BLOB_STORE = "filesystem"
    store = services.packs.blobs.get_store()
    leftover = store.root / ".tmp-00000000-0000-4000-8000-000000000004-k1ll"
    leftover.mkdir(parents=True)
    (leftover / "00000000").write_bytes(b"half a file")
    age(store, leftover.name, 2 * 3600)
    assert sweep_blobs(grace=HOUR).leftovers == [leftover.name]
    assert not leftover.exists()


def test_the_command_reports_and_a_dry_run_removes_nothing(blob_store, db):
    orphan = pack_name("00000000-0000-4000-8000-000000000003")
    blob_store.write(orphan, [b"x"])
    age(blob_store, orphan, 7200)

    out = StringIO()
    call_command("sweep_blobs", "--dry-run", stdout=out)
    assert f"would remove {orphan}" in out.getvalue()
    assert blob_store.exists(orphan)

    out = StringIO()
    call_command("sweep_blobs", "--grace", "3h", stdout=out)
    assert "removed 0 objects" in out.getvalue() and "1 younger than 3:00:00" in out.getvalue()

    out = StringIO()
    call_command("sweep_blobs", stdout=out)
    assert f"removed {orphan}" in out.getvalue()
    assert "removed 1 objects no version points to and 0 leftovers" in out.getvalue()
    assert not blob_store.exists(orphan)


@pytest.mark.parametrize("text", ["soon", "-1h", "1w", "", "nan"])
def test_a_bad_grace_period_is_refused(text, db):
    with pytest.raises(CommandError, match="is not a duration"):
        call_command("sweep_blobs", f"--grace={text or ' '}")


def test_grace_periods_read_as_an_operator_writes_them():
    assert [parse_grace(t).total_seconds() for t in ["3600", "90s", "30m", "1h", "2d"]] == [
        3600,
        90,
        1800,
        3600,
        172800,
    ]
