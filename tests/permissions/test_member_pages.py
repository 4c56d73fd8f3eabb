"""Pages of members, invitations and teams (SPEC §3, §8): edit cannot rename, remove asks
first, the last administrator stays, invitations are sent, listed, revoked and accepted."""

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from core.levels import Level
from permissions.invitations import invitation_create
from permissions.models import Invitation, Team
from registry.models import Membership
from tests import factories
from tests.permissions.conftest import make_grant, make_module, make_team

pytestmark = pytest.mark.django_db

User = get_user_model()
PASSWORD = "a-long-enough-passphrase-42"


def _users(world) -> str:
    return reverse("infrastructure_users", args=[world.acme.pk])


def _post_form(client, url: str, data: dict):
    return client.post(url, urlencode(data), content_type="application/x-www-form-urlencoded")


def _selected(page: str, name: str) -> str:
    select = re.search(rf'<select name="{name}".*?</select>', page, re.S).group(0)
    return re.search(r'<option value="([^"]*)"[^>]*selected', select).group(1)


# --- who may open what ---------------------------------------------------------------------

PAGES = {
    "edit": lambda w: reverse("member_edit", args=[w.acme.pk, w.contractor.pk]),
    "remove": lambda w: reverse("member_remove", args=[w.acme.pk, w.contractor.pk]),
    "invite": lambda w: reverse("invite", args=[w.acme.pk]),
}


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize(
    "persona, status",
    [
        ("support", 200),
        ("acme_admin", 200),
        ("developer", 403),
        ("contractor", 403),
        ("emca_admin", 404),
        ("outsider", 404),
    ],
)
def test_member_pages_answer_each_persona(client, world, page, persona, status):
    client.force_login(world.personas()[persona])
    assert client.get(PAGES[page](world)).status_code == status
    if status != 200:  # and nothing they post changes anything
        assert client.post(PAGES[page](world), {"role": "member"}).status_code == status
        assert Membership.objects.filter(user=world.contractor, infrastructure=world.acme).exists()


def test_anonymous_readers_are_sent_to_sign_in(client, world):
    for make in PAGES.values():
        response = client.get(make(world))
        assert response.status_code == 302 and reverse("login") in response["Location"]


def test_member_links_are_shown_only_to_who_may_use_them(client, world):
    client.force_login(world.acme_admin)
    page = client.get(_users(world)).content.decode()
    assert reverse("member_edit", args=[world.acme.pk, world.contractor.pk]) in page
    assert reverse("member_remove", args=[world.acme.pk, world.contractor.pk]) in page
    assert reverse("invite", args=[world.acme.pk]) in page
    client.force_login(world.developer)
    assert client.get(_users(world)).status_code == 403


# --- add, edit, remove ---------------------------------------------------------------------


def test_add_a_member_defaults_role_to_member(client, world):
    client.force_login(world.acme_admin)
    page = client.get(_users(world)).content.decode()
    assert _selected(page, "role") == "member"
    response = client.post(
        _users(world), {"username": "outsider", "role": "member", "default_level": "0"}
    )
    assert response.status_code == 302
    assert Membership.objects.get(user=world.outsider, infrastructure=world.acme).role == "member"


def test_the_edit_form_cannot_rename_and_changes_only_what_changed(client, world):
    client.force_login(world.acme_admin)
    url = reverse("member_edit", args=[world.acme.pk, world.developer.pk])
    page = client.get(url).content.decode()
    form = page.split('data-testid="member-edit-form"')[1].split("</form>")[0]
    assert 'name="username"' not in form
    assert 'data-testid="member-username">developer<' in page
    assert _selected(page, "default_level") == str(int(Level.OPEN))
    response = client.post(
        url,
        {
            "username": "outsider",  # ignored: the member is fixed by the address
            "role": "member",
            "default_level": str(int(Level.REFERENCE)),
            "create_modules": "on",
        },
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=world.developer, infrastructure=world.acme)
    assert membership.default_level == Level.REFERENCE and membership.create_modules
    assert not Membership.objects.filter(user=world.outsider).exists()
    entry = AuditEntry.objects.get(action="membership.changed")
    assert entry.details["from"]["default_level"] == "open"
    assert entry.details["to"]["default_level"] == "reference"


def test_demoting_the_last_administrator_on_the_page_answers_409(client, world):
    client.force_login(world.support)
    url = reverse("member_edit", args=[world.acme.pk, world.acme_admin.pk])
    response = client.post(url, {"role": "member", "default_level": "0"})
    assert response.status_code == 409
    assert "last administrator" in response.content.decode()
    assert Membership.objects.get(user=world.acme_admin, infrastructure=world.acme).is_admin
    response = client.post(reverse("member_remove", args=[world.acme.pk, world.acme_admin.pk]))
    assert response.status_code == 409
    assert 'data-testid="remove-error"' in response.content.decode()


def test_removing_asks_first_then_takes_grants_and_teams(client, world):
    module = make_module(world.acme, "OrdersAPI")
    make_grant(world.contractor, module, Level.OPEN)
    make_team(world.acme, "Contractors", Level.REFERENCE, members=[world.contractor])
    client.force_login(world.acme_admin)
    url = reverse("member_remove", args=[world.acme.pk, world.contractor.pk])
    page = client.get(url).content.decode()
    assert 'data-testid="confirm-remove"' in page
    assert Membership.objects.filter(user=world.contractor, infrastructure=world.acme).exists()
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == _users(world)
    assert not Membership.objects.filter(user=world.contractor, infrastructure=world.acme).exists()
    assert not Team.objects.get(name="Contractors").members.exists()
    assert AuditEntry.objects.filter(action="membership.removed").count() == 1
    client.force_login(world.contractor)
    assert client.get(reverse("module", args=[module.pk])).status_code == 404


# --- invitations ---------------------------------------------------------------------------


def test_invite_shows_the_link_once_mails_it_and_lists_it_pending(
    client, world, django_capture_on_commit_callbacks
):
    client.force_login(world.acme_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("invite", args=[world.acme.pk]),
            {"email": "new@example.test", "role": "member", "default_level": "1"},
        )
    assert response.status_code == 201
    page = response.content.decode()
    url = re.search(r'id="invitation-url" type="text" readonly value="([^"]+)"', page).group(1)
    assert [m.to for m in mail.outbox] == [["new@example.test"]] and url in mail.outbox[0].body
    users = client.get(_users(world)).content.decode()
    assert 'data-testid="invitation" data-email="new@example.test"' in users
    assert url.rsplit("/", 1)[-1] not in users  # the secret is shown once, not listed
    invitation = Invitation.objects.get()
    response = client.post(reverse("invitation_revoke", args=[world.acme.pk, invitation.pk]))
    assert response.status_code == 302
    assert 'data-email="new@example.test"' not in client.get(_users(world)).content.decode()
    client.logout()
    gone = client.get(url)
    assert gone.status_code == 410 and "revoked" in gone.content.decode()


def test_a_developer_cannot_revoke(client, world):
    invitation, _raw = invitation_create(
        actor=world.acme_admin, infrastructure=world.acme, email="x@example.test"
    )
    client.force_login(world.developer)
    url = reverse("invitation_revoke", args=[world.acme.pk, invitation.pk])
    assert client.post(url).status_code == 403
    client.force_login(world.emca_admin)
    assert client.post(url).status_code == 404
    invitation.refresh_from_db()
    assert invitation.state == "pending"


def test_a_new_person_accepts_on_the_page_and_is_signed_in(client, world):
    _invitation, raw = invitation_create(
        actor=world.acme_admin,
        infrastructure=world.acme,
        email="new@example.test",
        default_level=Level.OPEN,
    )
    url = reverse("invitation_accept", args=[raw])
    assert client.get(url).status_code == 200
    # A browser posts the form urlencoded (the site refuses anonymous multipart bodies).
    short = _post_form(client, url, {"username": "newdev", "password1": "123", "password2": "123"})
    assert short.status_code == 400 and not User.objects.filter(username="newdev").exists()
    response = _post_form(
        client, url, {"username": "newdev", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("infrastructure", args=[world.acme.pk])
    assert client.get(response["Location"]).status_code == 200  # signed in as newdev
    membership = Membership.objects.get(user__username="newdev")
    assert membership.default_level == Level.OPEN and membership.infrastructure == world.acme
    client.logout()
    replay = client.get(url)
    assert replay.status_code == 410 and "already been used" in replay.content.decode()
    again = _post_form(
        client, url, {"username": "other", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert again.status_code == 410 and not User.objects.filter(username="other").exists()


def test_a_signed_in_user_accepts_with_one_button(client, world):
    _invitation, raw = invitation_create(
        actor=world.support, infrastructure=world.acme, email="o@example.test", role="administrator"
    )
    client.force_login(world.outsider)
    url = reverse("invitation_accept", args=[raw])
    page = client.get(url).content.decode()
    assert 'name="password1"' not in page and 'data-testid="accept"' in page
    assert client.post(url).status_code == 302
    assert Membership.objects.get(user=world.outsider, infrastructure=world.acme).is_admin


def test_an_expired_invitation_page_answers_410(client, world):
    invitation, raw = invitation_create(
        actor=world.acme_admin, infrastructure=world.acme, email="late@example.test"
    )
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    response = client.get(reverse("invitation_accept", args=[raw]))
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert client.get(reverse("invitation_accept", args=["nonsense"])).status_code == 404


def test_the_users_page_costs_the_same_for_5_and_50_members_and_invitations(client, world):
    client.force_login(world.acme_admin)
    team = make_team(world.acme, "Everyone", Level.REFERENCE)

    def add(start: int, count: int) -> None:
        for n in range(start, start + count):
            user = factories.make_user(f"m{n:02d}")
            factories.make_member(world.acme, user)
            team.members.add(user)
            invitation_create(
                actor=world.acme_admin, infrastructure=world.acme, email=f"i{n}@example.test"
            )

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(_users(world)).status_code == 200
        return len(captured)

    add(0, 2)  # with acme_admin, developer and contractor: 5 members, 2 invitations
    few = queries()
    add(2, 45)
    assert Membership.objects.filter(infrastructure=world.acme).count() == 50
    assert queries() == few


# --- teams: rename, empty, delete ----------------------------------------------------------


def test_a_team_is_emptied_and_deleted_with_confirmation(client, world):
    module = make_module(world.acme, "OrdersAPI")
    team = make_team(
        world.acme, "Contractors", Level.OPEN, members=[world.contractor], modules=[module]
    )
    client.force_login(world.acme_admin)
    url = reverse("team", args=[world.acme.pk, team.pk])
    response = client.post(url, {"action": "settings", "name": "Externals", "level": "open"})
    assert response.status_code == 302
    assert client.post(url, {"action": "empty"}).status_code == 302
    team.refresh_from_db()
    assert team.name == "Externals"
    assert not team.members.exists() and not team.modules.exists()
    delete = reverse("team_delete", args=[world.acme.pk, team.pk])
    assert 'data-testid="confirm-team-delete"' in client.get(delete).content.decode()
    assert client.post(delete).status_code == 302
    assert not Team.objects.exists()
    assert AuditEntry.objects.filter(action="team.deleted").count() == 1
    client.force_login(world.developer)
    other = make_team(world.acme, "Devs", Level.OPEN)
    assert client.post(reverse("team_delete", args=[world.acme.pk, other.pk])).status_code == 403
    assert Team.objects.filter(pk=other.pk).exists()


def test_an_administrator_who_steps_down_is_not_sent_into_a_403(client, world):
    second = factories.make_user("second_admin")
    factories.make_member(world.acme, second, role=Membership.Role.ADMINISTRATOR)
    client.force_login(world.acme_admin)
    edit = reverse("member_edit", args=[world.acme.pk, world.acme_admin.pk])
    response = client.post(edit, {"role": "member", "default_level": "0"})
    assert response.status_code == 302
    assert response["Location"] == reverse("infrastructure", args=[world.acme.pk])
    client.force_login(second)
    remove = reverse("member_remove", args=[world.acme.pk, second.pk])
    factories.make_member(world.emca, second)  # still somewhere else
    Membership.objects.filter(user=world.acme_admin).update(role="administrator")
    response = client.post(remove)
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
