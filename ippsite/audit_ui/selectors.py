"""Who reads which audit logs, and the filtered lists the API, pages and CSV share.

Support reads every log; an infrastructure's administrators read that infrastructure's log
(which holds the transfers it received, too); nobody else reads any. Scoping is one SQL
filter on the log id, never per row. A log someone may not read is answered as absent.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.utils.dateparse import parse_date, parse_datetime

from audit.entries import SITE_LOG
from audit.models import AuditEntry, AuditLog
from permissions import door
from registry.models import Infrastructure, Membership

NO_LOG = "Only support and infrastructure administrators read the audit logs."


class BadBound(ValueError):
    """A since/until value that is neither an ISO date nor an ISO datetime."""


def parse_bound(text: str, *, end: bool) -> datetime:
    """An ISO date or datetime as an aware UTC datetime.

    A bare date means the start of that day for `since` and its last microsecond for
    `until` (both bounds are inclusive). A naive datetime is taken as UTC.
    """
    text = (text or "").strip()
    # A date first: Python's fromisoformat would read "2026-11-23" as that midnight.
    try:
        day = parse_date(text)
        moment = None if day else parse_datetime(text)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise BadBound(
            f"'{text}' is not an ISO date (2026-11-23) or datetime (2026-11-23T10:00:00Z)"
        )
    if moment is None:
        start = datetime.combine(day, time(0), tzinfo=UTC)
        return start + timedelta(days=1, microseconds=-1) if end else start
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


@dataclass
class AuditFilters:
    infrastructure: int | None = None
    log: str = ""
    action: str = ""
    actor: str = ""
    since: datetime | None = None
    until: datetime | None = None


def auditable_infrastructures(user) -> QuerySet:
    """Infrastructures whose log `user` may read (through the permission door)."""
    visible = door.infrastructures_for_user(user)
    if door.is_support(user):
        return visible
    return visible.filter(
        pk__in=Membership.objects.filter(user=user, role=Membership.Role.ADMINISTRATOR).values(
            "infrastructure"
        )
    )


def can_read_audit(user) -> bool:
    return door.is_support(user) or auditable_infrastructures(user).exists()


def readable_logs(user) -> QuerySet:
    """The logs `user` reads, as a queryset of AuditLog (empty for most users)."""
    if door.is_support(user):
        return AuditLog.objects.all()
    ids = [str(pk) for pk in auditable_infrastructures(user).values_list("pk", flat=True)]
    return AuditLog.objects.filter(id__in=ids)


def log_for_user(user, log_id) -> AuditLog:
    """One log `user` reads, else 404 (whether or not it exists)."""
    log = readable_logs(user).filter(id=str(log_id)).select_related("infrastructure").first()
    if log is None:
        raise Http404("No such audit log.")
    return log


def log_name(log: AuditLog) -> str:
    if log.id == SITE_LOG:
        return "Site (users and other events of no infrastructure)"
    return log.infrastructure.name if log.infrastructure else f"Infrastructure #{log.id}"


def audit_entries_for_user(user, filters: AuditFilters | None = None) -> QuerySet:
    """The entries `user` may read, filtered, newest first.

    PermissionDenied when the user reads no log at all, or asks for a log (or an
    infrastructure's log) they may not read.
    """
    filters = filters or AuditFilters()
    wanted = filters.log or (
        str(filters.infrastructure) if filters.infrastructure is not None else ""
    )
    if door.is_support(user):
        qs = AuditEntry.objects.all()
    else:
        allowed = {str(pk) for pk in auditable_infrastructures(user).values_list("pk", flat=True)}
        if not allowed:
            raise PermissionDenied(NO_LOG)
        if wanted and wanted not in allowed:
            raise PermissionDenied("You may read only the logs of infrastructures you administer.")
        qs = AuditEntry.objects.filter(log_id__in=allowed)
    if wanted:
        qs = qs.filter(log_id=wanted)
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.actor:
        qs = qs.filter(actor_name=filters.actor)
    if filters.since is not None:
        qs = qs.filter(created_at__gte=filters.since)
    if filters.until is not None:
        qs = qs.filter(created_at__lte=filters.until)
    return qs.order_by("-seq")


def infrastructure_names(ids) -> dict[int, str]:
    return dict(Infrastructure.objects.filter(pk__in=set(ids)).values_list("pk", "name"))
