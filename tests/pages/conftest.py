"""Helpers for page tests: a signed-in test client per persona."""

import pytest
from django.test import Client


@pytest.fixture
def as_user():
    """as_user(user) -> a Django test client signed in as `user` (None: anonymous)."""

    def _client(user=None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return _client


@pytest.fixture
def core_module(world, publish):
    """CustomerCore published by the developer in ACME Development (developer: publish)."""
    return publish(world.developer, world.acme_dev_env).module
