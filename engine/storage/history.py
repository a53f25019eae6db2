"""The library's history: what was written, when, and how to go back to before it.

LanceDB keeps every version of every table. Each write a person makes (an import, a
playlist edit, a genre override, an index run, a restore) is recorded as one line of
`<library>/history.jsonl` with the versions of every table just before and just after
it (appended under a lock, so concurrent writers number their entries in turn; a line
costs a fraction of a millisecond where a LanceDB commit costs several). `attune
history` lists the entries; `attune restore N` brings every table back to its version
before entry N: a bad import or edit is undone, and so is everything after it. A
restore is itself a new version (LanceDB never rewrites old ones) and a new entry, so
it can be undone too.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from ..errors import LibraryError

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

    path: Path | str
    place: Any
    tables: dict[str, Any]
    locks: Any

    def latest_version(self, table: str) -> int: ...
    def writing(self, table: str) -> AbstractContextManager[None]: ...
    def changed(self) -> None: ...


class History:
    def __init__(self, store: _Store) -> None:
        self.store = store
        self.place = store.place
        self.file = "history.jsonl"
        self._depth = threading.local()

    def versions(self, tables: Iterable[str] = RESTORED) -> dict[str, int]:
        """The newest version of each table, as of now."""
        return {table: self.store.latest_version(table) for table in tables}

    @contextmanager
    def record(self, what: str, tables: Iterable[str] = RESTORED) -> Iterator[None]:
        """Record the block as one entry (nested records belong to the outermost).

        `tables`: those the block may write (their versions are read again after it);
        the others' versions before are their versions after."""
        depth = getattr(self._depth, "n", 0)
        self._depth.n = depth + 1
        before = self.versions() if depth == 0 else {}
        try:
            yield
        finally:
            self._depth.n = depth
        if depth == 0:
            after = before | self.versions(t for t in tables if t in before)
            if after != before:
                self._append(what, before, after)

    def _append(self, what: str, before: dict[str, int], after: dict[str, int]) -> None:
        with self.store.locks.hold("history"):
            number = _last_number(self.place.tail(self.file, 4096)) + 1
            entry = {"number": number, "at": datetime.now(UTC).isoformat(), "what": what[:500], "before": before, "after": after}
            self.place.append(self.file, json.dumps(entry, ensure_ascii=False) + "\n")

    def entries(self, limit: int | None = 20) -> list[Entry]:
        """The most recent entries, newest first (a damaged line is skipped, not fatal)."""
        lines = (self.place.read(self.file) or b"").decode("utf-8", errors="replace").splitlines()
        out = []
        for line in reversed(lines):
            try:
                e = json.loads(line)
                out.append(Entry(int(e["number"]), datetime.fromisoformat(e["at"]), str(e["what"]),
                                 {k: int(v) for k, v in e["before"].items()}, {k: int(v) for k, v in e["after"].items()}))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            if limit is not None and len(out) >= limit:
                break
        return out

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
        for table in self.store.damaged:  # a damaged newest version cannot even be opened
            target = entry.before.get(table)
            if target is not None:
                set_aside_newer(self.place, f"{table}.lance", target)
                self.store.reopen(table)
                changed[table] = target
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


def set_aside_newer(place, table_dir: str, version: int) -> list[str]:
    """Move the manifests of versions newer than `version` out of the table's way (into
    `_versions/set-aside/`, never deleted), so a table whose newest manifest is damaged
    opens at `version` again. Lance names a version's manifest 2^64 - 1 - version."""
    folder = f"{table_dir}/_versions"
    moved = []
    for name in place.list(folder):
        manifest = name.rsplit("/", 1)[-1]
        stem = manifest.removesuffix(".manifest")
        if name == f"{folder}/{manifest}" and manifest.endswith(".manifest") and stem.isdigit() and 2**64 - 1 - int(stem) > version:
            place.rename(name, f"{folder}/set-aside/{manifest}")
            moved.append(f"{folder}/set-aside/{manifest}")
    hint = f"{folder}/latest_version_hint.json"
    if moved and place.stamp(hint) is not None:
        place.rename(hint, f"{folder}/set-aside/latest_version_hint.json")
    return moved


def _last_number(tail: bytes) -> int:
    """The number of the last entry in the end of the journal (0 when empty)."""
    for line in reversed(tail.decode("utf-8", errors="replace").splitlines()):
        try:
            return int(json.loads(line)["number"])
        except (ValueError, KeyError, TypeError):
            continue
    return 0
