"""Publishing through the API, as a pipeline would."""

from tests import factories
from tests.api.client import Api, Reply


def publish(
    client: Api, environment, manifest: dict | None = None, files: dict | None = None
) -> Reply:
    return client.upload(
        f"environments/{environment.pk}/publish", factories.package_bytes(manifest, files)
    )


def published(
    client: Api, environment, manifest: dict | None = None, files: dict | None = None
) -> dict:
    """Publish and insist it worked; the reply's JSON."""
    reply = publish(client, environment, manifest, files)
    assert reply.status in (200, 201), reply.body
    return reply.json()
