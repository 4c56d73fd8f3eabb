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

`KeysStatement(build)`: the same for the ordered pks of a whole list (the door's filter
of a catalog): compiled once per `key`, then counted and sliced by a Paginator.
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


class CompiledKeys:
    """The pks of an ordered queryset, from SQL compiled beforehand: what a Paginator needs
    (`count()` and slices), each one execution and no compilation."""

    ordered = True  # the Paginator's check: the SQL keeps the queryset's ORDER BY

    def __init__(self, sql: str, params: tuple, count_sql: str, count_params: tuple):
        self._sql, self._params = sql, params
        self._count_sql, self._count_params = count_sql, count_params

    def count(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(self._count_sql, self._count_params)
            return cursor.fetchone()[0]

    def __getitem__(self, window: slice) -> list:
        """The pks of `window` (a slice with a stop and no step, as a Paginator asks)."""
        if not isinstance(window, slice) or window.step is not None or window.stop is None:
            raise TypeError("CompiledKeys takes slices with a stop and no step")
        start = max(0, window.start or 0)
        if window.stop <= start:
            return []
        with connection.cursor() as cursor:
            cursor.execute(
                f"{self._sql} LIMIT %s OFFSET %s", (*self._params, window.stop - start, start)
            )
            return [row[0] for row in cursor.fetchall()]


class KeysStatement:
    """`KeysStatement(build)`: `build(*args)` gives an ordered queryset of the rows of a
    list (a door filter, say, whose compilation costs more than running it);
    `keys(key, *args)` gives its pks as `CompiledKeys`, compiled from `build(*args)` once
    per `key` (an LRU of `cache_size`). `key` must determine everything in the SQL, as
    for PageStatement."""

    def __init__(self, build: Callable, *, cache_size: int = 512):
        self._build = build
        self._cache: OrderedDict = OrderedDict()
        self._size = cache_size
        self._lock = Lock()

    def keys(self, key: Hashable, *args) -> CompiledKeys:
        cache_key = (connection.vendor, connection.settings_dict["NAME"], key)
        with self._lock:
            found = self._cache.get(cache_key)
            if found is not None:
                self._cache.move_to_end(cache_key)
                return CompiledKeys(*found)
        pks = self._build(*args).values_list("pk", flat=True)
        sql, params = pks.query.sql_with_params()
        # Counted without the ORDER BY (PostgreSQL would sort every row for nothing).
        unordered, unordered_params = pks.order_by().query.sql_with_params()
        count_sql = f"SELECT COUNT(*) FROM ({unordered}) keys"
        compiled = (sql, tuple(params), count_sql, tuple(unordered_params))
        with self._lock:
            self._cache[cache_key] = compiled
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return CompiledKeys(*compiled)
