"""Two concurrent demotions of an infrastructure's two administrators cannot both pass:
the last-administrator rule is decided under the infrastructure's row lock (PostgreSQL)."""

import threading

import pytest
from django.db import connection

from permissions.invitations import InvitationExpired, invitation_accept, invitation_create
from permissions.members import LastAdministrator, membership_remove, membership_set
from registry.models import Membership
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(*calls) -> list:
    """Run the calls at once in threads; the exceptions they raised."""
    barrier = threading.Barrier(len(calls))
    errors = []

    def run(call):
        try:
            barrier.wait()
            call()
        except Exception as exc:  # collected and asserted by the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.parametrize("how", ["demote", "remove"])
def test_two_concurrent_demotions_leave_one_administrator(world, how):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks)")
    second = factories.make_user("second_admin")
    factories.make_member(world.acme, second, role=Membership.Role.ADMINISTRATOR)
    admins = Membership.objects.filter(
        infrastructure=world.acme, role=Membership.Role.ADMINISTRATOR
    )
    for _round in range(8):

        def act(user):
            if how == "demote":
                return lambda: membership_set(
                    actor=world.support, infrastructure=world.acme, user=user, role="member"
                )
            return lambda: membership_remove(
                actor=world.support, infrastructure=world.acme, user=user
            )

        errors = _race(act(world.acme_admin), act(second))
        assert len(errors) == 1 and isinstance(errors[0], LastAdministrator), errors
        assert admins.count() == 1
        # Put both back for the next round.
        for user in (world.acme_admin, second):
            membership_set(
                actor=world.support, infrastructure=world.acme, user=user, role="administrator"
            )
        assert admins.count() == 2


def test_a_secret_replayed_concurrently_is_used_once(world, settings):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks)")
    # The site's real hasher: hashing the new password between reading the invitation and
    # marking it used is what a replay would race against.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    for round_ in range(3):
        _invitation, raw = invitation_create(
            actor=world.acme_admin, infrastructure=world.acme, email=f"r{round_}@example.test"
        )
        errors = _race(
            *(
                lambda name=name, raw=raw: invitation_accept(
                    raw=raw, username=name, password="a-long-enough-passphrase-42"
                )
                for name in (f"first{round_}", f"second{round_}")
            )
        )
        assert len(errors) == 1 and isinstance(errors[0], InvitationExpired), errors
        joined = Membership.objects.filter(
            infrastructure=world.acme, user__username__in=[f"first{round_}", f"second{round_}"]
        )
        assert joined.count() == 1
