"""The navigation offers only what the reader may open; every page has a skip link."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.site.helpers import post_login

pytestmark = pytest.mark.django_db


def _nav_hrefs(html: str) -> list[str]:
    nav = html.split('id="nav"', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'href="([^"]+)"', nav)


@pytest.mark.parametrize(
    ("persona", "audit"),
    [
        ("support", True),
        ("acme_admin", True),
        ("emca_admin", True),
        ("developer", False),
        ("contractor", False),
        ("outsider", False),
    ],
)
def test_the_audit_log_is_offered_only_to_those_who_may_read_it(world, as_user, persona, audit):
    client = as_user(world.personas()[persona])
    hrefs = _nav_hrefs(client.get(reverse("dashboard")).content.decode())
    assert (reverse("audit:logs") in hrefs) is audit
    for href in hrefs:
        assert client.get(href).status_code == 200, href


def test_every_page_starts_with_a_skip_link_to_the_main_content(world, as_user):
    html = as_user(world.developer).get(reverse("catalog")).content.decode()
    body = html.split("<body", 1)[1]
    first_link = re.search(r"<a [^>]*>", body).group(0)
    assert 'href="#main"' in first_link
    assert 'id="main"' in html


def test_the_current_page_is_marked_in_the_navigation(world, as_user):
    html = as_user(world.developer).get(reverse("catalog")).content.decode()
    assert re.search(r'class="nav-link active" aria-current="page" href="/catalog/"', html)


def test_a_wrong_password_is_reported_once(world):
    response = post_login(Client(), world.developer.username, "wrong")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('role="alert"') == 1
    assert html.count("Wrong username or password") == 1
    assert "Please enter a correct username" not in html


@pytest.mark.parametrize("persona", ["support", "acme_admin", "developer", "contractor"])
def test_the_environment_page_links_to_its_preflight_and_it_opens(world, as_user, persona):
    client = as_user(world.personas()[persona])
    html = client.get(reverse("environment", args=[world.acme_dev_env.pk])).content.decode()
    preflight = reverse("ipp:preflight", args=[world.acme_dev_env.pk])
    assert f'href="{preflight}"' in html
    assert client.get(preflight).status_code == 200
