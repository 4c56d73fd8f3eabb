"""Master key rotation and retirement while publishes run lose nothing (SPEC §5).

Real threads, each with its own database connection, on PostgreSQL (on SQLite every
transaction holds the one write lock from its start, so nothing interleaves).
"""

import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections

from core import keys
from publishing.services import module_publish
from registry import keylocks
from registry.crypto import MasterKeyring
from registry.models import ModuleVersion
from registry.selectors import open_version_source
from tests import factories
from tests.modules.conftest import DATABASE_STORE

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgres(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL: run with DATABASE_URL=postgres://...")
    monkeypatch.delenv("IPP_MASTER_KEYS", raising=False)


def publish_one(world, name: str, content: bytes) -> ModuleVersion:
    upload = factories.package_file(factories.manifest(name=name), {"Logic/A.oml": content})
    return module_publish(
        user=world.developer, environment=world.acme_dev_env, upload=upload
    ).version


def source_of(version: ModuleVersion) -> bytes:
    version.refresh_from_db()
    return b"".join(open_version_source(version).open("Logic/A.oml"))


@pytest.mark.parametrize("store", ["filesystem", DATABASE_STORE])
def test_rotating_and_retiring_in_a_loop_while_publishing_loses_nothing(world, settings, store):
    settings.IPP_BLOB_STORE = store
    stop, published, errors = threading.Event(), [], []

    def publisher(n: int) -> None:
        try:
            i = 0
            while not stop.is_set() or i < 3:
                content = f"publisher {n}, version {i}".encode()
                published.append((publish_one(world, f"Mod{n}x{i}", content), content))
                i += 1
        except Exception as exc:  # reported to the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=publisher, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    retired = []
    for _ in range(8):
        out = StringIO()
        call_command("rotate_master_key", "--retire-old", "--batch", "3", stdout=out)
        retired.append(out.getvalue())
    stop.set()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert len(published) >= 12
    assert sum("retired 1 old master keys" in out for out in retired) >= 4
    for version, content in published:
        assert source_of(version) == content
    live = set(MasterKeyring.load().key_ids)
    assert set(ModuleVersion.objects.values_list("master_key_id", flat=True)) <= live


def test_rotation_waits_for_a_publish_that_wrapped_with_the_old_key(world, monkeypatch):
    old_id = MasterKeyring.load().current_id
    wrapped, release, outcome = threading.Event(), threading.Event(), {}
    real_wrap = keylocks.wrap_data_key

    def slow_wrap(data_key, storage_id):
        result = real_wrap(data_key, storage_id)
        wrapped.set()
        release.wait(30)  # the publish has wrapped with the old key and not committed
        return result

    monkeypatch.setattr(keylocks, "wrap_data_key", slow_wrap)

    def run(name, call):
        try:
            outcome[name] = call()
        except Exception as exc:  # reported to the main thread
            outcome[name] = exc
        finally:
            connections.close_all()

    publishing = threading.Thread(
        target=run, args=("version", lambda: publish_one(world, "Slow", b"slow"))
    )
    publishing.start()
    assert wrapped.wait(30)
    rotating = threading.Thread(
        target=run,
        args=(
            "rotation",
            lambda: call_command("rotate_master_key", "--retire-old", stdout=StringIO()),
        ),
    )
    rotating.start()
    time.sleep(1)
    assert rotating.is_alive()  # waiting for the publish's transaction
    assert old_id in MasterKeyring.load().key_ids
    release.set()
    publishing.join(60)
    rotating.join(60)

    version = outcome["version"]
    assert isinstance(version, ModuleVersion), outcome
    assert old_id in keys.master().retired
    version.refresh_from_db()
    assert version.master_key_id == MasterKeyring.load().current_id
    assert source_of(version) == b"slow"
