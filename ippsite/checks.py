"""System checks of the site's own (`manage.py check`)."""

import os
import stat
from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Tags, register

SHOWN = 5


def _exposed(root: Path):
    """(path, mode) of everything under `root`, itself included, open to group or others.

    Symbolic links are not followed (their own mode means nothing).
    """
    for directory, _dirnames, filenames in os.walk(root):
        for path in [directory, *(os.path.join(directory, name) for name in filenames)]:
            mode = os.lstat(path).st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                yield path, stat.S_IMODE(mode)


@register(Tags.security)
def data_dir_is_private(app_configs, **kwargs):
    """ippsite.E001: IPP_DATA_DIR holds keys and source; only the site's user may read it."""
    root = Path(settings.IPP_DATA_DIR)
    if not root.exists():
        return []
    exposed = list(_exposed(root))
    if not exposed:
        return []
    listed = ", ".join(f"{path} ({mode:04o})" for path, mode in exposed[:SHOWN])
    more = f" and {len(exposed) - SHOWN} more" if len(exposed) > SHOWN else ""
    return [
        Error(
            f"{len(exposed)} path(s) under IPP_DATA_DIR are open to group or others: "
            f"{listed}{more}.",
            hint=f"Run: chmod -R go-rwx {root}",
            obj=str(root),
            id="ippsite.E001",
        )
    ]
