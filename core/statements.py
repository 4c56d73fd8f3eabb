"""Per-page statements compiled once: for queries whose Python compilation costs more
than running them (the level CASE of permissions/levels_sql and its parts).

`PageStatement(build)`: `build(key, pks)` gives a `values_list` queryset over rows
`pk IN pks` whose first column is the pk; the statement is compiled once per `key` with
BATCH placeholder pks and then run with each page's pks (padded with a pk that matches
nothing), so a page costs one execution and no compilation. `key` must determine
everything else in the SQL (a user pk, a module pk...). `pks` may be used more than once
in the statement (e.g. to narrow a subquery to the page's rows as well): every parameter
that is one of the placeholders is replaced by the page's pk at that place.
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from threading import Lock

from django.db import connection

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
