"""Posting the sign-in form as a browser does: urlencoded (the site refuses multipart there)."""

from urllib.parse import urlencode

from tests import factories


def post_login(client, username: str, password: str = factories.PASSWORD, **extra):
    return client.post(
        "/login/",
        urlencode({"username": username, "password": password, **extra}),
        content_type="application/x-www-form-urlencoded",
    )
