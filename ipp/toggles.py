"""Support's switches on an infrastructure: IPP protection and portal blocking (rule 8)."""

from django.db import transaction

from audit.services import audit_record
from core.errors import NotAllowed
from permissions import door
from registry.models import Infrastructure


def infrastructure_set_flags(
    *,
    actor,
    infrastructure: Infrastructure,
    ipp_protected: bool | None = None,
    portal_blocked: bool | None = None,
) -> Infrastructure:
    """Change `ipp_protected` and/or `portal_blocked`; support only; each change audited."""
    if not door.is_support(actor):
        raise NotAllowed("Only support may change IPP protection or portal blocking.")
    with transaction.atomic():
        infra = Infrastructure.objects.select_for_update().get(pk=infrastructure.pk)
        changed = []
        if ipp_protected is not None and ipp_protected != infra.ipp_protected:
            audit_record(
                actor=actor,
                action="ipp.protection_changed",
                infrastructure=infra,
                subject=infra,
                details={"from": infra.ipp_protected, "to": ipp_protected},
            )
            infra.ipp_protected = ipp_protected
            changed.append("ipp_protected")
        if portal_blocked is not None and portal_blocked != infra.portal_blocked:
            audit_record(
                actor=actor,
                action="ipp.portal_blocked" if portal_blocked else "ipp.portal_unblocked",
                infrastructure=infra,
                subject=infra,
                details={"from": infra.portal_blocked, "to": portal_blocked},
            )
            infra.portal_blocked = portal_blocked
            changed.append("portal_blocked")
        if changed:
            infra.save(update_fields=changed)
    return infra
