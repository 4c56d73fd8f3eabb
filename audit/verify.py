"""Verifying the logs: what `manage.py verify_audit` and the audit page's "verify now" run.

Every log is checked on its own (audit/checks.py): its entries against every stored signed
head, the log row, the latest head's authority signature and every cosignature (the tree
pass), then its columns against its bytes: by the database's constraints where it holds
them to the bytes (audit/enforced.py, checked once per run), else by decoding every entry
(the column pass). The outcome of each log is kept in LogVerification for pages to show;
pages never verify a whole log themselves.
"""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from audit import enforced
from audit.checks import Finding, beyond_the_log, column_pass, read_state, tree_pass
from audit.models import AuditLog, LogVerification


@dataclass
class LogReport:
    log: str
    size: int
    findings: list[Finding] = field(default_factory=list)
    # How the columns were held to the bytes: "database" (its validated constraints),
    # "decoded" (every entry decoded and compared), or "" when they were not checked.
    columns_by: str = "decoded"

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        """The finding with the smallest bad index (those naming no index last)."""
        if not self.findings:
            return None
        return min(self.findings, key=lambda f: (f.index is None, f.index or 0))


def verify_log(
    log_id: str, *, columns: bool = True, decode: bool | None = None, jobs: int = 1
) -> LogReport:
    """Every check of one log; its findings, the smallest bad index first.

    The columns are compared with the bytes entry by entry when `decode`; when it is None,
    only if the database does not hold them to the bytes itself (audit.enforced). `jobs` > 1
    lets both passes read the log in that many processes where that is safe
    (audit.summaries): for the command line, not for a web or job worker.
    """
    if columns and decode is None:
        decode = enforced.why_not_held() is not None
    state = read_state(log_id)
    findings = tree_pass(state, jobs=jobs)
    columns_by = ""
    if columns:
        columns_by = "decoded" if decode else "database"
        if decode:
            findings += column_pass(log_id, state.size, jobs=jobs)
    findings += beyond_the_log(log_id)
    findings.sort(key=lambda f: (f.index is None, f.index or 0))
    return LogReport(log_id, state.size, findings, columns_by)


def record(report: LogReport) -> None:
    """Keep the outcome for pages (one row per log, replaced by each run)."""
    first = report.first
    with transaction.atomic():
        LogVerification.objects.update_or_create(
            log_id=report.log,
            defaults={
                "verified_at": timezone.now(),
                "size": report.size,
                "ok": report.ok,
                "problem": "\n".join(str(f) for f in report.findings)[:4000],
                "bad_index": first.index if first else None,
                "columns_by": report.columns_by,
            },
        )


def verify_logs(
    log_ids: list[str] | None = None,
    *,
    columns: bool = True,
    decode: bool | None = None,
    keep: bool = True,
    jobs: int = 1,
) -> list[LogReport]:
    """Verify these logs (all by default), in id order, keeping each outcome when `keep`.

    `decode` as for verify_log; the database's constraints are looked at once for all logs.
    """
    if columns and decode is None:
        decode = enforced.why_not_held() is not None
    ids = log_ids if log_ids is not None else list(AuditLog.objects.values_list("id", flat=True))
    reports = []
    for log_id in sorted(ids):
        report = verify_log(log_id, columns=columns, decode=decode, jobs=jobs)
        if keep:
            record(report)
        reports.append(report)
    return reports
