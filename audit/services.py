"""Recording what happened. Call inside the transaction of what is being recorded."""

from dataclasses import dataclass

from django.utils import timezone

from audit.appending import append_batch, append_events
from audit.entries import LABEL_MAX, Event, clean, log_id_for
from audit.models import AuditEntry

__all__ = ["Pending", "audit_event", "audit_record", "audit_record_all", "audit_record_many"]


def _subject(subject) -> tuple[str, str, str]:
    """(type, id, label): the model's name, its pk, and what a person reads, e.g. "CustomerCore v3"."""
    if subject is None:
        return "", "", ""
    label = clean(str(subject))[:LABEL_MAX]
    return subject._meta.model_name, str(subject.pk), label


@dataclass(frozen=True)
class Pending:
    """An event built but not yet appended: `audit_record_all` appends it."""

    event: Event
    owners: dict  # {log id: infrastructure id}
    log_id: str  # the log of `infrastructure` (the entry audit_record returns)


def audit_event(
    *,
    actor,
    action: str,
    infrastructure=None,
    subject=None,
    details: dict | None = None,
    also=None,
) -> Pending:
    """The entry `audit_record` would append, built now (its time is now), appended by
    `audit_record_all` later in the same transaction."""
    subject_type, subject_id, subject_label = _subject(subject)
    infrastructure_id = getattr(infrastructure, "pk", None)
    also_id = getattr(also, "pk", None)
    if also_id == infrastructure_id:
        also_id = None
    event = Event(
        time=timezone.now(),
        action=action,
        actor_id=actor.pk if getattr(actor, "pk", None) else None,
        actor_name=clean(getattr(actor, "username", "") or ""),
        infrastructure_id=infrastructure_id,
        also_id=also_id,
        subject_type=subject_type,
        subject_id=subject_id,
        subject_label=subject_label,
        details=clean(details or {}),
    )
    log_id = log_id_for(infrastructure_id)
    owners = {log_id: infrastructure_id}
    if also_id is not None:
        owners[log_id_for(also_id)] = also_id
    return Pending(event, owners, log_id)


def audit_record_all(pending: list[Pending]) -> list[AuditEntry]:
    """Append these events, in order, in the caller's transaction and in one step: each log
    written is locked once (in log-id order) and signs one head over its new entries.
    Returns each event's entry in its `infrastructure`'s log."""
    appended = append_batch([(p.event, p.owners) for p in pending])
    return [entries[p.log_id] for p, entries in zip(pending, appended, strict=True)]


def audit_record(
    *,
    actor,
    action: str,
    infrastructure=None,
    subject=None,
    details: dict | None = None,
    also=None,
) -> AuditEntry:
    """Append one entry to `infrastructure`'s log (the `site` log when None), in the caller's
    transaction; also to `also`'s log when the event concerns a second infrastructure (a
    transfer's destination). Returns the entry in `infrastructure`'s log.

    `subject` is a model instance: its model name, pk and str() are recorded. `details` is
    stored as JSON (floats, datetimes, UUIDs as strings). Only the logs written are locked.
    """
    pending = audit_event(
        actor=actor,
        action=action,
        infrastructure=infrastructure,
        subject=subject,
        details=details,
        also=also,
    )
    return audit_record_all([pending])[0]


def audit_record_many(*, actor, action: str, infrastructure, records) -> int:
    """Append one entry per (subject, details) of `records` to `infrastructure`'s log, in
    the caller's transaction and in one append: the entries are those audit_record would
    write one by one, under a single signed tree head. Returns how many were written.
    """
    infrastructure_id = getattr(infrastructure, "pk", None)
    now = timezone.now()
    actor_id = actor.pk if getattr(actor, "pk", None) else None
    actor_name = clean(getattr(actor, "username", "") or "")
    events = []
    for subject, details in records:
        subject_type, subject_id, subject_label = _subject(subject)
        events.append(
            Event(
                time=now,
                action=action,
                actor_id=actor_id,
                actor_name=actor_name,
                infrastructure_id=infrastructure_id,
                also_id=None,
                subject_type=subject_type,
                subject_id=subject_id,
                subject_label=subject_label,
                details=clean(details or {}),
            )
        )
    if events:
        append_events(events, {log_id_for(infrastructure_id): infrastructure_id})
    return len(events)
