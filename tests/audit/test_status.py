"""The remembered, incremental verification behind the page's status box."""

import pytest

from audit.models import AuditEntry, AuditHead
from audit.verify import chain_status

pytestmark = pytest.mark.django_db


def test_each_view_verifies_only_up_to_its_budget_and_says_what_is_pending(world, append):
    append(12, actor=world.support)
    first = chain_status(budget=5)
    assert (first.ok, first.verified_seq, first.pending) == (True, 5, 7)
    second = chain_status(budget=5)
    assert (second.verified_seq, second.pending) == (10, 2)
    third = chain_status(budget=5)
    assert (third.ok, third.verified_seq, third.pending) == (True, 12, 0)


def test_a_break_beyond_the_budget_is_found_when_its_turn_comes(world, append):
    append(12, actor=world.support)
    AuditEntry.objects.filter(seq=9).update(action="module.exported")
    assert chain_status(budget=5).ok
    status = chain_status(budget=5)
    assert (status.ok, status.bad_seq, status.problem) == (
        False,
        9,
        "tampered: entry 9: hash mismatch",
    )
    assert status.verified_seq == 5


def test_truncation_below_what_was_verified_is_named(world, append, settings):
    settings.IPP_AUDIT_CHECKPOINT_EVERY = 10
    append(25, actor=world.support)
    assert chain_status().verified_seq == 25
    AuditEntry.objects.filter(seq__gt=12).delete()
    AuditHead.objects.update(seq=12, hash=AuditEntry.objects.get(seq=12).hash)
    status = chain_status()
    assert not status.ok
    assert status.problem == "truncated: checkpoint at 20 but chain ends at 12"


def test_an_edit_to_the_last_verified_entry_is_noticed_at_once(world, append):
    append(4, actor=world.support)
    chain_status()
    AuditEntry.objects.filter(seq=4).update(hash="b" * 64)
    status = chain_status()
    assert (status.ok, status.bad_seq) == (False, 4)
