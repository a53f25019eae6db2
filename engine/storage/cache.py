"""A typed cache for what is computed from a snapshot, with what invalidates it.

    VOCABULARY = Key[Vocabulary]("words.vocabulary", scope="playlists")
    vocabulary = snap.memo(VOCABULARY, lambda: Vocabulary.build(snap))

A key's `scope` says which table's version the value depends on: "tracks" (the track
data: it survives playlist edits) or "playlists" (memberships, inherited genres,
whitening: rebuilt when a playlist changes). Keys are module constants beside the code
that computes the value, so the cache's contents can be read off the code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
Scope = Literal["tracks", "playlists"]


@dataclass(frozen=True)
class Key(Generic[T]):
    name: str
    scope: Scope = "playlists"


class Memo:
    """Values by key, each computed once (concurrent callers wait for the first)."""

    def __init__(self) -> None:
        self._values: dict[Key, object] = {}
        self._lock = threading.RLock()

    def get(self, key: Key[T], factory: Callable[[], T]) -> T:
        try:
            return self._values[key]  # type: ignore[return-value]
        except KeyError:
            pass
        with self._lock:
            if key not in self._values:
                self._values[key] = factory()
            return self._values[key]  # type: ignore[return-value]

    def items(self) -> dict[Key, object]:
        """Everything computed so far (a copy)."""
        with self._lock:
            return dict(self._values)

    def peek(self, key: Key[T]) -> T | None:
        """The value if it was computed, else None (nothing is computed)."""
        return self._values.get(key)  # type: ignore[return-value]

    def drop(self, key: Key) -> None:
        with self._lock:
            self._values.pop(key, None)
