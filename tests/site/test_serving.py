"""Serving with ippsite/gunicorn.conf.py: slow clients do not starve /healthz."""

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ippsite import settings as site_settings
from tests.services import unused_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "ippsite" / "gunicorn.conf.py"


def _healthz(port: int, timeout: float) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.fixture
def gunicorn(tmp_path):
    """Gunicorn with the site's config on a free port, TLS redirect on (as in production)."""
    port = unused_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPP_") and k != "DATABASE_URL"}
    env.update(
        IPP_DATA_DIR=str(tmp_path / "data"),
        IPP_SSL_REDIRECT="1",
        IPP_SECURE_COOKIES="1",
        DJANGO_SETTINGS_MODULE="ippsite.settings",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _healthz(port, timeout=1) == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not start: {process.stderr.read().decode()}")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_config_uses_threaded_workers_with_bounded_request_heads():
    namespace: dict = {}
    exec(CONFIG.read_text(), namespace)  # noqa: S102 - our own config file
    assert namespace["worker_class"] == "gthread"
    assert namespace["threads"] >= 4
    assert namespace["timeout"] and namespace["graceful_timeout"] and namespace["keepalive"]
    assert namespace["limit_request_line"] <= 8190
    assert namespace["limit_request_field_size"] <= 8190
    assert namespace["limit_request_fields"] <= 100


def test_bin_serve_uses_the_config():
    assert "-c ippsite/gunicorn.conf.py" in (ROOT / "bin" / "serve").read_text()


@pytest.mark.slow
def test_four_slow_clients_do_not_stop_healthz(gunicorn):
    port = gunicorn
    stop = threading.Event()
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"z" * 400

    def slow_client():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            for byte in head:  # one byte at a time, never finishing the request head
                if stop.wait(0.05):
                    return
                try:
                    sock.send(bytes([byte]))
                except OSError:
                    return

    clients = [threading.Thread(target=slow_client, daemon=True) for _ in range(4)]
    try:
        for client in clients:
            client.start()
        time.sleep(1)  # every slow client is connected and dribbling

        for _ in range(5):
            started = time.monotonic()
            assert _healthz(port, timeout=3) == 200  # not a redirect, though TLS redirect is on
            assert time.monotonic() - started < 1
        assert all(client.is_alive() for client in clients), "the slow clients gave up early"
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=5)


@pytest.mark.django_db
def test_healthz_answers_over_plain_http_when_tls_redirect_is_on(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = site_settings.SECURE_REDIRECT_EXEMPT

    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz/").status_code == 200
    assert client.get("/login/").status_code == 301
