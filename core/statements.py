"""Per-page statements compiled once: for queries whose Python compilation costs more
than running them (the level CASE of permissions/levels_sql and its parts).

`PageStatement(build)`: `build(key, pks)` gives a `values_list` queryset over rows
`pk IN pks` whose first column is the pk; the statement is compiled once per `key` with
BATCH placeholder pks and then run with each page's pks (padded with a pk that matches
nothing), so a page costs one execution and no compilation. `key` must determine
everything else in the SQL (a user pk, a module pk...).

`KeysStatement(build)`: the same for the ordered pks of a whole list (the door's filter
of a catalog): compiled once per `key`, then counted and sliced by a Paginator.
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from threading import Lock

from django.db import connection

BATCH = 50
_NOTHING = -1  # no row has this pk


class PageStatement:
    def __init__(self, build: Callable, *, cache_size: int = 512):
        self._build = build
        self._cache: OrderedDict = OrderedDict()
        self._size = cache_size
        self._lock = Lock()

    def _compiled(self, key: Hashable) -> tuple[str, tuple, int]:
        cache_key = (connection.vendor, connection.settings_dict["NAME"], key)
        with self._lock:
            found = self._cache.get(cache_key)
            if found is not None:
                self._cache.move_to_end(cache_key)
                return found
        placeholders = list(range(-BATCH - 1, -1))  # distinct, below _NOTHING
        sql, params = self._build(key, placeholders).order_by().query.sql_with_params()
        params = tuple(params)
        start = len(params) - BATCH
        if list(params[start:]) != placeholders:
            raise RuntimeError("the pks are not the statement's last parameters")
        with self._lock:
            self._cache[cache_key] = (sql, params, start)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return sql, params, start

    def rows(self, key: Hashable, pks: Iterable[int]) -> list[tuple]:
        """The statement's rows for `pks` (any number: run per batch of BATCH)."""
        pks = [int(pk) for pk in pks]
        found: list[tuple] = []
        for start in range(0, len(pks), BATCH):
            batch = pks[start : start + BATCH]
            sql, params, at = self._compiled(key)
            values = [*params[:at], *batch, *[_NOTHING] * (BATCH - len(batch))]
            with connection.cursor() as cursor:
                cursor.execute(sql, values)
                found.extend(cursor.fetchall())
        return found


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
