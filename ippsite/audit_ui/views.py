"""Audit pages: the logs one may read, one log's entries with its signed head and the outcome of
its last verification, CSV export, and "verify now". A page never verifies a whole log."""

import csv
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from audit.models import LogVerification, TreeHead
from audit.verify import record, verify_log
from ippsite.audit_ui import display
from ippsite.audit_ui.forms import AuditFilterForm
from ippsite.audit_ui.selectors import (
    NO_LOG,
    audit_entries_for_user,
    can_read_audit,
    log_for_user,
    log_name,
    readable_logs,
)

PAGE_SIZE = 50
CSV_COLUMNS = [
    "log",
    "index",
    "time",
    "actor",
    "action",
    "infrastructure",
    "also",
    "subject_type",
    "subject_id",
    "subject",
    "details",
    "leaf_hash",
]


def _require_reader(user) -> None:
    if not can_read_audit(user):
        raise PermissionDenied(NO_LOG)


@login_required
@require_GET
def logs(request):
    """The logs the viewer reads, each with its size and last verification."""
    _require_reader(request.user)
    found = list(readable_logs(request.user).select_related("infrastructure", "verification"))
    if len(found) == 1:
        return redirect("audit:log", log=found[0].id)
    return render(
        request,
        "audit/logs.html",
        {
            "logs": [(log, log_name(log), getattr(log, "verification", None)) for log in found],
            "breadcrumbs": [(None, "Audit log")],
        },
    )


def _status(log) -> dict:
    """The last verification's outcome and the latest signed head, as the page shows them."""
    verification = LogVerification.objects.filter(log_id=log.id).first()
    head = TreeHead.objects.filter(log_id=log.id, size=log.size).first()
    return {
        "verification": verification,
        "unverified": log.size - verification.size if verification else log.size,
        "head": display.head_view(head),
    }


@login_required
@require_GET
def log(request, log):
    """One log: its signed head, its last verification, its entries newest first."""
    found = log_for_user(request.user, log)
    form = AuditFilterForm(request.GET or None)
    page = None
    if not form.is_bound or form.is_valid():
        entries = audit_entries_for_user(request.user, form.filters(found.id))
        entries = entries.select_related("infrastructure", "also").order_by("-index")
        page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
        page.rows = display.rows(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    name = log_name(found)
    return render(
        request,
        "audit/log.html",
        {
            "log": found,
            "name": name,
            "form": form,
            "page": page,
            "query": query.urlencode(),
            **_status(found),
            "breadcrumbs": [(reverse("audit:logs"), "Audit log"), (None, name)],
        },
    )


@login_required
@require_POST
def verify(request, log):
    """Verify this log in full now (support and its administrators) and keep the outcome."""
    found = log_for_user(request.user, log)
    report = verify_log(found.id)
    record(report)
    if report.ok:
        messages.success(request, f"Verified in full: {report.size} entries, every check passed.")
    else:
        messages.error(request, f"Verification failed: {report.first}")
    return redirect("audit:log", log=found.id)


class _Echo:
    """A write-only file for csv.writer: hands each row straight to the response."""

    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    text = "" if value is None else str(value)
    # Spreadsheets run cells starting with these as formulas; user text must stay text.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


_CSV_FIELDS = (
    "log_id",
    "index",
    "created_at",
    "actor_name",
    "action",
    "infrastructure__name",
    "also__name",
    "subject_type",
    "subject_id",
    "subject_label",
    "details",
    "leaf_hash",
)


def _csv_rows(entries):
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for row in entries.values_list(*_CSV_FIELDS).iterator(chunk_size=500):
        log, index, created_at, *text, details, leaf_hash = row
        yield writer.writerow(
            [
                log,
                index,
                created_at.isoformat(),
                *map(_cell, text),
                _cell(json.dumps(details, sort_keys=True, ensure_ascii=False)),
                bytes(leaf_hash).hex(),
            ]
        )


@login_required
@require_GET
def export(request, log):
    """The log's filtered entries as CSV, streamed row by row (bounded memory at any size)."""
    found = log_for_user(request.user, log)
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return HttpResponseBadRequest(
            "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items()),
            content_type="text/plain; charset=utf-8",
        )
    entries = audit_entries_for_user(request.user, form.filters(found.id)).order_by("-index")
    response = StreamingHttpResponse(_csv_rows(entries), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{found.id}-{stamp}.csv"'
    return response
