"""The job seam: lower layers ask for work to be done outside the request by name.

Services (portal, registry, audit) call `submit("portal.notify", ...)` and never import
the queue; the adapter layer (ippsite/jobs.py) defines the jobs under those names and
installs the dispatcher that hands them to Celery (a Redis broker when IPP_BROKER_URL is
set, in-process otherwise). Jobs must be idempotent: a broker delivers at least once.

Inside a transaction the job is sent only once it commits (`on_commit`), so a rolled-back
change never starts one, and a job never looks for a row that is not committed yet.
"""

from collections.abc import Callable
from typing import Any

from django.db import transaction

Dispatcher = Callable[[str, tuple, dict], Any]

_dispatcher: Dispatcher | None = None


def install(dispatcher: Dispatcher) -> None:
    """Set how jobs are sent (ippsite does, when its app is ready)."""
    global _dispatcher
    _dispatcher = dispatcher


def submit(name: str, *args, **kwargs) -> None:
    """Send job `name` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send(name, *args, **kwargs))


def send(name: str, *args, **kwargs) -> Any:
    """Send job `name` now."""
    if _dispatcher is None:
        raise RuntimeError(f"no job dispatcher installed to send {name!r} (ippsite not ready?)")
    return _dispatcher(name, args, kwargs)
