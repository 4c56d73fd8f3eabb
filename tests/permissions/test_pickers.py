"""Member pickers search as you type: a page of matches, never a list of everyone."""

import pytest
from django.urls import reverse

from ippsite.permissions_ui.pickers import PICKER_LIMIT
from tests import factories
from tests.permissions.conftest import make_team

pytestmark = pytest.mark.django_db


def _picker(world, **params):
    url = reverse("member_picker", args=[world.acme.pk])
    return url, params


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("support", 403),
        ("acme_admin", 200),
        ("developer", 403),
        ("contractor", 403),
        ("emca_admin", 404),
        ("outsider", 404),
    ],
)
def test_only_the_infrastructures_administrators_search_its_members(client, world, persona, status):
    client.force_login(world.personas()[persona])
    url, params = _picker(world, q="dev")
    assert client.get(url, params).status_code == status


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    url, params = _picker(world)
    assert client.get(url, params).status_code == 302


def test_the_search_matches_part_of_a_username(client, world):
    client.force_login(world.acme_admin)
    url, params = _picker(world, q="ONTRA")
    body = client.get(url, params).json()
    assert body == {
        "results": [{"value": "contractor", "label": "contractor · member"}],
        "more": False,
    }


def test_at_most_a_page_of_matches_and_whether_there_are_more(client, world):
    for i in range(PICKER_LIMIT + 5):
        factories.make_member(world.acme, factories.make_user(f"temp{i:03d}"))
    client.force_login(world.acme_admin)
    url, params = _picker(world, q="temp")
    body = client.get(url, params).json()
    assert len(body["results"]) == PICKER_LIMIT and body["more"] is True
    assert body["results"][0]["value"] == "temp000"


def test_a_team_picker_leaves_out_the_teams_members_and_others_leaves_out_me(client, world):
    team = make_team(world.acme, "Contractors", 1, members=[world.contractor])
    client.force_login(world.acme_admin)
    url, _ = _picker(world)
    names = [r["value"] for r in client.get(url, {"team": team.pk}).json()["results"]]
    assert names == ["acme_admin", "developer"]
    names = [r["value"] for r in client.get(url, {"others": "1"}).json()["results"]]
    assert names == ["contractor", "developer"]


def test_members_of_other_infrastructures_are_never_offered(client, world):
    client.force_login(world.acme_admin)
    url, params = _picker(world, q="emca")
    assert client.get(url, params).json()["results"] == []
