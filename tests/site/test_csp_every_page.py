"""The Content-Security-Policy is on every page, not only the ones named in test_csp.py.

Support signs in on the demo data and follows every same-site link from the dashboard
(each URL shape a few times, through Django's test client); every HTML page it reaches
carries the strict policy.
"""

import io
import re
from collections import Counter
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.site.test_csp import _assert_strict

pytestmark = pytest.mark.django_db

LINK = re.compile(r'href="([^"#]+)"')
SKIP = ("/static/", "/logout", "/admin/", "/api/")


def _shape(path: str) -> str:
    return re.sub(r"/\d+", "/#", urlsplit(path).path)


def test_every_page_support_can_reach_sends_the_strict_policy(client):
    call_command("seed_demo", stdout=io.StringIO())
    client.force_login(get_user_model().objects.get(username="support"))
    queue, seen, shapes, pages = ["/"], {"/"}, Counter(), 0
    while queue and pages < 150:
        path = queue.pop(0)
        response = client.get(path)
        if not response.get("Content-Type", "").startswith("text/html"):
            continue
        pages += 1
        _assert_strict(response)
        for href in LINK.findall(response.content.decode()):
            target = urljoin(path, href.replace("&amp;", "&"))
            if urlsplit(target).netloc or target.startswith(SKIP) or target in seen:
                continue
            if shapes[_shape(target)] >= 3:
                continue
            shapes[_shape(target)] += 1
            seen.add(target)
            queue.append(target)
    assert pages > 20, f"reached only {pages} pages"
