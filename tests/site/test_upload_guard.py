"""Request bodies are refused before they are read or stored (SPEC §10)."""

import os
import socket
import subprocess
import sys
import time
import uuid
from io import StringIO
from pathlib import Path
from urllib.parse import urlencode, urlparse

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from ippsite import settings as site_settings
from ippsite.models import ApiToken

MB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]


def _files(directory) -> list[str]:
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


# A well-formed CSRF cookie, as any attacker can send one: without it CSRF refuses a
# page POST before reading the body, with it CSRF reads the body for the form's token.
CSRF_COOKIE = "csrftoken=" + "a" * 32


def _raw_multipart_post(
    url: str, path: str, *, declared: int, sent: int, cookie: str = CSRF_COOKIE
) -> tuple[bytes, list]:
    """POST a multipart body declared `declared` bytes long but send only `sent` of it.

    Returns the answer (b"" when none came within 5 seconds: the server is waiting for
    the rest of the body) and the files that were in FILE_UPLOAD_TEMP_DIR meanwhile.
    """
    parsed = urlparse(url)
    boundary = uuid.uuid4().hex
    part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="package"; filename="m.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parsed.hostname}:{parsed.port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Cookie: {cookie}\r\nContent-Length: {declared}\r\n\r\n"
    ).encode()
    with socket.create_connection((parsed.hostname, parsed.port), timeout=5) as sock:
        try:
            sock.sendall(head + part + b"\0" * sent)
        except OSError:  # the server may answer and hang up before taking all of it
            pass
        return _read_answer(sock), _files(django_settings.FILE_UPLOAD_TEMP_DIR)


def _read_answer(sock) -> bytes:
    """Whatever the server says within 5 seconds, up to the end of its first response."""
    answer = b""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except OSError:
            break
        if not chunk:
            break
        answer += chunk
        head, sep, body = answer.partition(b"\r\n\r\n")
        if sep and b"content-length:" in head.lower():
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            if len(body) >= length:
                break
    return answer


@pytest.fixture
def upload_tmp(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    os.makedirs(settings.FILE_UPLOAD_TEMP_DIR, mode=0o700)
    return settings.FILE_UPLOAD_TEMP_DIR


@pytest.mark.django_db(transaction=True)
def test_an_anonymous_40_mb_upload_to_a_page_is_refused_unread_and_nothing_is_stored(
    live_server, world, upload_tmp
):
    before = _files(upload_tmp)
    started = time.monotonic()

    answer, during = _raw_multipart_post(
        live_server.url, f"/environments/{world.acme_dev_env.pk}/", declared=40 * MB, sent=3 * MB
    )

    # Refused as every page refuses an anonymous visitor: off to sign in.
    assert answer.startswith(b"HTTP/1.1 302"), answer[:200]
    assert b"Location: /login/?next=" in answer
    assert time.monotonic() - started < 5
    assert during == before == []
    assert _files(upload_tmp) == []


@pytest.mark.django_db(transaction=True)
def test_an_anonymous_upload_to_the_api_is_refused_401_unread(live_server, world, upload_tmp):
    answer, during = _raw_multipart_post(
        live_server.url,
        f"/api/v1/environments/{world.acme_dev_env.pk}/publish",
        declared=40 * MB,
        sent=3 * MB,
    )

    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b'"not_authenticated"' in answer
    assert during == []


@pytest.mark.django_db(transaction=True)
def test_a_signed_in_upload_over_the_limit_gets_413_on_the_page_before_it_is_read(
    live_server, world, client, settings, upload_tmp
):
    settings.IPP_MAX_PACKAGE_MB = 2
    client.force_login(world.developer)
    session = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"

    answer, during = _raw_multipart_post(
        live_server.url,
        f"/environments/{world.acme_dev_env.pk}/",
        declared=3 * MB,
        sent=1 * MB,
        cookie=f"{session}; {CSRF_COOKIE}",
    )

    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"IPP_MAX_PACKAGE_MB (2 MB)" in answer
    assert during == []


def test_a_signed_in_upload_over_the_limit_gets_413_invalid_package_on_the_api(
    world, client, settings
):
    settings.IPP_MAX_PACKAGE_MB = 1
    _row, raw = ApiToken.issue(world.developer)
    package = SimpleUploadedFile("big.zip", b"\0" * (2 * MB), content_type="application/zip")

    response = client.post(
        f"/api/v1/environments/{world.acme_dev_env.pk}/publish",
        {"package": package},
        HTTP_AUTHORIZATION=f"Token {raw}",
    )

    assert response.status_code == 413
    assert response.json()["error"] == "invalid_package"


def test_a_bad_token_does_not_open_the_door_to_an_upload(world, client):
    package = SimpleUploadedFile("m.zip", b"PK", content_type="application/zip")

    response = client.post(
        f"/api/v1/environments/{world.acme_dev_env.pk}/publish",
        {"package": package},
        HTTP_AUTHORIZATION="Token not-a-live-token",
    )

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_a_chunked_body_without_a_length_is_refused_411(world, client):
    response = client.generic(
        "POST",
        f"/api/v1/environments/{world.acme_dev_env.pk}/publish",
        b"",
        content_type="multipart/form-data; boundary=x",
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
    )

    assert response.status_code == 411
    assert response.json()["error"] == "length_required"


@pytest.mark.parametrize("path", ["/login/", "/api/v1/auth/token"])
def test_the_anonymous_entry_points_take_no_multipart(db, client, path):
    response = client.post(path, {"username": "developer", "password": "x"})  # multipart

    assert response.status_code == 415


@pytest.mark.parametrize("path", ["/login/", "/api/v1/auth/token"])
def test_the_anonymous_entry_points_take_no_large_body(db, client, path):
    body = urlencode({"username": "developer", "password": "x" * (70 * 1024)})

    response = client.post(path, body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 413


def test_an_anonymous_large_json_body_is_refused_413(db, client):
    response = client.post(
        "/api/v1/modules", {"padding": "x" * (70 * 1024)}, content_type="application/json"
    )

    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_a_small_anonymous_sign_in_still_works(world, client):
    response = client.post(
        "/login/",
        urlencode({"username": "developer", "password": "correct-horse-battery-staple"}),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 302


def test_spooled_uploads_go_to_a_private_directory_under_the_data_dir():
    temp_dir = Path(site_settings.FILE_UPLOAD_TEMP_DIR)
    assert temp_dir == site_settings.IPP_DATA_DIR / "tmp"
    assert temp_dir.stat().st_mode & 0o777 == 0o700
    assert site_settings.FILE_UPLOAD_PERMISSIONS == 0o600
    assert site_settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS == 0o700


def _age(path: Path, minutes: int) -> None:
    old = time.time() - minutes * 60
    os.utime(path, (old, old))


def test_sweep_uploads_removes_only_leftovers(upload_tmp):
    directory = Path(upload_tmp)
    (directory / "leftover.upload").write_bytes(b"x")
    _age(directory / "leftover.upload", 11)
    (directory / "live.upload").write_bytes(b"x")

    out = _call("sweep_uploads")

    assert "removed 1 leftover" in out
    assert _files(directory) == ["live.upload"]


def test_sweep_uploads_refuses_a_zero_age():
    with pytest.raises(CommandError):
        call_command("sweep_uploads", "--minutes", "0")


def test_the_site_sweeps_leftovers_when_it_starts(tmp_path):
    data = tmp_path / "data"
    (data / "tmp").mkdir(parents=True, mode=0o700)
    leftover = data / "tmp" / "tmpabc.upload"
    leftover.write_bytes(b"x")
    _age(leftover, 30)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPP_") and k != "DATABASE_URL"}
    env["IPP_DATA_DIR"] = str(data)

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert not leftover.exists()


def _call(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()
