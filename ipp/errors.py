"""IPP's own domain errors (the shared ones live in modules.errors)."""

from modules.errors import DomainError


class IppCopyBlocked(DomainError):
    """Rule 4: elements of a marked module cannot be copied into another infrastructure."""

    code = "ipp_copy_blocked"
    status = 403
