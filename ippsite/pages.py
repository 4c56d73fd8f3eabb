"""The dashboard: my infrastructures and their environments, and what waits for me."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import render

from ippsite.paging import paginate
from permissions import door
from portal.selectors import dashboard_widget
from registry.models import Environment, Membership, Module

# A card shows this many environments; the infrastructure page lists them all.
CARD_ENVIRONMENTS = 6
INFRASTRUCTURES_PER_PAGE = 20


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
    page = paginate(
        request,
        door.infrastructures_for_user(user)
        .annotate(
            module_count=_count(Module, infrastructure=OuterRef("pk")),
            environment_count=_count(Environment, infrastructure=OuterRef("pk")),
        )
        .prefetch_related(
            Prefetch("environments", queryset=environments[:CARD_ENVIRONMENTS], to_attr="shown")
        )
        .order_by("name"),
        per_page=INFRASTRUCTURES_PER_PAGE,
    )
    infrastructures = list(page.object_list)
    ids = [infra.pk for infra in infrastructures]
    roles = dict(
        Membership.objects.filter(user=user, infrastructure__in=ids).values_list(
            "infrastructure_id", "role"
        )
    )
    visible = dict(
        door.modules_for_user(user)
        .filter(infrastructure__in=ids)
        .order_by()
        .values_list("infrastructure")
        .annotate(n=Count("id"))
    )
    for infra in infrastructures:
        infra.role = roles.get(infra.pk)
        infra.visible_count = visible.get(infra.pk, 0)
        infra.more_environments = infra.environment_count - len(infra.shown)
    return render(
        request,
        "dashboard.html",
        {
            "infrastructures": infrastructures,
            "page": page,
            "is_support": is_support,
            "visible_total": door.modules_for_user(user).count(),
            "widgets": _widgets(request),
        },
    )


def _count(model, **match) -> Subquery:
    """SQL: how many rows of `model` match (a subquery: no join multiplies the others)."""
    return Coalesce(
        Subquery(
            model.objects.filter(**match)
            .order_by()
            .values(*match)
            .annotate(n=Count("pk"))
            .values("n"),
            output_field=IntegerField(),
        ),
        0,
    )


def _widgets(request) -> list:
    """Cards other apps add to the dashboard (pending approvals...): each has a `template`."""
    widgets = []
    widget = dashboard_widget(request.user)
    if widget:
        widgets.append(widget)
    return widgets
