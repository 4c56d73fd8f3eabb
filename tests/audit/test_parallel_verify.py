"""The tree pass in worker processes (verify_audit --jobs) finds what it finds in one.

Workers read only what is committed, so these tests commit (transactional database); on
SQLite the test database is in memory, which no other process can open: there the pass
stays in this process, and a subprocess test runs it over a database file instead.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from audit import checks, summaries
from audit.services import audit_record
from tests.audit import tamper

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
SIZE, CHUNK = 40, 4


def _fill(world) -> str:
    for n in range(SIZE):
        audit_record(actor=world.support, action="user.created", details={"n": n})
    return "site"


def _both(log: str) -> list[tuple]:
    """The tree pass's findings in one process and in three; they must agree."""
    state = checks.read_state(log)
    alone = checks.tree_pass(state, CHUNK, jobs=1)
    spread = checks.tree_pass(checks.read_state(log), CHUNK, jobs=3)
    assert spread == alone
    return [(f.index, f.problem) for f in spread]


@pytest.fixture
def log(world) -> str:
    return _fill(world)


def test_workers_are_used_where_they_can_read_the_database(log):
    in_memory = connection.vendor == "sqlite" and connection.is_in_memory_db()
    assert summaries.may_fork() is not in_memory
    assert summaries.parallel(SIZE, CHUNK, 3) is not in_memory
    assert not summaries.parallel(SIZE, CHUNK, 1)
    assert not summaries.parallel(SIZE, SIZE // 5, 3)  # fewer than two chunks a job


def test_never_inside_a_transaction(log):
    """A worker would not see what the transaction wrote: the pass stays here."""
    with transaction.atomic():
        assert not summaries.may_fork()
        assert not summaries.parallel(SIZE, CHUNK, 3)


def test_an_honest_log_verifies_in_workers(log):
    assert _both(log) == []


@pytest.mark.parametrize(
    "change, index, words",
    [
        (lambda log: tamper.edit_details(log, 21, n="forged"), 21, "signed head at size 22"),
        (lambda log: tamper.swap(log, 30, 33), 30, "signed head at size 31"),
        (lambda log: tamper.rows(log).filter(index=3).delete(), 3, "entry 3 is missing"),
    ],
)
def test_an_edit_a_swap_and_a_deletion_are_caught_at_the_same_index_in_workers(
    log, change, index, words
):
    change(log)
    [(found, problem)] = _both(log)
    assert found == index and words in problem, problem


def test_a_deleted_entry_in_a_later_workers_run_is_named(log):
    tamper.rows(log).filter(index=35).delete()
    assert _both(log) == [(35, f"entry 35 is missing (the log's size is {SIZE})")]


@pytest.mark.parametrize("indexes", [[2], [27], [39], [35, 5]])
def test_a_column_that_disagrees_is_caught_at_its_index_in_workers(log, indexes):
    for index in indexes:
        tamper.rows(log).filter(index=index).update(actor_name="mallory")
    alone = checks.column_pass(log, SIZE, CHUNK, jobs=1)
    spread = checks.column_pass(log, SIZE, CHUNK, jobs=3)
    assert spread == alone
    assert [(f.index, "actor_name" in f.problem) for f in spread] == [(min(indexes), True)]


def test_the_command_takes_jobs(log, capsys):
    call_command("verify_audit", "--jobs", "2")
    assert f"ok: {SIZE} entries in 1 logs" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--jobs must be at least 1"):
        call_command("verify_audit", "--jobs", "0")


@pytest.mark.slow
def test_workers_over_a_sqlite_database_file(tmp_path):
    """The same over SQLite's file, in a process of its own (the suite's SQLite is in memory)."""
    script = textwrap.dedent(
        f"""
        import django
        django.setup()
        from django.core.management import call_command
        call_command("migrate", verbosity=0)
        from audit import checks, summaries
        from audit.synthetic import bulk_append
        from tests.audit import tamper
        bulk_append({SIZE}, batch=3)
        assert summaries.may_fork()
        assert summaries.parallel({SIZE}, {CHUNK}, 3)
        assert checks.tree_pass(checks.read_state("site"), {CHUNK}, jobs=3) == []
        tamper.edit_details("site", 26, n="forged")
        alone = checks.tree_pass(checks.read_state("site"), {CHUNK}, jobs=1)
        spread = checks.tree_pass(checks.read_state("site"), {CHUNK}, jobs=3)
        assert spread == alone and [f.index for f in spread] == [24], spread
        tamper.rows("site").filter(index=33).update(action="forged")
        found = checks.column_pass("site", {SIZE}, {CHUNK}, jobs=3)
        assert found == checks.column_pass("site", {SIZE}, {CHUNK}, jobs=1), found
        assert [f.index for f in found] == [33], found  # 26 was edited with its columns
        print("workers ok")
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"IPP_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "ippsite.settings"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "workers ok" in done.stdout
