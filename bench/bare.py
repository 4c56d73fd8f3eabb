"""Bare baselines: the same rows as the product's pages and endpoints, with nothing around
them (no door, no levels, no count, no per-row work beyond printing columns).

A bare page extends the site's base.html, so its chrome (navigation, context processors,
middleware) is what the product page pays too; the difference is what the product does
to decide and decorate the rows. `?page=N` picks the same 50 rows as the product's page N.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.template import engines
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from registry.models import Deployment, Membership, Module

PAGE = 50

_ROWS = """{% extends "base.html" %}{% block content %}
<h1 class="h3">{{ title }}</h1>
<table class="table table-sm"><tbody>
{% for row in rows %}<tr><td><a href="/modules/{{ row.0 }}/">{{ row.1 }}</a></td><td>{{ row.2 }}</td><td>{{ row.3 }}</td></tr>
{% endfor %}</tbody></table>{% endblock %}"""


def _template():
    return engines["django"].from_string(_ROWS)


def _page(request) -> slice:
    try:
        number = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        number = 1
    return slice((number - 1) * PAGE, number * PAGE)


def _modules(request):
    return list(
        Module.objects.order_by("name", "id").values_list(
            "id", "name", "infrastructure__name", "description"
        )[_page(request)]
    )


def _deployments(request, pk):
    return list(
        Deployment.objects.filter(environment_id=pk, is_current=True)
        .order_by("module__name", "module_id")
        .values_list("module_id", "module__name", "version__number", "version__digest")[
            _page(request)
        ]
    )


def _members(request, pk):
    infrastructure = Module.objects.values_list("infrastructure_id", flat=True).get(pk=pk)
    return list(
        Membership.objects.filter(infrastructure_id=infrastructure)
        .order_by("user__username")
        .values_list("user_id", "user__username", "role", "default_level")[_page(request)]
    )


def _html(request, title, rows):
    return _template().render({"title": title, "rows": rows}, request)


def _json(rows, fields):
    return JsonResponse({"results": [dict(zip(fields, row, strict=True)) for row in rows]})


@login_required
def modules_page(request):
    return HttpResponse(_html(request, "Modules", _modules(request)))


@login_required
def modules_json(request):
    return _json(_modules(request), ("id", "name", "infrastructure", "description"))


@login_required
def deployments_page(request, pk):
    return HttpResponse(_html(request, "Deployments", _deployments(request, pk)))


@login_required
def deployments_json(request, pk):
    return _json(_deployments(request, pk), ("module", "name", "number", "digest"))


@login_required
def members_page(request, pk):
    return HttpResponse(_html(request, "Members", _members(request, pk)))


@login_required
def members_json(request, pk):
    return _json(_members(request, pk), ("id", "username", "role", "default_level"))


@csrf_exempt
@require_POST
@login_required
def upload_json(request):
    """Reads the uploaded package and answers JSON: the request handling a publish pays."""
    upload = request.FILES["package"]
    size = sum(len(chunk) for chunk in upload.chunks())
    return JsonResponse({"size": size}, status=201)
