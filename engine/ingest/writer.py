"""Writing tracks into the library: imported tables and indexed audio.

Two doors, each a short series of LanceDB commits:

- `import_tables`: Spotify audio-feature tables (`spotify.py`) -> track rows, upserted
  by id in batches; the playlists they name are returned for the playlist manager.
- `write_indexed`: what the audio indexer produced for a batch of files (`Indexed`,
  `Unchanged`, `Failed`): segments first, then the tracks, then the error rows, so a
  track row means "done" and a killed run loses at most the batch in flight.

Raw genre strings are normalised onto the library's genres on the way in (the original
string is kept as a tag; `words.genres` says how).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..errors import LibraryError
from ..storage import INDEX_ERRORS_SCHEMA, SEGMENTS_SCHEMA, TRACKS_SCHEMA, Store, chunks, now, sql_in, sql_string
from ..words.genres import GenreMap, clean
from .spotify import Skipped, read_spotify


@dataclass
class ImportReport:
    rows: int = 0
    tracks_new: int = 0
    tracks_updated: int = 0
    playlists_new: int = 0
    playlists_updated: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[Skipped] = field(default_factory=list)
    #: Duplicate track rows found in the library and merged (left by concurrent imports of old).
    repaired: int = 0

    def __str__(self) -> str:
        lines = [
            f"read {self.rows} rows: {self.tracks_new} new tracks, {self.tracks_updated} updated, "
            f"{len(self.skipped)} rows skipped; {self.playlists_new} new playlists, "
            f"{self.playlists_updated} updated"
        ]
        if self.repaired:
            lines.append(f"  repaired: {self.repaired} duplicate track rows merged")
        lines += [f"  skipped {s}" for s in self.skipped]
        lines += [f"  warning {w}" for w in self.warnings]
        return "\n".join(lines)


# -- genres ------------------------------------------------------------------------------


def genre_map(store: Store) -> GenreMap:
    """How raw genre strings map onto the library's genres (see `words.genres`)."""
    return GenreMap.from_json(store.get_meta("genre_map"))


def normalize_genres(store: Store, tracks: Iterable[dict], playlists: Iterable[dict] = ()) -> GenreMap:
    """Replace raw genre strings by normalised genres; the raw strings become tags.

    Imports give raw strings as "genres"; the indexer gives model genres there and the
    file's raw strings as "raw_genres".
    """
    tracks, playlists = list(tracks), list(playlists)
    with store.writing("meta"):  # concurrent imports add to one genre map, none lost
        return _normalize(store, tracks, playlists)


def _normalize(store: Store, tracks: list[dict], playlists: list[dict]) -> GenreMap:
    gm = genre_map(store)
    before = gm.to_json()
    raws = [g for t in tracks for g in (t["raw_genres"] if "raw_genres" in t else t.get("genres")) or ()]
    raws += [g for p in playlists for g in p.get("genres") or ()]
    mapped = gm.normalize_all(raws)
    for t in tracks:
        if "raw_genres" in t:
            raw, base = t.pop("raw_genres") or [], list(t.get("genres") or [])
        else:
            raw, base = list(t.get("genres") or []), []
        t["genres"] = list(dict.fromkeys([*base, *(g for r in raw if r in mapped for g in mapped[r].genres)]))
        t["tags"] = list(dict.fromkeys([*raw, *(t.get("tags") or [])]))
    for p in playlists:
        p["genres"] = {g: None for r in p.get("genres") or () if r in mapped for g in mapped[r].genres}
    if gm.to_json() != before:
        store.set_meta("genre_map", gm.to_json())
    return gm


def set_genre_override(store: Store, raw: str, genres: Iterable[str] | None) -> int:
    """Map a raw genre string to these genres (None: remove the override); returns tracks changed.

    Tracks that carry the raw string as a tag get their genres recomputed from all of
    their raw genre tags.
    """
    gm = genre_map(store)
    if genres is None:
        if raw not in gm.overrides:
            raise LibraryError(f"no override for '{raw}'; `attune genres` lists them")
        del gm.overrides[raw]
    else:
        wanted = tuple(dict.fromkeys(clean(g) for g in genres if g.strip()))
        if not wanted:
            raise LibraryError("name at least one genre for the override")
        gm.overrides[raw] = wanted
    old = gm.seen.get(raw)
    gm.seen.pop(raw, None)
    new = gm.normalize(raw)
    store.set_meta("genre_map", gm.to_json())
    return _remap_tracks(store, gm, raw, old.genres if old else (), new.genres)


def _remap_tracks(store: Store, gm: GenreMap, raw: str, old: tuple[str, ...], new: tuple[str, ...]) -> int:
    table = store.read("tracks", where=f"array_has(tags, {sql_string(raw)})")
    if table.num_rows == 0:
        return 0
    rows = table.to_pylist()
    for row in rows:
        others = {g for t in row["tags"] or () if t != raw and t in gm.seen for g in gm.seen[t].genres}
        kept = [g for g in row["genres"] or () if g not in old or g in others]
        row["genres"] = list(dict.fromkeys([*kept, *new]))
    store.upsert("tracks", "track_id", pa.Table.from_pylist(rows, schema=TRACKS_SCHEMA))
    return len(rows)


# -- imported tables ----------------------------------------------------------------------


def import_tables(store: Store, paths: Iterable[str | Path], *, batch_size: int = 2000,
                  encoding: str | None = None) -> tuple[ImportReport, dict[str, dict]]:
    """Read Spotify audio-feature tables and upsert their tracks in batches of one commit
    each; returns the report and the playlists the tables name (by source id)."""
    read = read_spotify(paths, encoding=encoding)
    report = ImportReport(rows=read.rows, skipped=read.skipped, warnings=read.warnings)
    normalize_genres(store, read.tracks.values(), read.playlists.values())
    stamp = now()
    rows = [dict(t, updated_at=stamp) for t in read.tracks.values()]
    # A track the library has already gets the imported columns only: what the indexer and
    # the co-listen space wrote (embeddings, taggrams, co-listen vectors, the file) stays.
    keys = set(rows[0]) if rows else set()  # (every imported track has the same fields)
    mine = pa.schema([f for f in TRACKS_SCHEMA if f.name in keys])
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        have: set[str] = set()
        for ids in chunks([r["track_id"] for r in chunk], 1000):
            have |= set(store.read("tracks", ["track_id"], where=sql_in("track_id", ids))["track_id"].to_pylist())
        new = [r for r in chunk if r["track_id"] not in have]
        if new:
            written = store.upsert("tracks", "track_id", pa.Table.from_pylist(new, schema=TRACKS_SCHEMA))
            report.tracks_new += written.inserted
            report.tracks_updated += written.updated
        known = [r for r in chunk if r["track_id"] in have]
        if known:
            report.tracks_updated += store.update_columns("tracks", "track_id", pa.Table.from_pylist(known, schema=mine))
    # Rows an older attune inserted twice under concurrent imports are merged back into one.
    report.repaired = store.deduplicate("tracks", "track_id", order="updated_at")
    return report, read.playlists


# -- indexed audio -------------------------------------------------------------------------


@dataclass
class Indexed:
    """A file the indexer read: its track row, and its segments' starts, embeddings and taggrams."""

    path: str
    track: dict  # tracks-table columns, plus "raw_genres" (the file's genre tag, as written)
    starts: np.ndarray  # (n,) seconds
    embeddings: np.ndarray  # (n, dim) float32
    taggram: np.ndarray  # (n, tags) float32
    segment_seconds: float

    @property
    def track_id(self) -> str:
        return self.track["track_id"]


@dataclass
class Unchanged:
    """A file whose audio is as last indexed (only its date or tags changed)."""

    path: str
    track_id: str
    file_size: int
    file_mtime: float
    length: float = 0.0


@dataclass
class Failed:
    """A file that could not be indexed, and why."""

    path: str
    reason: str


def write_indexed(store: Store, batch: Sequence[Indexed | Unchanged | Failed]) -> None:
    """Write one batch of indexer results (see the module docstring for the order),
    holding the tracks' write lock throughout."""
    with store.writing("tracks"):
        _write_indexed(store, batch)


def _write_indexed(store: Store, batch: Sequence[Indexed | Unchanged | Failed]) -> None:
    # The same audio under two paths is one track: the last path read wins.
    done = list({r.track_id: r for r in batch if isinstance(r, Indexed)}.values())
    failed = [r for r in batch if isinstance(r, Failed)]
    for r in batch:
        if isinstance(r, Unchanged):
            store.update_file(r.track_id, r.file_size, r.file_mtime)
    stamp = now()
    if done:
        ids = sorted({r.track_id for r in done})
        store.delete("segments", sql_in("track_id", ids))
        store.add("segments", _segments(done))
        tracks = [dict(r.track, updated_at=stamp) for r in done]
        normalize_genres(store, tracks)
        store.upsert("tracks", "track_id", pa.Table.from_pylist(tracks, schema=TRACKS_SCHEMA))
        store.delete("index_errors", sql_in("path", (r.path for r in done)))
    if failed:
        rows = [{"path": r.path, "reason": r.reason, "at": stamp} for r in failed]
        store.upsert("index_errors", "path", pa.Table.from_pylist(rows, schema=INDEX_ERRORS_SCHEMA))


def _segments(done: list[Indexed]) -> pa.Table:
    ids, starts, ends, embeddings, taggrams = [], [], [], [], []
    for r in done:
        n = len(r.starts)
        ids += [r.track_id] * n
        starts.append(np.asarray(r.starts, dtype=np.float64))
        ends.append(np.asarray(r.starts, dtype=np.float64) + r.segment_seconds)
        embeddings += list(np.asarray(r.embeddings, dtype=np.float32))
        taggrams += list(np.asarray(r.taggram, dtype=np.float32))
    return pa.table(
        {
            "track_id": pa.array(ids, pa.string()),
            "start": pa.array(np.concatenate(starts)),
            "end": pa.array(np.concatenate(ends)),
            "embedding": pa.array([e.tolist() for e in embeddings], pa.list_(pa.float32())),
            "taggram": pa.array([t.tolist() for t in taggrams], pa.list_(pa.float32())),
        },
        schema=SEGMENTS_SCHEMA,
    )


def known_files(store: Store) -> dict[str, tuple[int, float, str]]:
    """path -> (size, mtime, track id) of every indexed file."""
    table = store.read("tracks", ["path", "file_size", "file_mtime", "track_id"], where="path IS NOT NULL")
    data = table.to_pydict()
    return {p: (s, m, t) for p, s, m, t in zip(data["path"], data["file_size"], data["file_mtime"], data["track_id"])}


def remember_model_tags(store: Store, backbone: str, tags: Sequence[str]) -> None:
    """A backbone's tag vocabulary, kept in meta so plain-words search knows it."""
    lowered = [t.lower() for t in tags]
    if lowered and (store.get_meta("model_tags") or {}).get(backbone) != lowered:
        store.update_meta("model_tags", lambda stored: (stored or {}) | {backbone: lowered})


def model_tags(store: Store) -> frozenset[str]:
    """Every installed backbone's tags (lower case), as the indexer recorded them."""
    return frozenset(t for tags in (store.get_meta("model_tags") or {}).values() for t in tags)


def prune_missing(store: Store) -> int:
    """Remove tracks (and their segments) whose files no longer exist; returns how many."""
    import os

    table = store.read("tracks", ["track_id", "path"], where="path IS NOT NULL").to_pydict()
    gone = [tid for tid, path in zip(table["track_id"], table["path"]) if not os.path.exists(path)]
    remove_tracks(store, gone)
    return len(gone)


def remove_tracks(store: Store, track_ids: Sequence[str]) -> None:
    """Remove tracks and their segments, 500 ids per commit."""
    for chunk in chunks(track_ids, 500):
        store.delete("segments", sql_in("track_id", chunk))
        store.delete("tracks", sql_in("track_id", chunk))
