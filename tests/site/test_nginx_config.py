"""The load balancer's configuration (deploy/nginx/) renders and nginx accepts it."""

import io
import re
import shutil
import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


def _render(tmp_path, *nodes):
    call_command(
        "nginx_config",
        *[f"--node={node}" for node in nodes],
        "--listen=127.0.0.1:18080",
        f"--run-dir={tmp_path}",
        stdout=io.StringIO(),
    )
    return (tmp_path / "ipp-site.conf").read_text()


def test_the_body_limit_follows_the_largest_package(tmp_path, settings):
    settings.IPP_MAX_PACKAGE_MB = 7
    site = _render(tmp_path / "ngx", "127.0.0.1:18081", "127.0.0.1:18082")
    assert re.search(r"^\s*client_max_body_size 8m;", site, re.M)
    assert "proxy_request_buffering on;" in site
    assert "server 127.0.0.1:18081 max_fails=2 fail_timeout=10s;" in site
    assert "server 127.0.0.1:18082 max_fails=2 fail_timeout=10s;" in site


def test_a_post_that_reached_a_node_is_never_sent_to_another(tmp_path):
    site = _render(tmp_path / "ngx", "127.0.0.1:18081")
    (rule,) = re.findall(r"^\s*proxy_next_upstream\s+([^;]*);", site, re.M)
    assert "non_idempotent" not in rule
    # What a client claims about its address or scheme is replaced, not passed on.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in site
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in site


def test_a_node_that_is_not_host_and_port_is_refused(tmp_path):
    with pytest.raises(CommandError):
        _render(tmp_path / "ngx", "127.0.0.1:18081; include /etc/passwd")


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (bin/setup installs it as root)")
def test_nginx_accepts_the_rendered_configuration(tmp_path):
    run = tmp_path / "ngx"
    _render(run, "127.0.0.1:18081", "127.0.0.1:18082")
    done = subprocess.run(
        [NGINX, "-t", "-p", str(run), "-c", str(run / "nginx.conf"), "-e", str(run / "error.log")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
