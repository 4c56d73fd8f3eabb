"""The audit page shows an entry's details whatever their names (found by the crawl:
a transfer's details carry `items`, which the template read as dict.items)."""

import pytest
from django.urls import reverse

from audit.services import audit_record

pytestmark = pytest.mark.django_db


def test_details_called_items_are_shown_not_a_server_error(client, world):
    audit_record(
        actor=world.developer,
        action="transfer.requested",
        infrastructure=world.acme,
        details={"items": [{"module": "OrdersAPI", "version": 1}], "note": "n"},
    )
    client.force_login(world.acme_admin)
    response = client.get(reverse("audit:log", args=[str(world.acme.pk)]))
    assert response.status_code == 200
    assert "OrdersAPI" in response.content.decode()
