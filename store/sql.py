"""A WHERE clause assembled from the filters a caller gave, out of fixed fragments: each list
query then has one plan per shape of filter, instead of one `$n IS NULL OR col = $n` plan
that Postgres turns generic after five runs (and that cannot use the column's index)."""

from __future__ import annotations

from typing import Any

import asyncpg

from store.pool import Conn


class Where:
    """Conditions joined with AND. A fragment is a constant of the repository; each `{}` in it
    stands for the next `$n` parameter, and values only ever travel as parameters."""

    def __init__(self, *args: Any) -> None:
        self.args: list[Any] = list(args)  # parameters already numbered ($1, $2…)
        self.parts: list[str] = []

    def param(self, value: Any) -> str:
        """One more parameter (a limit, an offset, a bound): its placeholder."""
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, fragment: str, *values: Any) -> Where:
        self.parts.append(fragment.format(*(self.param(v) for v in values)))
        return self

    def when(self, condition: object, fragment: str, *values: Any) -> Where:
        """`add` when `condition` is true (a filter given)."""
        return self.add(fragment, *values) if condition else self

    @property
    def sql(self) -> str:
        """`AND` of the conditions, `true` when there is none (to follow WHERE or AND)."""
        return " AND ".join(self.parts) or "true"


def like_literal(text: str) -> str:
    """`text` for a LIKE pattern, its wildcards (`%`, `_`) and escapes searched for literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Counts that could scan a whole table stop here: past it a page says « plus de 1 000 ».
COUNT_BOUND = 1000


def count_bound(limit: int, offset: int) -> int:
    """Rows to count before stopping: the bound, or a page beyond the one asked for. A total
    that is a lower bound is thus always past the page's end: a client paging on
    `offset + limit < total` goes on to the next page."""
    return max(COUNT_BOUND, offset + 2 * limit)


async def fetch_page(
    conn: Conn, w: Where, rows_sql: str, count_sql: str, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int, bool]:
    """One page of a list and its total: `rows_sql` with `{where}`, `{limit}` and `{offset}`,
    `count_sql` with `{where}` and `{bound}` (a LIMIT that stops the count). Returns the rows,
    the total and whether it is a lower bound."""
    page, counted = Where(*w.args), Where(*w.args)
    sql = rows_sql.format(where=w.sql, limit=page.param(limit), offset=page.param(offset))
    rows = await conn.fetch(sql, *page.args)
    bound = count_bound(limit, offset)
    total = await conn.fetchval(
        count_sql.format(where=w.sql, bound=counted.param(bound + 1)), *counted.args
    )
    return rows, min(total, bound), total > bound
