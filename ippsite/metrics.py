"""/metrics (Prometheus text) and the request-latency middleware (SPEC §9).

Who may read it: support (a signed-in staff session) or a client whose address is in
IPP_METRICS_ALLOWED (comma-separated IPs or CIDRs, e.g. the Prometheus server's);
anyone else gets 404, as for any page they may not know of. The address is the
connection's (REMOTE_ADDR), never X-Forwarded-For: scrape each node directly, and do
not list the load balancer's address, or everyone behind it could read the metrics.

Several gunicorn workers: each writes its samples to PROMETHEUS_MULTIPROC_DIR (set by
ippsite/gunicorn.conf.py) and this view sums them (prometheus_client's multiprocess
collector), so a scrape sees the node's totals, not one worker's. The job queue depth is
read from the broker at scrape time.
"""

import ipaddress
import logging
import os
import time

import redis
from django.conf import settings
from django.http import Http404, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from core.metrics import REQUEST_SECONDS
from permissions import door

logger = logging.getLogger(__name__)
QUEUES = ("celery",)
# Label values must stay few: any other method a client invents is counted as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def allowed_networks() -> list:
    networks = []
    for item in settings.IPP_METRICS_ALLOWED:
        networks.append(ipaddress.ip_network(item.strip(), strict=False))
    return networks


def may_read(request) -> bool:
    if door.is_support(request.user):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in allowed_networks())


class QueueDepth:
    """ipp_job_queue_depth: jobs waiting in the broker (0 when jobs run in-process)."""

    def collect(self):
        family = GaugeMetricFamily(
            "ipp_job_queue_depth", "Jobs waiting in the broker's queue", labels=["queue"]
        )
        depths = dict.fromkeys(QUEUES, 0)
        if settings.IPP_BROKER_URL.startswith(("redis://", "rediss://")):
            try:
                client = redis.Redis.from_url(
                    settings.IPP_BROKER_URL, socket_timeout=1, socket_connect_timeout=1
                )
                depths = {queue: client.llen(queue) for queue in QUEUES}
            except redis.RedisError:
                logger.warning("the job queue depth could not be read from the broker")
                return
        for queue, depth in depths.items():
            family.add_metric([queue], depth)
        yield family


def metrics(request):
    if not may_read(request):
        raise Http404("No such page.")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    queue = CollectorRegistry()
    queue.register(QueueDepth())
    body = generate_latest(registry) + generate_latest(queue)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


class RequestMetricsMiddleware:
    """Observe each request's latency under its route name (bounded label values)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.view_name if match else "") or "unmatched"
        method = request.method if request.method in METHODS else "other"
        REQUEST_SECONDS.labels(method, route, f"{response.status_code // 100}xx").observe(
            time.perf_counter() - started
        )
        return response
