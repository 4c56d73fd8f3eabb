"""A job for the cluster test only: slow enough to kill its worker in the middle.

Loaded by a worker started with `celery -A tests.cluster.jobs worker`; it lives on the
site's own Celery app, so it runs with the same settings (acks late, reject on worker
lost) as every job of ippsite/jobs.py.
"""

import os
import time
from pathlib import Path

from ippsite.celery import app

__all__ = ["app", "slow_marker"]


@app.task(name="tests.cluster.slow_marker", acks_late=True, reject_on_worker_lost=True)
def slow_marker(directory: str, seconds: float) -> int:
    """Write started-<pid>, work `seconds`, then write done-<pid>: idempotent (a rerun
    writes its own files), so the test sees which worker finished it."""
    folder = Path(directory)
    (folder / f"started-{os.getpid()}").write_text("")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
    (folder / f"done-{os.getpid()}").write_text("")
    return os.getpid()
