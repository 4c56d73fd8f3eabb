"""/healthz names the database, the blob store and the broker; /metrics is for support or
the configured addresses only, and sums every gunicorn worker of the node."""

import http.client
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ippsite import settings as site_settings
from tests import factories
from tests.services import redis_up, unused_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "ippsite" / "gunicorn.conf.py"


# --- /healthz ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_names_each_dependency_and_answers_200_when_all_answer(client):
    reply = client.get("/healthz")
    assert reply.status_code == 200
    assert reply.json() == {
        "status": "ok",
        "checks": {"database": "ok", "blob_store": "ok", "broker": "in-process"},
    }


@pytest.mark.django_db
def test_healthz_answers_503_naming_the_broker_when_it_is_down(client, settings):
    settings.IPP_BROKER_URL = f"redis://127.0.0.1:{unused_port()}/5"
    reply = client.get("/healthz")
    assert reply.status_code == 503
    body = reply.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["blob_store"] == "ok"
    assert body["checks"]["broker"].startswith("error")


@pytest.mark.django_db
@pytest.mark.skipif(not redis_up(), reason="no Redis at 127.0.0.1:6379")
def test_healthz_reaches_a_real_redis_broker(client, settings):
    settings.IPP_BROKER_URL = "redis://127.0.0.1:6379/5"
    reply = client.get("/healthz")
    assert reply.status_code == 200
    assert reply.json()["checks"]["broker"] == "ok"


@pytest.mark.django_db
def test_healthz_answers_503_naming_the_blob_store_when_it_cannot_be_used(client, settings):
    settings.IPP_BLOB_STORE = "database"
    assert client.get("/healthz").json()["checks"]["blob_store"] == "ok"
    # A filesystem store whose directory is a file (a lost mount, a wrong path).
    settings.IPP_BLOB_STORE = "filesystem"
    blocker = Path(settings.IPP_BLOB_DIR)
    blocker.rmdir()
    blocker.write_bytes(b"not a directory")
    reply = client.get("/healthz")
    assert reply.status_code == 503
    assert reply.json()["checks"]["blob_store"].startswith("error")
    assert reply.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_healthz_is_not_redirected_under_the_tls_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = site_settings.SECURE_REDIRECT_EXEMPT
    assert client.get("/healthz").status_code == 200
    assert client.get("/login/").status_code == 301


# --- /metrics ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_are_hidden_from_anonymous_and_from_members(client, world):
    assert client.get("/metrics").status_code == 404
    client.force_login(world.acme_admin)
    assert client.get("/metrics").status_code == 404


@pytest.mark.django_db
def test_support_reads_the_metrics(client, world, publish):
    manifest = factories.manifest(key=str(uuid.uuid4()), name="Measured")
    publish(world.developer, world.acme_dev_env, manifest)
    client.force_login(world.support)
    client.get("/")
    reply = client.get("/metrics")
    assert reply.status_code == 200
    text = reply.content.decode()
    assert re.search(r'^ipp_http_request_duration_seconds_count\{.*route="dashboard"', text, re.M)
    assert re.search(r"^ipp_publish_bytes_total [1-9]", text, re.M)
    assert re.search(r'^ipp_publish_duration_seconds_count\{outcome="ok"\} [1-9]', text, re.M)
    assert re.search(r"^ipp_audit_append_duration_seconds_count [1-9]", text, re.M)
    assert re.search(r'^ipp_job_queue_depth\{queue="celery"\} 0', text, re.M)


@pytest.mark.django_db
def test_metrics_follow_the_allowed_addresses_and_ignore_forwarded_headers(client, settings):
    settings.IPP_METRICS_ALLOWED = ["10.0.0.0/8", "192.0.2.7"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.8").status_code == 404
    # A client cannot claim an allowed address through the proxy's header.
    spoofed = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.1.2.3")
    assert spoofed.status_code == 404


def test_a_bad_allowed_address_stops_the_site_at_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(IPP_DATA_DIR=str(tmp_path / "data"), IPP_METRICS_ALLOWED="10.0.0.0/8,not-an-ip")
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "IPP_METRICS_ALLOWED" in done.stderr


# --- several workers: one node's numbers ----------------------------------------------------


def _get(port: int, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        reply = connection.getresponse()
        return reply.status, reply.read().decode()
    finally:
        connection.close()


@pytest.mark.slow
def test_metrics_sum_every_gunicorn_worker(tmp_path):
    port = unused_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPP_") and k != "DATABASE_URL"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        IPP_DATA_DIR=str(tmp_path / "data"),
        IPP_SSL_REDIRECT="0",
        IPP_WEB_WORKERS="3",
        IPP_WEB_THREADS="2",
        IPP_METRICS_ALLOWED="127.0.0.1",
        IPP_ALLOW_GENERATED_KEYS="1",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(150):
            try:
                if _get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        probes = 30
        for _ in range(probes):
            assert _get(port, "/healthz")[0] == 200
        # Each scrape may be answered by any worker: all must report the node's total.
        for _ in range(6):
            status, text = _get(port, "/metrics")
            assert status == 200
            counts = re.findall(
                r'^ipp_http_request_duration_seconds_count\{method="GET",route="healthz",'
                r'status="2xx"\} (\S+)',
                text,
                re.M,
            )
            assert counts and float(counts[0]) >= probes + 1, text[:2000]
    finally:
        process.terminate()
        process.wait(15)


@pytest.mark.django_db
def test_an_invented_method_does_not_make_a_new_series(client, world):
    client.generic("BREW1", "/healthz")
    client.generic("BREW2", "/healthz")
    client.force_login(world.support)
    text = client.get("/metrics").content.decode()
    assert "BREW" not in text
    assert 'method="other",route="healthz"' in text


@pytest.mark.parametrize(("flag", "trusted"), [(None, "None"), ("0", "None"), ("1", "HTTPS")])
def test_x_forwarded_proto_is_trusted_only_behind_the_proxy(tmp_path, flag, trusted):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPP_") and k != "DATABASE_URL"}
    env.update(IPP_DATA_DIR=str(tmp_path / "data"), IPP_DEBUG="0", IPP_SECRET_KEY="x" * 60)
    if flag is not None:
        env["IPP_BEHIND_PROXY"] = flag
    script = (
        "from django.conf import settings; "
        "h = getattr(settings, 'SECURE_PROXY_SSL_HEADER', None); "
        "print('HTTPS' if h == ('HTTP_X_FORWARDED_PROTO', 'https') else h)"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip().splitlines()[-1] == trusted, done.stderr
