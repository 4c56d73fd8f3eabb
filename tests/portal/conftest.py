"""Portal fixtures: ACME's protected CustomerCore, transfer helpers, a live API client."""

import io
import uuid

import pytest

from ippsite.models import ApiToken
from portal.services import transfer_request
from tests import factories
from tests.api.client import Api

SECRET = b"-- secret logic of GetCustomer --\nreturn 42\n"


@pytest.fixture
def customer_core(world, publish):
    """ACME's CustomerCore v1, published by the developer: marked for ACME, epoch 1."""
    manifest = factories.manifest(key=str(uuid.uuid4()), name="CustomerCore")
    result = publish(
        world.developer, world.acme_dev_env, manifest, {"Logic/GetCustomer.oml": SECRET}
    )
    return result.version


@pytest.fixture
def billing(world, publish):
    """A second ACME module the developer may publish."""
    manifest = factories.manifest(key=str(uuid.uuid4()), name="Billing", exposes=[])
    return publish(
        world.developer, world.acme_dev_env, manifest, {"Logic/Bill.oml": b"bill\n"}
    ).version


@pytest.fixture
def emca_module(world, publish):
    """An EMCA module (unprotected: unmarked), published by EMCA's administrator."""
    manifest = factories.manifest(key=str(uuid.uuid4()), name="EmcaPortal", exposes=[])
    return publish(
        world.emca_admin, world.emca_dev_env, manifest, {"Web/Home.oml": b"home\n"}
    ).version


@pytest.fixture
def pending(world, customer_core):
    """A pending request by the developer: CustomerCore from ACME to EMCA."""
    return transfer_request(
        user=world.developer,
        modules=[customer_core.module_id],
        target_activation_code=world.emca.activation_code,
        note="EMCA's portal needs CustomerCore",
    )


def as_file(data: bytes, name: str = "module.zip") -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


def download(issued) -> bytes:
    with issued.file as fh:
        return fh.read()


@pytest.fixture
def api(live_server, world):
    """api(persona_name) → a real HTTP client with that persona's token; api() → anonymous."""

    def _client(persona: str | None = None) -> Api:
        if persona is None:
            return Api(live_server.url)
        _row, raw = ApiToken.issue(world.personas()[persona])
        return Api(live_server.url, raw)

    return _client
