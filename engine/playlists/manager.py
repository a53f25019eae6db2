"""Playlists: create, edit, import (M3U, M3U8, XSPF, CSV) and export.

Each edit is one LanceDB commit of one playlist row, so it is saved at once
and is all-or-nothing. Names are unique, compared case-insensitively; which
playlist a name means is the one playlist matcher's call (`execution.playlists`).
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl
import pyarrow as pa

from ..errors import LibraryError
from ..execution import PlaylistMatcher
from ..ingest.spotify import spotify_id
from ..storage import PLAYLISTS_SCHEMA, Playlist, Snapshot, Store, lower, now, sql_string
from .formats import Entry, read_entries, write_csv, write_m3u, write_xspf

EXPORT_FORMATS = ("m3u", "xspf", "csv")


@dataclass
class PlaylistImportReport:
    name: str
    entries: int = 0
    matched: int = 0
    unmatched: list[tuple[int, str]] = field(default_factory=list)
    #: How many tracks the playlist had before (None: it is new).
    replaced: int | None = None

    def __str__(self) -> str:
        lines = [f"playlist '{self.name}': {self.matched} of {self.entries} entries matched library tracks"
                 + (f" (replacing its {self.replaced} tracks)" if self.replaced is not None else "")]
        lines += [f"  line {line}: no track matches {what}" for line, what in self.unmatched]
        return "\n".join(lines)


@dataclass
class _Listing:
    """Every playlist as of one version of the playlists table, in creation order."""

    version: int
    playlists: list[Playlist]
    created_at: dict[str, object]  # playlist id -> creation time

    def find(self, name: str) -> Playlist | None:
        return PlaylistMatcher({p.name: p for p in self.playlists}).find(name)

    def resolve(self, name: str) -> Playlist:
        return PlaylistMatcher({p.name: p for p in self.playlists}).resolve(name)

    def taken(self, name: str, *, other_than: str | None = None) -> bool:
        """Whether another playlist already has this name (ignoring case)."""
        low = name.lower()
        return any(p.name.lower() == low and p.playlist_id != other_than for p in self.playlists)

    def replaced(self, playlist: Playlist, version: int, stamp) -> _Listing:
        """The listing after one playlist was written (or added) at `version`."""
        found = [i for i, p in enumerate(self.playlists) if p.playlist_id == playlist.playlist_id]
        playlists = list(self.playlists)
        created = dict(self.created_at)
        if found:
            playlists[found[0]] = playlist
        else:
            playlists.append(playlist)
            created[playlist.playlist_id] = stamp
        return _Listing(version, playlists, created)


class PlaylistManager:
    """The playlists of one library: `store` is where they are kept, `snapshot()` the
    library's current in-memory view (for checking and matching tracks).

    The playlists are read once per version of their table and kept; an edit made here
    updates that copy when no other process wrote in between (its commit is the next
    version), so editing one playlist after another never re-reads them all.
    """

    def __init__(self, store: Store, snapshot: Callable[[], Snapshot]) -> None:
        self.store = store
        self.snapshot = snapshot
        self._listing: _Listing | None = None

    # -- reading ---------------------------------------------------------------------

    def forget(self) -> None:
        """Drop the kept listing (after a restore): the next read is from the table."""
        self._listing = None

    def listing(self, *, fresh: bool = False) -> _Listing:
        """The playlists as of the table's current version; `fresh` checks for other
        processes' commits now (else they are seen within the store's consistency delay).
        Inside `store.writing("playlists")` the table is already at its newest version."""
        if self.store.is_writing("playlists"):
            version = self.store.tables["playlists"].version
        else:
            version = self.store.latest_version("playlists") if fresh else self.store.versions().playlists
        if self._listing is None or self._listing.version != version:
            table = self.store.read("playlists", ["playlist_id", "name", "track_ids", "genres", "source", "created_at"])
            rows = sorted(table.to_pylist(), key=lambda r: (r["created_at"], r["name"]))
            playlists = [
                Playlist(r["playlist_id"], r["name"], tuple(r["track_ids"] or ()), tuple(r["genres"] or ()), r["source"] or "user")
                for r in rows
            ]
            self._listing = _Listing(version, playlists, {r["playlist_id"]: r["created_at"] for r in rows})
        return self._listing

    def all(self) -> list[Playlist]:
        return list(self.listing().playlists)

    def names(self) -> list[str]:
        return [p.name for p in self.listing().playlists]

    def get(self, name: str) -> Playlist:
        """The playlist with this name (case-insensitive); an unknown name is an error with a suggestion."""
        return self.resolve(name)

    def resolve(self, name: str, playlists: Sequence[Playlist] | None = None) -> Playlist:
        """The playlist `name` means (ignoring case, or its id); unknown: an error with a suggestion."""
        if playlists is None:
            return self.listing().resolve(name)
        return PlaylistMatcher({p.name: p for p in playlists}).resolve(name)

    # -- writing ---------------------------------------------------------------------

    def _write(self, playlist: Playlist, listing: _Listing) -> Playlist:
        """One commit of one playlist row; the kept listing follows when it safely can."""
        stamp = now()
        row = {
            "playlist_id": playlist.playlist_id,
            "name": playlist.name,
            "track_ids": list(playlist.track_ids),
            "genres": list(playlist.genres),
            "source": playlist.source,
            "created_at": listing.created_at.get(playlist.playlist_id) or stamp,
            "updated_at": stamp,
        }
        written = self.store.upsert("playlists", "playlist_id", pa.Table.from_pylist([row], schema=PLAYLISTS_SCHEMA))
        if written.version == listing.version + 1:  # nobody else committed in between
            self._listing = listing.replaced(playlist, written.version, stamp)
        return playlist

    def _check_tracks(self, track_ids: Sequence[str]) -> None:
        ids = list(dict.fromkeys(track_ids))
        if not ids:
            return
        tracks = self.snapshot().tracks
        known = set(tracks.frame["track_id"].gather(tracks.rows_of(ids)).to_list())
        missing = [t for t in ids if t not in known]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise LibraryError(f"no track with id {shown} in the library")

    def _edit(self, name: str, change: Callable[[Playlist], Sequence[str]], what: str = "edit") -> Playlist:
        """Read the playlist as it is now, change its tracks, write it back in one commit,
        holding the playlists' write lock throughout: no concurrent edit is lost."""
        with self.store.history.record(f"{what} playlist '{name}'", ("playlists",)), self.store.writing("playlists"):
            listing = self.listing(fresh=True)
            playlist = listing.resolve(name)
            ids = tuple(dict.fromkeys(change(playlist)))
            self._check_tracks(ids)
            return self._write(replace(playlist, track_ids=ids), listing)

    def create(self, name: str, track_ids: Iterable[str] = ()) -> Playlist:
        name = name.strip()
        if not name:
            raise LibraryError("a playlist needs a name")
        ids = tuple(dict.fromkeys(track_ids))
        self._check_tracks(ids)
        with self.store.history.record(f"create playlist '{name}'", ("playlists",)), self.store.writing("playlists"):
            # names stay unique when two processes create at once
            listing = self.listing(fresh=True)
            if listing.taken(name):
                raise LibraryError(f"a playlist named '{name}' already exists")
            return self._write(Playlist(f"user:{uuid.uuid4().hex[:12]}", name, ids), listing)

    def delete(self, name: str) -> None:
        with self.store.history.record(f"delete playlist '{name}'", ("playlists",)), self.store.writing("playlists"):
            playlist = self.listing(fresh=True).resolve(name)
            self.store.delete("playlists", f"playlist_id = {sql_string(playlist.playlist_id)}")

    def rename(self, name: str, new_name: str) -> Playlist:
        new_name = new_name.strip()
        with self.store.history.record(f"rename playlist '{name}' to '{new_name}'", ("playlists",)), self.store.writing("playlists"):
            listing = self.listing(fresh=True)
            playlist = listing.resolve(name)
            if not new_name or listing.taken(new_name, other_than=playlist.playlist_id):
                raise LibraryError(f"cannot rename to '{new_name}': " + ("a name is needed" if not new_name else "that name is taken"))
            return self._write(replace(playlist, name=new_name), listing)

    def set_tracks(self, name: str, track_ids: Sequence[str]) -> Playlist:
        """Replace a playlist's tracks (in this order) in one commit."""
        return self._edit(name, lambda playlist: track_ids, "set the tracks of")

    def add(self, name: str, track_ids: Sequence[str], *, position: int | None = None) -> Playlist:
        def added(playlist: Playlist) -> list[str]:
            current = list(playlist.track_ids)
            have = set(current)
            new = [t for t in dict.fromkeys(track_ids) if t not in have]
            at = len(current) if position is None else max(0, min(position, len(current)))
            return current[:at] + new + current[at:]

        return self._edit(name, added, f"add {len(track_ids)} to")

    def remove(self, name: str, track_ids: Sequence[str]) -> Playlist:
        drop = set(track_ids)
        return self._edit(name, lambda playlist: [t for t in playlist.track_ids if t not in drop], f"remove {len(drop)} from")

    def move(self, name: str, track_id: str, index: int) -> Playlist:
        def moved(playlist: Playlist) -> list[str]:
            ids = list(playlist.track_ids)
            if track_id not in ids:
                raise LibraryError(f"track {track_id} is not in playlist '{playlist.name}'")
            ids.remove(track_id)
            ids.insert(max(0, min(index, len(ids))), track_id)
            return ids

        return self._edit(name, moved, "move a track in")

    def upsert_imported(self, imported: dict[str, dict], *, source: str) -> tuple[int, int]:
        """Write playlists read from an import, keyed by their source id, in one commit."""
        with self.store.history.record(f"import {len(imported)} playlists from {source}", ("playlists",)), self.store.writing("playlists"):
            self.store.deduplicate("playlists", "playlist_id", order="updated_at")
            return self._upsert_imported(self.listing(fresh=True), imported, source)

    def _upsert_imported(self, listing: _Listing, imported: dict[str, dict], source: str) -> tuple[int, int]:
        existing = {p.playlist_id: p for p in listing.playlists}
        taken = {p.name.lower(): p.playlist_id for p in existing.values()}
        stamp = now()
        rows, new = [], 0
        for playlist_id, data in imported.items():
            old = existing.get(playlist_id)
            if old is not None:
                name = old.name
            else:
                new += 1
                name = _free_name(data["name"] or playlist_id, taken)
            taken[name.lower()] = playlist_id
            rows.append(
                {
                    "playlist_id": playlist_id,
                    "name": name,
                    "track_ids": list(data["track_ids"]),
                    "genres": list(data["genres"]),
                    "source": source,
                    "created_at": listing.created_at.get(playlist_id) or stamp,
                    "updated_at": stamp,
                }
            )
        self.store.upsert("playlists", "playlist_id", pa.Table.from_pylist(rows, schema=PLAYLISTS_SCHEMA))
        return new, len(rows) - new

    # -- files -----------------------------------------------------------------------

    def import_file(self, path: str | Path, *, name: str | None = None, replace: bool = False) -> PlaylistImportReport:
        """Read an M3U/M3U8/XSPF/CSV playlist and match its entries to library tracks.

        It becomes a new playlist named `name` (default: the file's name). An existing
        playlist of that name is never touched unless `replace` is set; a file none of
        whose entries matches a library track creates nothing. Both are errors that say
        what to do instead.
        """
        path = Path(path)
        entries = read_entries(path)
        playlist_name = (name or path.stem).strip()
        report = PlaylistImportReport(playlist_name, entries=len(entries))
        matcher = _Matcher(self.snapshot().tracks.frame, base=path.parent)
        ids = []
        for entry in entries:
            track_id = matcher.match(entry)
            if track_id is None:
                report.unmatched.append((entry.line, entry.describe()))
            else:
                ids.append(track_id)
        report.matched = len(ids)
        if not ids:
            shown = "; ".join(f"line {line}: {what}" for line, what in report.unmatched[:3])
            raise LibraryError(
                f"none of the {len(entries)} entries of {path.name} matches a track in the library"
                + (f" ({shown}{'; ...' if len(report.unmatched) > 3 else ''})" if shown else "")
                + "; nothing was imported"
            )
        with self.store.history.record(f"import playlist file {path.name} as '{playlist_name}'", ("playlists",)), self.store.writing("playlists"):
            existing = self.listing(fresh=True).find(playlist_name)
            if existing is not None and not replace:
                raise LibraryError(
                    f"a playlist named '{existing.name}' already exists ({len(existing.track_ids)} tracks); "
                    "--replace replaces its tracks with the file's, --as NAME imports it under another name"
                )
            if existing is not None:
                self.set_tracks(existing.name, ids)
                report.replaced = len(existing.track_ids)
            else:
                self.create(playlist_name, ids)
        return report

    def export_files(self, name: str, formats: Sequence[str] = ("m3u", "xspf"), *, folder: Path | None = None) -> list[Path]:
        """Write the playlist in each format under `folder` (default `<library>/exports/`).

        The file name is the playlist's name made safe (`safe_filename`): a name with
        slashes, dots or control characters never writes outside the folder.
        """
        playlist = self.resolve(name)
        if folder is None and self.store.place.local is None:
            raise LibraryError(f"the library at {self.store.path} is on object storage: name a local folder to export to")
        folder = Path(folder) if folder is not None else Path(self.store.path) / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        stem = safe_filename(playlist.name)
        written = []
        for fmt in formats:
            text = self.export(playlist.name, fmt)
            target = folder / f"{stem}.{fmt}"
            if target.resolve().parent != folder.resolve():  # belt and braces: safe_filename has no separators
                raise LibraryError(f"cannot export '{playlist.name}': its file name leaves {folder}")
            target.write_text(text, encoding="utf-8")
            written.append(target)
        return written

    def export(self, name: str, fmt: str) -> str:
        """The playlist as M3U, XSPF or CSV text."""
        if fmt not in EXPORT_FORMATS:
            raise LibraryError(f"unknown format '{fmt}'; use one of {', '.join(EXPORT_FORMATS)}")
        playlist = self.resolve(name)
        snap = self.snapshot()
        rows = {r["track_id"]: r for r in snap.gather(snap.rows_of(playlist.track_ids)).to_dicts()}
        tracks = [rows[t] for t in playlist.track_ids if t in rows]
        out = io.StringIO()
        {"m3u": write_m3u, "xspf": write_xspf, "csv": write_csv}[fmt](playlist.name, tracks, out)
        return out.getvalue()


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
#: Names Windows reserves, whatever the extension.
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def safe_filename(name: str, *, limit: int = 120) -> str:
    """A file name (without extension) for a playlist name: path separators, control and
    reserved characters become "_", leading dots and spaces go, at most `limit` characters;
    never empty, never "." or "..", never a name Windows reserves."""
    text = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    text = text[:limit].rstrip(". ") or "playlist"
    return f"_{text}" if text.lower() in _RESERVED else text


def _free_name(name: str, taken: dict[str, str]) -> str:
    if name.lower() not in taken:
        return name
    n = 2
    while f"{name} ({n})".lower() in taken:
        n += 1
    return f"{name} ({n})"


class _Matcher:
    """Finds the library track an external playlist entry means."""

    def __init__(self, frame: pl.DataFrame, *, base: Path) -> None:
        self.base = base
        self.ids = set(frame["track_id"].to_list())
        self.by_path = {}
        for tid, p in zip(frame["track_id"].to_list(), frame["path"].to_list()):
            if p:
                self.by_path[str(Path(p).expanduser().resolve(strict=False))] = tid
        self.by_name: dict[tuple[str, str], str] = {}
        ordered = frame.sort("popularity", descending=True, nulls_last=True).select("track_id", lower("artist"), lower("title"))
        for tid, artist, title in ordered.iter_rows():
            self.by_name.setdefault((artist, title), tid)

    def match(self, entry: Entry) -> str | None:
        if entry.location:
            loc = entry.location
            if loc in self.ids:
                return loc
            sid = spotify_id(loc)
            if sid in self.ids:
                return sid
            if not loc.startswith(("http://", "https://", "spotify:")):
                local = loc[7:] if loc.startswith("file://") else loc
                resolved = str((self.base / Path(local).expanduser()).resolve(strict=False))
                if resolved in self.by_path:
                    return self.by_path[resolved]
        if entry.track_id:
            if entry.track_id in self.ids:
                return entry.track_id
            sid = spotify_id(entry.track_id)
            if sid in self.ids:
                return sid
        if entry.artist and entry.title:
            return self.by_name.get((entry.artist.lower(), entry.title.lower()))
        return None
