"""`Library`: the one entry object of the engine, a thin facade over its parts.

    lib = Library.open("~/Music/attune")          # or Library.open() for the default place
    lib.import_spotify(["spotify_songs.csv"])
    lib.search('genre:soul energy<0.4 like:playlist("Sunday Morning") limit:20').to_polars()
    print(lib.recipe("Sunday Morning"))
    lib.expand("Sunday Morning", limit=50)

It owns the store and the current snapshot (rebuilt in parts when a table changes:
track data when the tracks change, playlist data when the playlists do) and hands
them to `search`, `ask`, `playlists`, `ingest`, `spaces` and `analysis`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from attune.query import parse
from attune.query.ast import Options
from attune.query.fields import SPACE_DIMS

from . import ingest
from .access import Keys
from .errors import LibraryError, NotAvailableError
from .execution import regex_error
from .ingest import Failed, ImportReport, Indexed, Unchanged
from .playlists import PER_ARTIST, PlaylistManager, Recipe
from .playlists.sequence import Sequenced
from .playlists.sequence import sequence as sequence_playlist
from .search import Results, Source
from .spaces import SPACE_NAMES, Mapping, SpaceData, Whitener, colisten_index, computed, fit_all, space, train_colisten
from .spaces.attributes import attribute_parts
from .spaces.coldstart import FeaturePlan
from .spaces.compact import RERANK_MIN
from .spaces.served import build_index, preload, preload_bytes, refresh_index, served
from .spaces.space import colisten_learned
from .storage import SCALAR_COLUMNS, Key, Learned, Snapshot, Store, TrackData, Versions, default_library_path, now, sql_string
from .storage.place import place_of
from .storage.reads import available, matrix, read_through, release, resident
from .storage.rowcopy import TABLE as ROW_COPY
from .storage.rowcopy import written_since
from .storage.sqltext import chunks, sql_in

__all__ = ["ImportReport", "Library"]

#: LSI cosine similarity at which a genre joins a recipe's genre cluster.
CLUSTER_SIMILARITY = 0.7


#: About what one track's scalar columns take in memory (a Spotify-imported library of 1M
#: tracks: 259.5 MB).
TRACK_BYTES = 260
#: ... and what the columns queries read take over the budget (ids' hashes, a few numbers, genres).
QUERY_BYTES = 100
#: Resident memory per byte polars counts in a frame of text columns (string views, offsets).
RESIDENT = 2
#: The process before any data: Python, numpy, polars, Arrow, LanceDB (256 MB measured).
BASE_BYTES = 300 * 2**20
#: Within a memory budget, LanceDB's index cache gets this part of it (1/5) and its
#: metadata cache 1/32. At 1M tracks a 128 MB index cache made an audio search 2x slower
#: than LanceDB's 6 GB default (50 -> 105 ms); at 10M 30 searches filled 766 MB.
INDEX_CACHE_SHARE, METADATA_CACHE_SHARE = 5, 32
#: `warm` reads a served index through (into the page cache) while it takes at most this
#: share of the memory the system has available.
PRELOAD_SHARE = 0.5
#: Where meta records the attribute parts `attune optimize` stored, and their format (a
#: change to what the parts hold changes it, and stored parts of another are not read).
PARTS_META, PARTS_FORMAT = "attr_parts", 1
#: A `warm` step that had nothing to do.
_SKIPPED = object()
#: Past this share of the budget resident, a search or an expansion gives freed memory back.
SETTLE_SHARE = 0.85
#: Dimensions of the attribute space before it is built (attributes and up to 32 genres).
ATTR_DIMS = 40
#: Bytes a track the attribute space takes over the budget before it is built (held in
#: parts, `spaces/compact.py`: up to 8 float32 attributes, a profile, |z|^2).
ATTR_PARTS_BYTES = 40
_VECTOR_SHAPE = Key[tuple]("library.audio_shape", "tracks")
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*", re.IGNORECASE)


def parse_size(value: int | str | None) -> int | None:
    """Bytes from an int or text such as "4GB", "512 MiB", "2e9" (None: no limit)."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    match = _SIZE.fullmatch(str(value))
    if not match:
        try:
            return int(float(value))
        except ValueError:
            raise LibraryError(f"cannot read '{value}' as a memory size; write it like 4GB, 512MB or 2000000000") from None
    unit = (match.group(2) or "").lower().rstrip("b").rstrip("i")
    return int(float(match.group(1)) * 1024 ** " kmgt".index(unit or " "))


def budget_of(memory_budget: int | str | None) -> int | None:
    """The memory budget in bytes: the one given, else $ATTUNE_MEMORY_BUDGET, else None (no limit)."""
    return parse_size(memory_budget if memory_budget is not None else os.environ.get("ATTUNE_MEMORY_BUDGET"))


class Library:
    """A music library in a directory: tracks, segments, playlists and metadata in LanceDB."""

    def __init__(self, store: Store, *, memory_budget: int | str | None = None) -> None:
        self.store = store
        #: Bytes the in-memory snapshot may use (None: no limit); see `budget`.
        self.memory_budget = budget_of(memory_budget)
        self.path = store.path
        self.playlists = PlaylistManager(store, self.snapshot)
        self._snapshot: Snapshot | None = None
        self._snapshot_key: Versions | None = None
        self._persisted: tuple | None = None
        self._model_tags: tuple[object, frozenset[str]] = (None, frozenset())
        self.keys = Keys(store.place, store.locks)  # API keys for `attune serve`
        self._preloaded: set[tuple] = set()  # the served indexes `warm` has read through

    @classmethod
    def open(cls, path: str | Path | None = None, *, create: bool = True,
             storage_options: dict[str, str] | None = None, memory_budget: int | str | None = None) -> Library:
        """Open the library at `path`: a folder, or a prefix on object storage
        (`s3://bucket/prefix`, `gs://...`, `az://...`; see `storage/place.py` for
        credentials and `storage_options`). Default: $ATTUNE_LIBRARY or the user data dir.

        `memory_budget` (bytes, or text such as "4GB"; default $ATTUNE_MEMORY_BUDGET, else
        no limit): a space whose vectors would take the snapshot past it is served from
        its LanceDB index instead (`attune optimize` builds it; `attune explain` says which).

        A missing library is created, unless `create=False` (the command line's read
        commands): then it is an error, so a mistyped path never answers "0 results".
        """
        place = place_of(path if path is not None else default_library_path(), storage_options)
        if place.local is not None and place.local.exists() and not place.local.is_dir():
            raise LibraryError(f"{place.local} is a file, not a library directory")
        if not create and not place.has_library():
            cls._missing(place)
        budget = budget_of(memory_budget)
        # LanceDB's own caches (IVF partitions and scalar-index pages; file metadata) hold
        # 6 GB and 1 GB by default: within a budget they get a share of it.
        store = Store(place, caches=None if budget is None else (budget // INDEX_CACHE_SHARE, budget // METADATA_CACHE_SHARE))
        if "tracks.energy_start" in store.added_columns:  # written before energy over time was queryable
            from .ingest.energy import COLUMNS, backfill

            backfill(store)
            store.filled([f"tracks.{c}" for c in COLUMNS])
        return cls(store, memory_budget=budget)

    @staticmethod
    def exists(path: str | Path, storage_options: dict[str, str] | None = None) -> bool:
        """Whether an attune library is at `path` (a folder or an object-storage URI)."""
        return place_of(path, storage_options).has_library()

    @classmethod
    def check_exists(cls, path: str | Path) -> None:
        if not cls.exists(path):
            cls._missing(path)

    @staticmethod
    def _missing(path) -> None:
        raise LibraryError(
            f"no attune library at {path}; `attune import spotify FILE` or `attune index FOLDER` creates one "
            "(or give --library PATH / set ATTUNE_LIBRARY)"
        )

    def __repr__(self) -> str:
        return f"Library({str(self.path)!r})"

    # -- importing -----------------------------------------------------------------

    def import_spotify(self, paths: Iterable[str | Path], *, batch_size: int = 2000, encoding: str | None = None) -> ImportReport:
        """Import Spotify audio-feature tables; see `attune.engine.ingest.spotify` for the layouts
        (UTF-8, or UTF-16 with a byte-order mark, unless `encoding` says otherwise)."""
        paths = [Path(p) for p in paths]
        with self.recording("import spotify " + ", ".join(p.name for p in paths), ("tracks", "playlists", "meta")):
            report, playlists = ingest.import_tables(self.store, paths, batch_size=batch_size, encoding=encoding)
            if playlists:
                report.playlists_new, report.playlists_updated = self.playlists.upsert_imported(playlists, source="spotify")
        return report

    def genre_map(self):
        """How raw genre strings map onto the library's genres (see `attune.engine.words.genres`)."""
        return ingest.genre_map(self.store)

    def set_genre_override(self, raw: str, genres: Iterable[str] | None) -> int:
        """Map a raw genre string to these genres (None: remove the override); returns tracks changed."""
        what = f"genres set '{raw}' -> {', '.join(genres)}" if genres is not None else f"genres unset '{raw}'"
        with self.recording(what, ("tracks", "meta")):
            return ingest.set_genre_override(self.store, raw, genres)

    # -- history --------------------------------------------------------------------

    def recording(self, what: str, tables: Iterable[str] = ("tracks", "segments", "playlists", "meta", "index_errors")):
        """Record the writes of a block as one history entry (`attune history`); `tables`
        are those the block may write."""
        return self.store.history.record(what, tables)

    def history(self, limit: int | None = 20):
        """The most recent writes, newest first (`Entry`: number, at, what, tables)."""
        return self.store.history.entries(limit)

    def restore(self, number: int) -> dict[str, int]:
        """Bring every table back to its version before history entry `number` (that write
        and all after it are undone; the restore is itself an entry, so it can be undone)."""
        restored = self.store.history.restore(number)
        self._snapshot = None
        self.playlists.forget()
        return restored

    # -- indexed audio: the indexer's door --------------------------------------------
    # The indexer (attune.indexer, a layer above: `index(lib, paths)`) reads and writes
    # through these methods only.

    def write_indexed(self, batch: Sequence[Indexed | Unchanged | Failed]) -> None:
        """Write what the indexer produced for a batch of files (the one door for indexed rows)."""
        ingest.write_indexed(self.store, batch)

    def indexed_files(self) -> dict[str, tuple[int, float, str]]:
        """path -> (size, mtime, track id) of every indexed file."""
        return ingest.known_files(self.store)

    def remember_model_tags(self, backbone: str, tags: Sequence[str]) -> None:
        ingest.remember_model_tags(self.store, backbone, tags)

    def prune_missing(self) -> int:
        """Remove tracks (and their segments) whose files are gone; returns how many."""
        return ingest.prune_missing(self.store)

    def rescore(self, rows: list[dict]) -> None:
        """Replace whole track rows (attribute heads re-scoring indexed tracks)."""
        from .storage import TRACKS_SCHEMA

        with self.recording(f"re-score {len(rows)} indexed tracks", ("tracks",)):
            self.store.upsert("tracks", "track_id", pa.Table.from_pylist(rows, schema=TRACKS_SCHEMA))

    def indexed_rows(self) -> list[dict]:
        """Every track row that has an audio embedding, all columns."""
        return self.store.read("tracks", None, where="array_length(embedding) > 0").to_pylist()

    def energy_tiles(self, track_id: str) -> list[float] | None:
        """The per-10-second energy of an indexed track (None for imported tracks)."""
        table = self.store.read("tracks", ["energy_tiles"], where=f"track_id = {sql_string(track_id)}")
        return table["energy_tiles"][0].as_py() if table.num_rows else None

    def index_errors(self) -> list[tuple[str, str]]:
        """(path, reason) of every file the indexer could not read."""
        table = self.store.read("index_errors", ["path", "reason"]).to_pydict()
        return sorted(zip(table["path"], table["reason"]))

    # -- snapshot and spaces ---------------------------------------------------------

    def snapshot(self, versions: Versions | None = None) -> Snapshot:
        """The in-memory view of the library, rebuilt in parts when a table has changed:
        the track data when the tracks (or segments) did, the playlist data when the
        playlists did (reusing what did not change). `versions`: the tables' versions to
        build it for (`store.newest_versions()`), else `store.versions()`."""
        key = versions or self.store.versions()
        old = self._snapshot
        if old is not None and key == self._snapshot_key:
            return old
        # No lock here: building a snapshot reads the playlists, which an edit holding the
        # playlists' write lock may be changing while it asks for a snapshot itself; two
        # threads that both find the snapshot stale both build one (the same data) instead.
        return self._rebuild(key, old)

    def _rebuild(self, key: Versions, old: Snapshot | None) -> Snapshot:
        if old is not None and self._snapshot_key is not None and key.track_key == self._snapshot_key.track_key:
            tracks = old.tracks
        else:
            # Nothing is read here but the row count: each column is read when a query first needs it.
            columns = self.store.columns("tracks", key.tracks, SCALAR_COLUMNS)
            # Whole rows in memory unless they would take more than half of what the budget
            # leaves past the process itself (resident: about twice what polars counts,
            # TRACK_BYTES; 1M tracks' rows took 480 MB).
            whole = self.memory_budget is None or columns.rows * TRACK_BYTES * RESIDENT * 2 <= self.memory_budget - BASE_BYTES
            # Over the budget, result rows come from the row copy `attune optimize` writes.
            copy = None if whole else (lambda c=columns, v=key.tracks: self.store.copies.reader(c.table, v, c.rows))
            tracks, old = TrackData(vectors=self._vectors, key=key.track_key, columns=columns, whole_rows=whole,
                                    segments=lambda names, v=key.segments: self.store.columns("segments", v, names).arrow(names),
                                    copy=copy), None
        built = Snapshot(
            tracks, self.playlists.all(), whiteners=self._stored_whiteners(key) if old is None else None,
            colisten_io=Learned(lambda: self._load_colisten(key), lambda v: self._save_colisten(key, v),
                                lambda: self._load_mapping(key), lambda m: self._save_mapping(key, m)),
            stored_parts=lambda inherits: self._stored_parts(key, inherits), key=key, previous=old,
        )
        installed = self._snapshot_key
        if (installed is not None and installed != key and all(a >= b for a, b in zip(installed, key))
                and self.store.cached_versions != key):
            # Another thread installed a newer one while this was built for an older key the
            # store no longer holds (a request that read the versions just before `attune
            # serve`'s look, or another request, found newer ones): this caller answers from
            # it, the library keeps the newer.
            return built
        self._snapshot, self._snapshot_key = built, key
        return built

    def source(self) -> Source:
        """What a search reads from: the snapshot when loaded (brought up to date first when
        only the playlists changed: that reuses the track data and costs milliseconds), else
        the store (cold, filter-only)."""
        versions = self.store.versions()
        if self._snapshot is not None and self._snapshot_key is not None and self._snapshot_key.track_key == versions.track_key:
            loaded = self.snapshot()
        else:
            loaded = self._snapshot if self._snapshot is not None and self._snapshot_key == versions else None
        return Source(self.snapshot, loaded, self.store, lambda: {p.name: p for p in self.playlists.all()}, self.model_tags(),
                      served=self._served if self.memory_budget is not None else None, budget_notes=self._budget_notes)

    # -- the memory budget -----------------------------------------------------------

    def budget(self, snap: Snapshot | None = None) -> dict:
        """How the snapshot sits in the memory budget: bytes of the track data and the
        attribute space, what the audio space would take in memory (float64 raw + float32
        whitened) and as product-quantisation codes, and which path each takes."""
        snap = snap or self.snapshot()
        # The track data: measured when every column is read, else estimated (whole rows, or
        # the few columns filters read); the attribute space: float32 whitened vectors (the
        # raw matrix is whitened in place), or over the budget its raw vectors in parts.
        per_track = TRACK_BYTES if snap.tracks.whole_rows else QUERY_BYTES
        frame = snap.tracks.nbytes() if not snap.tracks.lazy else max(snap.tracks.nbytes(), len(snap) * per_track)
        attr_space = computed(snap, "attr")
        if attr_space is not None:
            attr = int(attr_space.z.nbytes + attr_space.sqnorm.nbytes)
        else:
            attr = len(snap) * (ATTR_DIMS * 4 if snap.tracks.whole_rows else ATTR_PARTS_BYTES)
        state = self.store.vectors.state("audio", max_age=1.0)
        rows, dims = (state.rows, state.dims) if state is not None else self._vector_shape(snap)
        audio_memory, audio_codes = rows * dims * 12, rows * -(-dims // 8) + len(snap) * 9
        budget = self.memory_budget
        fits = budget is None or frame + attr + audio_memory <= budget
        return {"budget": budget, "tracks": frame, "attr": attr, "audio_in_memory": audio_memory, "audio_pq": audio_codes,
                "audio": "memory" if fits or state is None else "lance",
                "pq_codes": budget is not None and not fits and frame + attr + audio_codes <= budget
                and state is not None and state.pq is not None,
                "index": state}

    def _vector_shape(self, snap: Snapshot) -> tuple[int, int]:
        """(tracks with an audio vector, its length), counted in LanceDB once per tracks version."""
        def count() -> tuple[int, int]:
            rows = self.store.count("tracks", "array_length(embedding) > 0")
            if not rows:
                return 0, 0
            first = next(iter(self.store.batches("tracks", ["embedding"], "array_length(embedding) > 0", size=1)), None)
            return rows, len(first.column(0)[0]) if first is not None and first.num_rows else 0

        return snap.memo(_VECTOR_SHAPE, count)

    def _served(self, snap: Snapshot, name: str):
        if name == "colisten":
            return self._served_colisten(snap)
        if name != "audio":
            return None
        plan = self.budget(snap)
        if plan["audio"] != "lance":
            return None
        space = served(snap, self.store, name, fresh_since=self._fresh_audio)
        if space is not None:
            space.use_codes = bool(plan["pq_codes"])
        return space

    def _served_colisten(self, snap: Snapshot):
        """The co-listen space from its LanceDB index (`spaces/colisten_index.py`) when the
        library is over its memory budget and the space would not fit beside what the
        snapshot holds; refused, with what to do, when there is no index to serve it from."""
        if self.memory_budget is None or computed(snap, "colisten") is not None or self._colisten_fits(snap):
            return None
        space = served(snap, self.store, "colisten", fresh_since=lambda state: self._fresh_colisten(snap, state))
        if space is None:
            raise NotAvailableError(
                f"the co-listen space of {len(snap):,} tracks does not fit this library's memory budget "
                f"({self.memory_budget / 2**30:.1f} GiB) and has no index yet: run `attune optimize` to build it "
                "(or raise ATTUNE_MEMORY_BUDGET, or search in:audio or in:attr)")
        return space

    def _colisten_fits(self, snap: Snapshot) -> bool:
        """Whether the co-listen space can be built in memory within the budget (at 10M
        tracks: 32-d vectors, their cold-start estimates, and the features those are
        computed from, audio embeddings included)."""
        plan = self.budget(snap)
        _, audio_dims = self._vector_shape(snap) if plan["index"] is None else (0, plan["index"].dims)
        # raw, estimated and whitened 32-d float32 vectors; float32 features of the tracks in
        # no playlist (about 100 columns and the audio embedding); the audio matrix (float64).
        needed = len(snap) * (3 * 32 * 4 + (100 + audio_dims) * 4 + audio_dims * 8)
        return plan["tracks"] + plan["attr"] + needed <= plan["budget"]

    def _budget_notes(self, name: str) -> list[str]:
        if self.memory_budget is None:
            return []
        if name == "attr":
            snap = self._snapshot
            if snap is None or snap.tracks.whole_rows:
                return []
            attr = computed(snap, "attr")
            parts = getattr(attr.z, "parts", None) if attr is not None else None
            where = ("" if parts is None else " (the parts as `attune optimize` stored them)" if parts.stored_by_optimize
                     else "; its parts were computed from the attribute columns: `attune optimize` stores them for the "
                     "library's tracks, and a process then reads them instead (seconds sooner at 10M tracks)")
            return [f"the attribute space is held in parts (the library is over its memory budget): distances to every "
                    f"track through the parts, the best {RERANK_MIN:,} (or 8 per result) ranked again on their exact "
                    f"vectors: the rows of the in-memory space{where}"]
        if name != "audio":
            return []
        plan = self.budget()
        if plan["index"] is None and plan["tracks"] + plan["attr"] + plan["audio_in_memory"] > plan["budget"]:
            return [f"the audio space needs about {plan['audio_in_memory'] / 2**30:.1f} GiB, past the memory budget, but it has "
                    "no index yet: it is loaded into memory; `attune optimize` builds the index"]
        return []

    def _fresh_since(self, state, *, audio_dims: int | None = None) -> tuple[list[str], np.ndarray]:
        """Tracks whose audio vector was written after the index was built: (ids, raw vectors);
        `audio_dims`: the audio vectors' length (default: the index's)."""
        dims = state.dims if audio_dims is None else audio_dims
        # The write time alone first (a column of 8 bytes a track; testing the embeddings
        # themselves would read every vector), then the vectors of those tracks only.
        return self._audio_of(self._written_since(state), dims)

    def _written_since(self, state) -> list[str]:
        """Ids of the tracks written after a space's index was built (none when the tables
        are at the versions it records)."""
        if (state.tracks_version, state.segments_version) == self.store.versions().track_key:
            return []
        return self.store.read("tracks", ["track_id"], where=written_since(state.built_at))["track_id"].to_pylist()

    def _audio_of(self, track_ids: list[str], dims: int) -> tuple[list[str], np.ndarray]:
        """(ids, raw audio vectors) of those of these tracks that have one of this length."""
        ids, parts = [], []
        for chunk in chunks(track_ids, 1000):
            table = self.store.read("tracks", ["track_id", "embedding"],
                                    where=f"{sql_in('track_id', chunk)} AND array_length(embedding) = {int(dims)}")
            if table.num_rows:
                ids += table["track_id"].to_pylist()
                parts.append(matrix(table["embedding"], dtype=np.float64))
        if not ids:
            return [], np.zeros((0, dims))
        return ids, np.concatenate(parts)

    def _fresh_audio(self, state) -> tuple[list[str], np.ndarray]:
        """`_fresh_since`, whitened as the audio index was (what a served space ranks beside it)."""
        ids, x = self._fresh_since(state)
        return ids, Whitener.from_json(state.whitener).transform(x) if ids else np.zeros((0, state.dims), dtype=np.float32)

    def _fresh_colisten(self, snap: Snapshot, state) -> tuple[list[str], np.ndarray]:
        """Tracks written after the co-listen index was built whose position it does not hold
        or holds as an estimate from their data of then (a learned position stays: it comes
        from the playlists): (ids, their positions, placed by the mapping the index recorded)."""
        newer = self._written_since(state)
        if not newer:
            return [], np.zeros((0, state.dims), dtype=np.float32)
        version = (state.extra or {}).get("exact_version")
        learned = set(self.store.vectors.exact_ids("colisten", int(version))) if version is not None else set()
        rows = snap.tracks.rows_or_missing([t for t in newer if t not in learned])
        rows = rows[rows >= 0]
        if not len(rows):
            return [], np.zeros((0, state.dims), dtype=np.float32)
        ids = snap.tracks.column("track_id").gather(rows).to_list()
        mapping = (state.extra or {}).get("mapping")
        dims = FeaturePlan(tuple(mapping["features"]), {}).audio if mapping else 0
        return ids, colisten_index.estimate(snap, state, rows, self._audio_rows(snap, rows, dims) if dims else None)

    def _audio_rows(self, snap: Snapshot, rows: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
        """Some snapshot rows' audio embeddings of this length (zero where none) and which have one,
        read from LanceDB for these tracks only."""
        ids = snap.tracks.column("track_id").gather(rows).to_list()
        x = np.zeros((len(ids), dims), dtype=np.float32)
        found, vectors = self._audio_of(ids, dims)
        at = {t: i for i, t in enumerate(ids)}
        has = np.zeros(len(ids), dtype=bool)
        if found:
            places = np.array([at[t] for t in found])
            x[places], has[places] = vectors, True
        return x, has

    def optimize(self, *, full: bool = False, progress=None) -> dict:
        """Build or refresh the indexes: the audio space's table and IVF_FLAT index, the
        scalar indexes of the tracks table and its row copy (`storage/rowcopy.py`: result rows
        over the memory budget). `progress(stage, rows)` is told what is done.
        Returns what was done and how long each part took.

        Incremental when it can be: if the playlists are those the index's whitening was
        fitted on, only the tracks written since the index was built are whitened, coded
        and added, and LanceDB adds them to the IVF index (`Table.optimize`). Otherwise
        (or with `full`) the whitening is refitted on the whole library (streamed) and
        the space table is written anew. So is a space table that cannot serve searches
        (damaged, missing, or not the rows its state records: `VectorIndexes.problem`), and
        the result says why (`repaired`)."""
        import time as _time

        started = _time.perf_counter()
        done: dict = {}
        since = now()  # before the snapshot: what is written after it is newer than the co-listen index
        snap = self.snapshot()
        before = self.store.versions().tracks
        if snap.playlists:
            # The co-listen vectors are learned (and stored in the tracks table) first, so the
            # scalar indexes and the row copy take them in, and the versions the space indexes
            # record are not left behind by storing them.
            colisten_learned(snap)
        # Scalar indexes next: building them makes a new version of the tracks table, and the
        # audio index records the versions it is current for. Vectors stored just now are
        # compacted now too (else the next `attune optimize` would, and find the indexes behind).
        built = self.store.vectors.scalar_indexes(progress=(lambda c: progress("scalar", 1)) if progress else None,
                                                  compact=self.store.versions().tracks != before)
        done["scalar"] = {"indexes": built, "seconds": _time.perf_counter() - started}
        started = _time.perf_counter()
        # The row copy (result rows over the memory budget): written anew when missing, made
        # with other columns or asked for in full, else the tracks written since replaced.
        copied = self.store.copies.state()
        if full or copied is None or copied.columns != self.store.copies.columns(SCALAR_COLUMNS):
            copied = self.store.copies.write(SCALAR_COLUMNS, progress=(lambda n: progress("rows", n)) if progress else None)
            done["rows"] = {"rows": copied.rows, "seconds": _time.perf_counter() - started, "rebuilt": True}
        else:
            refreshed, replaced = self.store.copies.refresh(copied)
            if copied.ordered and not refreshed.ordered and not replaced:
                # Rows moved in the tracks table (stored co-listen vectors): written anew in its
                # order, so a snapshot reads row i at place i again instead of looking up every id.
                refreshed = self.store.copies.write(SCALAR_COLUMNS, progress=(lambda n: progress("rows", n)) if progress else None)
                done["rows"] = {"rows": refreshed.rows, "seconds": _time.perf_counter() - started, "rebuilt": True}
            else:
                done["rows"] = {"rows": refreshed.rows, "replaced": replaced, "seconds": _time.perf_counter() - started,
                                "current": not replaced}
        versions = self.store.versions()
        with_audio = self.store.count("tracks", "array_length(embedding) > 0")
        if with_audio:
            done["audio"] = self._optimize_audio(snap, versions, with_audio, full=full, progress=progress)
        started = _time.perf_counter()
        colisten = self._optimize_colisten(snap, versions, since, full=full, progress=progress)
        if colisten is not None:
            done["colisten"] = {**colisten, "seconds": _time.perf_counter() - started}
        done["attr"] = self._optimize_attr(full=full, progress=progress)  # last: after every write to the tracks
        return done

    def _optimize_audio(self, snap: Snapshot, versions: Versions, with_audio: int, *, full: bool, progress) -> dict:
        import time as _time

        started = _time.perf_counter()
        state = self.store.vectors.state("audio")
        problem = None if full or state is None else self.store.vectors.problem("audio", state)
        if problem is None and not full and state is not None and state.playlists_version == versions.playlists:
            if (state.tracks_version, state.segments_version) == versions.track_key:
                return {"rows": state.rows, "partitions": state.partitions, "added": 0, "seconds": 0.0, "current": True}
            ids, x = self._fresh_since(state)
            new = refresh_index(self.store, "audio", state, ids, x, versions)
            if progress:
                progress("audio", len(ids))
            return {"rows": new.rows, "partitions": new.partitions, "added": len(ids), "seconds": _time.perf_counter() - started}

        def batches():
            for batch in self.store.batches("tracks", ["track_id", "embedding"], "array_length(embedding) > 0"):
                yield batch.column(0).to_pylist(), matrix(batch.column(1), dtype=np.float64)

        state = build_index(snap, self.store, "audio", batches=batches, versions=versions, estimated_rows=with_audio,
                            progress=(lambda n: progress("audio", n)) if progress else None)
        return {"rows": state.rows, "partitions": state.partitions, "seconds": _time.perf_counter() - started,
                "rebuilt": True, **({"repaired": problem} if problem else {})}

    def _optimize_colisten(self, snap: Snapshot, versions: Versions, since, *, full: bool, progress) -> dict | None:
        """The co-listen space's table and index (`spaces/colisten_index.py`): built anew when
        the playlists changed since (every position moves), else the tracks added or changed
        since are placed by the recorded mapping and added (or replaced). None when no track
        is in a playlist."""
        state = self.store.vectors.state("colisten")
        if not snap.playlists:
            if state is not None:  # every playlist is gone: the index has nothing to stand for
                self.store.set_meta("index.colisten", {})
                self.store.vectors.state("colisten")
            return None
        problem = None if full or state is None else self.store.vectors.problem("colisten", state)
        if problem is None and not full and state is not None and state.playlists_version == versions.playlists:
            if (state.tracks_version, state.segments_version) == versions.track_key:
                return {"rows": state.rows, "partitions": state.partitions, "added": 0, "current": True}
            ids, z = self._fresh_colisten(snap, state)
            rows, version = self.store.vectors.append("colisten", ids, z, None)
            self.store.vectors.record("colisten", replace(state, rows=rows, tracks_version=versions.tracks,
                                                          segments_version=versions.segments, built_at=since.isoformat(),
                                                          table_version=version))
            self.store.vectors.clean("colisten")
            if progress:
                progress("colisten", len(ids))
            return {"rows": rows, "partitions": state.partitions, "added": len(ids)}
        audio_rows, audio_dims = self._vector_shape(snap)

        have = set(self.store.tables["tracks"].schema.names)
        numeric = [c for c in (*SPACE_DIMS, "year", "popularity") if c in have]  # the features' numbers

        def batches():
            for batch in self.store.batches("tracks", ["track_id", "embedding", *numeric]):
                ids = batch.column(0).to_pylist()
                numbers = {c: pc.fill_null(pc.cast(batch.column(c), pa.float64()), np.nan).to_numpy(zero_copy_only=False)
                           for c in numeric}
                if not audio_dims:
                    yield ids, None, np.zeros(len(ids), dtype=bool), numbers
                    continue
                lengths = pc.list_value_length(batch.column(1)).fill_null(0).to_numpy(zero_copy_only=False)
                has = lengths == audio_dims
                x = np.zeros((len(ids), audio_dims), dtype=np.float32)
                if has.any():
                    flat = pc.list_flatten(batch.column(1).filter(pa.array(has))).to_numpy(zero_copy_only=False)
                    x[has] = np.asarray(flat, dtype=np.float32).reshape(-1, audio_dims)
                yield ids, x, has, numbers

        built = colisten_index.build(snap, self.store, batches=batches, versions=versions, audio_dims=audio_dims,
                                     audio_of=lambda rows: self._audio_rows(snap, rows, audio_dims), since=since,
                                     progress=(lambda n: progress("colisten", n)) if progress else None)
        if built is None:
            return None
        extra = built.extra or {}
        return {"rows": built.rows, "partitions": built.partitions, "rebuilt": True, "learned": extra.get("learned", 0),
                "estimated": extra.get("estimated", 0), "residual": extra.get("residual", 0.0),
                **({"repaired": problem} if problem else {})}

    def model_tags(self) -> frozenset[str]:
        """The installed backbones' tags, as the indexer recorded them (read once per version
        of the tracks: the indexer writes tracks whenever it records a backbone's tags)."""
        key = self.store.versions().track_key
        if self._model_tags[0] != key:
            self._model_tags = (key, ingest.model_tags(self.store))
        return self._model_tags[1]

    def _vectors(self, column: str) -> pl.DataFrame:
        table = self.store.read("tracks", ["track_id", column], where=f"array_length({column}) > 0")
        return pl.from_arrow(table)  # type: ignore[return-value]

    def _load_colisten(self, key: Versions) -> dict | None:
        """Stored co-listen vectors, if they were trained on the playlists of this snapshot."""
        meta = self.store.get_meta("colisten")
        if not meta or meta.get("playlists_version") != key.playlists:
            return None
        stored = self._vectors("colisten")
        return {i: np.asarray(v, dtype=np.float32) for i, v in stored.iter_rows()}

    def _save_colisten(self, key: Versions, vectors: dict) -> None:
        """Write freshly trained co-listen vectors to the tracks table (and clear stale ones)."""
        had = self.store.read("tracks", ["track_id"], where="array_length(colisten) > 0")["track_id"].to_pylist()
        stale = sorted(set(had) - set(vectors))
        ids = list(vectors) + stale
        column = [np.asarray(v, dtype=np.float32).tolist() for v in vectors.values()] + [[] for _ in stale]
        # Not stamped: the row copy and the audio index do not read co-listen vectors, and a
        # stamp would make every playlist track look newer than the audio index after each training.
        self.store.update_columns("tracks", "track_id", pa.table({"track_id": ids, "colisten": column}), stamp=False)
        self.store.set_meta("colisten", {"playlists_version": key.playlists, "tracks": len(vectors), "trained_at": now().isoformat()})

    def _load_mapping(self, key: Versions) -> dict | None:
        """The stored cold-start mapping, if it was trained on the playlists of this snapshot."""
        meta = self.store.get_meta("colisten_mapping")
        return meta if meta and meta.get("playlists_version") == key.playlists else None

    def _save_mapping(self, key: Versions, mapping: dict) -> None:
        self.store.set_meta("colisten_mapping", {**mapping, "playlists_version": key.playlists, "trained_at": now().isoformat()})

    def _parts_current(self, key: Versions, inherits: bool) -> dict | None:
        """What meta says of the stored attribute parts, when they were computed from these
        tracks (and, for genres inherited from playlists, these playlists) by this format."""
        meta = self.store.get_meta(PARTS_META)
        if (not meta or meta.get("format") != PARTS_FORMAT or meta.get("track_key") != list(key.track_key)
                or (inherits and meta.get("playlists_version") != key.playlists) or bool(meta.get("inherits")) != inherits):
            return None
        return meta

    def _stored_parts(self, key: Versions, inherits: bool) -> dict | None:
        """The attribute space's parts `attune optimize` stored for this snapshot
        (`AttributeParts.stored`), or None (then they are computed from the columns). A
        table that cannot be read is left to `attune optimize` to write anew: the parts
        are derived, and computing them is what a library without them does."""
        meta = self._parts_current(key, inherits)
        if meta is None:
            return None
        try:
            numbers, profile = self.store.vectors.read_parts(int(meta["table_version"]), int(meta["dims"]))
        except LibraryError:
            return None
        if len(numbers) != int(meta["rows"]):
            return None
        return {**meta, "numbers": numbers, "profile": profile}

    def _optimize_attr(self, *, full: bool, progress) -> dict:
        """The attribute space's parts (`spaces/attributes.py`: each track's attributes and
        genre profile) written for the library's current tracks, and its whitening fitted
        and stored: a process over its memory budget then builds the space from them
        instead of reading every attribute column and the genre lists (at 10M tracks,
        seconds before its first attribute-space query)."""
        import time as _time

        started = _time.perf_counter()
        key = self.store.versions()
        snap = self.snapshot(key)
        current = None if full else self._stored_parts(key, snap.inherits_genres)  # (read whole: a check they can be)
        if current is not None:
            return {"rows": int(current["rows"]), "current": True, "seconds": 0.0}
        stored = attribute_parts(snap).stored()
        numbers = stored.pop("numbers")
        if not numbers.shape[1]:  # no attribute has a value: nothing worth storing
            return {"rows": 0, "seconds": _time.perf_counter() - started, "skipped": True}
        version = self.store.vectors.write_parts(numbers, stored.pop("profile"))
        self.store.set_meta(PARTS_META, {**stored, "format": PARTS_FORMAT, "track_key": list(key.track_key),
                                         "playlists_version": key.playlists, "inherits": snap.inherits_genres,
                                         "rows": len(numbers), "dims": numbers.shape[1], "table_version": version})
        self.store.vectors.clean_parts()
        if progress:
            progress("attr", len(numbers))
        self.space("attr")  # fitted on the parts just stored, and the whitening stored with them
        return {"rows": len(numbers), "seconds": _time.perf_counter() - started, "rebuilt": True}

    def _stored_whiteners(self, key: Versions) -> dict[str, Whitener]:
        stored = self.store.get_meta("whiteners")
        if not stored or tuple(stored.get("key", ())) != tuple(key):
            return {}
        return {name: Whitener.from_json(data) for name, data in stored["spaces"].items()}

    def _persist_whiteners(self) -> None:
        """Keep freshly fitted whitening in meta, so another process need not fit it again.

        Whitening carried over from the previous snapshot after a small playlist edit is
        the same object as before and is not written again."""
        snap = self._snapshot
        if snap is None or not snap.whiteners:
            return
        state = tuple(sorted((name, id(w)) for name, w in snap.whiteners.items()))
        if state == self._persisted:
            return
        self._persisted = state
        stored = self.store.get_meta("whiteners") or {}
        key = list(self._snapshot_key or ())
        if stored.get("key") == key and set(stored.get("spaces", {})) >= set(snap.whiteners):
            return
        self.store.set_meta("whiteners", {"key": key, "spaces": {n: w.to_json() for n, w in snap.whiteners.items()}})
        # set_meta changes no table that keys the snapshot, so it stays valid.

    def space(self, name: str = "attr") -> SpaceData:
        """A space over the whole library, fitted and ready: `.transform(X)`, `.dims`, `.z`
        (over the memory budget the attribute space's `.z` is `spaces.compact.CompactVectors`:
        `z[rows]` and `z @ v` as for the matrix, which it does not hold)."""
        if name not in SPACE_NAMES:
            raise LibraryError(f"unknown space '{name}'; spaces are {', '.join(SPACE_NAMES)}")
        snap = self.snapshot()
        self._whole_space(snap, name)
        data = space(snap, name)
        self._persist_whiteners()
        return data

    def _whole_space(self, snap: Snapshot, *names: str) -> None:
        """Refuse what needs a whole space in memory (sequencing, paths, maps, analysis) when
        the library is over its memory budget and that space is served from its index
        instead: building it would take the process past the budget (16 GB of audio
        vectors at 10M tracks). The attribute space is held in parts and always allowed."""
        if self.memory_budget is None:
            return
        for name in names:
            if name == "attr" or (name == "colisten" and snap.membership.height == 0):
                continue
            if self._served(snap, name) is not None:  # (the rule searches follow: served, or in memory)
                raise NotAvailableError(
                    f"this needs the whole {name} space of {len(snap):,} tracks in memory, past this library's memory "
                    f"budget ({self.memory_budget / 2**30:.1f} GiB), where it is served from its index for searches only: "
                    "raise ATTUNE_MEMORY_BUDGET, or use the attribute space")

    def fit(self) -> dict[str, Whitener]:
        """Refit every space that has vectors, exactly (normally done on demand when playlists change)."""
        fitted = fit_all(self.snapshot())
        self._persisted = None
        self._persist_whiteners()
        return fitted

    def train_colisten(self) -> Mapping | None:
        """Learn the co-listen space again now: the vectors (when the playlists changed since)
        and the cold-start mapping that places tracks in no playlist
        (`mapping.report`: held-out loss, chance loss, tracks, seconds). None when the
        playlists are too few to learn a mapping from. Both are otherwise learned on first
        use after the playlists change."""
        mapping = train_colisten(self.snapshot())
        self._persisted = None
        return mapping

    # -- queries -----------------------------------------------------------------------

    def parse(self, query: str):
        """Parse a query, its regular expressions checked by the engine that runs them."""
        return parse(query, regex_error=regex_error)

    def search(self, query: str, *, limit: int | None = None) -> Results:
        """Run a query of the language; returns `Results` (best first).

        `limit` is the caller's cap: at most that many rows, and never more than the
        query's own `limit:` (a query without one returns up to `limit`, default 50).
        """
        from .search import run

        results = run(self.source(), self.parse(query), query, limit=limit)
        self._persist_whiteners()
        self._settle()
        return results

    def explain(self, query: str) -> str:
        """The plan a query compiles to: pushed-down filter, post-filters, vector terms, space."""
        from .search import plan

        parsed = self.parse(query)
        if parsed.path is not None:  # a path's plan says how many steps it found: run it
            return self.search(query).plan.describe()
        compiled = plan(self.source(), parsed, query)
        if compiled.served is not None:  # which path a served space takes depends on the filter's count: run it
            return self.search(query).plan.describe()
        return compiled.describe()

    def recipe(self, name: str, *, cluster: bool = False) -> Recipe:
        """The playlist's recipe; `str(recipe)` is an editable query.

        `cluster=True` also names its genre cluster (`recipe.cluster`): the top
        genre and the genres LSI relates to it. That fits the tag model on first
        use per snapshot (seconds on a large library), so it is asked for only
        where it is shown.
        """
        from .playlists import derive_recipe

        snap = self.snapshot()
        recipe = derive_recipe(snap, self.playlists.resolve(name, list(snap.playlists.values())))
        if cluster and recipe.genres:
            top = recipe.genres[0]
            related = [g for g, sim in self.tags().related(top, limit=8) if sim >= CLUSTER_SIMILARITY]
            recipe.cluster = [top, *related[:4]]
        return recipe

    def sequence(self, name: str, *, arc: str = "peak", by: str = "energy", space: str = "attr", save: bool = False) -> Sequenced:
        """The playlist in a new order: `by` follows the arc (rise, fall, peak, valley, flat)
        as closely as its values allow, and within that the steps in `space` are short
        (`playlists/sequence.py`). `save` rewrites the playlist's order (one edit, undoable
        with `attune restore`); tracks the library lacks keep their place at the end."""
        snap = self.snapshot()
        playlist = self.playlists.resolve(name)
        self._whole_space(snap, space)
        done = sequence_playlist(snap, playlist.name, arc=arc, by=by, space=space)
        if save:
            placed = set(done.track_ids)
            rest = [t for t in playlist.track_ids if t not in placed]
            self.playlists.set_tracks(playlist.name, [*done.track_ids, *rest])
        return done

    def path_between(self, a: str, b: str, *, steps: int = 10, space: str = "attr", where: str | None = None):
        """N tracks stepping from track `a` to track `b` in `space` (ids, file paths or
        unique titles): A first, B last, each step nearer to B and farther from A than the
        one before, no artist twice (`search/path.py`). `where`: a filter of the language
        the steps must pass (`genre:soul year>=1970`). Returns a `Path`: `.frame` (the rows
        in order, with `to_start` and `to_end`, squared whitened distances), `.track_ids`,
        `.notes` (why it is shorter than asked, when it is)."""
        from .execution import NumpyBackend
        from .search.path import path_between
        from .search.targets import track_row

        snap = self.snapshot()
        self._whole_space(snap, space)
        start, end = track_row(snap, a, a, 0), track_row(snap, b, b, 0)
        filt = self._steering(where, "where")
        mask = NumpyBackend(snap).mask(filt) if filt is not None else None
        found = path_between(snap, start, end, steps=steps, space=space, mask=mask)
        frame = snap.gather(np.asarray(found.rows, dtype=np.int64))
        found.frame = frame.with_columns(pl.Series("to_start", found.to_a), pl.Series("to_end", found.to_b))
        return found

    def expand(self, name: str, *, limit: int = 50, discover: bool = False, include: str | None = None,
               exclude: str | None = None, per_artist: int | None = PER_ARTIST, versions: bool = False) -> Results:
        """Tracks to add to the playlist, best first, each explained: by default a mix of its
        own artists and artists it lacks, at most `per_artist` tracks per artist (None: no
        cap), versions of one song collapsed into one row (`versions=True` keeps them all).

        `discover=True`: only artists the playlist lacks. `include` / `exclude`: filters in
        the query language (`"year>=2000 genre:soul"`) every candidate must meet / must not
        meet; they are shown in the recipe (`results.recipe`).
        """
        from .playlists import expand

        snap = self.snapshot()
        self._settle()  # (what it builds the first time comes on top of what the searches left)
        results = expand(snap, self.playlists.resolve(name, list(snap.playlists.values())), limit=limit,
                         discover=discover, include=self._steering(include, "include"),
                         exclude=self._steering(exclude, "exclude"), per_artist=per_artist, versions=versions)
        self._settle()
        return results

    def _settle(self) -> None:
        """Near its memory budget (SETTLE_SHARE of it resident), give what the allocators kept
        of the temporaries of a search back to the system (`storage.reads.release`): the
        resident set grows past what is in use otherwise. Not sooner: the next search faults
        those pages in again (at 1M tracks over a 1 GB budget, releasing after every search
        kept the peak 4-6% lower and made searches 2-11 ms slower)."""
        if self.memory_budget is None:
            return
        now = resident()
        if now is None or now > self.memory_budget * SETTLE_SHARE:
            release()

    def _steering(self, text: str | None, what: str):
        """The filter of an --include/--exclude query (likes and options are not filters)."""
        if text is None or not text.strip():
            return None
        query = self.parse(text)
        if query.likes or query.options != Options():
            raise LibraryError(f"--{what} takes a filter (fields, ranges, boolean logic), not like: terms or options: "
                               f"'{text}'")
        return query.where

    def analyze(self, spaces=("attr", "audio", "colisten"), playlists=None):
        """Playlist analysis in each space (see `attune.engine.analysis`)."""
        from .analysis import analyze

        snap = self.snapshot()
        self._whole_space(snap, *spaces)
        return analyze(snap, spaces=spaces, playlists=playlists)

    def evaluate_expansion(self, **options):
        """Hide part of every playlist, expand the rest, report recall@k next to baselines
        (`analysis/evaluate.py`; `options` are its own). It ranks with the co-listen space
        built whole in memory: refused over the memory budget where that space is served
        from its index."""
        from .analysis.evaluate import evaluate_expansion

        snap = self.snapshot()
        self._whole_space(snap, "colisten")
        return evaluate_expansion(snap, **options)

    def map(self, *, space: str = "attr", playlists: list[str] = (), method: str = "pca", sample: int | None = None,
            seed: int = 0):
        """The tracks of a space in two dimensions (PCA or UMAP), the named playlists'
        tracks labelled: a `LibraryMap` with `.frame` (track_id, title, artist, playlist, x,
        y), `.explained` (PCA: each axis's share of variance) and `.notes`."""
        from .analysis import library_map
        from .analysis.maps import SAMPLE

        snap = self.snapshot()
        self._whole_space(snap, space)
        names = [self.playlists.resolve(n, list(snap.playlists.values())).name for n in playlists]
        found = library_map(snap, space=space, playlists=names, method=method, sample=sample or SAMPLE, seed=seed)
        self._persist_whiteners()
        return found

    def agreement(self, spaces=("attr", "audio", "colisten"), *, n: int = 10, sample: int | None = None, seed: int = 0):
        """S_n of each pair of spaces: the mean share of a track's n nearest neighbours in one
        that are among its n nearest in the other (1: the same neighbourhoods; n / (N - 1):
        chance). An `Agreement`: `.pairs[(a, b)] = (S_n, tracks)`, `.chance(pair)`, `.notes`."""
        from .analysis import agreement
        from .analysis.maps import SAMPLE

        snap = self.snapshot()
        self._whole_space(snap, *spaces)
        found = agreement(snap, list(spaces), n=n, sample=sample or SAMPLE, seed=seed)
        self._persist_whiteners()
        return found

    def ask(self, text: str, *, limit: int | None = None):
        """Plain words -> `Answer` with `.query` (editable), `.results` and `.explain()`."""
        from .ask import ask

        answer = ask(self.snapshot(), text, limit=limit, model_tags=self.model_tags())
        self._persist_whiteners()
        return answer

    def tags(self):
        """Tag relatedness (LSI over the track-by-tag matrix): `.related("soul")`."""
        from .words.tags import tag_space

        return tag_space(self.snapshot())

    def tag_counts(self) -> dict[str, int]:
        """Tracks per tag (lower case)."""
        return self.snapshot().text_index("tag").value_counts()

    def warm(self, snap: Snapshot | None = None, *, only: Sequence[str] | None = None) -> dict[str, float]:
        """Build, once, what the first searches of a fresh process would otherwise wait for,
        and return the seconds each took: the attribute space (the space of `like:`: 11-14 s
        at 10M tracks over a budget, 4 s at 1M in memory), the genre index (5 s at 10M) and,
        over the budget, the map of the audio index's rows, then the served indexes' pages
        (`_preload`). A library with no tracks, or without what a step needs, skips it.
        `attune serve` calls this once it is open, and for each new snapshot (`snap`) after
        other processes' writes. `only`: these steps (by the names returned)."""
        import time

        snap = snap or self.snapshot()
        steps = [("attribute space", lambda: space(snap, "attr")), ("genre index", lambda: snap.text_index("genre"))]
        if self.memory_budget is not None:
            steps.append(("audio index map", lambda: self._served(snap, "audio")))
            steps.append(("index pages", lambda: self._preload(snap)))
        if only is not None:
            steps = [(name, step) for name, step in steps if name in only]
        took: dict[str, float] = {}
        if not len(snap):
            return took
        for name, step in steps:
            t0 = time.perf_counter()
            try:
                if step() is _SKIPPED:
                    continue
            except NotAvailableError:
                continue
            took[name] = time.perf_counter() - t0
        return took

    def _preload(self, snap: Snapshot):
        """Read what a served search reads from disk through once, so that the system's page
        cache holds it and a fresh service's first queries do not wait on the disk: each
        served space's index (`spaces.served.preload`) and the row copy the result rows come
        from (`storage.rowcopy`). For a library in a local folder only, each once per build,
        while all of it takes at most PRELOAD_SHARE of the memory the system has available
        (otherwise the page cache could not keep it, and reading it would only push out
        what it holds). At 10M tracks: 8 GB of audio index and 1.8 GB of rows, 12-16 s."""
        folder = self.store.place.local
        free = available()
        if folder is None or free is None:
            return _SKIPPED
        room, done = free * PRELOAD_SHARE, False
        for name in ("audio", "colisten"):
            try:
                found = self._served(snap, name)
            except NotAvailableError:
                continue
            if found is None:
                continue
            key, need = (name, found.state.built_at, found.state.rows), preload_bytes(found)
            if key in self._preloaded or need > room:
                continue
            preload(found)
            self._preloaded.add(key)
            room -= need
            done = True
        if not snap.tracks.whole_rows:
            sizes = {}
            for f in sorted((folder / f"{ROW_COPY}.lance" / "data").glob("*.lance")):
                with suppress(FileNotFoundError):  # removed by a cleanup meanwhile
                    sizes[f] = f.stat().st_size
            key = ("rows", tuple((f.name, size) for f, size in sizes.items()))
            if sizes and key not in self._preloaded and sum(sizes.values()) <= room:
                read_through(sizes)
                self._preloaded.add(key)
                done = True
        return None if done else _SKIPPED

    def track_count(self) -> int:
        return self.store.count("tracks")

    def track(self, track_id: str) -> dict | None:
        """Everything about one track: its columns (genres including those its playlists
        give it), the playlists it is in and, when indexed, its energy over time; None when
        no track has this id."""
        snap = self.snapshot()
        row = snap.row_of_id(track_id)
        if row is None:
            return None
        out = snap.gather([row]).to_dicts()[0]
        out = {k: (None if isinstance(v, float) and v != v else v) for k, v in out.items() if not k.startswith("_")}
        out["playlists"] = [p.name for p in snap.playlists.values() if track_id in p.track_ids]
        if out.get("path"):
            out["energy_tiles"] = self.energy_tiles(track_id)
        return out

    def stats(self) -> dict:
        """Counts a front end shows: tracks (and how many indexed from audio), playlists,
        the backbones used, and the tables' versions."""
        snap = self.snapshot()
        frame = snap.tracks.frame
        backbones = frame["backbone"].drop_nulls().value_counts().sort("count", descending=True)
        return {
            "tracks": len(snap),
            "indexed": int(frame["path"].is_not_null().sum()),
            "playlists": len(snap.playlists),
            "backbones": dict(zip(backbones["backbone"].to_list(), backbones["count"].to_list())),
            "sources": dict(frame["source"].drop_nulls().value_counts().iter_rows()),
            "versions": dict(self.store.versions()._asdict()),
            "path": str(self.path),
        }
