"""The dashboard: my infrastructures and their environments, and what waits for me."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q
from django.shortcuts import render

from permissions import door
from portal.selectors import dashboard_widget
from registry.models import Environment, Membership


@login_required
def dashboard(request):
    user = request.user
    is_support = door.is_support(user)
    # Counts disclose nothing a user may not see: support and administrators count every
    # module of their infrastructures; others count only the modules they have a level on.
    current = Q(deployments__is_current=True)
    if not is_support:
        current &= Q(deployments__module__in=door.modules_for_user(user).values("pk"))
    environments = Environment.objects.annotate(
        deployed_count=Count("deployments", filter=current)
    ).order_by("id")
    infrastructures = list(
        door.infrastructures_for_user(user)
        .annotate(module_count=Count("modules", distinct=True))
        .prefetch_related(Prefetch("environments", queryset=environments))
        .order_by("name")
    )
    roles = dict(Membership.objects.filter(user=user).values_list("infrastructure_id", "role"))
    visible = dict(
        door.modules_for_user(user).order_by().values_list("infrastructure").annotate(n=Count("id"))
    )
    for infra in infrastructures:
        infra.role = roles.get(infra.pk)
        infra.visible_count = visible.get(infra.pk, 0)
    return render(
        request,
        "dashboard.html",
        {
            "infrastructures": infrastructures,
            "is_support": is_support,
            "visible_total": sum(visible.values()),
            "widgets": _widgets(request),
        },
    )


def _widgets(request) -> list:
    """Cards other apps add to the dashboard (pending approvals...): each has a `template`."""
    widgets = []
    widget = dashboard_widget(request.user)
    if widget:
        widgets.append(widget)
    return widgets
