"""A small publish of a new module costs a fixed number of queries (in-process request,
to count them): the same for the first module and the sixty-first, and no more than
today's count (every query it needs is listed in the report of bench/run)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories
from tests.pages.test_list_costs import _modules

pytestmark = pytest.mark.django_db

# Session and user (2), the environment (1), the membership with whether the key is
# taken (1), IPP (1); in the publish's transaction (its savepoint here: 2; BEGIN and COMMIT
# in production) the creator's membership lock (1), the module row (1: INSERT ... ON
# CONFLICT DO NOTHING, the existence check for a key the precheck saw new), the version
# (1); then the rows that only refer to those (core.batch: the creator's grant, the
# version's interface, provenance ×3, the deployment: one statement on PostgreSQL, six on
# SQLite); one append for both audit entries (the log's lock, then entries, head and log
# row: one statement on PostgreSQL, three on SQLite). PostgreSQL adds the master key's
# shared lock (registry/keylocks.py).
SMALL_PUBLISH_QUERIES = {"postgresql": 14, "sqlite": 20}


def _publish(client, world, n: int) -> int:
    package = factories.package_file(
        factories.manifest(name=f"Small{n}"), {"Logic/a.txt": b"x" * 10 * 1024}
    )
    url = f"/api/v1/environments/{world.acme_dev_env.pk}/publish"
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(url, {"package": package})
    assert response.status_code == 201, response.content
    return len(ctx.captured_queries)


def test_a_small_publish_of_a_new_module_costs_a_fixed_number_of_queries(client, world):
    client.force_login(world.developer)
    _publish(client, world, 0)  # the first request of a session, the first audit entry
    first = _publish(client, world, 1)
    _modules(world.acme, 0, 60)
    later = _publish(client, world, 2)
    assert first == later
    assert first == SMALL_PUBLISH_QUERIES[connection.vendor], first
