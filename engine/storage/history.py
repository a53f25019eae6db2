"""The library's history: what was written, when, and how to go back to before it.

LanceDB keeps every version of every table. Each write a person makes (an import, a
playlist edit, a genre override, an index run, a restore) is recorded in the `history`
table with the versions of every table just before and just after it. `attune history`
lists the entries; `attune restore N` brings every table back to its version before
entry N: a bad import or edit is undone, and so is everything after it. A restore is
itself a new version (LanceDB never rewrites old ones) and a new entry, so it can be
undone too.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow as pa

from ..errors import LibraryError
from .schema import HISTORY_SCHEMA

#: The tables a restore brings back (the history itself is never rewritten).
RESTORED = ("tracks", "segments", "playlists", "meta", "index_errors")


@dataclass(frozen=True)
class Entry:
    number: int
    at: datetime
    what: str
    before: dict[str, int]
    after: dict[str, int]

    @property
    def tables(self) -> list[str]:
        """The tables this write changed."""
        return [t for t in RESTORED if self.before.get(t) != self.after.get(t)]


class _Store(Protocol):
    """What the history needs of the store (`store.Store`)."""

    tables: dict[str, Any]

    def latest_version(self, table: str) -> int: ...
    def writing(self, table: str) -> AbstractContextManager[None]: ...
    def count(self, table: str, where: str | None = None) -> int: ...
    def read(self, table: str, columns: Iterable[str] | None = None, where: str | None = None) -> pa.Table: ...
    def changed(self) -> None: ...


class History:
    def __init__(self, store: _Store) -> None:
        self.store = store
        self._depth = threading.local()

    def versions(self) -> dict[str, int]:
        """Every restorable table's newest version, as of now."""
        return {table: self.store.latest_version(table) for table in RESTORED}

    @contextmanager
    def record(self, what: str) -> Iterator[None]:
        """Record the block as one entry (nested records belong to the outermost)."""
        depth = getattr(self._depth, "n", 0)
        self._depth.n = depth + 1
        before = self.versions() if depth == 0 else {}
        try:
            yield
        finally:
            self._depth.n = depth
        if depth == 0:
            after = self.versions()
            if after != before:
                self._append(what, before, after)

    def _append(self, what: str, before: dict[str, int], after: dict[str, int]) -> None:
        with self.store.writing("history"):
            number = self.store.count("history") + 1
            row = {"number": number, "at": datetime.now(UTC), "what": what[:500], "before": json.dumps(before), "after": json.dumps(after)}
            self.store.tables["history"].add(pa.Table.from_pylist([row], schema=HISTORY_SCHEMA))

    def entries(self, limit: int | None = 20) -> list[Entry]:
        """The most recent entries, newest first."""
        rows = self.store.read("history").to_pylist()
        rows.sort(key=lambda r: r["number"], reverse=True)
        return [Entry(r["number"], r["at"], r["what"], json.loads(r["before"]), json.loads(r["after"]))
                for r in rows[:limit] if r]

    def entry(self, number: int) -> Entry:
        found = [e for e in self.entries(None) if e.number == number]
        if not found:
            newest = self.entries(1)
            raise LibraryError(f"there is no history entry {number}"
                               + (f"; entries are 1 to {newest[0].number} (`attune history` lists them)" if newest else "; the history is empty"))
        return found[0]

    def restore(self, number: int) -> dict[str, int]:
        """Bring every table back to its version before entry `number`; returns the tables
        that changed, with the version they now match."""
        entry = self.entry(number)
        changed = {}
        with self.record(f"restore to before #{number} ({entry.what})"):
            for table in RESTORED:
                target = entry.before.get(table)
                if target is None:
                    continue
                with self.store.writing(table):
                    if self.store.tables[table].version != target:
                        self.store.tables[table].restore(target)
                        changed[table] = target
        self.store.changed()
        return changed
