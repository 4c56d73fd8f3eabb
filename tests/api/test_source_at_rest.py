"""A copy of the database and of the blob storage reveals no uploaded source text."""

import pytest
from django.conf import settings
from django.db import connection

from tests import factories
from tests.api.helpers import published

pytestmark = pytest.mark.django_db(transaction=True)

MARKER = "ZEBRA-7f3a9c-PLAINTEXT-OF-THE-SOURCE"
SECRET_PATH = "Logic/RecipeOfTheSecretSauce.oml"


def _every_stored_value() -> bytes:
    """Every value of every row of every table, as bytes."""
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview):
                        value = value.tobytes()
                    dump.append(value if isinstance(value, bytes) else str(value).encode())
    return b"\n".join(dump)


def _every_blob() -> bytes:
    return b"\n".join(
        p.read_bytes() for p in sorted(settings.IPP_BLOB_DIR.rglob("*")) if p.is_file()
    )


def test_neither_the_database_nor_the_blobs_hold_the_source_in_clear(api, world):
    files = {
        SECRET_PATH: f"-- {MARKER} --\n".encode() * 50,
        "Other/Notes.txt": MARKER.encode(),
    }
    client = api("developer")
    body = published(client, world.acme_dev_env, factories.manifest(name="Sauce"), files)

    database, blobs = _every_stored_value(), _every_blob()
    assert b"Sauce" in database  # the dump does see what is stored in clear
    assert len(blobs) > len(files[SECRET_PATH])  # and the blobs are there
    for secret in (MARKER.encode(), MARKER.encode("utf-16-le"), b"RecipeOfTheSecretSauce"):
        assert secret not in blobs  # neither content nor file names
        assert secret not in database

    # reading and exporting write audit entries (naming the path read), never the content
    base = f"modules/{body['module']['id']}/versions/1"
    assert MARKER.encode() in client.get(f"{base}/source/{SECRET_PATH}").body
    assert client.get(f"{base}/package").status == 200
    assert MARKER.encode() not in _every_stored_value()
    assert MARKER.encode() not in _every_blob()
