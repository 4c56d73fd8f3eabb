"""IPP at the door of every environment: admission, refusal records, and new marks.

`ipp.rules` decides; this module gathers what the rules need (verified marks, unsealed
content, keyed fingerprints), records every refusal as `module.publish_refused` (or
`module.copy_refused`) in its own transaction, so the entry stays although the operation
fails, and signs the mark a new version gets (`ipp_mark_for`, rule 1).
"""

from dataclasses import replace

from django.db import transaction

from audit.services import audit_record
from core.errors import DomainError, InvalidIntellectualProperty, IppCopyBlocked, TamperedPackage
from core.streams import AdmittedSource
from ipp import rules
from ipp.fingerprints import Normalizer, fingerprint_chunks, fingerprint_key
from ipp.marks import sign_mark, verify_mark
from ipp.sealing import MAGIC, open_sealed
from registry.models import Infrastructure, ModuleVersion
from registry.packages import Package

O11 = Infrastructure.Platform.O11
READ_CHUNK = 1024 * 1024


# --- gathering what the rules judge (no side effects; preflight uses these) -----------


def source_fingerprints(source: AdmittedSource) -> frozenset:
    """The keyed fingerprints of every file of `source` (one streaming pass)."""
    key = fingerprint_key()
    found = set()
    for path, _size in source.files:
        with source.open_file(path) as stream:
            fp = fingerprint_chunks(iter(lambda: stream.read(READ_CHUNK), b""), key=key)
        if fp is not None:
            found.add(fp)
    return frozenset(found)


class _SourceFileCheck:
    """What IPP needs of one source file, fed its chunks: does it start like a sealed
    payload, and its keyed fingerprint. `finish()` answers (sealed, fingerprint)."""

    def __init__(self, key: bytes):
        self._normalizer = Normalizer(key)
        self._head = b""

    def feed(self, chunk: bytes) -> None:
        if len(self._head) < len(MAGIC):
            self._head += chunk[: len(MAGIC) - len(self._head)]
        self._normalizer.feed(chunk)

    def finish(self) -> tuple[bool, str | None]:
        return self._head == MAGIC, self._normalizer.finish()


def package_observer():
    """For `open_package(observe=...)`: fingerprints and the sealed-payload test computed
    in the package's digest pass, so admission need not read the package again."""
    key = fingerprint_key()
    return lambda _path: _SourceFileCheck(key)


def _file_checks(package: Package):
    """(path, sealed, fingerprint) of each source file, from the digest pass if observed."""
    if package.observed is not None:
        for entry in package.files:
            yield entry.path, *package.observed[entry.path]
        return
    key = fingerprint_key()
    for entry in package.files:
        with package.open_source(entry.path) as stream:
            first = stream.read(READ_CHUNK)
            if first.startswith(MAGIC):
                yield entry.path, True, None
                return
            rest = iter(lambda: stream.read(READ_CHUNK), b"")
            yield entry.path, False, fingerprint_chunks(_prepend(first, rest), key=key)


def _unsealed_source(package: Package) -> AdmittedSource:
    """An unsealed package's source with its fingerprints; refuses a stripped seal."""
    found = set()
    for path, sealed, fp in _file_checks(package):
        if sealed:
            # A sealed payload moved under src/ without its mark: nothing publishable.
            raise TamperedPackage(
                f"src/{path} is a sealed payload without its mark: a sealed package "
                "is published whole, with its mark.json, or not at all"
            )
        if fp is not None:
            found.add(fp)
    return AdmittedSource(
        digest=package.digest,
        files=[(entry.path, entry.size) for entry in package.files],
        open_file=package.open_source,
        fingerprints=frozenset(found),
    )


def _prepend(first: bytes, rest):
    yield first
    yield from rest


def package_verdict(
    *, package: Package, environment
) -> tuple[AdmittedSource | None, rules.Verdict]:
    """(source, verdict) for a package entering `environment`; writes nothing.

    A sealed package's mark must verify and its payload unseal to the content the mark
    names (else TamperedPackage). A foreign mark is refused before anything is unsealed.
    """
    infrastructure = environment.infrastructure
    if package.sealed:
        verify_mark(package.mark, key=package.manifest.key)
        code = package.mark["activation_code"]
        if code != infrastructure.activation_code:
            return None, rules.Verdict(rules.FOREIGN_MARK)
        source = open_sealed(package, fingerprint_key=fingerprint_key())
        candidate = rules.Candidate(package.manifest.key, code, source.fingerprints)
        if infrastructure.platform != O11:
            source.incoming_mark = None  # rule 6: nothing is marked on odc
    else:
        source = _unsealed_source(package)
        candidate = rules.Candidate(package.manifest.key, "", source.fingerprints)
    return source, rules.judge(candidate, infrastructure)


# --- admission, audited ------------------------------------------------------------------


def _record_refusal(
    *, user, environment, key, name, reason, action="module.publish_refused", extra=None
):
    infrastructure = environment.infrastructure
    with transaction.atomic():
        audit_record(
            actor=user,
            action=action,
            infrastructure=infrastructure,
            subject=environment,
            details={
                "module": name,
                "key": str(key),
                "environment": environment.name,
                "infrastructure": infrastructure.name,
                "reason": reason,
                **(extra or {}),
            },
        )


def ipp_admit(*, package: Package, environment, user) -> AdmittedSource:
    """The package's readable source if IPP admits it into `environment`.

    Refusals are recorded: `invalid_intellectual_property` with its `reason`, and
    `tampered_package`.
    """
    manifest = package.manifest
    try:
        source, verdict = package_verdict(package=package, environment=environment)
    except TamperedPackage as exc:
        _record_refusal(
            user=user,
            environment=environment,
            key=manifest.key,
            name=manifest.name,
            reason=exc.code,
            extra={"detail": exc.detail, "sealed": package.sealed},
        )
        raise
    if not verdict.allowed:
        _record_refusal(
            user=user,
            environment=environment,
            key=manifest.key,
            name=manifest.name,
            reason=verdict.reason,
            extra={"sealed": package.sealed},
        )
        raise InvalidIntellectualProperty(reason=verdict.reason)
    return source


def ipp_check_version(*, version: ModuleVersion, environment, user) -> frozenset:
    """A stored version entering `environment` (deploys); its fingerprints if admitted."""
    candidate = rules.version_candidate(version)
    verdict = rules.version_verdict(version, environment.infrastructure)
    if not verdict.allowed:
        _record_refusal(
            user=user,
            environment=environment,
            key=version.module.key,
            name=version.module.name,
            reason=verdict.reason,
            extra={
                "version": version.number,
                "from_infrastructure": version.module.infrastructure.name,
            },
        )
        raise InvalidIntellectualProperty(reason=verdict.reason)
    return candidate.fingerprints


def ipp_admit_source(
    *, source: AdmittedSource, key, name: str, environment, user
) -> AdmittedSource:
    """Source assembled by the site (copied elements) entering `environment`."""
    fingerprints = source_fingerprints(source)
    mark_code = (source.incoming_mark or {}).get("activation_code", "")
    verdict = rules.judge(rules.Candidate(key, mark_code, fingerprints), environment.infrastructure)
    if not verdict.allowed:
        _record_refusal(
            user=user, environment=environment, key=key, name=name, reason=verdict.reason
        )
        raise InvalidIntellectualProperty(reason=verdict.reason)
    return replace(source, fingerprints=fingerprints)


def ipp_check_copy(*, user, version: ModuleVersion, target, elements: list) -> None:
    """Rule 4 for copying `elements` of `version` into module `target`; audited refusal."""
    verdict = rules.copy_verdict(version, target.infrastructure)
    if verdict.allowed:
        return
    source = version.module
    with transaction.atomic():
        audit_record(
            actor=user,
            action="module.copy_refused",
            infrastructure=target.infrastructure,
            subject=version,
            details={
                "module": source.name,
                "key": str(source.key),
                "version": version.number,
                "target": target.name,
                "target_key": str(target.key),
                "target_infrastructure": target.infrastructure.name,
                "elements": elements,
                "reason": IppCopyBlocked.code,
            },
        )
    raise IppCopyBlocked(
        f"{source.name} v{version.number} is protected by IPP for another infrastructure: "
        f"its elements cannot be copied into {target.name} of {target.infrastructure.name}."
    )


def ipp_mark_for(*, module, digest: str, infrastructure) -> dict | None:
    """The mark a new version of `module` gets when published in `infrastructure`.

    Protected o11 infrastructures mark (epoch 1) with their activation code; unprotected
    ones and odc (rule 6) do not. Existing versions are never re-marked in place.
    """
    if infrastructure.platform != O11 or not infrastructure.ipp_protected:
        return None
    return sign_mark(
        key=module.key, digest=digest, activation_code=infrastructure.activation_code, epoch=1
    )


__all__ = [
    "DomainError",
    "ipp_admit",
    "ipp_admit_source",
    "ipp_check_copy",
    "ipp_check_version",
    "ipp_mark_for",
    "package_verdict",
    "source_fingerprints",
]
