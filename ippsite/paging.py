"""Every list is paginated (SPEC §8): one helper for every page, and its template.

`paginate(request, queryset, param="page")` reads the page number from `param` (two lists
on one page use two names), costs one COUNT and one slice whatever the list's length,
and gives the template what its links need: `page.param` and `page.querystring` (the
request's other parameters — filters, the other list's page — so paging keeps them).

    {% include "_pagination.html" with page=modules_page label="Pages of modules" %}
"""

from django.core.paginator import Page, Paginator

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
