from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ippsite.uploads import sweep_uploads


class Command(BaseCommand):
    help = (
        "Delete spooled upload files left in FILE_UPLOAD_TEMP_DIR (IPP_DATA_DIR/tmp) by a "
        "worker that died mid-request. Only files untouched for --minutes (default: "
        "IPP_UPLOAD_SWEEP_AGE) go; a live upload keeps its file fresh. The site also "
        "sweeps once when it starts."
    )

    def add_arguments(self, parser):
        default = int(settings.IPP_UPLOAD_SWEEP_AGE.total_seconds() // 60)
        parser.add_argument("--minutes", type=int, default=default)

    def handle(self, *args, minutes: int, **options):
        if minutes < 1:
            raise CommandError("--minutes must be at least 1: younger files may be live uploads")
        removed = sweep_uploads(
            settings.FILE_UPLOAD_TEMP_DIR, older_than=timedelta(minutes=minutes)
        )
        self.stdout.write(f"removed {removed} leftover upload file(s) older than {minutes} min")
