"""Search-as-you-type for the pages' member pickers (static/js/picker.js).

A small JSON answer, never a list of everyone: at most `PICKER_LIMIT` matches by name,
and whether there are more (keep typing). Same door as the pages that use it: the
infrastructure's administrators only (404 invisible, 403 visible but not administered).
"""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from permissions import door, selectors

PICKER_LIMIT = 20


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@login_required
@require_GET
def member_picker(request, pk):
    """`?q=` part of a username; `team=` leaves out that team's members; `others=1`
    leaves out the reader (nobody grants themselves a level).
    """
    infrastructure = door.administered_infrastructure_for_user(request.user, pk)
    rows, more = selectors.member_search(
        infrastructure,
        q=request.GET.get("q", "").strip().replace("\x00", ""),
        not_in_team=_int_or_none(request.GET.get("team")),
        not_user=request.user if request.GET.get("others") else None,
        limit=PICKER_LIMIT,
    )
    results = [{"value": username, "label": f"{username} · {role}"} for username, role in rows]
    return JsonResponse({"results": results, "more": more})
