"""Playlists: create, edit, import (M3U, M3U8, XSPF, CSV) and export.

Each edit is one LanceDB commit of one playlist row, so it is saved at once
and is all-or-nothing. Names are unique, compared case-insensitively.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

from .playlist_formats import Entry, read_entries, write_csv, write_m3u, write_xspf
from .snapshot import Playlist, lower
from .spotify import spotify_id
from .store import PLAYLISTS_SCHEMA, LibraryError, now, sql_string

if TYPE_CHECKING:
    from .library import Library

EXPORT_FORMATS = ("m3u", "xspf", "csv")


@dataclass
class PlaylistImportReport:
    name: str
    entries: int = 0
    matched: int = 0
    unmatched: list[tuple[int, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"playlist '{self.name}': {self.matched} of {self.entries} entries matched library tracks"]
        lines += [f"  line {line}: no track matches {what}" for line, what in self.unmatched]
        return "\n".join(lines)


class PlaylistManager:
    def __init__(self, library: "Library") -> None:
        self.lib = library

    # -- reading ---------------------------------------------------------------------

    def all(self) -> list[Playlist]:
        table = self.lib.store.read("playlists", ["playlist_id", "name", "track_ids", "genres", "source", "created_at"])
        rows = sorted(table.to_pylist(), key=lambda r: (r["created_at"], r["name"]))
        return [
            Playlist(r["playlist_id"], r["name"], tuple(r["track_ids"] or ()), tuple(r["genres"] or ()), r["source"] or "user")
            for r in rows
        ]

    def names(self) -> list[str]:
        return [p.name for p in self.all()]

    def get(self, name: str) -> Playlist:
        """The playlist with this name (case-insensitive); an unknown name is an error with a suggestion."""
        return self.resolve(name)

    def resolve(self, name: str, playlists: Sequence[Playlist] | None = None) -> Playlist:
        playlists = self.all() if playlists is None else playlists
        low = name.lower()
        for p in playlists:
            if p.name.lower() == low or p.playlist_id == name:
                return p
        raise self.lib.unknown_name_error("playlist", name, [p.name for p in playlists])

    def _find(self, name: str) -> Playlist | None:
        low = name.lower()
        return next((p for p in self.all() if p.name.lower() == low), None)

    # -- writing ---------------------------------------------------------------------

    def _write(self, playlist: Playlist, created_at=None) -> None:
        stamp = now()
        row = {
            "playlist_id": playlist.playlist_id,
            "name": playlist.name,
            "track_ids": list(playlist.track_ids),
            "genres": list(playlist.genres),
            "source": playlist.source,
            "created_at": created_at or stamp,
            "updated_at": stamp,
        }
        self.lib.store.upsert("playlists", "playlist_id", pa.Table.from_pylist([row], schema=PLAYLISTS_SCHEMA))

    def _created_at(self, playlist_id: str):
        table = self.lib.store.read("playlists", ["created_at"], where=f"playlist_id = {sql_string(playlist_id)}")
        return table["created_at"][0].as_py() if table.num_rows else None

    def _check_tracks(self, track_ids: Sequence[str]) -> None:
        ids = list(dict.fromkeys(track_ids))
        if not ids:
            return
        known = set(self.lib.snapshot().frame.filter(pl.col("track_id").is_in(ids))["track_id"].to_list())
        missing = [t for t in ids if t not in known]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise LibraryError(f"no track with id {shown} in the library")

    def create(self, name: str, track_ids: Iterable[str] = ()) -> Playlist:
        name = name.strip()
        if not name:
            raise LibraryError("a playlist needs a name")
        if self._find(name) is not None:
            raise LibraryError(f"a playlist named '{name}' already exists")
        ids = tuple(dict.fromkeys(track_ids))
        self._check_tracks(ids)
        playlist = Playlist(f"user:{uuid.uuid4().hex[:12]}", name, ids)
        self._write(playlist)
        return playlist

    def delete(self, name: str) -> None:
        playlist = self.resolve(name)
        self.lib.store.delete("playlists", f"playlist_id = {sql_string(playlist.playlist_id)}")

    def rename(self, name: str, new_name: str) -> Playlist:
        playlist = self.resolve(name)
        new_name = new_name.strip()
        other = self._find(new_name)
        if not new_name or (other is not None and other.playlist_id != playlist.playlist_id):
            raise LibraryError(f"cannot rename to '{new_name}': " + ("a name is needed" if not new_name else "that name is taken"))
        renamed = Playlist(playlist.playlist_id, new_name, playlist.track_ids, playlist.genres, playlist.source)
        self._write(renamed, self._created_at(playlist.playlist_id))
        return renamed

    def set_tracks(self, name: str, track_ids: Sequence[str]) -> Playlist:
        """Replace a playlist's tracks (in this order) in one commit."""
        playlist = self.resolve(name)
        ids = tuple(dict.fromkeys(track_ids))
        self._check_tracks(ids)
        updated = Playlist(playlist.playlist_id, playlist.name, ids, playlist.genres, playlist.source)
        self._write(updated, self._created_at(playlist.playlist_id))
        return updated

    def add(self, name: str, track_ids: Sequence[str], *, position: int | None = None) -> Playlist:
        playlist = self.resolve(name)
        current = list(playlist.track_ids)
        new = [t for t in dict.fromkeys(track_ids) if t not in set(current)]
        at = len(current) if position is None else max(0, min(position, len(current)))
        return self.set_tracks(name, current[:at] + new + current[at:])

    def remove(self, name: str, track_ids: Sequence[str]) -> Playlist:
        playlist = self.resolve(name)
        drop = set(track_ids)
        return self.set_tracks(name, [t for t in playlist.track_ids if t not in drop])

    def move(self, name: str, track_id: str, index: int) -> Playlist:
        playlist = self.resolve(name)
        ids = list(playlist.track_ids)
        if track_id not in ids:
            raise LibraryError(f"track {track_id} is not in playlist '{playlist.name}'")
        ids.remove(track_id)
        ids.insert(max(0, min(index, len(ids))), track_id)
        return self.set_tracks(name, ids)

    def upsert_imported(self, imported: dict[str, dict], *, source: str) -> tuple[int, int]:
        """Write playlists read from an import, keyed by their source id, in one commit."""
        existing = {p.playlist_id: p for p in self.all()}
        taken = {p.name.lower(): p.playlist_id for p in existing.values()}
        created = self.lib.store.read("playlists", ["playlist_id", "created_at"]).to_pydict()
        created_at = dict(zip(created["playlist_id"], created["created_at"]))
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
                    "created_at": created_at.get(playlist_id) or stamp,
                    "updated_at": stamp,
                }
            )
        self.lib.store.upsert("playlists", "playlist_id", pa.Table.from_pylist(rows, schema=PLAYLISTS_SCHEMA))
        return new, len(rows) - new

    # -- files -----------------------------------------------------------------------

    def import_file(self, path: str | Path, *, name: str | None = None) -> PlaylistImportReport:
        """Read an M3U/M3U8/XSPF/CSV playlist and match its entries to library tracks."""
        path = Path(path)
        entries = read_entries(path)
        playlist_name = name or path.stem
        report = PlaylistImportReport(playlist_name, entries=len(entries))
        matcher = _Matcher(self.lib.snapshot().frame, base=path.parent)
        ids = []
        for entry in entries:
            track_id = matcher.match(entry)
            if track_id is None:
                report.unmatched.append((entry.line, entry.describe()))
            else:
                ids.append(track_id)
        report.matched = len(ids)
        if self._find(playlist_name) is not None:
            self.set_tracks(playlist_name, ids)
        else:
            self.create(playlist_name, ids)
        return report

    def export(self, name: str, fmt: str) -> str:
        """The playlist as M3U, XSPF or CSV text."""
        if fmt not in EXPORT_FORMATS:
            raise LibraryError(f"unknown format '{fmt}'; use one of {', '.join(EXPORT_FORMATS)}")
        playlist = self.resolve(name)
        frame = self.lib.snapshot().frame
        rows = {r["track_id"]: r for r in frame.filter(pl.col("track_id").is_in(list(playlist.track_ids))).to_dicts()}
        tracks = [rows[t] for t in playlist.track_ids if t in rows]
        out = io.StringIO()
        {"m3u": write_m3u, "xspf": write_xspf, "csv": write_csv}[fmt](playlist.name, tracks, out)
        return out.getvalue()


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
            sid = spotify_id(entry.track_id)
            if sid in self.ids:
                return sid
        if entry.artist and entry.title:
            return self.by_name.get((entry.artist.lower(), entry.title.lower()))
        return None
