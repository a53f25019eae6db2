"""The one way a string reaches a LanceDB filter."""

from __future__ import annotations


def sql_string(value: str) -> str:
    """The one way a string reaches a LanceDB filter: a single-quoted SQL literal.

    LanceDB's SQL reads backslashes literally, so doubling single quotes is the
    whole escape. NUL cannot appear in a SQL literal and is refused.
    """
    if "\x00" in value:
        raise ValueError("a filter value cannot contain a NUL character")
    return "'" + value.replace("'", "''") + "'"


__all__ = ["sql_string"]
