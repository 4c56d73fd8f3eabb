"""Every list is paginated (SPEC §8): one helper for every page, and its template.

`paginate(request, queryset, param="page")` reads the page number from `param` (two lists
on one page use two names), costs one COUNT and one slice whatever the list's length,
and gives the template what its links need: `page.param` and `page.querystring` (the
request's other parameters — filters, the other list's page — so paging keeps them).

    {% include "_pagination.html" with page=modules_page label="Pages of modules" %}

`paginate_keys(request, keys, fill)` pages a list whose rows cost something each (levels,
latest versions): `keys` is the filtered, ordered queryset with nothing per row (or its
pks compiled beforehand, core.statements.CompiledKeys), and
`fill(pks)` loads the rows of the page shown with what they need (model instances, or
dicts with a "pk" key). A deep page then costs
what the first does: nothing is computed for the rows skipped.
"""

from django.core.paginator import Page, Paginator
from django.urls import reverse

from core.statements import CompiledKeys

PAGE_SIZE = 50


def querystring(request, *drop: str) -> str:
    """The request's query string without the parameters named in `drop`."""
    params = request.GET.copy()
    for name in drop:
        params.pop(name, None)
    return params.urlencode()


def paginate(request, queryset, *, param: str = "page", per_page: int = PAGE_SIZE) -> Page:
    page = Paginator(queryset, per_page).get_page(request.GET.get(param))
    page.param = param
    page.querystring = querystring(request, param)
    return page


def paginate_keys(request, keys, fill, *, param: str = "page", per_page: int = PAGE_SIZE) -> Page:
    """`paginate` over the primary keys of `keys`; `page.object_list` is then the rows
    `fill(pks)` gives for the page's keys, in the page's order (a row `fill` leaves out,
    e.g. gone meanwhile, is left out)."""
    page = paginate(request, pks_of(keys), param=param, per_page=per_page)
    pks = list(page.object_list)
    by_pk = {_pk_of(row): row for row in fill(pks)} if pks else {}
    page.object_list = [by_pk[pk] for pk in pks if pk in by_pk]
    return page


def pks_of(keys):
    """What a paginator pages for `keys`: CompiledKeys as they are, a queryset's pks."""
    return keys if isinstance(keys, CompiledKeys) else keys.values_list("pk", flat=True)


def _pk_of(row):
    """A row's pk: model instances, or dicts with a "pk" key (rows built for a page)."""
    return row["pk"] if isinstance(row, dict) else row.pk


_MARKER = 987654321987654321


def url_maker(name: str, *first, after=()):
    """`pk -> reverse(name, args=[*first, pk, *after])` for a route whose varying argument
    is an int: reversed once, so a page of rows does not pay a reverse() per row."""
    url = reverse(name, args=[*first, _MARKER, *after])
    prefix, _, suffix = url.partition(str(_MARKER))
    return lambda pk: f"{prefix}{int(pk)}{suffix}"
