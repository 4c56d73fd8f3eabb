"""Run by test_publish_memory.py in a process of its own: publish a package, report RSS.

    python -m tests.modules.publish_rss PACKAGE

Settings come from the environment (IPP_DATA_DIR, IPP_BLOB_STORE, DATABASE_URL). Prints
one JSON line: the resident set (KiB) after a warm-up publish, its peak while the big one
ran, and what was stored.
"""

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ippsite.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from core.levels import Level  # noqa: E402
from publishing.services import module_publish  # noqa: E402
from registry.selectors import open_version_source  # noqa: E402
from tests import factories  # noqa: E402


def status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak_rss() -> None:
    """From now on VmHWM is the peak since this call (Linux >= 4.0), not since start-up:
    the migrations and the warm-up must not hide what the publish uses."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def main(package: str) -> None:
    if connection.vendor == "sqlite":
        call_command("migrate", verbosity=0)
    user = factories.make_user("rss-developer")
    infrastructure = factories.make_infrastructure("RSS")
    factories.make_member(infrastructure, user, default_level=Level.OPEN, create_modules=True)
    environment = factories.make_environment(infrastructure, "Development")
    warm_up = factories.package_file(factories.manifest(name="WarmUp"), {"a.txt": b"x" * 5000})
    module_publish(user=user, environment=environment, upload=warm_up)
    reset_peak_rss()
    before = status_kib("VmRSS")
    with open(package, "rb") as upload:
        version = module_publish(user=user, environment=environment, upload=upload).version
    after = status_kib("VmHWM")
    reader = open_version_source(version)
    files = reader.list_files()
    last_path, last_size = files[-1]
    assert sum(len(chunk) for chunk in reader.open(last_path)) == last_size
    print(
        json.dumps(
            {"before": before, "after": after, "files": len(files), "bytes": version.source_bytes}
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
