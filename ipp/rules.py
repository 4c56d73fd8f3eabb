"""The IPP rulebook: what may enter an infrastructure, and why not (SPEC rules 2, 4, 6, 9).

Every way in asks here and nowhere else: a package (publish, a transfer's re-marked
package, an export imported again), a stored version (deploy across infrastructures),
copied elements, preflight and the troubleshooting page's explanation. The functions
read the database but write nothing; `ipp.services` records refusals.

A candidate is judged by three rules, in this order:
1. `foreign_mark` — it carries a mark (a sealed package's verified mark, or a stored
   version's) for another infrastructure's activation code (rule 2).
2. `key_marked_elsewhere` — its module key was first published marked by another
   infrastructure and this one holds no transfer of it (rule 9).
3. `content_marked_elsewhere` — one of its files (normalized, keyed fingerprint) first
   appeared in a version marked by another infrastructure, and this one holds no
   transfer of the module it first appeared in (rule 9).
A candidate carrying a verified mark for the target itself passes: such a mark is only
ever issued by the site to the target (its own publication or a consented transfer).
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import IntegerField, Value

from ipp.models import ContentProvenance, KeyProvenance, VersionFingerprint
from registry.models import Infrastructure, ModuleVersion

FOREIGN_MARK = "foreign_mark"
KEY_MARKED_ELSEWHERE = "key_marked_elsewhere"
CONTENT_MARKED_ELSEWHERE = "content_marked_elsewhere"
COPY_BLOCKED = "ipp_copy_blocked"

EXPLANATIONS = {
    FOREIGN_MARK: "It carries an IPP mark for another infrastructure.",
    KEY_MARKED_ELSEWHERE: (
        "Its module key was first published, marked, in another infrastructure: it may "
        "enter this one only through a transfer on the IPP portal."
    ),
    CONTENT_MARKED_ELSEWHERE: (
        "One of its source files first appeared in a module marked by another "
        "infrastructure: that module must be transferred here first."
    ),
    COPY_BLOCKED: "It is marked for another infrastructure: its elements cannot be copied.",
}


@dataclass(frozen=True)
class Candidate:
    """What asks to enter: a module key, the mark it carries (verified), its fingerprints."""

    key: uuid.UUID
    mark_code: str = ""
    fingerprints: frozenset = frozenset()


@dataclass(frozen=True)
class Verdict:
    """The rulebook's answer: allowed, or the reason of the refusal (a SPEC `reason`)."""

    reason: str | None = None

    @property
    def allowed(self) -> bool:
        return self.reason is None

    @property
    def explanation(self) -> str:
        if self.reason is None:
            return "IPP allows it here."
        return EXPLANATIONS[self.reason]


ALLOWED = Verdict()


def _holds_transfer(infrastructure: Infrastructure, keys: Iterable[uuid.UUID]) -> set:
    """The keys among `keys` of which `infrastructure` holds a version marked with its code."""
    return set(
        ModuleVersion.objects.filter(
            module__infrastructure=infrastructure,
            module__key__in=list(keys),
            marked_code=infrastructure.activation_code,
        ).values_list("module__key", flat=True)
    )


def judge(candidate: Candidate, infrastructure: Infrastructure) -> Verdict:
    """May `candidate` enter `infrastructure`? Requires: a mark, if any, already verified."""
    own_code = infrastructure.activation_code
    if candidate.mark_code:
        return ALLOWED if candidate.mark_code == own_code else Verdict(FOREIGN_MARK)
    # Where the key and the files were first marked for someone else: one query.
    marked_key = (
        KeyProvenance.objects.filter(key=candidate.key)
        .exclude(marked_code="")
        .exclude(marked_code=own_code)
        .order_by()
        .annotate(by_key=Value(1, output_field=IntegerField()))
        .values_list("key", "by_key")
    )
    if candidate.fingerprints:
        marked_files = (
            ContentProvenance.objects.filter(fingerprint__in=list(candidate.fingerprints))
            .exclude(marked_code="")
            .exclude(marked_code=own_code)
            .order_by()
            .annotate(by_key=Value(0, output_field=IntegerField()))
            .values_list("module_key", "by_key")
        )
        rows = list(marked_key.union(marked_files, all=True))
    else:
        rows = list(marked_key)
    key_marked = any(by_key for _key, by_key in rows)
    content_keys = {key for key, by_key in rows if not by_key}
    wanted = content_keys | ({candidate.key} if key_marked else set())
    if not wanted:
        return ALLOWED
    held = _holds_transfer(infrastructure, wanted)
    if key_marked and candidate.key not in held:
        return Verdict(KEY_MARKED_ELSEWHERE)
    if content_keys - held:
        return Verdict(CONTENT_MARKED_ELSEWHERE)
    return ALLOWED


def version_candidate(version: ModuleVersion) -> Candidate:
    return Candidate(
        key=version.module.key,
        mark_code=version.marked_code,
        fingerprints=frozenset(
            VersionFingerprint.objects.filter(version=version).values_list("fingerprint", flat=True)
        ),
    )


def version_verdict(version: ModuleVersion, infrastructure: Infrastructure) -> Verdict:
    """A stored version entering `infrastructure` (rule 3: its own is always allowed)."""
    if version.module.infrastructure_id == infrastructure.pk:
        return ALLOWED
    return judge(version_candidate(version), infrastructure)


def copy_verdict(version: ModuleVersion, infrastructure: Infrastructure) -> Verdict:
    """Rule 4: elements of a version marked for another infrastructure stay where they are.

    The copied files are then judged with the rest of the new version by `judge`.
    """
    if version.marked_code and version.marked_code != infrastructure.activation_code:
        return Verdict(COPY_BLOCKED)
    return ALLOWED
