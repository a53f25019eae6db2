"""Filter expressions as LanceDB SQL: the part of a filter pushed down to LanceDB.

`sql()` returns None where a node cannot be pushed down whole (regular expressions,
which LanceDB and Python read differently, and genres a track inherits from its
playlists); `split()` pushes the largest part of a query that can go to LanceDB and
leaves the rest to be evaluated after retrieval. String literals reach SQL only
through `storage.sql_string`.

Text is compared case-insensitively with a missing value as ""; a comparison with a
missing number is unknown, and so is its NOT: the same rows as the numpy and polars
backends (tests/engine/test_backends.py checks that they are).
"""

from __future__ import annotations

import math
from functools import singledispatchmethod

import numpy as np
from attune.query import And, Compare, Expr, Not, Or, Range, TextMatch
from attune.query.fields import BY_NAME, LIST_FIELDS, column
from attune.query.walk import conjuncts, depth, size

from ..storage import sql_in, sql_string
from .playlists import PlaylistMatcher

#: `playlist:` resolves to track ids; past this many the SQL IN list is not worth it.
MAX_SQL_IDS = 1000
#: What LanceDB is given at most, so that it answers in bounded time: a filter part nested
#: deeper, with more predicates or a longer value list is evaluated after retrieval
#: (LanceDB's planner slows down sharply with deep nesting and crashed on 40,000 values).
MAX_SQL_DEPTH = 6
MAX_SQL_TERMS = 64

_SQL_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "=": "=", "!=": "<>"}


def sql_number(value: float) -> str:
    """A number as SQL reads it: positional notation, never an exponent."""
    return np.format_float_positional(value, trim="-")


#: The values an integer column can hold, by the registry's kind.
_INT_RANGE = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def compare_sql(name: str, op: str, value: float) -> str:
    """`column op value` as LanceDB reads it, with the literal typed to the column.

    An integer column compares with an integer (`year > 1999.5` is `year > 1999`); a
    comparison that holds for every known value, or for none (`year < 3000000000`,
    `energy > 1e400`), is written so that it is still unknown where the value is:
    `(c = c)` or `(c <> c)`. This is what the numpy and polars backends answer.
    """
    col = column(name)
    always, never = f"({col} = {col})", f"({col} <> {col})"
    kind = BY_NAME[name].kind
    if math.isinf(value):
        low_side = value < 0  # -inf: below every value
        holds = {"<": not low_side, "<=": not low_side, ">": low_side, ">=": low_side, "=": False, "!=": True}[op]
        return always if holds else never
    if kind in _INT_RANGE:
        if op in ("=", "!=") and not float(value).is_integer():
            return never if op == "=" else always
        bound = math.ceil(value) if op in ("<", ">=") else math.floor(value) if op in ("<=", ">") else int(value)
        lo, hi = _INT_RANGE[kind]
        if bound > hi or bound < lo:
            above = bound > hi  # the literal is beyond every value the column can hold
            holds = {"<": above, "<=": above, ">": not above, ">=": not above, "=": False, "!=": True}[op]
            return always if holds else never
        return f"({col} {_SQL_OPS[op]} {bound})"
    return f"({col} {_SQL_OPS[op]} {sql_number(value)})"


class SqlBackend:
    def __init__(self, matcher: PlaylistMatcher, query_text: str = "", *, genres_inherited: bool = False) -> None:
        self.matcher = matcher
        self.query_text = query_text
        #: Whether playlists give their tracks genres (then genre: cannot go to SQL).
        self.genres_inherited = genres_inherited

    @singledispatchmethod
    def sql(self, node: Expr) -> str | None:
        """The node as a LanceDB filter, or None when it cannot be pushed down whole."""
        raise TypeError(f"not a filter node: {type(node).__name__}")

    @sql.register(And)
    @sql.register(Or)
    def _(self, node: And | Or) -> str | None:
        parts = [self.sql(i) for i in node.items]
        if any(p is None for p in parts):
            return None
        glue = " AND " if isinstance(node, And) else " OR "
        return "(" + glue.join(parts) + ")"  # type: ignore[arg-type]

    @sql.register
    def _(self, node: Not) -> str | None:
        inner = self.sql(node.item)
        return None if inner is None else f"(NOT {inner})"

    @sql.register
    def _(self, node: Compare) -> str | None:
        return compare_sql(node.field, node.op, node.value)

    @sql.register
    def _(self, node: Range) -> str | None:
        parts = []
        if node.low is not None:
            parts.append(compare_sql(node.field, ">=", node.low))
        if node.high is not None:
            parts.append(compare_sql(node.field, "<=", node.high))
        return "(" + " AND ".join(parts) + ")"

    @sql.register
    def _(self, node: TextMatch) -> str | None:
        if len(node.values) > MAX_SQL_TERMS:
            return None
        parts = [self._text_sql(node, v) for v in node.values]
        if any(p is None for p in parts):
            return None
        return "(" + " OR ".join(parts) + ")"  # type: ignore[arg-type]

    def _text_sql(self, node: TextMatch, value: str) -> str | None:
        if node.mode == "regex" or "\x00" in value:
            return None  # regular expressions are read differently by LanceDB; NUL cannot be a SQL literal
        if node.field == "playlist":
            ids = self.matcher.track_ids(node, value, self.query_text)
            if len(ids) > MAX_SQL_IDS:
                return None
            if not ids:
                return "(track_id IS NULL)"  # matches nothing: track_id is never null
            return f"({sql_in('track_id', sorted(ids))})"
        if node.field not in LIST_FIELDS:
            col = f"lower(coalesce({column(node.field)}, ''))"
        elif (node.field == "genre" and self.genres_inherited) or not value or "\n" in value:
            # Inherited genres are not in the table; the joined-list trick below cannot
            # tell "an empty list" or "two elements" from one element: left to polars.
            return None
        else:
            col = f"concat(chr(10), lower(coalesce(array_to_string({column(node.field)}, chr(10)), '')), chr(10))"
            if node.mode == "exact":
                return f"contains({col}, concat(chr(10), {sql_string(value.lower())}, chr(10)))"
        if node.mode == "exact":
            return f"({col} = {sql_string(value.lower())})"
        return f"contains({col}, {sql_string(value.lower())})"

    def split(self, where: Expr | None) -> tuple[str | None, list[Expr]]:
        """(SQL pushed to LanceDB, nodes left to evaluate after retrieval).

        `where` should be normalised (`attune.query.walk.normalize`); each top-level
        conjunct is pushed whole or not at all, and only when it is small enough."""
        pushed, post = [], []
        for item in conjuncts(where):
            small = depth(item) <= MAX_SQL_DEPTH and size(item) <= MAX_SQL_TERMS
            sql = self.sql(item) if small else None
            (pushed if sql is not None else post).append(sql if sql is not None else item)
        return (" AND ".join(pushed) if pushed else None), post
