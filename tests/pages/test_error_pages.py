"""Error pages keep the site's navigation and say what to do next."""

import pytest
from django.test import Client

from ippsite import views


@pytest.fixture
def signed_in(world):
    client = Client(raise_request_exception=False)
    client.force_login(world.developer)
    return client


def test_a_server_error_shows_the_site_with_a_next_step(signed_in, world, monkeypatch):
    def boom(request):
        raise RuntimeError("boom")

    monkeypatch.setattr("ippsite.pages.dashboard_widget", boom)
    response = signed_in.get("/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert 'href="/"' in html and "navbar" in html  # the navigation is there


def test_a_server_error_in_the_api_answers_json(rf):
    response = views.server_error(rf.get("/api/v1/modules"))
    assert response.status_code == 500
    assert b'"error": "server_error"' in response.content


def test_the_bad_request_page_has_the_navigation(signed_in):
    request_response = views.bad_request(signed_in.get("/").wsgi_request)
    assert request_response.status_code == 400
    assert b"Bad request" in request_response.content and b"navbar" in request_response.content


def test_the_404_page_says_where_to_go(signed_in):
    response = signed_in.get("/no-such-page/")
    assert response.status_code == 404
    assert b"your dashboard" in response.content


def _main(html: str) -> str:
    return html.split('id="main"', 1)[1].split("</main>", 1)[0]


@pytest.mark.parametrize("status", [400, 403, 404, 500])
def test_every_error_page_keeps_the_navigation_and_links_a_next_step(signed_in, status):
    request = signed_in.get("/").wsgi_request
    handler = {
        400: views.bad_request,
        403: views.forbidden,
        404: views.not_found,
        500: views.server_error,
    }[status]
    response = handler(request) if status == 500 else handler(request, Exception())
    html = response.content.decode()
    assert response.status_code == status
    assert 'aria-label="Site"' in html  # the site's navigation
    assert 'href="/"' in _main(html)  # and, in the page itself, where to go next


def test_a_refused_page_says_why_and_where_to_go(signed_in, world):
    infra_users = f"/infrastructures/{world.acme.pk}/teams/"
    response = signed_in.get(infra_users)
    assert response.status_code == 403
    main = _main(response.content.decode())
    assert 'data-testid="forbidden-detail"' in main and 'href="/"' in main
