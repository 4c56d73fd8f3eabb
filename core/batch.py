"""Writes sent together: one statement on PostgreSQL, one statement each elsewhere.

Once the rows they refer to are written, the remaining inserts, updates and deletes of one
operation often do not depend on each other (a publish's grant, exposed elements,
provenance and deployment rows; an audit append's entries, signed head and log row). On
PostgreSQL a `WriteBatch` sends them as one statement of data-modifying WITH queries: one
round trip, and one statement instead of one each. SQLite has no data-modifying WITH: there
each part runs as its own statement, in the order added. Nothing is written before
`flush()`.

The parts of one PostgreSQL statement share one snapshot and run in no fixed order, so a
batch must not hold two parts where one needs to see the other's effect (an UPDATE that
frees a unique slot which an INSERT of the same batch takes; a DELETE of a row another part
inserts). Foreign keys between parts are fine: constraints are checked at the end of the
statement, or of the transaction where they are deferred (Django's are).

Thousands of rows of one model go faster through the database's bulk loader: `load()`
sends them with COPY on PostgreSQL and one executemany() on SQLite (no SQL text per row to
compile, quote, send and parse), before the statement; their pks are not read back.

Written here rather than taken from a library: Django compiles each part (its
InsertQuery, UpdateQuery and DeleteQuery, as bulk_create, update and a raw delete would),
and only joins them; no maintained library does that join.
"""

import contextlib
import json

from django.db import connections, router
from django.db.models import Q
from django.db.models.constants import OnConflict
from django.db.models.sql import DeleteQuery, InsertQuery, UpdateQuery

ROWS_PER_INSERT = 500
# From this many rows an operation that needs no pks back loads them (`load()`) rather than
# inserting them: below it, the extra statement costs more than the compilation saved.
ROWS_TO_LOAD = 1000


class WriteBatch:
    """Inserts, updates and deletes of one database, written by `flush()` (see the module)."""

    def __init__(self):
        self._parts: list[tuple[str, tuple, list, bool]] = []  # sql, params, objs, pks returned
        self._loads: list[tuple[object, list, list, list]] = []  # model, fields, rows, objs
        self._using: str | None = None

    def __len__(self) -> int:
        # The statements waiting. An empty batch is falsy: test `batch is None`, never
        # `batch or WriteBatch()` (that would drop a caller's batch before it has parts).
        return len(self._parts) + len(self._loads)

    def _db_for(self, model) -> str:
        using = router.db_for_write(model)
        if self._using is None:
            self._using = using
        elif using != self._using:
            raise ValueError("a WriteBatch writes to one database")
        return using

    def insert(self, model, objs, *, ignore_conflicts: bool = False) -> "WriteBatch":
        """INSERT these unsaved instances of `model`, as bulk_create would (no save(), no
        signals). Their auto pks are set by `flush()`, unless `ignore_conflicts` (rows that
        conflict with a unique constraint are then skipped, and no pk is returned)."""
        objs = list(objs)
        if not objs:
            return self
        using = self._db_for(model)
        meta = model._meta
        for obj in objs:
            obj._prepare_related_fields_for_save(operation_name="bulk_create")
        unsaved = [obj.pk is None for obj in objs]
        if any(unsaved) and not all(unsaved):
            raise ValueError("insert rows that all have their pk, or none")
        auto = meta.auto_field if all(unsaved) else None
        fields = [f for f in meta.concrete_fields if not f.generated and f is not auto]
        returns = auto is not None and not ignore_conflicts
        rows = max(1, min(ROWS_PER_INSERT, connections[using].ops.bulk_batch_size(fields, objs)))
        for start in range(0, len(objs), rows):
            chunk = objs[start : start + rows]
            query = InsertQuery(model, on_conflict=OnConflict.IGNORE if ignore_conflicts else None)
            query.insert_values(fields, chunk)
            compiler = query.get_compiler(using=using)
            if returns:
                compiler.returning_fields = [meta.pk]
            ((sql, params),) = compiler.as_sql()
            self._parts.append((sql, tuple(params), chunk, returns))
        return self

    def load(self, model, objs) -> "WriteBatch":
        """INSERT these unsaved instances of `model` with the bulk loader (see the module):
        as `insert` does, but their pks are left unset. Loaded before the batch's other
        parts are written, in the same transaction."""
        objs = list(objs)
        if not objs:
            return self
        using = self._db_for(model)
        db = connections[using]
        meta = model._meta
        if any(obj.pk is not None for obj in objs):
            raise ValueError("load rows without their pk (the database gives it)")
        fields = [f for f in meta.concrete_fields if not f.generated and f is not meta.auto_field]
        rows = []
        for obj in objs:
            obj._prepare_related_fields_for_save(operation_name="bulk_create")
            rows.append([f.get_db_prep_save(f.pre_save(obj, True), db) for f in fields])
        self._loads.append((model, fields, rows, objs))
        return self

    def insert_each(
        self, model, varying: str, values, *, ignore_conflicts: bool = False, **constants
    ) -> "WriteBatch":
        """INSERT one row of `model` per value of the field `varying`, every other field
        as in `model(**constants)` (defaults and auto_now_add included), in one statement
        that takes the values as one array: no model instance and no compiled VALUES row
        per value (a publish's provenance of thousands of files). No pks are returned.
        PostgreSQL reads the values with unnest(), SQLite with json_each()."""
        values = list(values)
        if not values:
            return self
        using = self._db_for(model)
        db = connections[using]
        meta = model._meta
        template = model(**constants)
        template._prepare_related_fields_for_save(operation_name="bulk_create")
        column = meta.get_field(varying)
        fields = [
            f
            for f in meta.concrete_fields
            if not f.generated and f is not meta.auto_field and f is not column
        ]
        params = [f.get_db_prep_save(f.pre_save(template, True), db) for f in fields]
        prepared = [column.get_db_prep_save(value, db) for value in values]
        qn = db.ops.quote_name
        names = ", ".join(qn(f.column) for f in [*fields, column])
        placeholders = ", ".join(["%s"] * len(fields))
        if db.vendor == "postgresql":
            source = f"unnest(%s::{column.db_type(db)}[]) AS v(value)"
            params.append(prepared)
            verb, suffix = "INSERT", " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
        else:
            source = "json_each(%s)"
            params.append(json.dumps(prepared))
            verb, suffix = ("INSERT OR IGNORE" if ignore_conflicts else "INSERT"), ""
        sql = (
            f"{verb} INTO {qn(meta.db_table)} ({names}) "
            f"SELECT {placeholders}{', ' if fields else ''}value FROM {source}{suffix}"
        )
        self._parts.append((sql, tuple(params), [], False))
        return self

    def update(self, model, pk, **values) -> None:
        """UPDATE the row of `model` with this pk to these values."""
        using = self._db_for(model)
        query = UpdateQuery(model)
        query.add_update_values(values)
        query.add_q(Q(pk=pk))
        sql, params = query.get_compiler(using=using).as_sql()
        self._parts.append((sql, tuple(params), [], False))

    def delete(self, queryset) -> None:
        """DELETE the rows of `queryset` in one statement, cascading nothing (as a fast
        delete does: use it only where nothing refers to them or what does is DO_NOTHING)."""
        using = self._db_for(queryset.model)
        query = queryset.query.chain(DeleteQuery)
        sql, params = query.get_compiler(using=using).as_sql()
        self._parts.append((sql, tuple(params), [], False))

    def flush(self) -> None:
        """Write every part (one statement on PostgreSQL) and set the inserted rows' pks."""
        parts, self._parts = self._parts, []
        loads, self._loads = self._loads, []
        if not parts and not loads:
            return
        db = connections[self._using]
        returned: dict[int, list] = {}
        with db.cursor() as cursor:
            for model, fields, rows, _objs in loads:
                _load(db, cursor, model, fields, rows)
            if db.vendor == "postgresql" and len(parts) > 1:
                withs, selects, params = [], [], []
                for n, (sql, part_params, objs, returns) in enumerate(parts):
                    withs.append(f"w{n} AS ({sql})")
                    params.extend(part_params)
                    if returns:
                        pk = db.ops.quote_name(objs[0]._meta.pk.column)
                        selects.append(f"SELECT {n}, {pk} FROM w{n}")
                main = " UNION ALL ".join(selects) or "SELECT NULL, NULL"
                cursor.execute(f"WITH {', '.join(withs)} {main}", params)
                for n, pk in cursor.fetchall():
                    if n is not None:
                        returned.setdefault(n, []).append(pk)
            else:
                for n, (sql, part_params, _objs, returns) in enumerate(parts):
                    cursor.execute(sql, part_params)
                    if returns:
                        returned[n] = [row[0] for row in cursor.fetchall()]
        for n, (_sql, _params, objs, returns) in enumerate(parts):
            if returns:
                pks = returned.get(n, [])
                if len(pks) != len(objs):
                    raise RuntimeError(f"an insert of {len(objs)} rows returned {len(pks)} pks")
                for obj, pk in zip(objs, pks, strict=True):
                    obj.pk = pk
        # Every row written is now saved, as Django marks what it has written.
        for objs in [*(load[3] for load in loads), *(part[2] for part in parts)]:
            for obj in objs:
                obj._state.adding, obj._state.db = False, self._using


def _load(db, cursor, model, fields, rows) -> None:
    """The rows (values prepared for `db`) into `model`'s table with the bulk loader."""
    qn = db.ops.quote_name
    table, columns = qn(model._meta.db_table), ", ".join(qn(f.column) for f in fields)
    if db.vendor != "postgresql":
        placeholders = ", ".join(["%s"] * len(fields))
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)
        return
    sql = f"COPY {table} ({columns}) FROM STDIN"
    # COPY bypasses Django's execute(): its errors are made Django's here (IntegrityError),
    # and its debug cursor (tests counting queries, DEBUG's log) records it as one statement.
    record = getattr(cursor, "debug_sql", None)
    with record(sql) if record else contextlib.nullcontext(), db.wrap_database_errors:
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
