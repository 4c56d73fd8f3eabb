"""Who may read which audit entries, and the filtered lists the API, page and CSV share.

Support reads every entry; an infrastructure's administrators read that infrastructure's
entries; nobody else reads the log. Scoping is one SQL filter, never per row.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils.dateparse import parse_date, parse_datetime

from audit.models import AuditEntry
from permissions import door
from registry.models import Infrastructure, Membership


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
    action: str = ""
    actor: str = ""
    since: datetime | None = None
    until: datetime | None = None


def auditable_infrastructures(user) -> QuerySet:
    """Infrastructures whose audit entries `user` may read (through the permission door)."""
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


def audit_entries_for_user(user, filters: AuditFilters | None = None) -> QuerySet:
    """The entries `user` may read, filtered, newest first.

    PermissionDenied when the user reads no audit log at all, or asks for an
    infrastructure whose log they may not read.
    """
    filters = filters or AuditFilters()
    if door.is_support(user):
        qs = AuditEntry.objects.all()
    else:
        allowed = auditable_infrastructures(user)
        allowed_ids = set(allowed.values_list("pk", flat=True))
        if not allowed_ids:
            raise PermissionDenied(
                "Only support and infrastructure administrators read the audit log."
            )
        if filters.infrastructure is not None and filters.infrastructure not in allowed_ids:
            raise PermissionDenied(
                "You may read only the audit log of infrastructures you administer."
            )
        qs = AuditEntry.objects.filter(infrastructure_id__in=allowed_ids)
    if filters.infrastructure is not None:
        qs = qs.filter(infrastructure_id=filters.infrastructure)
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
