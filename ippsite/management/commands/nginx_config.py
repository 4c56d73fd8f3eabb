"""nginx_config: render deploy/nginx/ for the load balancer in front of the app nodes."""

import os
import pwd
from pathlib import Path
from string import Template

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

TEMPLATES = Path(settings.BASE_DIR) / "deploy" / "nginx"
# Room above the largest package for the form fields that travel with it (multipart).
BODY_ALLOWANCE_MB = 1


def _render(name: str, **values) -> str:
    """The template with its ${IPP_...} placeholders filled; nginx's own $variables stay."""
    text = Template((TEMPLATES / name).read_text()).safe_substitute(values)
    if "${IPP_" in text:
        raise CommandError(f"{name}: a placeholder was left unfilled")
    return text


def render_site(*, nodes: list[str], listen: str, server_name: str, read_timeout: int) -> str:
    upstream = "\n".join(f"    server {node} max_fails=2 fail_timeout=10s;" for node in nodes)
    return _render(
        "ipp-site.conf.template",
        IPP_UPSTREAM_SERVERS=upstream,
        IPP_LISTEN=listen,
        IPP_SERVER_NAME=server_name,
        IPP_BODY_LIMIT=f"{settings.IPP_MAX_PACKAGE_MB + BODY_ALLOWANCE_MB}m",
        IPP_READ_TIMEOUT=f"{read_timeout}s",
    )


def render_main(run_dir: Path) -> str:
    # A master started as root hands its workers to `nobody` unless told otherwise; they
    # must write the private temp dirs, so they stay the user who runs the cluster.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    return _render("nginx.conf.template", IPP_NGINX_DIR=str(run_dir), IPP_NGINX_USER=user)


class Command(BaseCommand):
    help = (
        "Render the nginx configuration of the load balancer (deploy/nginx/): the upstream "
        "of the app nodes with passive health checks, request buffering, a body limit of "
        "IPP_MAX_PACKAGE_MB (plus 1 MB for form fields), timeouts against slow clients and "
        "retries on another node for idempotent requests only. Prints the server part "
        "(to include in nginx's http block), or with --run-dir writes a whole private "
        "configuration there (nginx.conf and ipp-site.conf) for `nginx -p DIR -c "
        "DIR/nginx.conf`, as bin/cluster does."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--node",
            action="append",
            required=True,
            metavar="HOST:PORT",
            help="an app node (repeat for each)",
        )
        parser.add_argument("--listen", default="80", help="nginx's listen (default 80)")
        parser.add_argument("--server-name", default="_", help="server_name (default _)")
        parser.add_argument(
            "--read-timeout", type=int, default=300, help="seconds a node may take to answer"
        )
        parser.add_argument("--run-dir", help="write a whole private nginx configuration here")

    def handle(self, *args, node, listen, server_name, read_timeout, run_dir=None, **options):
        for item in node:
            host, _, port = item.rpartition(":")
            if not host or not port.isdigit() or any(c in item for c in " ;{}\n"):
                raise CommandError(f"--node {item!r} is not HOST:PORT")
        if any(c in listen + server_name for c in ";{}\n"):
            raise CommandError("--listen and --server-name may not contain ; { } or newlines")
        site = render_site(
            nodes=node, listen=listen, server_name=server_name, read_timeout=read_timeout
        )
        if not run_dir:
            self.stdout.write(site)
            return
        directory = Path(run_dir).resolve()
        for sub in ("", "tmp"):
            (directory / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        (directory / "ipp-site.conf").write_text(site)
        (directory / "nginx.conf").write_text(render_main(directory))
        self.stdout.write(str(directory / "nginx.conf"))
