"""The jobs of IPP Site (SPEC §9): work that does not belong in a request.

Services below ask for a job by name through `core.jobs.submit` (sent once their
transaction commits); this module defines each name as a Celery task calling the service
that does the work, and installs the dispatcher (`install`, from ippsite.apps). With a
broker (IPP_BROKER_URL) a worker runs them (`celery -A ippsite worker`); without one
(the embedded default) Celery's eager mode runs them in-process, synchronously.

Every job is idempotent: the broker delivers at least once, and a job is acknowledged
only once done (acks late), so a worker killed mid-job leaves it to another worker, which
runs it again from the start. E-mail is the one effect that cannot be undone: a worker
killed between sending and acknowledging sends that notice twice.
"""

import logging
import smtplib
from datetime import timedelta

from django.conf import settings

from audit.verify import verify_logs
from core import jobs
from ippsite.celery import app
from ippsite.sessions import SessionStore
from ippsite.uploads import sweep_uploads as sweep_upload_dir
from portal import notifications
from portal.models import TransferRequest
from portal.services.packages import build_transfer_packages
from registry import rotation
from registry.sweep import DEFAULT_GRACE
from registry.sweep import sweep_blobs as sweep_blob_store

logger = logging.getLogger(__name__)

# Not acknowledged until done, and given back to the queue when the worker dies.
JOB = {"acks_late": True, "reject_on_worker_lost": True}
EMAIL_RETRIES = 6


def send(name: str, args: tuple, kwargs: dict):
    """The dispatcher: hand job `name` to Celery (in-process when there is no broker)."""
    task = app.tasks[name]
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return task.apply(args, kwargs)
    try:
        return task.apply_async(args, kwargs)
    except Exception:  # the change that asked for it is committed; say so loudly, go on
        logger.exception("could not queue job %s%r: is the broker (IPP_BROKER_URL) up?", name, args)
        return None


def install() -> None:
    jobs.install(send)


@app.task(name="portal.notify", bind=True, max_retries=EMAIL_RETRIES, **JOB)
def notify(self, kind: str, transfer_id: int) -> int:
    """E-mail one notice about a transfer request (EMAIL_TIMEOUT; retried with back-off)."""
    try:
        return notifications.notify(kind, transfer_id)
    except TransferRequest.DoesNotExist:
        return 0
    except (OSError, smtplib.SMTPException) as exc:
        if self.request.is_eager or self.request.retries >= self.max_retries:
            # In-process there is no later: the decision stands, the notice is lost.
            logger.exception("could not send the %s notice of transfer #%s", kind, transfer_id)
            return 0
        raise self.retry(exc=exc, countdown=min(3600, 30 * 2**self.request.retries)) from exc


@app.task(name="portal.build_packages", **JOB)
def build_packages(transfer_id: int) -> bool:
    """Store an approved transfer's re-marked packages once; then tell who waits for them."""
    ready = build_transfer_packages(transfer_id)
    if ready:
        transfer = TransferRequest.objects.get(pk=transfer_id)
        jobs.send("portal.notify", "destination", transfer_id)
        # Approved at once (the requester administers the source): they decided, no notice.
        if transfer.decided_by_id != transfer.requester_id:
            jobs.send("portal.notify", "outcome", transfer_id)
    return ready


@app.task(name="registry.rewrap_master_keys", **JOB)
def rewrap_master_keys(after_pk: int = 0, batch: int = rotation.DEFAULT_BATCH) -> int:
    """One batch of a master key rotation (its own transaction), then queue the next.

    Resumable and idempotent: rows already on the current key are skipped, so a batch run
    twice, or a chain cut by a dead worker and started again from 0, loses nothing.
    """
    count, last = rotation.rewrap_batch(after_pk=after_pk, limit=batch)
    if last is not None:
        jobs.send("registry.rewrap_master_keys", last, batch)
    return count


@app.task(name="audit.verify_logs", **JOB)
def verify_audit_logs() -> int:
    """Verify every audit log and keep each outcome for the audit pages (as verify_audit
    --decode: in the background, every entry is decoded even where PostgreSQL's constraints
    hold the columns to the bytes, against edits below SQL)."""
    reports = verify_logs(decode=True)
    for report in reports:
        if not report.ok:
            logger.error("audit log %s failed verification: %s", report.log, report.findings[0])
    return sum(1 for report in reports if not report.ok)


@app.task(name="registry.sweep_blobs", **JOB)
def sweep_blobs() -> int:
    """Remove stored source no version points to (older than the sweeper's grace period)."""
    report = sweep_blob_store(grace=DEFAULT_GRACE)
    return len(report.removed) + len(report.leftovers)


@app.task(name="ippsite.sweep_uploads", **JOB)
def sweep_uploads() -> int:
    """Remove upload spool files a killed process left on this node (FILE_UPLOAD_TEMP_DIR)."""
    return sweep_upload_dir(
        settings.FILE_UPLOAD_TEMP_DIR, older_than=settings.IPP_UPLOAD_SWEEP_AGE or timedelta()
    )


@app.task(name="ippsite.clear_sessions", **JOB)
def clear_sessions() -> None:
    """Delete expired sessions: Django's clear_expired, as `manage.py clearsessions` runs it
    (nothing else removes a session nobody signed out of)."""
    SessionStore.clear_expired()
