"""`Library`: the one entry object of the engine.

    lib = Library.open("~/Music/attune")          # or Library.open() for the default place
    lib.import_spotify(["spotify_songs.csv"])
    lib.search('genre:soul energy<0.4 like:playlist("Sunday Morning") limit:20').to_polars()
    print(lib.recipe("Sunday Morning"))
    lib.expand("Sunday Morning", limit=50)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from attune.query import QueryError, parse
from attune.query.fields import suggest

from .genres import GenreMap, clean
from .playlists import PlaylistManager
from .snapshot import SPACE_NAMES, Playlist, Snapshot, SpaceData
from .spaces import Whitener
from .spotify import Skipped, read_spotify
from .store import TRACKS_SCHEMA, LibraryError, Store, default_library_path, now, sql_string

#: Columns read into a snapshot; vector columns are read only when a space needs them.
SCALAR_COLUMNS = [
    f.name for f in TRACKS_SCHEMA if f.name not in ("embedding", "taggram", "colisten", "energy_tiles", "genre_scores", "updated_at")
]

#: LSI cosine similarity at which a genre joins a recipe's genre cluster.
CLUSTER_SIMILARITY = 0.7


@dataclass
class ImportReport:
    rows: int = 0
    tracks_new: int = 0
    tracks_updated: int = 0
    playlists_new: int = 0
    playlists_updated: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[Skipped] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"read {self.rows} rows: {self.tracks_new} new tracks, {self.tracks_updated} updated, "
            f"{len(self.skipped)} rows skipped; {self.playlists_new} new playlists, "
            f"{self.playlists_updated} updated"
        ]
        lines += [f"  skipped {s}" for s in self.skipped]
        lines += [f"  warning {w}" for w in self.warnings]
        return "\n".join(lines)


class Library:
    """A music library in a directory: tracks, segments, playlists and metadata in LanceDB."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.path = store.path
        self.playlists = PlaylistManager(self)
        self._snapshot: Snapshot | None = None
        self._snapshot_key: tuple | None = None
        self._persisted: tuple | None = None

    @classmethod
    def open(cls, path: str | Path | None = None) -> "Library":
        """Open the library at `path` (created if missing); default: $ATTUNE_LIBRARY or the user data dir."""
        target = Path(path).expanduser() if path is not None else default_library_path()
        if target.exists() and not target.is_dir():
            raise LibraryError(f"{target} is a file, not a library directory")
        return cls(Store(target))

    def __repr__(self) -> str:
        return f"Library({str(self.path)!r})"

    # -- importing -----------------------------------------------------------------

    def import_spotify(self, paths: Iterable[str | Path], *, batch_size: int = 2000) -> ImportReport:
        """Import Spotify audio-feature tables; see `attune.engine.spotify` for the layouts."""
        read = read_spotify(paths)
        report = ImportReport(rows=read.rows, skipped=read.skipped, warnings=read.warnings)
        self._normalize_genres(read.tracks.values(), read.playlists.values())
        stamp = now()
        rows = [dict(t, updated_at=stamp) for t in read.tracks.values()]
        for start in range(0, len(rows), batch_size):
            batch = pa.Table.from_pylist(rows[start : start + batch_size], schema=TRACKS_SCHEMA)
            new, updated = self.store.upsert("tracks", "track_id", batch)
            report.tracks_new += new
            report.tracks_updated += updated
        if read.playlists:
            new, updated = self.playlists.upsert_imported(read.playlists, source="spotify")
            report.playlists_new, report.playlists_updated = new, updated
        return report

    # -- genres --------------------------------------------------------------------------

    def genre_map(self) -> GenreMap:
        """How raw genre strings map onto the library's genres (see `attune.engine.genres`)."""
        return GenreMap.from_json(self.store.get_meta("genre_map"))

    def _normalize_genres(self, tracks: Iterable[dict], playlists: Iterable[dict] = ()) -> GenreMap:
        """Replace raw genre strings by normalised genres; the raw strings become tags."""
        tracks, playlists = list(tracks), list(playlists)
        gm = self.genre_map()
        before = gm.to_json()
        raws = [g for t in tracks for g in (t["raw_genres"] if "raw_genres" in t else t.get("genres")) or ()]
        raws += [g for p in playlists for g in p.get("genres") or ()]
        mapped = gm.normalize_all(raws)
        for t in tracks:
            # Imports give raw strings as "genres"; the indexer gives model genres
            # there and the file's raw strings as "raw_genres".
            if "raw_genres" in t:
                raw, base = t.pop("raw_genres") or [], list(t.get("genres") or [])
            else:
                raw, base = list(t.get("genres") or []), []
            t["genres"] = list(dict.fromkeys([*base, *(g for r in raw if r in mapped for g in mapped[r].genres)]))
            t["tags"] = list(dict.fromkeys([*raw, *(t.get("tags") or [])]))
        for p in playlists:
            p["genres"] = {g: None for r in p.get("genres") or () if r in mapped for g in mapped[r].genres}
        if gm.to_json() != before:
            self.store.set_meta("genre_map", gm.to_json())
        return gm

    def set_genre_override(self, raw: str, genres: Iterable[str] | None) -> int:
        """Map a raw genre string to these genres (None: remove the override); returns tracks changed.

        Tracks that carry the raw string as a tag get their genres recomputed
        from all of their raw genre tags.
        """
        gm = self.genre_map()
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
        self.store.set_meta("genre_map", gm.to_json())
        return self._remap_tracks(gm, raw, old.genres if old else (), new.genres)

    def _remap_tracks(self, gm: GenreMap, raw: str, old: tuple[str, ...], new: tuple[str, ...]) -> int:
        table = self.store.read("tracks", where=f"array_has(tags, {sql_string(raw)})")
        if table.num_rows == 0:
            return 0
        rows = table.to_pylist()
        for row in rows:
            others = {g for t in row["tags"] or () if t != raw and t in gm.seen for g in gm.seen[t].genres}
            kept = [g for g in row["genres"] or () if g not in old or g in others]
            row["genres"] = list(dict.fromkeys([*kept, *new]))
        self.store.upsert("tracks", "track_id", pa.Table.from_pylist(rows, schema=TRACKS_SCHEMA))
        return len(rows)

    def index(self, paths: Iterable[str | Path], **options):
        """Index audio files and folders (see `attune.indexer.pipeline.index` for the options).

        The indexer is a layer above the engine and needs torch; it is imported here,
        on use, so that `attune.engine` itself stays free of it.
        """
        try:
            from attune.indexer.pipeline import index
        except ImportError as exc:  # pragma: no cover - only without the indexer's dependencies
            raise LibraryError(f"indexing audio needs the indexer's dependencies ({exc.name}); reinstall attune") from None
        return index(self, paths, **options)

    def energy_tiles(self, track_id: str) -> list[float] | None:
        """The per-10-second energy of an indexed track (None for imported tracks)."""
        table = self.store.read("tracks", ["energy_tiles"], where=f"track_id = {sql_string(track_id)}")
        return table["energy_tiles"][0].as_py() if table.num_rows else None

    def index_errors(self) -> list[tuple[str, str]]:
        """(path, reason) of every file the indexer could not read."""
        table = self.store.read("index_errors", ["path", "reason"]).to_pydict()
        return sorted(zip(table["path"], table["reason"]))

    # -- snapshot and spaces ---------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The in-memory view of the library, rebuilt only when a table has changed."""
        key = self.store.versions()
        if self._snapshot is None or key != self._snapshot_key:
            tracks = pl.from_arrow(self.store.read("tracks", SCALAR_COLUMNS))
            assert isinstance(tracks, pl.DataFrame)
            self._snapshot = Snapshot.build(
                tracks, self.playlists.all(), self._stored_whiteners(key), vectors=self._vectors,
                colisten_io=(lambda: self._load_colisten(key), lambda v: self._save_colisten(key, v)),
            )
            self._snapshot_key = key
        return self._snapshot

    def _vectors(self, column: str) -> pl.DataFrame:
        table = self.store.read("tracks", ["track_id", column], where=f"array_length({column}) > 0")
        return pl.from_arrow(table)  # type: ignore[return-value]

    def _load_colisten(self, key: tuple) -> dict | None:
        """Stored co-listen vectors, if they were trained on the playlists of this snapshot."""
        meta = self.store.get_meta("colisten")
        if not meta or meta.get("playlists_version") != key[1]:
            return None
        stored = self._vectors("colisten")
        return {i: np.asarray(v, dtype=np.float32) for i, v in stored.iter_rows()}

    def _save_colisten(self, key: tuple, vectors: dict) -> None:
        """Write freshly trained co-listen vectors to the tracks table (and clear stale ones)."""
        had = self.store.read("tracks", ["track_id"], where="array_length(colisten) > 0")["track_id"].to_pylist()
        stale = sorted(set(had) - set(vectors))
        ids = list(vectors) + stale
        column = [np.asarray(v, dtype=np.float32).tolist() for v in vectors.values()] + [[] for _ in stale]
        self.store.update_columns("tracks", "track_id", pa.table({"track_id": ids, "colisten": column}))
        self.store.set_meta("colisten", {"playlists_version": key[1], "tracks": len(vectors), "trained_at": now().isoformat()})

    def _stored_whiteners(self, key: tuple) -> dict[str, Whitener]:
        stored = self.store.get_meta("whiteners")
        if not stored or tuple(stored.get("key", ())) != key:
            return {}
        return {name: Whitener.from_json(data) for name, data in stored["spaces"].items()}

    def _persist_whiteners(self) -> None:
        snap = self._snapshot
        if snap is None or not snap.whiteners:
            return
        state = (self._snapshot_key, frozenset(snap.whiteners))
        if state == self._persisted:
            return
        self._persisted = state
        stored = self.store.get_meta("whiteners") or {}
        if tuple(stored.get("key", ())) == self._snapshot_key and set(stored.get("spaces", {})) >= set(snap.whiteners):
            return
        self.store.set_meta(
            "whiteners",
            {"key": list(self._snapshot_key or ()), "spaces": {n: w.to_json() for n, w in snap.whiteners.items()}},
        )
        # set_meta changes no table that keys the snapshot, so it stays valid.

    def space(self, name: str = "attr") -> SpaceData:
        """A space over the whole library, fitted and ready: `.transform(X)`, `.dims`, `.z`."""
        if name not in SPACE_NAMES:
            raise LibraryError(f"unknown space '{name}'; spaces are {', '.join(SPACE_NAMES)}")
        space = self.snapshot().space(name)
        self._persist_whiteners()
        return space

    def fit(self) -> dict[str, Whitener]:
        """Refit every space that has vectors (normally done on demand when playlists change)."""
        snap = self.snapshot()
        snap.whiteners.clear()
        snap.reset_spaces()
        for name in SPACE_NAMES:
            if name == "attr" or not snap.vectors_missing(name):
                snap.space(name)
        self._persist_whiteners()
        return dict(snap.whiteners)

    # -- queries -----------------------------------------------------------------------

    def parse(self, query: str):
        return parse(query, fields=self.attribute_fields())

    def attribute_fields(self) -> tuple[str, ...]:
        return ()

    def search(self, query: str, *, limit: int | None = None):
        """Run a query of the language; returns `Results` (best first).

        `limit` is the caller's cap: at most that many rows, and never more than the
        query's own `limit:` (a query without one returns up to `limit`, default 50).
        """
        from .search import run

        results = run(self, self.parse(query), query, limit=limit)
        self._persist_whiteners()
        return results

    def explain(self, query: str) -> str:
        """The plan a query compiles to: pushed-down filter, post-filters, vector terms, space."""
        from .search import plan

        return plan(self, self.parse(query), query).describe()

    def recipe(self, name: str, *, cluster: bool = False):
        """The playlist's recipe; `str(recipe)` is an editable query.

        `cluster=True` also names its genre cluster (`recipe.cluster`): the top
        genre and the genres LSI relates to it. That fits the tag model on first
        use per snapshot (seconds on a large library), so it is asked for only
        where it is shown.
        """
        from .recipe import derive_recipe

        snap = self.snapshot()
        recipe = derive_recipe(snap, self.playlists.resolve(name, list(snap.playlists.values())))
        if cluster and recipe.genres:
            top = recipe.genres[0]
            related = [g for g, sim in self.tags().related(top, limit=8) if sim >= CLUSTER_SIMILARITY]
            recipe.cluster = [top, *related[:4]]
        return recipe

    def expand(self, name: str, *, limit: int = 50):
        """Tracks to add to the playlist, best first, each explained."""
        from .recipe import expand

        snap = self.snapshot()
        return expand(snap, self.playlists.resolve(name, list(snap.playlists.values())), limit=limit)

    def analyze(self, spaces=("attr", "audio", "colisten"), playlists=None):
        """Playlist analysis in each space (see `attune.engine.analysis`)."""
        from .analysis import analyze

        return analyze(self.snapshot(), spaces=spaces, playlists=playlists)

    def ask(self, text: str, *, limit: int | None = None):
        """Plain words -> `Answer` with `.query` (editable), `.results` and `.explain()`."""
        from .ask import ask

        answer = ask(self, text, limit=limit)
        self._persist_whiteners()
        return answer

    def tags(self):
        """Tag relatedness (LSI over the track-by-tag matrix): `.related("soul")`."""
        from .tags import fit

        snap = self.snapshot()
        if "tags/lsi" not in snap._numbers:
            frame = snap.frame.select(
                pl.concat_list(pl.col("genres").fill_null([]), pl.col("tags").fill_null([])).list.eval(pl.element().str.to_lowercase())
            )
            snap._numbers["tags/lsi"] = fit(frame.to_series().to_list())
        return snap._numbers["tags/lsi"]

    def tag_counts(self) -> dict[str, int]:
        """Tracks per tag (lower case)."""
        return self.snapshot().text_index("tag").value_counts()

    # -- helpers for the layers above ---------------------------------------------------

    def track_count(self) -> int:
        return self.store.tables["tracks"].count_rows()

    def unknown_name_error(self, what: str, name: str, pool: Iterable[str], query: str = "", position: int = 0) -> QueryError:
        guess = suggest(name, pool)
        return QueryError(
            f"no {what} named '{name}'",
            query=query,
            position=position,
            hint=f"did you mean '{guess}'?" if guess else None,
        )
