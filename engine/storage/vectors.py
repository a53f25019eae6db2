"""Vector and scalar indexes in LanceDB, for libraries larger than the memory budget.

A space served from LanceDB has its own table, `space_<name>`: one row per track with a
vector, (track_id, z) with z the whitened vector (float32, fixed size), written in whole
by `attune optimize` and indexed with IVF_FLAT. IVF_FLAT because it was the only index
that reached recall@10 0.95 on clustered 200-d embeddings here (`bench/bench_ann.py`:
nprobes 16 of 1,024 partitions gave 0.98 at 9.6 ms on 1M rows; IVF_PQ stayed under 0.6
even with refinement; IVF_HNSW_SQ took minutes to build; IVF_SQ halved a first pass
with no page cached on plain clustered vectors but gave recall@10 0.833 on the catalogue's
whitened audio space, its best candidates ranked again exactly (re-measured later on
that space: as good as IVF_FLAT at 1M, but at 10M no faster on a first pass and 1.7x
slower warm at the recall IVF_FLAT gives); float16 vectors made a warm query 1.9x slower
here, with no half-precision arithmetic). Scalar indexes (BTREE on numbers, LABEL_LIST on
genre and tag lists) serve filters LanceDB evaluates.

What an index was built from is recorded in the meta table (`index.<space>`): the tracks
version, the rows, the whitening, when. A search compares that with the library's
tables and says in its plan when the index is behind (the newest rows are then found by
an exact scan beside it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from datetime import timedelta

import numpy as np
import pyarrow as pa

from ..errors import DamagedError
from .reads import READ_BATCH, matrix, take_ordered
from .sqltext import chunks, sql_in

#: Numeric and list fields given scalar indexes by `attune optimize`.
BTREE_COLUMNS = ("energy", "valence", "tempo", "popularity", "year", "vocalness", "danceability", "duration")
LABEL_LIST_COLUMNS = ("genres", "tags")
#: The way out of a damaged space table (`VectorIndexes.reading`): it is derived from the tracks.
REBUILD = "`attune optimize --full` writes it anew from the library's tracks"
#: The attribute space's parts as `attune optimize` stored them (`write_parts`): a library over
#: its memory budget reads them instead of its attribute columns and genres.
PARTS_TABLE = "space_attr_parts"
REBUILD_PARTS = "`attune optimize` writes it anew from the library's tracks"
#: Partitions of the IVF index: about sqrt(N), within these bounds.
MIN_PARTITIONS, MAX_PARTITIONS = 1, 8192
#: Partitions searched per query, as a share of all partitions (at least NPROBES_MIN):
#: 16 of 1,024 gave recall@10 0.98 at 1M rows (bench_ann.py).
NPROBES_SHARE, NPROBES_MIN = 1 / 64, 8


#: `optimize` never removes a version of the library's own tables younger than this (all of them).
KEEP_VERSIONS = timedelta(days=365 * 100)
#: Versions of a space table (derived data, written anew by each full `attune optimize`) are
#: removed after this long: a reader still on an older one has long finished.
KEEP_SPACE_VERSIONS = timedelta(hours=1)


def table_name(space: str) -> str:
    return f"space_{space}"


def partitions_for(rows: int) -> int:
    return int(min(MAX_PARTITIONS, max(MIN_PARTITIONS, round(math.sqrt(max(rows, 1))))))


def nprobes_for(partitions: int) -> int:
    return int(min(partitions, max(NPROBES_MIN, math.ceil(partitions * NPROBES_SHARE))))


class VersionGone(LookupError):
    """The version of a space table an index state names was removed (`attune optimize`
    recorded a newer state, then removed the old versions): read the state again."""


@dataclass(frozen=True)
class IndexState:
    """What `index.<space>` in the meta table says about a space's index."""

    space: str
    rows: int
    dims: int
    partitions: int
    tracks_version: int
    segments_version: int
    whitener: dict
    built_at: str
    playlists_version: int = -1
    pq: dict | None = None  # the product quantiser (`spaces.pq.PQ.to_json`), when trained
    #: What else the space needs to place tracks as the index did (the co-listen space: its
    #: cold-start mapping and residual, `spaces/colisten_index.py`).
    extra: dict | None = None
    #: The version of the space table the state describes: readers take that version, so a
    #: rebuild writing the table anew is not read before its state is recorded (-1: a state
    #: recorded before versions were; the newest version is read).
    table_version: int = -1

    @property
    def nprobes(self) -> int:
        return nprobes_for(self.partitions)

    @classmethod
    def from_meta(cls, space: str, data: dict | None) -> IndexState | None:
        if not data:
            return None
        try:
            return cls(space, int(data["rows"]), int(data["dims"]), int(data["partitions"]), int(data["tracks_version"]),
                       int(data.get("segments_version", 0)), dict(data["whitener"]), str(data["built_at"]),
                       int(data.get("playlists_version", -1)), data.get("pq"), data.get("extra"),
                       int(data.get("table_version", -1)))
        except (KeyError, TypeError, ValueError):
            return None

    def to_meta(self) -> dict:
        return {"rows": self.rows, "dims": self.dims, "partitions": self.partitions, "tracks_version": self.tracks_version,
                "segments_version": self.segments_version, "whitener": self.whitener, "built_at": self.built_at,
                "playlists_version": self.playlists_version, "pq": self.pq, "extra": self.extra,
                "table_version": self.table_version}


class VectorIndexes:
    """The space tables of one store (`store.vectors`)."""

    def __init__(self, store) -> None:
        self.store = store
        self._open: dict = {}
        self._states: dict[str, tuple[float, IndexState | None]] = {}

    def state(self, space: str, *, max_age: float = 0.0) -> IndexState | None:
        """What the meta table says about the space's index (read again when older than
        `max_age` seconds: another process may have run `attune optimize`)."""
        import time

        clock = time.monotonic()
        seen = self._states.get(space)
        if seen is None or clock - seen[0] > max_age:
            self.store.latest_version("meta")  # see what other processes wrote
            seen = (clock, IndexState.from_meta(space, self.store.get_meta(f"index.{space}")))
            self._states[space] = seen
        return seen[1]

    def _table(self, space: str):
        """The space's table at its newest version, for writing (None: not built yet)."""
        name = table_name(space)
        if name not in self._open:
            if name not in self.store._table_names():
                return None
            self._open[name] = self.store.db.open_table(name)
        table = self._open[name]
        table.checkout_latest()
        return table

    def reading(self, space: str, *, exact: bool = False):
        """LanceDB's errors about a space table's files (`exact`: its `write_exact` table's) as
        one DamagedError naming the table and saying that `attune optimize --full` writes it
        anew (`Store.reading`)."""
        return self.store.reading(table_name(space) + ("_exact" if exact else ""), REBUILD)

    def open(self, space: str, version: int = -1):
        """The space's table pinned at `version`, the one its index state names (-1: the
        newest; None: not built yet). A served space reads through one such handle, so the
        row offsets it mapped stay the rows it takes whatever another process writes, and a
        table `attune optimize` is writing anew is not read before its state is recorded."""
        name = table_name(space)
        if name not in self.store._table_names():
            return None
        with self.reading(space):
            table = self.store.db.open_table(name)
            try:
                table.checkout(version if version >= 0 else table.version)
            except ValueError as exc:  # LanceDB: "Version N no longer exists"; or a manifest it cannot read
                if version >= 0 and version not in {int(v["version"]) for v in table.list_versions()}:
                    raise VersionGone(f"version {version} of the {name} table was removed") from exc
                raise self.store.unreadable(name, exc, REBUILD) from None
        return table

    def problem(self, space: str, state: IndexState) -> str | None:
        """Why the space table the state names cannot serve searches (None: it can). What
        `attune optimize` checks before it calls an index current or adds to it: the table at
        the recorded version, its rows, its vector index (one search probing one partition),
        a row at each end and the middle (their data files' ends), and the co-listen space's
        learned positions beside it. Milliseconds at 10M tracks: nothing is read whole, so a
        data file damaged only in its middle is found by the search that reads it."""
        exact = (state.extra or {}).get("exact_version")
        try:
            table = self.open(space, state.table_version)
            if table is None:
                return f"the {table_name(space)} table is missing"
            with self.reading(space):
                rows = table.count_rows()
                if rows != state.rows:
                    return f"the {table_name(space)} table has {rows:,} rows where its index state says {state.rows:,}"
                if state.partitions and not any("z" in index.columns for index in table.list_indices()):
                    return f"the {table_name(space)} table has no vector index"
                if rows:
                    take_ordered(table, sorted({0, rows // 2, rows - 1}), ["track_id", "z"])
                    if state.partitions:
                        search(table, np.zeros(state.dims, dtype=np.float32), 1, 1)
            if exact is not None:
                with self.reading(space, exact=True):
                    if table_name(space) + "_exact" not in self.store._table_names():
                        return f"the {table_name(space)}_exact table is missing"
                    self._exact(space, int(exact)).to_arrow()  # small: the learned positions
        except (VersionGone, DamagedError) as exc:  # (the storage not answering is raised: nothing is known)
            return str(exc)
        return None

    def clean(self, space: str, *, exact: bool = False) -> None:
        """Remove the versions older than KEEP_SPACE_VERSIONS of the space table (`exact`: of
        its `write_exact` table): called once the index state names the newest one (a reader
        that took the state before still finds its version)."""
        self._clean(table_name(space) + ("_exact" if exact else ""))

    def _clean(self, name: str) -> None:
        if name not in self.store._table_names():
            return
        with self.store.locks.hold(name):
            self.store.db.open_table(name).optimize(cleanup_older_than=KEEP_SPACE_VERSIONS)

    def record(self, space: str, state: IndexState) -> None:
        """Write what the index now is to meta (and forget the cached state)."""
        self.store.set_meta(f"index.{space}", state.to_meta())
        self._states.pop(space, None)

    def write(self, space: str, batches: Iterator[tuple[list[str], np.ndarray, np.ndarray | None]], dims: int, *,
              state: Callable[[int, int], IndexState], progress: Callable[[int], None] | None = None) -> IndexState:
        """Write the space's table anew from (track ids, whitened vectors, codes) batches, index it,
        and record `state(rows, partitions)` in meta with the table's version. Readers take
        the version the recorded state names, so they keep the old table until the new
        state is recorded."""
        from lancedb.index import IvfFlat

        name = table_name(space)
        rows = 0
        table = None
        with self.store.locks.hold(name):
            for ids, z, codes in batches:
                data = _rows(ids, z, codes)
                if table is None:
                    table = self._create(name, data)
                    self._open[name] = table
                else:
                    table.add(data)
                rows += len(ids)
                if progress:
                    progress(len(ids))
            if table is None:
                schema = pa.schema([pa.field("track_id", pa.string()), pa.field("z", pa.list_(pa.float32(), dims))])
                table = self._create(name, schema=schema)
                self._open[name] = table
            partitions = partitions_for(rows)
            if rows >= 256:  # LanceDB needs some rows per partition to train an IVF index
                table.create_index("z", replace=True,
                                   config=IvfFlat(distance_type="l2", num_partitions=partitions))
            else:
                partitions = 0
            table.optimize(cleanup_older_than=KEEP_VERSIONS)  # compacted (no version removed yet)
            result = dc_replace(state(rows, partitions), table_version=table.version)
            self.record(space, result)
        self.clean(space)  # the files of earlier builds, once no reader needs them
        return result

    def _create(self, name: str, data: pa.Table | None = None, *, schema: pa.Schema | None = None):
        """A space table written anew over the one there. LanceDB cannot overwrite a table whose
        manifest it cannot read: such a table (derived, so nothing is lost) is dropped first;
        one it can open is left as it is and the error raised."""
        try:
            return self.store.db.create_table(name, data, schema=schema, mode="overwrite")
        except (RuntimeError, OSError):
            try:
                self.store.db.open_table(name).count_rows()
            except (RuntimeError, OSError, ValueError):
                self.store.db.drop_table(name)
                return self.store.db.create_table(name, data, schema=schema, mode="overwrite")
            raise

    def write_exact(self, space: str, ids: list[str], z: np.ndarray) -> int:
        """Write the rows a served space ranks exactly beside its index (`<table>_exact`: the
        co-listen space's learned positions) anew; returns the table's version, which the
        index's state records."""
        name = table_name(space) + "_exact"
        with self.store.locks.hold(name):
            return self._create(name, _rows(ids, z, None)).version

    def read_exact(self, space: str, version: int, dims: int) -> tuple[list[str], np.ndarray]:
        """The rows `write_exact` wrote at that version: (track ids, vectors)."""
        with self.reading(space, exact=True):
            data = self._exact(space, version).to_arrow()
        return data["track_id"].to_pylist(), matrix(data["z"], dims)

    def exact_ids(self, space: str, version: int) -> list[str]:
        """The track ids `write_exact` wrote at that version (their vectors not read)."""
        with self.reading(space, exact=True):
            return [t for ids in each_batch(self._exact(space, version), "track_id") for t in ids.to_pylist()]

    def _exact(self, space: str, version: int):
        table = self.store.db.open_table(table_name(space) + "_exact")
        table.checkout(version)
        return table

    def write_parts(self, numbers: np.ndarray, profile: np.ndarray) -> int:
        """Write the attribute space's parts anew (`PARTS_TABLE`: each track's attributes and
        genre profile, in the tracks table's order); returns the table's version, which the
        library records with the tracks version they were computed at."""
        data = pa.table({"numbers": pa.FixedSizeListArray.from_arrays(
                             pa.array(np.ascontiguousarray(numbers, dtype=np.float32).ravel()), numbers.shape[1]),
                         "profile": pa.array(np.asarray(profile, dtype=np.int32))})
        with self.store.locks.hold(PARTS_TABLE):
            return self._create(PARTS_TABLE, data).version

    def read_parts(self, version: int, dims: int) -> tuple[np.ndarray, np.ndarray]:
        """(numbers, profile) as `write_parts` wrote them at that version, a batch at a time."""
        with self.store.reading(PARTS_TABLE, REBUILD_PARTS):
            table = self.store.db.open_table(PARTS_TABLE)
            table.checkout(version)
            rows = table.count_rows()
            numbers = np.empty((rows, dims), dtype=np.float32)
            profile = np.empty(rows, dtype=np.int32)
            start = 0
            for batch in table.search().select(["numbers", "profile"]).limit(max(rows, 1)).to_batches(READ_BATCH):
                end = start + batch.num_rows
                numbers[start:end] = matrix(batch.column(0), dims)
                profile[start:end] = batch.column(1).to_numpy()
                start = end
        return numbers[:start], profile[:start]

    def clean_parts(self) -> None:
        """Remove the versions of the parts table older than KEEP_SPACE_VERSIONS (as `clean`)."""
        self._clean(PARTS_TABLE)

    def append(self, space: str, ids: list[str], z: np.ndarray, codes: np.ndarray | None) -> tuple[int, int]:
        """Replace or add these tracks' rows, then let LanceDB index the new rows (and compact);
        returns the table's rows and version, for the state the caller records (then `clean`)."""
        table = self._table(space)
        assert table is not None
        with self.store.locks.hold(table_name(space)):
            for chunk in chunks(ids, 1000):
                table.delete(sql_in("track_id", chunk))
            if len(ids):
                table.add(_rows(ids, z, codes if "pq" in table.schema.names else None).cast(table.schema))
                table.optimize(cleanup_older_than=KEEP_VERSIONS)
            return table.count_rows(), table.version

    def scalar_indexes(self, progress: Callable[[str], None] | None = None, *, compact: bool = False) -> list[str]:
        """BTREE and LABEL_LIST indexes on the tracks table's filter columns: those missing are
        built, and LanceDB folds rows written since into the existing ones (its `optimize`,
        with no old version removed: `attune history` and `attune restore` still reach them;
        also when the indexes are new and `compact`: rows were just rewritten). Returns the
        indexes, each marked new or updated."""
        from lancedb.index import BTree, LabelList

        table = self.store.tables["tracks"]
        have = set(table.schema.names)
        indexed = {c for i in table.list_indices() for c in i.columns}
        out = []
        with self.store.writing("tracks"):
            wanted = [(c, "BTREE", BTree) for c in BTREE_COLUMNS] + [(c, "LABEL_LIST", LabelList) for c in LABEL_LIST_COLUMNS]
            for column, kind, config in wanted:
                if column not in have:
                    continue
                if column not in indexed:
                    table.create_index(column, replace=True, config=config())
                out.append(f"{column} ({kind}{', new' if column not in indexed else ''})")
                if progress:
                    progress(column)
            if indexed or compact:
                table.optimize(cleanup_older_than=KEEP_VERSIONS)
        self.store.changed()
        return out


def each_batch(table, name: str) -> Iterator[pa.Array]:
    """A whole column of a (pinned) space table in table order, a batch at a time."""
    for batch in table.search().select([name]).limit(max(table.count_rows(), 1)).to_batches(READ_BATCH):
        yield batch.column(0)


def column_matrix(table, name: str, dims: int, dtype=np.float32) -> np.ndarray:
    """A whole fixed-size-list column of a (pinned) space table as an (rows, dims) matrix,
    filled a batch at a time (no second copy of the column while it is read)."""
    out = np.empty((table.count_rows(), dims), dtype=dtype)
    start = 0
    for array in each_batch(table, name):
        part = matrix(array, dims, dtype)
        out[start : start + len(part)] = part
        start += len(part)
    return out[:start]


def search(table, centre: np.ndarray, k: int, nprobes: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest rows of a space table to `centre`: their LanceDB row ids (`RowIds`
    turns them into places) and squared L2 distances. Nothing else is asked for: any other
    column is a take after the search (the track ids cost 4 ms a search at 10M rows, the
    vectors made it 4x slower)."""
    query = table.search(np.asarray(centre, dtype=np.float32), vector_column_name="z").metric("l2").limit(k)
    found = query.nprobes(nprobes).with_row_id(True).select(["_distance"]).to_arrow()
    return found["_rowid"].to_numpy(), found["_distance"].to_numpy().astype(np.float32)


class RowIds:
    """LanceDB's row ids of a table, as runs of consecutive ids over consecutive places:
    a table written whole has one run per file fragment, so a search's row ids are turned
    into places by a binary search over a handful of runs. Built from the row ids of a
    scan in table order, a batch at a time (`add`)."""

    def __init__(self) -> None:
        self._starts: list[np.ndarray] = []  # first row id of each run
        self._places: list[np.ndarray] = []  # its place
        self._ends: list[np.ndarray] = []  # one past its last row id
        self._seen = 0

    def add(self, rowids: np.ndarray) -> None:
        rowids = np.asarray(rowids, dtype=np.uint64)
        if not len(rowids):
            return
        cut = np.flatnonzero(np.diff(rowids.astype(np.int64)) != 1) + 1
        first = np.concatenate([[0], cut])
        last = np.concatenate([cut, [len(rowids)]])
        self._starts.append(rowids[first])
        self._places.append(self._seen + first)
        self._ends.append(rowids[last - 1] + np.uint64(1))
        self._seen += len(rowids)

    def places(self, rowids: np.ndarray) -> np.ndarray:
        """The place of each row id (-1: not one of the table's)."""
        if len(self._starts) > 1:  # runs that continue across batches are left as they are
            self._starts, self._places, self._ends = ([np.concatenate(x)] for x in (self._starts, self._places, self._ends))
        rowids = np.asarray(rowids, dtype=np.uint64)
        if not self._starts or not len(rowids):
            return np.full(len(rowids), -1, dtype=np.int64)
        starts, places, ends = self._starts[0], self._places[0], self._ends[0]
        i = np.searchsorted(starts, rowids, "right") - 1
        ok = (i >= 0) & (rowids < ends[np.maximum(i, 0)])
        j = np.maximum(i, 0)
        return np.where(ok, places[j] + (rowids - starts[j]).astype(np.int64), -1)

    def rowids(self, places: np.ndarray) -> np.ndarray:
        """The row id at each place (the inverse of `places`; every place must be the table's)."""
        self.places(np.zeros(0, dtype=np.uint64))  # (joins the batches' runs)
        places = np.asarray(places, dtype=np.int64)
        if not self._starts:
            raise IndexError("no row ids were read")
        starts, first = self._starts[0], self._places[0]
        i = np.searchsorted(first, places, "right") - 1
        return starts[i] + (places - first[i]).astype(np.uint64)

    @property
    def runs(self) -> int:
        return sum(len(s) for s in self._starts)


def id_batches(table, rowids: RowIds):
    """A (pinned) space table's track ids in table order, a batch (polars Series) at a time,
    their row ids added to `rowids` on the way."""
    import polars as pl

    for batch in table.search().select(["track_id"]).with_row_id(True).limit(max(table.count_rows(), 1)).to_batches(READ_BATCH):
        rowids.add(batch.column("_rowid").to_numpy())
        yield pl.from_arrow(batch.column("track_id")).alias("track_id")


def take(table, offsets: np.ndarray, dims: int, rowids: RowIds | None = None) -> np.ndarray:
    """Vectors of the rows at these offsets of a space table, in the order given: by their
    row ids when `rowids` knows them (LanceDB takes 1,000 vectors of 10M by row id in 4 ms,
    by offset in 16 ms: an offset is first turned into a row id through the fragments)."""
    if not len(offsets):
        return np.zeros((0, dims), dtype=np.float32)
    if rowids is not None:
        return matrix(take_ordered(table, rowids.rowids(offsets), ["z"], by_row_id=True)["z"], dims)
    return matrix(take_ordered(table, offsets, ["z"])["z"], dims)


def _rows(ids: list[str], z: np.ndarray, codes: np.ndarray | None) -> pa.Table:
    """Rows of a space table: track ids, whitened vectors and (when trained) their codes."""
    columns = {"track_id": pa.array(ids, pa.string()),
               "z": pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(z, dtype=np.float32).ravel()), z.shape[1])}
    if codes is not None:
        columns["pq"] = pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(codes).ravel(), pa.uint8()), codes.shape[1])
    return pa.table(columns)
