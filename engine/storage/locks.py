"""Write locks: writers of one table take turns, across processes and threads.

LanceDB commits are atomic, but two writers that read, change and write back (a playlist
edit, an upsert that must not insert a key twice) can each commit a change made on a
view the other has already replaced: an acknowledged edit lost, a row inserted twice.
So every such write holds the table's lock for its read-change-write. Across processes
the lock is the place's (`place.py`): an `flock` on `<library>/.locks/<table>.lock` for a
folder (the operating system releases it when the holder dies, kill -9 included), a
renewed lease object for object storage (taken over when its holder stops renewing it).
Within a process a thread-local count makes the lock re-entrant.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .place import BusyError, Place

#: How long a writer waits for another before giving up with a retryable error.
WAIT_SECONDS = 120.0

__all__ = ["BusyError", "Locks", "WAIT_SECONDS"]


class Locks:
    def __init__(self, place: Place) -> None:
        self.place = place
        self._guard = threading.Lock()
        self._held: dict[str, tuple[threading.RLock, list[Callable[[], None]]]] = {}
        self._depth = threading.local()

    def _entry(self, name: str) -> tuple[threading.RLock, list[Callable[[], None]]]:
        with self._guard:
            if name not in self._held:
                self._held[name] = (threading.RLock(), [])
            return self._held[name]

    def held(self, name: str, *, outer: bool = False) -> bool:
        """Whether this thread holds the lock (`outer`: and did before the innermost `hold`)."""
        return getattr(self._depth, name, 0) > (1 if outer else 0)

    @contextmanager
    def hold(self, name: str, *, wait: float = WAIT_SECONDS) -> Iterator[None]:
        """Hold the lock `name` (a table's name) for the block: one writer at a time."""
        local, releases = self._entry(name)
        if not local.acquire(timeout=wait):
            raise BusyError(f"another thread kept the {name} table locked for {wait:.0f} s; try again")
        depth = getattr(self._depth, name, 0)
        try:
            if depth == 0:
                releases.append(self.place.acquire(name, wait))
            setattr(self._depth, name, depth + 1)
            try:
                yield
            finally:
                setattr(self._depth, name, depth)
                if depth == 0:
                    releases.pop()()
        finally:
            local.release()
