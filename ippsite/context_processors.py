"""Navigation facts every page shows: only links the signed-in reader may open.

A link that leads to 403 is a defect (SPEC §8), so each entry that not everyone may
open names who may: a predicate of the user, asked once per page (one cheap query).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from ippsite.audit_ui.selectors import can_read_audit
from permissions.door import is_support


def _everyone(user) -> bool:
    return True


@dataclass(frozen=True)
class NavLink:
    name: str  # the URL name
    label: str
    visible: Callable = _everyone


NAVIGATION = [
    NavLink("dashboard", "Dashboard"),
    NavLink("catalog", "Catalog"),
    NavLink("portal:requests", "IPP portal"),
    NavLink("audit:logs", "Audit log", can_read_audit),
    NavLink("ipp:troubleshoot", "IPP help"),
    NavLink("support_users", "Support console", is_support),
]


def navigation(request):
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False):
        return {}
    links = []
    for link in NAVIGATION:
        try:
            href = reverse(link.name)
        except NoReverseMatch:
            continue
        if link.visible(user):
            links.append((href, link.label, link.name))
    return {"nav_links": links}
