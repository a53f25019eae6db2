"""Write locks: writers of one table take turns, across processes and threads.

LanceDB commits are atomic, but two writers that read, change and write back (a playlist
edit, an upsert that must not insert a key twice) can each commit a change made on a
view the other has already replaced: an acknowledged edit lost, a row inserted twice.
So every such write holds the table's lock for its read-change-write. The lock is an
`flock` on `<library>/.locks/<table>.lock`: the operating system releases it when the
holder dies (kill -9 included), so a crashed writer never leaves the library locked.
Within a process a thread-local count makes the lock re-entrant.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import LibraryError

#: How long a writer waits for another before giving up with a retryable error.
WAIT_SECONDS = 120.0


class BusyError(LibraryError):
    """Another process held the lock for too long; the write did not happen. Retry it."""

    title = "library busy"


class Locks:
    def __init__(self, folder: Path) -> None:
        self.folder = folder / ".locks"
        self._guard = threading.Lock()
        self._held: dict[str, tuple[threading.RLock, list[int]]] = {}
        self._depth = threading.local()

    def _entry(self, name: str) -> tuple[threading.RLock, list[int]]:
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
        local, fds = self._entry(name)
        if not local.acquire(timeout=wait):
            raise BusyError(f"another thread kept the {name} table locked for {wait:.0f} s; try again")
        depth = getattr(self._depth, name, 0)
        try:
            if depth == 0:
                fds.append(self._flock(name, wait))
            setattr(self._depth, name, depth + 1)
            try:
                yield
            finally:
                setattr(self._depth, name, depth)
                if depth == 0:
                    fd = fds.pop()
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
        finally:
            local.release()

    def _flock(self, name: str, wait: float) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise BusyError(
                        f"another attune process has been writing the {name} table for {wait:.0f} s; "
                        "try again when it is done"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
