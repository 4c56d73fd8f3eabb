"""IPP: what may enter an environment, and the marks new versions get.

`ipp_admit` is the one IPP check, called on every way into an environment (publish,
cross-infrastructure deploy, import). `ipp_mark_for` decides and signs a new version's mark.
"""
from dataclasses import dataclass
from typing import BinaryIO, Callable

from modules.errors import InvalidIntellectualProperty, TamperedPackage
from modules.packages import Package


@dataclass
class AdmittedSource:
    """What publishing stores: the digest of the content and how to read its files."""

    digest: str
    files: list  # [(path, size)]
    open_file: Callable[[str], BinaryIO]
    incoming_mark: dict | None = None


def ipp_admit(*, package: Package, environment, user) -> AdmittedSource:
    """Check a package against IPP rules for `environment`; return its readable source."""
    if package.sealed:
        raise TamperedPackage("sealed packages are not accepted yet: the package's mark cannot be verified")
    return AdmittedSource(
        digest=package.digest,
        files=[(entry.path, entry.size) for entry in package.files],
        open_file=package.open_source,
    )


def ipp_check_version(*, version, environment, user) -> None:
    """Rule 2 for a stored version entering `environment` (deploys across infrastructures)."""
    if version.marked and version.marked_code != environment.infrastructure.activation_code:
        raise InvalidIntellectualProperty()


def ipp_mark_for(*, module, digest: str, infrastructure) -> dict | None:
    """The mark a new version of `module` gets when published in `infrastructure`."""
    return None
