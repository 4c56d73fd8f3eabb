"""A tiny HTTP client for API tests: real requests to pytest-django's live_server."""

import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes = field(repr=False)

    def json(self):
        return json.loads(self.body)

    @property
    def error(self) -> str | None:
        """The `error` code of an error reply."""
        try:
            return self.json().get("error")
        except (ValueError, AttributeError):
            return None


class Api:
    """Requests under /api/v1/ with an optional `Authorization: Token` header."""

    def __init__(self, base_url: str, token: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.token = token

    def url(self, path: str) -> str:
        if path.startswith("/"):
            return self.base_url + path
        return f"{self.base_url}/api/v1/{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body=None,
        files=None,
        fields=None,
        headers=None,
        raw: bytes | None = None,
    ):
        headers = dict(headers or {})
        data = raw
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        if files is not None or fields is not None:
            data, content_type = _multipart(fields or {}, files or {})
            headers["Content-Type"] = content_type
        elif json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url(path), data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                return Reply(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return Reply(exc.code, dict(exc.headers), exc.read())

    def get(self, path: str, **kwargs) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body=None, **kwargs) -> Reply:
        return self.request("POST", path, json_body=body if body is not None else {}, **kwargs)

    def patch(self, path: str, body, **kwargs) -> Reply:
        return self.request("PATCH", path, json_body=body, **kwargs)

    def upload(
        self, path: str, package: bytes, *, name: str = "module.zip", field_name="package"
    ) -> Reply:
        return self.request("POST", path, files={field_name: (name, package)})


def _multipart(fields: dict, files: dict) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, content) in files.items():
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: application/zip\r\n\r\n'
            ).encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
