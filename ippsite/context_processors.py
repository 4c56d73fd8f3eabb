"""Navigation facts every page shows (kept to one cheap query)."""

from django.urls import NoReverseMatch, reverse

from ippsite.audit_ui.selectors import can_read_audit


def navigation(request):
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False):
        return {}
    links = []
    for name, label in [
        ("dashboard", "Dashboard"),
        ("catalog", "Catalog"),
        ("portal:requests", "IPP portal"),
        ("audit:logs", "Audit log"),
        ("ipp:troubleshoot", "IPP help"),
    ]:
        if name == "audit:logs" and not can_read_audit(user):
            continue  # support and administrators only: a link to a 403 is a defect
        try:
            links.append((reverse(name), label, name))
        except NoReverseMatch:
            continue
    return {"nav_links": links}
