"""Gunicorn settings for IPP Site: `gunicorn -c ippsite/gunicorn.conf.py` (bin/serve uses it).

Threaded workers: a client that is slow to send its request holds one thread, not a
whole worker, and a connection that sends nothing is parked on the worker's poller.
Gunicorn bounds the size of a request head but not how long it takes to arrive, so in
production put a buffering reverse proxy (nginx, a cloud load balancer) in front; these
limits keep the damage small when one is missing.
"""

import os
import shutil
from pathlib import Path

from core.env import envint, envstr

wsgi_app = "ippsite.wsgi:application"
bind = [envstr("IPP_BIND", "127.0.0.1:8000")]

worker_class = "gthread"
workers = envint("IPP_WEB_WORKERS", 2, minimum=1)
# Requests served at once per worker; a slow client holds one of them.
threads = envint("IPP_WEB_THREADS", 8, minimum=1)
worker_connections = 1000

# A worker whose main loop is silent this long is killed and replaced (for gthread this
# watches the worker, not single requests, so long uploads are not cut off).
timeout = 60
# On restart or shutdown, requests in flight get this long to finish.
graceful_timeout = 30
# Idle keep-alive connections are closed after this many seconds.
keepalive = 5

# The request head: line, number of headers, size of each (Gunicorn's defaults, stated).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# Recycle workers now and then, so no slow leak grows without bound; rarely, because a
# recycled worker costs the node a cold start (imports, first templates and compiled
# statements) while the other workers carry its connections, and every connection it held
# must reconnect. At 2,000 a 2-core node serving 150-300 requests/s recycled a worker
# every 15-30 s, so each load test of a minute met several of those stalls.
max_requests = 50000
max_requests_jitter = 5000

# Files the workers create are private to the site's user (see IPP_DATA_DIR).
umask = 0o077
accesslog = "-"
# No control socket: nothing here uses gunicornc, and a fixed path in $HOME would be
# shared by every instance on the machine.
control_socket_disable = True


# Metrics (ippsite/metrics.py): every worker writes its samples into one directory of this
# node, which /metrics sums, so a scrape sees the node whichever worker answers it. Set in
# the master when it starts, before any worker imports prometheus_client; emptied at each
# start (samples of an earlier run's processes would be added in); a dead worker's live
# gauges are dropped.
def _metrics_dir() -> Path:
    configured = envstr("PROMETHEUS_MULTIPROC_DIR")
    return Path(configured) if configured else Path(envstr("IPP_DATA_DIR", "var")) / "metrics"


def on_starting(server):
    directory = _metrics_dir().resolve()
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def child_exit(server, worker):
    from prometheus_client import multiprocess  # noqa: PLC0415 - not in the master's start

    multiprocess.mark_process_dead(worker.pid)
