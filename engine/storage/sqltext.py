"""The one way a string reaches a LanceDB filter, and lists of them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def sql_string(value: str) -> str:
    """The one way a string reaches a LanceDB filter: a single-quoted SQL literal.

    LanceDB's SQL reads backslashes literally, so doubling single quotes is the
    whole escape. NUL cannot appear in a SQL literal and is refused.
    """
    if "\x00" in value:
        raise ValueError("a filter value cannot contain a NUL character")
    return "'" + value.replace("'", "''") + "'"


def sql_in(column: str, values: Iterable[str]) -> str:
    """`column IN ('a', 'b', ...)`, every value quoted by `sql_string`."""
    return f"{column} IN (" + ", ".join(sql_string(v) for v in values) + ")"


def chunks(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """The values `size` at a time (an IN-list per commit or per query stays bounded)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


__all__ = ["chunks", "sql_in", "sql_string"]
