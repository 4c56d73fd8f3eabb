"""PageStatement: compiled once per key, run with each page's pks wherever the statement
takes them (a page's pks may also narrow a subquery), in batches past BATCH rows."""

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Q

from core.statements import BATCH, PageStatement

pytestmark = pytest.mark.django_db

User = get_user_model()


def _users(count):
    User.objects.bulk_create(User(username=f"page{i:04d}") for i in range(count))
    return list(User.objects.filter(username__startswith="page").order_by("pk"))


def test_pks_used_twice_are_the_pages_pks_in_both_places():
    users = _users(BATCH + 7)
    # The pks twice: in the rows' filter and in a subquery; the key is a third filter.
    statement = PageStatement(
        lambda prefix, pks: User.objects.filter(
            Q(pk__in=pks),
            Q(pk__in=User.objects.filter(pk__in=pks).values("pk")),
            username__startswith=prefix,
        ).values_list("pk", "username")
    )
    wanted = [u.pk for u in users[3:]]  # more than one batch
    rows = statement.rows("page", wanted)
    assert sorted(rows) == sorted((u.pk, u.username) for u in users[3:])
    assert statement.rows("page", [users[0].pk]) == [(users[0].pk, users[0].username)]
    assert statement.rows("nobody", [users[0].pk]) == []


def test_a_statement_that_does_not_take_the_pks_is_refused():
    _users(1)
    statement = PageStatement(lambda key, pks: User.objects.all().values_list("pk"))
    with pytest.raises(RuntimeError):
        statement.rows("any", [1])
