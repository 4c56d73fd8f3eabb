"""Domain errors raised by services; the API and the pages turn them into responses.

Each carries the SPEC's error code and HTTP status, so every way in answers alike.
"""

IPP_MESSAGE = (
    "Invalid Intellectual Property: You are trying to upload or publish a solution that was "
    "created in a Platform Server and its intellectual Property is protected"
)


class DomainError(Exception):
    code = "error"
    status = 400

    def __init__(self, detail: str, *, code: str | None = None, status: int | None = None):
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class InvalidPackage(DomainError):
    """The package breaks a rule of SPEC §4 (413 when it is too large)."""

    code = "invalid_package"
    status = 400


class TamperedPackage(DomainError):
    code = "tampered_package"
    status = 400


class InvalidIntellectualProperty(DomainError):
    """Rules 2 and 9. `reason` says which rule: foreign_mark, key_marked_elsewhere or
    content_marked_elsewhere; the detail is always the exact message of rule 2."""

    code = "invalid_intellectual_property"
    status = 403

    def __init__(self, detail: str = IPP_MESSAGE, *, reason: str | None = None):
        super().__init__(detail)
        self.reason = reason


class BrokenReference(DomainError):
    code = "broken_reference"
    status = 409


class Conflict(DomainError):
    code = "conflict"
    status = 409


class NotAllowed(DomainError):
    code = "permission_denied"
    status = 403


class ValidationFailed(DomainError):
    code = "invalid_request"
    status = 400


class IppCopyBlocked(DomainError):
    """Rule 4: elements of a marked module cannot be copied into another infrastructure."""

    code = "ipp_copy_blocked"
    status = 403


class EnvironmentProtected(DomainError):
    """SPEC §3: publishing or deploying into a protected environment needs an administrator
    of its infrastructure or one of the environment's deployers (besides `publish`)."""

    code = "environment_protected"
    status = 403
