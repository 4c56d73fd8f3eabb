import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from audit import enforced
from audit.models import AuditLog
from audit.verify import verify_logs


class Command(BaseCommand):
    help = (
        "Verify every audit log (SPEC §6): each log's entry bytes, read in index order, must "
        "give the root of every stored signed tree head of that log and the log row's root "
        "and border; the head at the log's size must exist and be signed by a live authority "
        "key (an unknown or retired key fails); every cosignature must verify with its "
        "witness's key over a head the entries give; no head, cosigned head or entry may lie "
        "past the log's size; and every row's columns (action, actor, infrastructure, "
        "subject, time, details, leaf hash, index) must agree with its bytes: on PostgreSQL "
        "its validated constraints hold them to it (checked once), elsewhere or without "
        "them every entry is decoded and compared. Prints "
        "'ok: N entries in K logs' and exits 0, or exits 1 naming each failing log and its "
        "first bad index. Each log's outcome is kept for the audit pages."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--log", action="append", dest="logs", metavar="ID", help="only this log (repeatable)"
        )
        parser.add_argument(
            "--skip-columns",
            action="store_true",
            help="only the tree pass (hashes, heads, signatures): skip decoding every entry "
            "to compare the columns beside it",
        )
        parser.add_argument(
            "--decode",
            action="store_true",
            help="decode every entry and compare its columns even where PostgreSQL's "
            "constraints hold them to its bytes (against edits of the catalogs or the "
            "database's files)",
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=os.cpu_count() or 1,
            metavar="N",
            help="read and hash big logs in N processes (default: the machine's cores; 1: "
            "in this process only)",
        )

    def handle(self, *args, logs=None, skip_columns=False, decode=False, jobs=1, **options):
        if jobs < 1:
            raise CommandError("--jobs must be at least 1")
        if skip_columns and decode:
            raise CommandError("--skip-columns and --decode exclude each other")
        if logs:
            known = set(AuditLog.objects.filter(id__in=logs).values_list("id", flat=True))
            unknown = sorted(set(logs) - known)
            if unknown:
                raise CommandError(f"no such log: {', '.join(unknown)}")
        if not (skip_columns or decode):
            why = enforced.why_not_held()
            decode = why is not None
            if decode and connection.vendor == "postgresql":
                self.stderr.write(f"warning: every entry decoded, as {why}")
        reports = verify_logs(logs, columns=not skip_columns, decode=decode, jobs=jobs)
        failed = [report for report in reports if not report.ok]
        if failed:
            lines = [str(finding) for report in failed for finding in report.findings]
            raise CommandError(f"FAILED: {len(failed)} of {len(reports)} logs\n" + "\n".join(lines))
        entries = sum(report.size for report in reports)
        self.stdout.write(f"ok: {entries} entries in {len(reports)} logs")
