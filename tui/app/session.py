"""The terminal app's session: every engine call the app makes, and the state of a curator's
session (the open playlist, the undo stack, the serial number of the latest query).

It knows nothing of Textual. The app calls it only from worker threads and shows what
comes back, so the screen never waits on the library; tests drive it directly too.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune.query import AttuneError

from ..output import sparkline

if TYPE_CHECKING:
    from attune.engine import Library, Results
    from attune.engine.ask import Answer

#: Playlist names and artist names offered by Tab completion (artists capped).
MAX_ARTIST_NAMES = 5000


@dataclass
class Outcome:
    """A query's answer: results (or an error), how long it took, and for which query."""

    text: str
    serial: int
    seconds: float = 0.0
    results: Results | None = None
    answer: Answer | None = None  # for plain words
    error: Exception | None = None


@dataclass
class Detail:
    row: dict
    playlists: list[str]
    why: str


@dataclass
class Edit:
    """What a playlist edit did: a line for the status bar, and whether it changed anything."""

    message: str
    changed: bool = True
    opened: str | None = None
    #: Whether the results on screen may have changed (tracks added, removed or moved).
    rerun: bool = True


@dataclass
class Names:
    playlists: list[str] = field(default_factory=list)
    artists: list[str] = field(default_factory=list)


def _one_at_a_time(method):
    """Edits change the undo stack and the open playlist: they run one at a time, in order."""

    @functools.wraps(method)
    def serialised(self, *args, **kwargs):
        with self._edits:
            return method(self, *args, **kwargs)

    return serialised



class Session:
    def __init__(self, library: Library | None = None, *, library_path: Path | str | None = None, clock: Callable[[], float] = time.perf_counter) -> None:
        self.lib = library
        #: A folder (Path), or an object-storage URI (str).
        self.library_path = library.path if library is not None else library_path
        self.clock = clock
        self.opened: str | None = None
        self.undo_stack: list[tuple[str, tuple[str, ...]]] = []
        self.serial = 0
        self.names = Names()
        self._edits = threading.RLock()
        self._explained: tuple[object, dict[str, str]] = (None, {})

    # -- opening ----------------------------------------------------------------------

    def open(self) -> Library:
        """Open the library (when the app was given a path) and load its snapshot."""
        if self.lib is None:
            from attune.engine import Library

            self.lib = Library.open(self.library_path)
        self.lib.snapshot()
        self.refresh_names()
        return self.lib

    def refresh_names(self) -> Names:
        snap = self.lib.snapshot()
        self.names = Names(list(snap.playlists), sorted(snap.artists())[:MAX_ARTIST_NAMES])
        return self.names

    def playlist_names(self) -> list[str]:
        names = self.lib.playlists.names()
        if self.opened not in names:
            self.opened = None
        return names

    # -- queries ----------------------------------------------------------------------

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def is_current(self, serial: int) -> bool:
        return serial == self.serial

    def run(self, text: str, serial: int, *, ask: bool = False) -> Outcome:
        """Run a query (or read plain words and run them); errors come back in the outcome."""
        start = self.clock()
        try:
            if ask:
                answer = self.lib.ask(text)
                return Outcome(text, serial, self.clock() - start, answer.results, answer)
            return Outcome(text, serial, self.clock() - start, self.lib.search(text))
        except Exception as exc:  # shown in the status bar; the app keeps running
            return Outcome(text, serial, self.clock() - start, error=exc)

    def detail(self, results, row: dict) -> Detail:
        """What the detail pane shows for one row: its playlists, energy over time, why it matched."""
        explained, explanations = self._explained
        if results is not None and explained is not results:  # every row of these results, explained once
            explanations = {e["track_id"]: why(e) for e in results.explanations()}
            self._explained = (results, explanations)
        snap = self.lib.snapshot()
        member = [name for name, p in snap.playlists.items() if row["track_id"] in p.track_ids]
        tiles = self.lib.energy_tiles(row["track_id"]) if row.get("path") else None
        return Detail(dict(row, energy_tiles=tiles), member, explanations.get(row["track_id"], ""))

    # -- playlists ----------------------------------------------------------------------

    def tracks_of(self, name: str) -> tuple[str, ...]:
        return self.lib.playlists.get(name).track_ids

    @_one_at_a_time
    def edit(self, verb: str, change: Callable[[str], Any]) -> Edit:
        """Apply one edit to the open playlist, remembering how it was for undo."""
        if self.opened is None:
            return Edit("open a playlist first (select it in the sidebar and press Enter)", changed=False)
        try:
            before = self.tracks_of(self.opened)
            after = change(self.opened)
        except AttuneError as exc:
            return Edit(str(exc).splitlines()[0], changed=False)
        self.undo_stack.append((self.opened, before))
        return Edit(f"{verb}; '{after.name}' has {len(after.track_ids)} tracks (u undoes)")

    @_one_at_a_time
    def add(self, ids: list[str]) -> Edit:
        return self.edit(f"added {len(ids)}", lambda name: self.lib.playlists.add(name, ids))

    @_one_at_a_time
    def remove(self, ids: list[str]) -> Edit:
        return self.edit(f"removed {len(ids)}", lambda name: self.lib.playlists.remove(name, ids))

    @_one_at_a_time
    def move(self, track_id: str, step: int) -> Edit:
        if self.opened is None:
            return Edit("", changed=False)
        ids = list(self.tracks_of(self.opened))
        if track_id not in ids:
            return Edit("", changed=False)
        index = ids.index(track_id) + step
        return self.edit("moved", lambda name: self.lib.playlists.move(name, track_id, index))

    @_one_at_a_time
    def sequence(self, arc: str, by: str = "energy") -> Edit:
        """Reorder the open playlist along an arc of `by` (saved; u undoes); the status line
        shows the arc it now follows."""
        shown: list[str] = []

        def change(name: str):
            done = self.lib.sequence(name, arc=arc, by=by, save=True)
            shown.append(f"{by} {sparkline(done.values)} ({arc}); mean step {done.mean_step:.2f}, was {done.mean_step_before:.2f}")
            return self.lib.playlists.get(name)

        edit = self.edit("sequenced", change)
        if edit.changed and shown:
            edit = Edit(f"{edit.message.split(';')[0]}: {shown[0]} (u undoes)")
        return edit

    @_one_at_a_time
    def undo(self) -> Edit:
        if not self.undo_stack:
            return Edit("nothing to undo", changed=False)
        name, before = self.undo_stack.pop()
        try:
            self.lib.playlists.set_tracks(name, before)
        except AttuneError as exc:
            return Edit(str(exc).splitlines()[0], changed=False)
        return Edit(f"undone: '{name}' has {len(before)} tracks again")

    @_one_at_a_time
    def create(self, name: str, ids: list[str]) -> Edit:
        try:
            self.lib.playlists.create(name, ids)
        except AttuneError as exc:
            return Edit(str(exc).splitlines()[0], changed=False)
        self.opened = name
        return Edit(f"created '{name}'", opened=name, rerun=False)

    @_one_at_a_time
    def rename(self, old: str, new: str) -> Edit:
        try:
            self.lib.playlists.rename(old, new)
        except AttuneError as exc:
            return Edit(str(exc).splitlines()[0], changed=False)
        self.opened = new if self.opened == old else self.opened
        return Edit(f"renamed '{old}' to '{new}'", rerun=False)

    @_one_at_a_time
    def delete(self, name: str) -> Edit:
        try:
            self.lib.playlists.delete(name)
        except AttuneError as exc:
            return Edit(str(exc).splitlines()[0], changed=False)
        self.opened = None if self.opened == name else self.opened
        return Edit(f"deleted '{name}'", rerun=False)

    # -- expansion and export ------------------------------------------------------------

    def recipe(self, name: str) -> str:
        """The playlist's recipe as a query (opens the playlist)."""
        self.opened = name
        return str(self.lib.recipe(name))

    def cluster(self, name: str) -> list[str]:
        """The playlist's genre cluster (fits the tag model on first use: seconds)."""
        return self.lib.recipe(name, cluster=True).cluster

    def export(self, name: str) -> list[Path]:
        """Write the playlist as M3U and XSPF under `<library>/exports/`."""
        return self.lib.playlists.export_files(name, ("m3u", "xspf"))


def why(explanation: dict) -> str:
    """One result's explanation as the detail pane shows it."""
    parts = []
    if explanation.get("matched"):
        parts.append("  ".join(("+ " if ok else "- ") + p for p, ok in explanation["matched"].items()))
    if explanation.get("contributions"):
        parts.append("distance: " + ", ".join(f"{d} {v:+.2f}" for d, v in explanation["contributions"].items()))
    if explanation.get("why"):
        parts.append(explanation["why"])
    return "\n".join(parts)
