"""Navigation facts every page shows (kept to one cheap query)."""

from django.urls import NoReverseMatch, reverse


def navigation(request):
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False):
        return {}
    links = []
    for name, label in [
        ("dashboard", "Dashboard"),
        ("catalog", "Catalog"),
        ("portal:requests", "IPP portal"),
        ("audit:log", "Audit log"),
        ("ipp:troubleshoot", "IPP help"),
    ]:
        try:
            links.append((reverse(name), label, name))
        except NoReverseMatch:
            continue
    return {"nav_links": links}
