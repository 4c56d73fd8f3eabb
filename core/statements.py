"""Per-page statements compiled once: for queries whose Python compilation costs more
than running them (the level CASE of permissions/levels_sql and its parts).

`PageStatement(build)`: `build(key, pks)` gives a `values_list` queryset over rows
`pk IN pks` whose first column is the pk; the statement is compiled once per `key` with
BATCH placeholder pks and then run with each page's pks (padded with a pk that matches
nothing), so a page costs one execution and no compilation. `key` must determine
everything else in the SQL (a user pk, a module pk...). `pks` may be used more than once
in the statement (e.g. to narrow a subquery to the page's rows as well): every parameter
that is one of the placeholders is replaced by the page's pk at that place.

`insert_unless_taken(obj, unique=...)`: one INSERT ... ON CONFLICT DO NOTHING RETURNING,
for a row that a concurrent transaction may insert first (no savepoint needed).
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from threading import Lock

from django.db import connection, connections, router
from django.db.models.sql import InsertQuery

BATCH = 50
_NOTHING = -1  # no row has this pk
# Placeholder pks: distinct, negative (no row has them) and unlike any other parameter.
_PLACEHOLDERS = [-(10**12) - n for n in range(BATCH)]
_SLOT = {value: n for n, value in enumerate(_PLACEHOLDERS)}


class PageStatement:
    def __init__(self, build: Callable, *, cache_size: int = 512):
        self._build = build
        self._cache: OrderedDict = OrderedDict()
        self._size = cache_size
        self._lock = Lock()

    def _compiled(self, key: Hashable) -> tuple:
        cache_key = (connection.vendor, connection.settings_dict["NAME"], key)
        with self._lock:
            found = self._cache.get(cache_key)
            if found is not None:
                self._cache.move_to_end(cache_key)
                return found
        query = self._build(key, list(_PLACEHOLDERS)).order_by().query
        compiler = query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        params = tuple(params)
        # The columns' converters, as a queryset applies them (a UUID or a datetime comes
        # back from SQLite as text).
        converters = compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]])
        convert = (lambda rows: compiler.apply_converters(rows, converters)) if converters else None
        # (position in params, index in the batch) of every placeholder.
        slots = tuple(
            (at, _SLOT[value])
            for at, value in enumerate(params)
            if type(value) is int and value in _SLOT
        )
        if sorted({n for _, n in slots}) != list(range(BATCH)):
            raise RuntimeError("the statement does not take the page's pks as parameters")
        with self._lock:
            self._cache[cache_key] = (sql, params, slots, convert)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return sql, params, slots, convert

    def rows(self, key: Hashable, pks: Iterable[int]) -> list[tuple]:
        """The statement's rows for `pks` (any number: run per batch of BATCH)."""
        pks = [int(pk) for pk in pks]
        found: list[tuple] = []
        for start in range(0, len(pks), BATCH):
            batch = pks[start : start + BATCH]
            batch += [_NOTHING] * (BATCH - len(batch))
            sql, params, slots, convert = self._compiled(key)
            values = list(params)
            for at, n in slots:
                values[at] = batch[n]
            with connection.cursor() as cursor:
                cursor.execute(sql, values)
                rows = cursor.fetchall()
            found.extend(map(tuple, convert(rows)) if convert else rows)
        return found


def insert_unless_taken(obj, *, unique: tuple[str, ...]) -> bool:
    """INSERT `obj` unless a row with the same values of the `unique` fields (a unique
    constraint of its model) is there: `ON CONFLICT (...) DO NOTHING RETURNING pk`.

    True, with obj's pk set, when inserted; False when such a row exists (on PostgreSQL,
    after waiting for a concurrent inserter of it to commit). One statement and no
    savepoint: the transaction stays usable after a conflict, where catching the
    IntegrityError of a plain INSERT needs a savepoint around it on PostgreSQL. Django's
    `bulk_create(ignore_conflicts=True)` would run the same INSERT but returns no pk (and
    on SQLite ignores NOT NULL and CHECK failures too: `INSERT OR IGNORE`); this one
    ignores only a conflict on `unique`. Like bulk_create, it sends no model signals.
    """
    model = type(obj)
    meta = model._meta
    using = router.db_for_write(model, instance=obj)
    db = connections[using]
    fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field and not f.generated]
    query = InsertQuery(model)
    query.insert_values(fields, [obj])
    compiler = query.get_compiler(using=using)
    values = [compiler.prepare_value(f, compiler.pre_save_val(f, obj)) for f in fields]
    placeholders, params = compiler.assemble_as_sql(fields, [values])
    qn = db.ops.quote_name
    target = ", ".join(qn(meta.get_field(name).column) for name in unique)
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"VALUES ({', '.join(placeholders[0])}) "
        f"ON CONFLICT ({target}) DO NOTHING RETURNING {qn(meta.pk.column)}"
    )
    with db.cursor() as cursor:
        cursor.execute(sql, params[0])
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding, obj._state.db = False, using
    return True
