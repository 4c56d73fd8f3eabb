"""Two administrators changing the same grant at once leave exactly one grant (PostgreSQL)."""

import threading

import pytest
from django.db import connection

from core.levels import Level
from permissions import services
from permissions.models import ModuleUserObjectPermission
from registry.models import Membership
from tests import factories
from tests.permissions.conftest import make_module

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_grants_on_one_module_leave_exactly_one_codename(world):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks)")
    second_admin = factories.make_user("second_admin")
    factories.make_member(world.acme, second_admin, role=Membership.Role.ADMINISTRATOR)
    module = make_module(world.acme, "OrdersAPI")
    barrier = threading.Barrier(2)
    errors = []

    def grant(actor, levels):
        try:
            barrier.wait()
            for i in range(30):
                level = levels[i % 2]
                services.grant_set(actor=actor, module=module, user=world.contractor, level=level)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=grant, args=(world.acme_admin, (Level.OPEN, Level.REFERENCE))),
        threading.Thread(target=grant, args=(second_admin, (Level.PUBLISH, Level.REFERENCE))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert (
        ModuleUserObjectPermission.objects.filter(
            user=world.contractor, content_object=module
        ).count()
        == 1
    )
