"""The catalog's keys come from SQL compiled once per user and filters (KeysStatement):
the same rows as the door's queryset, right after the user's sources change, and the
door's filter is built once however many pages are asked."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.levels import Level
from core.statements import CompiledKeys
from permissions import selectors
from registry.models import Membership
from tests.permissions.conftest import make_grant, make_module

pytestmark = pytest.mark.django_db


def _names(client, **params) -> list[str]:
    page = client.get(reverse("catalog"), params).content.decode()
    return re.findall(r'data-module="([^"]+)"', page)


def test_compiled_keys_count_and_slice_as_the_queryset(world):
    for i in range(7):
        make_module(world.acme, f"Mod{i}")
    keys = selectors.catalog_page_keys(world.developer)
    assert isinstance(keys, CompiledKeys)
    expected = list(selectors.catalog_keys(world.developer).values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as counted:
        assert keys.count() == len(expected) == 7
    assert "ORDER BY" not in counted.captured_queries[0]["sql"].upper()  # no sort to count
    assert keys[0:3] == expected[0:3]
    assert keys[3:6] == expected[3:6]
    assert keys[6:50] == expected[6:]
    assert keys[5:5] == [] and keys[9:12] == []
    with pytest.raises(TypeError):
        keys[2:]
    with pytest.raises(TypeError):
        keys[0:4:2]


def test_compiled_keys_follow_the_users_sources(client, world):
    """Cached SQL names the user's pk, never their rows: a grant given or a membership
    ended after the first page shows on the next one."""
    module = make_module(world.acme, "Granted")
    client.force_login(world.contractor)  # a member with default level none
    assert _names(client) == []
    make_grant(world.contractor, module, Level.REFERENCE)
    assert _names(client) == ["Granted"]
    assert _names(client, infrastructure=world.acme.pk) == ["Granted"]
    Membership.objects.filter(user=world.contractor).delete()
    assert _names(client) == []
    assert _names(client, infrastructure=world.acme.pk) == []


def test_the_door_filter_is_built_once_per_user_and_filters(client, world, monkeypatch):
    built = []
    catalog_keys = selectors.catalog_keys
    monkeypatch.setattr(
        selectors, "catalog_keys", lambda *a, **kw: built.append(kw) or catalog_keys(*a, **kw)
    )
    for i in range(3):
        make_module(world.acme, f"Mod{i}")
    client.force_login(world.developer)
    first = _names(client)
    assert _names(client) == first and _names(client, page=1) == first
    assert len(built) <= 1  # none when an earlier test compiled this user's already
    _names(client, level="open")
    _names(client, level="open")
    assert len(built) <= 2
    # A text search is compiled each time (its words are not cache keys).
    before = len(built)
    assert _names(client, q="Mod1") == ["Mod1"]
    assert len(built) == before + 1
