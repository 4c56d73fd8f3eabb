"""API fixtures: a live server, and a token-authenticated client per persona."""

import pytest

from ippsite.models import ApiToken
from tests.api.client import Api


@pytest.fixture
def api(live_server, world):
    """api(persona_name) → a client signed in with that persona's token; api() → anonymous."""

    def _client(persona: str | None = None) -> Api:
        if persona is None:
            return Api(live_server.url)
        user = world.personas()[persona]
        # Tokens are what POST auth/token hands out (tested in test_auth); made directly
        # here to keep each test from paying a password hash per persona.
        _row, raw = ApiToken.issue(user)
        return Api(live_server.url, raw)

    return _client
