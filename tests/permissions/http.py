"""A tiny real-HTTP client for API tests against live_server (urllib, token auth)."""

import json
import urllib.error
import urllib.request

from tests.factories import PASSWORD


class Api:
    def __init__(self, base_url: str, username: str | None = None):
        self.base = base_url.rstrip("/") + "/api/v1"
        self.token = None
        if username:
            status, body = self.call(
                "POST", "/auth/token", {"username": username, "password": PASSWORD}
            )
            assert status == 200, body
            self.token = body["token"]

    def call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                return error.code, json.loads(raw) if raw else None
            except ValueError:
                return error.code, raw.decode(errors="replace")
