"""Helpers for the IPP tests: an API client per persona and the seeds' ACME module."""

import io
import uuid

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEntry
from tests import factories

SECRET = b"-- secret logic of GetCustomer --\nreturn 42\n"


@pytest.fixture
def api():
    def _client(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return _client


def upload(data: bytes, name: str = "module.zip") -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


def publish_via_api(client, environment, data: bytes):
    return client.post(
        f"/api/v1/environments/{environment.pk}/publish",
        {"package": upload(data)},
        format="multipart",
    )


def refusals():
    return AuditEntry.objects.filter(action="module.publish_refused").order_by("seq")


@pytest.fixture
def customer_core():
    """The manifest and files of ACME's CustomerCore module (fresh key per test)."""
    manifest = factories.manifest(key=str(uuid.uuid4()), name="CustomerCore")
    return manifest, {
        "Logic/GetCustomer.oml": SECRET,
        "Entities/Customer.oml": b"entity Customer\n",
    }
