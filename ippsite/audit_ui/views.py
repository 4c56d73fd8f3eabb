"""Audit pages: the filtered log with the chain status, CSV export, full verification."""

import csv
import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from audit.actions import ACTIONS
from ippsite.audit_ui.forms import AuditFilterForm
from ippsite.audit_ui.selectors import audit_entries_for_user, can_read_audit
from permissions import door

PAGE_SIZE = 50
CSV_COLUMNS = [
    "log",
    "index",
    "time",
    "actor",
    "action",
    "infrastructure",
    "subject_type",
    "subject_id",
    "subject",
    "details",
    "leaf_hash",
]


def _filter_form(request) -> AuditFilterForm:
    """The bound filter form; 403 for anyone who reads no log or asks for another's."""
    if not can_read_audit(request.user):
        raise PermissionDenied("Only support and infrastructure administrators read the audit log.")
    form = AuditFilterForm(request.GET or None, user=request.user)
    if form.is_bound and not form.is_valid() and "infrastructure" in form.errors:
        if not door.is_support(request.user):
            raise PermissionDenied(
                "You may read only the audit log of infrastructures you administer."
            )
    return form


@login_required
@require_GET
def log(request):
    form = _filter_form(request)
    page = None
    if not form.is_bound or form.is_valid():
        filters = form.filters() if form.is_bound else None
        entries = audit_entries_for_user(request.user, filters).select_related("infrastructure")
        page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
        for entry in page:
            action = ACTIONS.get(entry.action)
            entry.label = action.label if action else entry.action
            entry.badge = action.badge if action else "light"
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/log.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "is_support": door.is_support(request.user),
            "breadcrumbs": [(None, "Audit log")],
        },
    )


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


def _csv_rows(entries):
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    rows = entries.values_list(
        "log_id",
        "index",
        "created_at",
        "actor_name",
        "action",
        "infrastructure__name",
        "subject_type",
        "subject_id",
        "subject_label",
        "details",
        "leaf_hash",
    ).iterator(chunk_size=500)
    for log, index, created_at, actor, action, infra, s_type, s_id, label, details, leaf in rows:
        yield writer.writerow(
            [
                log,
                index,
                created_at.isoformat(),
                _cell(actor),
                _cell(action),
                _cell(infra),
                _cell(s_type),
                _cell(s_id),
                _cell(label),
                _cell(json.dumps(details, sort_keys=True, ensure_ascii=False)),
                bytes(leaf).hex(),
            ]
        )


@login_required
@require_GET
def export(request):
    """The filtered log as CSV, streamed row by row (bounded memory at any size)."""
    form = _filter_form(request)
    if form.is_bound and not form.is_valid():
        return HttpResponseBadRequest(
            "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items()),
            content_type="text/plain; charset=utf-8",
        )
    entries = audit_entries_for_user(request.user, form.filters() if form.is_bound else None)
    response = StreamingHttpResponse(_csv_rows(entries), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
