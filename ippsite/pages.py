"""The dashboard: my infrastructures and their environments, and what waits for me."""
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch
from django.shortcuts import render

from modules.models import Environment, Membership
from permissions import door


@login_required
def dashboard(request):
    infrastructures = (
        door.infrastructures_for_user(request.user)
        .annotate(module_count=Count("modules", distinct=True))
        .prefetch_related(Prefetch("environments", queryset=Environment.objects.order_by("id")))
    )
    roles = dict(
        Membership.objects.filter(user=request.user).values_list("infrastructure_id", "role")
    )
    return render(
        request,
        "dashboard.html",
        {"infrastructures": infrastructures, "roles": roles, "widgets": _widgets(request)},
    )


def _widgets(request) -> list:
    """Cards other apps add to the dashboard (pending approvals...)."""
    widgets = []
    try:
        from portal.selectors import dashboard_widget
    except ImportError:
        return widgets
    widget = dashboard_widget(request.user)
    if widget:
        widgets.append(widget)
    return widgets
