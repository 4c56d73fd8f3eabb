"""Gunicorn settings for IPP Site: `gunicorn -c ippsite/gunicorn.conf.py` (bin/serve uses it).

Threaded workers: a client that is slow to send its request holds one thread, not a
whole worker, and a connection that sends nothing is parked on the worker's poller.
Gunicorn bounds the size of a request head but not how long it takes to arrive, so in
production put a buffering reverse proxy (nginx, a cloud load balancer) in front; these
limits keep the damage small when one is missing.
"""

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

# Recycle workers now and then, so no slow leak grows without bound.
max_requests = 2000
max_requests_jitter = 200

# Files the workers create are private to the site's user (see IPP_DATA_DIR).
umask = 0o077
accesslog = "-"
# No control socket: nothing here uses gunicornc, and a fixed path in $HOME would be
# shared by every instance on the machine.
control_socket_disable = True
