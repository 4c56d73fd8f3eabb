"""Content-Security-Policy on every response, and no inline code in the templates (SPEC §10)."""

import re
from pathlib import Path

import pytest

from ippsite.models import ApiToken

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def _assert_strict(response) -> None:
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_the_dashboard_sends_a_strict_policy(world, client):
    client.force_login(world.developer)
    response = client.get("/")
    assert response.status_code == 200
    _assert_strict(response)


@pytest.mark.django_db
def test_the_sign_in_page_sends_a_strict_policy(client):
    response = client.get("/login/")
    assert response.status_code == 200
    _assert_strict(response)


@pytest.mark.django_db
def test_api_responses_send_the_policy_too(world, client):
    _row, raw = ApiToken.issue(world.developer)
    response = client.get("/api/v1/modules", HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.status_code == 200
    _assert_strict(response)
    _assert_strict(client.get("/api/v1/no-such-thing"))


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.IGNORECASE)


def _offences(pattern: re.Pattern) -> list[str]:
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if pattern.search(line):
                found.append(f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()[:120]}")
    return found


@pytest.mark.parametrize(
    "what, pattern",
    [
        ("inline <script>", INLINE_SCRIPT),
        ("on*= event handler", EVENT_HANDLER),
        ("inline style", STYLE),
        ("javascript: URL", JS_URL),
    ],
)
def test_no_template_has_inline_code_the_policy_would_block(what, pattern):
    assert _offences(pattern) == [], f"{what}: move it to static/js/ or static/css/"


def test_the_patterns_catch_what_they_are_meant_to():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/js/site.js"></script>')
    assert EVENT_HANDLER.search('<button onclick="go()">')
    assert not EVENT_HANDLER.search('<button data-confirm="Sure?">')
    assert STYLE.search('<div style="width: 0%">')


def test_the_site_script_is_loaded_on_every_page():
    base = (TEMPLATES / "base.html").read_text()
    assert "js/site.js" in base
