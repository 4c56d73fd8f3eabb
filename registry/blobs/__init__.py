"""Blob storage (SPEC §9 "More than one machine"): one interface, backends by IPP_BLOB_STORE.

    filesystem   files under IPP_BLOB_DIR (the embedded default)
    database     rows in the site's database, shared by every node

`get_store()` is the store this site writes to; `store_for(kind)` any backend (for
`migrate_blobs`). Another backend (an object store) is one more BlobStore subclass here.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from registry.blobs.base import (
    BlobError,
    BlobExists,
    BlobHandle,
    BlobInfo,
    BlobMissing,
    BlobStore,
    BlobWriter,
)
from registry.blobs.database import DatabaseBlobStore
from registry.blobs.filesystem import FilesystemBlobStore

__all__ = [
    "KINDS",
    "BlobError",
    "BlobExists",
    "BlobHandle",
    "BlobInfo",
    "BlobMissing",
    "BlobStore",
    "BlobWriter",
    "DatabaseBlobStore",
    "FilesystemBlobStore",
    "get_store",
    "store_for",
]

KINDS = ("filesystem", "database")


def store_for(kind: str) -> BlobStore:
    if kind == "filesystem":
        return FilesystemBlobStore(settings.IPP_BLOB_DIR)
    if kind == "database":
        return DatabaseBlobStore()
    raise ImproperlyConfigured(f"IPP_BLOB_STORE must be one of {', '.join(KINDS)}, not {kind!r}")


def get_store() -> BlobStore:
    """The store of this site (IPP_BLOB_STORE), read at each call: settings may change."""
    return store_for(settings.IPP_BLOB_STORE)
