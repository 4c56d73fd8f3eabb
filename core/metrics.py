"""Prometheus metrics of IPP Site (SPEC §9), served at /metrics by ippsite/metrics.py.

The metric objects live here, at the bottom of the house, so any layer may observe
(`observe_publish` wraps the publish service, `observe_audit_append` the audit append).
Under gunicorn, ippsite/gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before any worker
starts, so every worker process writes its samples there and /metrics sums them: the
numbers are the node's, whichever worker answers the scrape.
"""

import time
from functools import wraps

from prometheus_client import Counter, Histogram

REQUEST_SECONDS = Histogram(
    "ipp_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route name and status class",
    ["method", "route", "status"],
)
PUBLISH_SECONDS = Histogram(
    "ipp_publish_duration_seconds",
    "Time to publish a package (validate, check, encrypt, store, deploy), by outcome",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
PUBLISH_BYTES = Counter("ipp_publish_bytes", "Bytes of packages published successfully")
AUDIT_APPEND_SECONDS = Histogram(
    "ipp_audit_append_duration_seconds",
    "Time to append one event to its audit logs (lock, hash, sign the new head)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


def _upload_size(kwargs: dict) -> int:
    size = kwargs.get("size")
    upload = kwargs.get("upload")
    if size is None:
        size = getattr(upload, "size", None)
    if size is None and upload is not None:
        try:
            position = upload.tell()
            size = upload.seek(0, 2)
            upload.seek(position)
        except (AttributeError, OSError, ValueError):
            size = 0
    return int(size or 0)


def observe_publish(func):
    """Time a publish service (outcome ok or refused) and count its package's bytes."""

    @wraps(func)
    def observed(*args, **kwargs):
        started, outcome = time.perf_counter(), "refused"
        try:
            result = func(*args, **kwargs)
            outcome = "ok"
            PUBLISH_BYTES.inc(_upload_size(kwargs))
            return result
        finally:
            PUBLISH_SECONDS.labels(outcome).observe(time.perf_counter() - started)

    return observed


def observe_audit_append(func):
    @wraps(func)
    def observed(*args, **kwargs):
        with AUDIT_APPEND_SECONDS.time():
            return func(*args, **kwargs)

    return observed
