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
from dataclasses import dataclass, field
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

    def __str__(self) -> str:
        lines = [f"playlist '{self.name}': {self.matched} of {self.entries} entries matched library tracks"]
        lines += [f"  line {line}: no track matches {what}" for line, what in self.unmatched]
        return "\n".join(lines)


class PlaylistManager:
    """The playlists of one library: `store` is where they are kept, `snapshot()` the
    library's current in-memory view (for checking and matching tracks)."""

    def __init__(self, store: Store, snapshot: Callable[[], Snapshot]) -> None:
        self.store = store
        self.snapshot = snapshot

    # -- reading ---------------------------------------------------------------------

    def all(self) -> list[Playlist]:
        table = self.store.read("playlists", ["playlist_id", "name", "track_ids", "genres", "source", "created_at"])
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
        """The playlist `name` means (ignoring case, or its id); unknown: an error with a suggestion."""
        playlists = self.all() if playlists is None else playlists
        return PlaylistMatcher({p.name: p for p in playlists}).resolve(name)

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
        self.store.upsert("playlists", "playlist_id", pa.Table.from_pylist([row], schema=PLAYLISTS_SCHEMA))

    def _created_at(self, playlist_id: str):
        table = self.store.read("playlists", ["created_at"], where=f"playlist_id = {sql_string(playlist_id)}")
        return table["created_at"][0].as_py() if table.num_rows else None

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
        self.store.delete("playlists", f"playlist_id = {sql_string(playlist.playlist_id)}")

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
        created = self.store.read("playlists", ["playlist_id", "created_at"]).to_pydict()
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
        self.store.upsert("playlists", "playlist_id", pa.Table.from_pylist(rows, schema=PLAYLISTS_SCHEMA))
        return new, len(rows) - new

    # -- files -----------------------------------------------------------------------

    def import_file(self, path: str | Path, *, name: str | None = None) -> PlaylistImportReport:
        """Read an M3U/M3U8/XSPF/CSV playlist and match its entries to library tracks."""
        path = Path(path)
        entries = read_entries(path)
        playlist_name = name or path.stem
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
        if self._find(playlist_name) is not None:
            self.set_tracks(playlist_name, ids)
        else:
            self.create(playlist_name, ids)
        return report

    def export_files(self, name: str, formats: Sequence[str] = ("m3u", "xspf"), *, folder: Path | None = None) -> list[Path]:
        """Write the playlist in each format under `folder` (default `<library>/exports/`).

        The file name is the playlist's name made safe (`safe_filename`): a name with
        slashes, dots or control characters never writes outside the folder.
        """
        playlist = self.resolve(name)
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
            sid = spotify_id(entry.track_id)
            if sid in self.ids:
                return sid
        if entry.artist and entry.title:
            return self.by_name.get((entry.artist.lower(), entry.title.lower()))
        return None
