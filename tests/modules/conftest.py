"""The blob store under test: each contract test runs once per backend (IPP_BLOB_STORE)."""

import pytest
from django.db import connection

from registry import blobs

# On PostgreSQL the database store commits objects through a connection of its own, so its
# tests run with transaction=True: the tables are emptied after each one.
DATABASE_STORE = pytest.param(
    "database", marks=pytest.mark.django_db(transaction=connection.vendor == "postgresql")
)


@pytest.fixture(params=["filesystem", DATABASE_STORE])
def blob_store(request, settings) -> blobs.BlobStore:
    """The site's store, of each kind in turn."""
    settings.IPP_BLOB_STORE = request.param
    return blobs.get_store()


def object_bytes(store: blobs.BlobStore, name: str) -> bytes:
    with store.open(name) as handle:
        return b"".join(handle.chunks())


def replace_object(store: blobs.BlobStore, name: str, data: bytes) -> None:
    store.delete(name)
    store.write(name, [data])
