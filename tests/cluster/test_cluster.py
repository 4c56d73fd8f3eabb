"""Two app nodes behind nginx over one PostgreSQL database (bin/cluster, SPEC §9).

Through the load balancer, several threads publish and read packages with an API token;
one node is killed (kill -9) in the middle and the others carry on. Then: every publish
that answered 2xx is readable from both nodes directly, no version is half-written (each
one in the database reads back whole from both nodes, also after the sweeper ran), the
audit logs verify, `sweep_blobs` leaves nothing to remove, and a job whose worker was
killed mid-job is done by another worker (acks late).

Runs on PostgreSQL only, when nginx and redis-server are installed (bin/setup installs
nginx where it may). Every process it starts is stopped at the end, also on failure.
"""

import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
import zipfile
from pathlib import Path

import dj_database_url
import psycopg
import pytest
from celery import Celery

from tests import factories
from tests.api.client import Api

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "bin" / "cluster"
DATABASE_URL = os.environ.get("DATABASE_URL", "")
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
REDIS_DB = "7"
THREADS, PER_THREAD = 4, 8
PASSWORD = "cluster-pass-2026"

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.slow,
    pytest.mark.skipif(
        not DATABASE_URL.startswith(("postgres://", "postgresql://")),
        reason="the cluster shares one PostgreSQL database (set DATABASE_URL)",
    ),
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (bin/setup installs it)"),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed"),
]


def _free_base_port() -> int:
    for _ in range(50):
        base = random.randrange(20000, 40000, 10)
        try:
            for port in range(base, base + 10):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError("no ten free ports in a row")


def _database(name: str, *, create: bool) -> str:
    config = dj_database_url.parse(DATABASE_URL)
    with psycopg.connect(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        user=config["USER"],
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = urllib.parse.urlsplit(DATABASE_URL)
    return urllib.parse.urlunsplit(url._replace(path=f"/{name}"))


class Cluster:
    def __init__(self, run: Path, port: int, database_url: str):
        self.run, self.port = run, port
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("IPP_")}
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.env.update(
            DATABASE_URL=database_url,
            IPP_CLUSTER_DIR=str(run),
            IPP_CLUSTER_PORT=str(port),
            IPP_CLUSTER_REDIS_DB=REDIS_DB,
            # A job taken by a worker that died is given to another after this long.
            IPP_JOB_VISIBILITY_TIMEOUT="5",
        )

    def __call__(self, *args: str, check: bool = True, timeout: int = 120):
        done = subprocess.run(
            [str(CLUSTER), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check:
            assert done.returncode == 0, f"bin/cluster {args}: {done.stdout}\n{done.stderr}"
        return done

    def pid(self, name: str) -> int:
        return int((self.run / "pid" / f"{name}.pid").read_text())

    def node(self, n: int) -> str:
        return f"http://127.0.0.1:{self.port + n}"

    @property
    def lb(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def shared_env(self) -> dict:
        """The environment bin/cluster gives its processes (cluster.env)."""
        env = {}
        for line in (self.run / "cluster.env").read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value.strip("'")
        return env

    def kill_leftovers(self) -> None:
        for pid_file in (self.run / "pid").glob("*.pid"):
            try:
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)
            except (OSError, ValueError):
                pass


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    name = (dj_database_url.parse(DATABASE_URL)["NAME"] or "ipp") + "_cluster"
    database_url = _database(name, create=True)
    run = tmp_path_factory.mktemp("cluster")
    subprocess.run(["redis-cli", "-n", REDIS_DB, "flushdb"], capture_output=True, check=False)
    site = Cluster(run, _free_base_port(), database_url)
    try:
        site("start", timeout=180)
        yield site
    finally:
        site("stop", check=False, timeout=60)
        site.kill_leftovers()
        _database(name, create=False)


def _setup(cluster: Cluster) -> int:
    script = f"""
import json
from django.contrib.auth import get_user_model
from core.levels import Level
from registry.models import Environment, Infrastructure, Membership
user = get_user_model().objects.create_user("publisher", "p@example.test", {PASSWORD!r})
acme = Infrastructure.objects.create(name="Cluster", platform="o11", ipp_protected=True)
env = Environment.objects.create(infrastructure=acme, name="Development")
Membership.objects.create(infrastructure=acme, user=user, default_level=int(Level.PUBLISH),
                          create_modules=True)
print(json.dumps({{"environment": env.pk}}))
"""
    done = cluster("manage", "shell", "-c", script)
    return json.loads(done.stdout.strip().splitlines()[-1])["environment"]


def _package(thread: int, n: int) -> bytes:
    manifest = factories.manifest(key=str(uuid.uuid4()), name=f"Cl{thread}x{n}", exposes=[])
    files = {f"Logic/Part{i}.oml": os.urandom(20_000) + b"\nend\n" for i in range(5)}
    return factories.package_bytes(manifest, files)


def _readable(api: Api, module: int, number: int) -> bool:
    reply = api.get(f"modules/{module}/versions/{number}/package")
    if reply.status != 200:
        return False
    with zipfile.ZipFile(io.BytesIO(reply.body)) as package:
        return package.testzip() is None


def test_two_nodes_behind_nginx_lose_nothing_acknowledged(cluster):
    environment = _setup(cluster)
    reply = Api(cluster.lb).post("auth/token", {"username": "publisher", "password": PASSWORD})
    assert reply.status == 200, reply.body
    token = reply.json()["token"]
    lb = Api(cluster.lb, token)

    acknowledged, failures, lock = [], [], threading.Lock()
    half = threading.Event()

    def publisher(thread: int) -> None:
        for n in range(PER_THREAD):
            try:
                answer = lb.upload(f"environments/{environment}/publish", _package(thread, n))
            except OSError as exc:  # the connection went down with the node
                with lock:
                    failures.append(repr(exc))
                continue
            with lock:
                if answer.status in (200, 201):
                    body = answer.json()
                    acknowledged.append((body["module"]["id"], body["version"]["number"]))
                    if len(acknowledged) >= THREADS * PER_THREAD // 3:
                        half.set()
                else:
                    failures.append(answer.status)
            if answer.status in (200, 201):
                # Read it back through the load balancer at once (any node answers).
                assert _readable(lb, body["module"]["id"], body["version"]["number"])

    threads = [threading.Thread(target=publisher, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    assert half.wait(120), f"a third of the publishes did not answer: {failures}"
    node1 = cluster.pid("node1")
    os.killpg(node1, signal.SIGKILL)  # the gunicorn master and its workers, mid-traffic
    for thread in threads:
        thread.join(180)
    assert not any(thread.is_alive() for thread in threads)
    # The load balancer carried on through node2: most publishes were acknowledged.
    assert len(acknowledged) >= THREADS * PER_THREAD * 2 // 3, failures

    # node1 comes back (same data dir, nothing of its own needed) and serves them all.
    cluster("start", timeout=120)
    assert cluster.pid("node1") != node1

    # What a killed publish left behind is swept; then nothing is left to remove.
    cluster("manage", "sweep_blobs", "--grace", "0")
    again = cluster("manage", "sweep_blobs", "--grace", "0", "--dry-run").stdout
    assert "would remove 0 objects no version points to and 0 leftovers" in again, again

    nodes = [Api(cluster.node(1), token), Api(cluster.node(2), token)]
    for module, number in acknowledged:
        for node in nodes:
            assert _readable(node, module, number), (node.base_url, module, number)
    # No version row without its whole source: every one reads back from both nodes.
    listing = cluster(
        "manage",
        "shell",
        "-c",
        "import json; from registry.models import ModuleVersion; "
        "print(json.dumps(list(ModuleVersion.objects.values_list('module_id', 'number'))))",
    )
    stored = [tuple(row) for row in json.loads(listing.stdout.strip().splitlines()[-1])]
    assert set(acknowledged) <= set(stored)
    for module, number in stored:
        for node in nodes:
            assert _readable(node, module, number), (node.base_url, module, number)

    verified = cluster("manage", "verify_audit")
    assert verified.stdout.startswith("ok: "), verified.stdout


def _worker(cluster: Cluster, queue: str, data: Path) -> subprocess.Popen:
    env = {**cluster.env, **cluster.shared_env(), "IPP_DATA_DIR": str(data)}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.cluster.jobs", "worker", "--pool", "solo",
         "-Q", queue, "--without-gossip", "--without-mingle", "--loglevel", "INFO",
         "--hostname", f"{data.name}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_a_job_whose_worker_is_killed_is_done_by_another(cluster, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    queue = f"cluster-test-{uuid.uuid4().hex[:8]}"
    first = _worker(cluster, queue, tmp_path / "first")
    second = None
    try:
        broker = cluster.shared_env()["IPP_BROKER_URL"]
        Celery(broker=broker).send_task(
            "tests.cluster.slow_marker", args=[str(marks), 3.0], queue=queue
        )
        assert _wait_for(lambda: any(marks.glob("started-*")), 60), "the first worker never began"
        os.killpg(first.pid, signal.SIGKILL)  # mid-job: the job was taken, never acknowledged
        first.wait(10)
        assert not any(marks.glob("done-*"))
        second = _worker(cluster, queue, tmp_path / "second")
        # Redis gives the unacknowledged job to the new worker once the visibility timeout
        # (5 s here) has passed; it runs it from the start.
        assert _wait_for(lambda: any(marks.glob("done-*")), 60), "no worker finished the job"
        (done,) = marks.glob("done-*")
        assert done.name != f"done-{first.pid}"
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def test_the_worker_builds_a_transfer_package_once_and_both_nodes_serve_it(cluster):
    script = f"""
import json
from django.contrib.auth import get_user_model
from core.levels import Level
from registry.models import Environment, Infrastructure, Membership
owner = get_user_model().objects.create_user("owner", "o@example.test", {PASSWORD!r})
source = Infrastructure.objects.create(name="Source", platform="o11", ipp_protected=True)
env = Environment.objects.create(infrastructure=source, name="Development")
Membership.objects.create(infrastructure=source, user=owner, role=Membership.Role.ADMINISTRATOR,
                          default_level=int(Level.PUBLISH), create_modules=True)
target = Infrastructure.objects.create(name="Target", platform="o11", ipp_protected=True)
print(json.dumps({{"environment": env.pk, "code": target.activation_code}}))
"""
    done = cluster("manage", "shell", "-c", script)
    world = json.loads(done.stdout.strip().splitlines()[-1])
    reply = Api(cluster.lb).post("auth/token", {"username": "owner", "password": PASSWORD})
    lb = Api(cluster.lb, reply.json()["token"])
    published = lb.upload(f"environments/{world['environment']}/publish", _package(9, 0))
    assert published.status == 201, published.body
    module = published.json()["module"]["id"]
    # The source's administrator asks: approved at once; the package is left to the worker.
    transfer = lb.post("transfers", {"modules": [module], "target_activation_code": world["code"]})
    assert transfer.status == 201, transfer.body
    assert transfer.json()["status"] == "approved"
    path = f"transfers/{transfer.json()['id']}/packages/{module}"

    answers = []
    for _ in range(150):
        answer = lb.get(path)
        answers.append(answer.status)
        if answer.status != 409:
            break
        assert answer.error == "package_preparing", answer.body
        time.sleep(0.2)
    assert answers[-1] == 200, answers
    # Built once and stored: every node streams the same bytes (a re-seal would differ).
    token = lb.token
    copies = {Api(cluster.node(n), token).get(path).body for n in (1, 2)}
    assert copies == {answer.body}
    with zipfile.ZipFile(io.BytesIO(answer.body)) as package:
        assert package.testzip() is None
