"""Spooled upload files: sweep what a killed worker left behind in FILE_UPLOAD_TEMP_DIR."""

import os
import time
from datetime import timedelta
from pathlib import Path


def sweep_uploads(directory: str | Path, *, older_than: timedelta) -> int:
    """Delete regular files in `directory` untouched for `older_than`; returns how many.

    A live upload is written to as it arrives, so its file stays recent; only leftovers
    age. Subdirectories and symbolic links are left alone.
    """
    cutoff = time.time() - older_than.total_seconds()
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:  # another process swept it first
            continue
    return removed
