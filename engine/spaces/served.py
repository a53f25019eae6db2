"""A space served from LanceDB: for libraries whose vectors do not fit the memory budget.

    served(snap, store, "audio")     # ServedSpace, or None when the space has no index

`attune optimize` writes each track's whitened vector to the space's own table and
indexes it (`storage/vectors.py`). A search then needs in memory only, per track, where
its vector is in that table (8 bytes) and, for filters that pass few tracks, the vectors'
product-quantisation codes (`pq.py`: d/8 bytes a track, 96 x less than the float64 +
float32 the in-memory space holds) when the budget allows them:

- a filter that passes few tracks (EXACT_ROWS with the codes, EXACT_ROWS_READ without):
  every passing track is ranked, on the codes (then the best thousand again on their
  exact vectors), or on their exact vectors read from LanceDB (about 20 us a row);
- any other: the IVF index in LanceDB gives the nearest candidates to the query's centre,
  as many as the filter's share needs to leave `k` (widened until it does), and the filter
  mask keeps those that pass.

The whitening is the one the index was built under (a playlist edit does not rewrite
millions of vectors; `attune optimize` refits it and rebuilds). Tracks indexed or changed
after the index was built are read from the tracks table and ranked exactly beside it, so
the newest rows are always found; the plan says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ..storage import Key, Snapshot, TrackData
from ..storage.place import BusyError
from ..storage.reads import release
from ..storage.rowcopy import places
from ..storage.vectors import IndexState, RowIds, VersionGone, column_matrix, id_batches, search, take
from .pq import PQ
from .pq import train as train_pq
from .whitening import Moments, Whitener, summed_scatter, whitener_from

#: At most this many passing tracks: rank them all, not through the IVF index, when the
#: codes are in memory (200,000 tracks: about 40 ms of table lookups)...
EXACT_ROWS = 200_000
#: ... and without it, when their vectors are read from LanceDB (about 20 us a row).
EXACT_ROWS_READ = 5_000
#: Candidates ranked again on their exact vectors after the codes: RERANK per result asked
#: for, at least RERANK_MIN. On the 1M-track catalogue under a 1% filter (bench_catalogue.py,
#: 50 queries) recall@10 was 0.930 with 200, 0.974 with 500 and 0.994 with 1,000, at the same
#: 30 ms. Each is a random read on a first pass (1,000 took 30-35 ms of one at 10M tracks),
#: so they are read best first, RERANK_FIRST (or RERANK per result), then RERANK_STEP at a
#: time, until no candidate left could be nearer than the k-th found (`rerank`).
RERANK, RERANK_MIN = 8, 1000
RERANK_FIRST, RERANK_STEP = 200, 100
#: How many standard deviations of the codes' errors (exact distance less the codes') below
#: the lowest error seen a candidate left is allowed before the reading stops.
RERANK_MARGIN = 1.0
#: What `nearest` says when no track passes its filter (a caller adding other rows says only what it did).
NOTHING_PASSES = "nothing passes the filter"
#: Tracks a served space's median distance to a centre is measured over (all of them up to this many).
SAMPLE = 20_000


@dataclass
class ServedSpace:
    name: str
    dims: tuple[str, ...]
    whitener: Whitener
    state: IndexState
    offsets: np.ndarray  # (N,) int32: the row's place in the space table; -1: not there (or stale)
    rows_at: np.ndarray  # (table rows,) int32: the snapshot row at each place; -1: none (or stale)
    rowids: RowIds  # LanceDB's row ids of the table's places, for the index's answers
    has: np.ndarray  # (N,) bool: the row has a vector (in the table or fresh)
    fresh_rows: np.ndarray  # rows ranked exactly beside the index, sorted: newer than it, or kept beside it
    fresh_z: np.ndarray  # their whitened vectors
    with_vectors: int  # tracks with a vector: has.sum()
    tracks: TrackData = field(repr=False)
    table: Any = field(repr=False)  # the space table, pinned at the version the offsets map
    store: Any = field(repr=False)  # the library's store (a table it cannot read is named: `reading`)
    notes: list[str] = field(default_factory=list)
    #: Whether the codes may be kept in memory (the budget allows them).
    use_codes: bool = False
    codes: np.ndarray | None = None  # (table rows, m) uint8 product-quantisation codes, when loaded
    sample: np.ndarray | None = None  # vectors of up to SAMPLE tracks (`median_distance`), when read
    fresh_sq: np.ndarray | None = None  # |fresh_z|^2, when computed

    def reading(self):
        """LanceDB's errors about the space table's files as one DamagedError
        (`VectorIndexes.reading`)."""
        return self.store.vectors.reading(self.name)


_SERVED = {name: Key[ServedSpace | None](f"spaces.served.{name}", "tracks") for name in ("audio", "colisten")}


def served(snap: Snapshot, store, name: str, *, fresh_since) -> ServedSpace | None:
    """The space served from its LanceDB index (None when it has none). `fresh_since(state)`
    gives the tracks written after the index was built that it lacks: (track ids, their
    vectors as the space table holds them: whitened as the index was). Kept with the
    track data (a playlist edit does not rebuild it) until the index itself changes."""
    found = snap.memo(_SERVED[name], lambda: _build(snap, store, name, fresh_since))
    if _built(found.state if found is not None else None) != _built(store.vectors.state(name, max_age=1.0)):
        snap.forget(_SERVED[name])  # `attune optimize` ran since (here or in another process)
        found = snap.memo(_SERVED[name], lambda: _build(snap, store, name, fresh_since))
    return found


def preload(space: ServedSpace) -> None:
    """Read the space's index through once, so that the operating system's page cache
    holds it: one search that probes every partition. A first pass over partitions nobody
    has read waits on the disk (at 10M tracks 56-87 ms a query against 19-27 ms cached);
    `attune serve` calls this at start (`Library.warm`) when the index fits in the memory
    the system has available. In this process it fills LanceDB's index cache (its share of
    the budget) and keeps nothing else. (The vectors the re-ranking under a narrow filter
    takes by row are not read: a scan of the column through LanceDB buffered up to 2 GB.)"""
    with space.reading():
        search(space.table, np.zeros(space.state.dims, dtype=np.float32), 1, max(space.state.partitions, 1))


def preload_bytes(space: ServedSpace) -> int:
    """What `preload` reads: the index's copy of the vectors."""
    return space.state.rows * space.state.dims * 4


def _built(state: IndexState | None) -> tuple | None:
    """What tells one build of an index from another (comparing whole states compares the
    whitening and the quantiser too: a millisecond a search)."""
    if state is None:
        return None
    return (state.built_at, state.rows, state.tracks_version, state.segments_version, state.playlists_version)


def _build(snap: Snapshot, store, name: str, fresh_since) -> ServedSpace | None:
    state, table = _pinned(store, name)
    if state is None or table is None:
        return None
    with store.vectors.reading(name):
        return _mapped(snap, store, name, state, table, fresh_since)


def _mapped(snap: Snapshot, store, name: str, state: IndexState, table, fresh_since) -> ServedSpace:
    """The served space of a pinned table: its rows mapped to the snapshot's."""
    whitener = Whitener.from_json(state.whitener)
    rowids = RowIds()
    offsets = places(snap.tracks.column("track_id"), snap.tracks.rows_or_missing, id_batches(table, rowids), len(snap))
    release()  # the 10M ids read a batch at a time
    notes = []
    fresh_ids, fresh_z = fresh_since(state)
    fresh_rows = snap.rows_of(fresh_ids) if len(fresh_ids) else np.zeros(0, dtype=np.int64)
    if len(fresh_rows) != len(fresh_ids):  # ids the snapshot lacks (deleted since): drop them
        keep = _rows_or_missing(snap, fresh_ids) >= 0
        fresh_z = fresh_z[keep]
    if not len(fresh_rows):
        fresh_z = np.zeros((0, state.dims), dtype=np.float32)
    if len(fresh_rows):
        notes.append(f"{len(fresh_rows)} tracks indexed or changed since the {name} index was built are ranked "
                     "exactly beside it; `attune optimize` brings the index up to date")
    exact_version = (state.extra or {}).get("exact_version")
    if exact_version is not None:  # rows kept beside the index (the co-listen space's learned positions)
        exact_ids, exact_z = store.vectors.read_exact(name, int(exact_version), state.dims)
        exact_rows = _rows_or_missing(snap, exact_ids)
        keep = (exact_rows >= 0) & ~np.isin(exact_rows, fresh_rows)
        fresh_rows = np.concatenate([fresh_rows, exact_rows[keep]])
        fresh_z = np.concatenate([fresh_z, exact_z[keep]])
        notes.append(f"the {int(keep.sum()):,} tracks with a position learned from the playlists are ranked exactly "
                     "beside the index")
    order = np.argsort(fresh_rows, kind="stable")  # sorted: a row's vector is found by binary search
    fresh_rows, fresh_z = fresh_rows[order], np.asarray(fresh_z, dtype=np.float32)[order]
    offsets[fresh_rows] = -1
    has = offsets >= 0
    rows_at = np.full(int(offsets.max(initial=-1)) + 1, -1, dtype=np.int32)
    rows_at[offsets[has]] = np.flatnonzero(has)
    has[fresh_rows] = True
    return ServedSpace(name, tuple(whitener.dims), whitener, state, offsets, rows_at, rowids, has, fresh_rows,
                       np.asarray(fresh_z, dtype=np.float32), int(has.sum()), snap.tracks, table, store, notes)


def _pinned(store, name: str) -> tuple[IndexState | None, Any]:
    """The index state and the space table at the version it names. A version can be gone
    when `attune optimize` recorded a newer state and removed old versions between the two
    reads: the state is then read again; still gone, the search can be retried. A table
    whose files cannot be read is a DamagedError (`VectorIndexes.open`), not retried."""
    for _ in range(3):
        state = store.vectors.state(name, max_age=0.0)
        if state is None:
            return None, None
        try:
            return state, store.vectors.open(name, state.table_version)
        except VersionGone:
            continue
    raise BusyError(f"the {name} index changed while it was being read (attune optimize is running): retry the search")


def _rows_or_missing(snap: Snapshot | TrackData, ids) -> np.ndarray:
    """The snapshot row of each id (-1 where the snapshot has no such track)."""
    return (snap.tracks if isinstance(snap, Snapshot) else snap).rows_or_missing(ids)


def _codec(state: IndexState) -> PQ:
    if state.pq is None:
        raise ValueError("this index has no product-quantisation codes")
    return PQ.from_json(state.pq)


def load_codes(space: ServedSpace) -> None:
    """Read the space table's product-quantisation codes once."""
    if space.codes is None:
        space.codes = column_matrix(space.table, "pq", _codec(space.state).subspaces, np.uint8)
        release()


def _squared(z: np.ndarray, centre: np.ndarray) -> np.ndarray:
    diff = np.asarray(z, dtype=np.float32) - centre
    return np.einsum("ij,ij->i", diff, diff).astype(np.float32)


def seed_vectors(space: ServedSpace, rows: np.ndarray) -> np.ndarray:
    """Whitened vectors of some rows that have one (seed tracks): fresh ones from memory,
    the others read from the space table."""
    return _table_vectors(space, rows)[:, : len(space.dims)]  # (the co-listen table's last coordinate is a row's)


def distances(space: ServedSpace, rows: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Squared distances of some rows that have a vector to `centre`, as the index measures
    them (the co-listen space: a residual for an estimated position)."""
    return _squared(_table_vectors(space, rows), _wide(space, centre))


def median_distance(space: ServedSpace, centre: np.ndarray) -> float:
    """The median squared distance of the tracks with a vector to `centre`: over every one
    of them up to SAMPLE tracks, else over a seeded sample of SAMPLE (read once)."""
    if space.sample is None:
        rows = np.flatnonzero(space.has)
        if len(rows) > SAMPLE:
            rows = np.sort(np.random.default_rng(0).choice(rows, SAMPLE, replace=False))
        space.sample = _table_vectors(space, rows)
    return float(np.median(_squared(space.sample, _wide(space, centre)))) if len(space.sample) else 0.0


def _table_vectors(space: ServedSpace, rows: np.ndarray) -> np.ndarray:
    """Vectors of some rows that have one, as wide as the space table's."""
    out = np.zeros((len(rows), space.state.dims), dtype=np.float32)
    offs = space.offsets[rows]
    indexed = offs >= 0
    if indexed.any():
        with space.reading():
            out[indexed] = take(space.table, offs[indexed], space.state.dims, space.rowids)
    if (~indexed).any():
        out[~indexed] = space.fresh_z[np.searchsorted(space.fresh_rows, rows[~indexed])]
    return out


def _wide(space: ServedSpace, centre: np.ndarray) -> np.ndarray:
    """A centre as wide as the space table's vectors: 0 in the co-listen table's last
    coordinate (`colisten_index.py`), so a row's distance carries its own residual."""
    centre = np.asarray(centre, dtype=np.float32)
    return np.concatenate([centre, np.zeros(space.state.dims - len(centre), dtype=np.float32)])


def nearest(space: ServedSpace, centre: np.ndarray, mask: np.ndarray | None, k: int,
            exclude: np.ndarray | None = None, passing_rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """The k rows nearest `centre` (squared whitened distance) among those `mask` passes
    (None: every row) but `exclude`: (rows, distances, how). See the module docstring for
    the two paths. Without a filter no per-row mask is built (at 10M rows each pass over
    one costs milliseconds); `passing_rows`, the rows `mask` passes when the caller has
    them (a selective filter), spares the passes over it too."""
    with space.reading():
        return _nearest(space, centre, mask, k, exclude, passing_rows)


def _nearest(space: ServedSpace, centre: np.ndarray, mask: np.ndarray | None, k: int,
             exclude: np.ndarray | None, passing_rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, str]:
    codes = space.use_codes
    centre = _wide(space, centre)
    exclude = np.zeros(0, dtype=np.int64) if exclude is None else np.asarray(exclude, dtype=np.int64)
    limit = EXACT_ROWS if codes else EXACT_ROWS_READ
    eligible: np.ndarray | None = None
    chosen: np.ndarray | None = None  # the passing rows with a vector, but `exclude`, when known
    if mask is None:
        passing = space.with_vectors - int(np.count_nonzero(space.has[exclude]))
    elif passing_rows is not None and len(passing_rows) <= limit:
        chosen = passing_rows[space.has[passing_rows]]
        if len(exclude):
            chosen = np.delete(chosen, np.searchsorted(chosen, exclude[sorted_holds(chosen, exclude)]))
        passing = len(chosen)
    else:
        eligible = mask & space.has
        eligible[exclude] = False
        passing = int(np.count_nonzero(eligible))  # (a bool sum at 10M rows takes 5x as long)
    if passing == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), NOTHING_PASSES
    if passing > limit and space.state.partitions > 0:
        return _through_index(space, centre, k, passing, eligible, exclude)
    if chosen is not None:
        keep_fresh = sorted_holds(chosen, space.fresh_rows)
        rows_f, z_f = space.fresh_rows[keep_fresh], space.fresh_z[keep_fresh]
        rows = np.delete(chosen, np.searchsorted(chosen, rows_f)) if len(rows_f) else chosen
    else:
        if eligible is None:  # no filter, and few enough tracks to rank them all
            eligible = space.has.copy()
            eligible[exclude] = False
        rows_f = space.fresh_rows[eligible[space.fresh_rows]]
        z_f = space.fresh_z[eligible[space.fresh_rows]]
        indexed = eligible
        if len(space.fresh_rows):
            indexed = eligible.copy()
            indexed[space.fresh_rows] = False
        rows = np.flatnonzero(indexed)
    offs = space.offsets[rows]
    d_f = _squared(z_f, centre)
    cap = max(RERANK * k, RERANK_MIN)
    if codes and len(offs) > cap:
        load_codes(space)
        assert space.codes is not None
        pq = _codec(space.state)
        coded = pq.distances(pq.table(centre), space.codes.take(offs, axis=0))
        keep = np.argpartition(coded, cap)[:cap]
        keep = keep[np.argsort(coded[keep], kind="stable")]
        found, d = rerank(lambda at: take(space.table, at, space.state.dims, space.rowids), centre, k, offs[keep],
                          coded[keep], d_f)
        rows = rows[keep][: len(found)]
        how = (f"every one of the {passing:,} passing tracks, on product-quantisation codes in memory; "
               f"the best {len(rows):,} again on exact vectors"
               + (f" (read best first, {cap:,} at most, until no other could be nearer)" if len(rows) < cap else ""))
    else:
        how = f"exact over the {passing:,} passing tracks (vectors read from LanceDB)"
        d = _squared(take(space.table, offs, space.state.dims, space.rowids), centre)
    rows = np.concatenate([rows, rows_f])
    d = np.concatenate([d, d_f])
    order = np.argsort(d, kind="stable")[:k]
    return rows[order], d[order], how


def rerank(read, centre: np.ndarray, k: int, candidates: np.ndarray, coded: np.ndarray,
           exact_beside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact distances of the best candidates by the codes (ordered by `coded`; `read(some)`
    gives their exact vectors), read in steps: after each, the k-th nearest found so far
    (`exact_beside` included: the rows ranked exactly beside the index) is compared with the
    next candidate's coded distance plus the lowest error of the codes seen (exact less
    coded, less RERANK_MARGIN standard deviations); when even that is not nearer, no
    candidate left is likely to be, and the rest are not read. Returns the candidates read
    and their exact distances."""
    first = min(len(candidates), max(RERANK * k, RERANK_FIRST))
    parts = [_squared(read(candidates[:first]), centre)]
    done = first
    while done < len(candidates):
        seen = np.concatenate(parts)
        exact = np.concatenate([seen, exact_beside])
        if len(exact) >= k:
            errors = seen - coded[:done]
            lowest = float(errors.min() - RERANK_MARGIN * errors.std())
            if coded[done] + lowest >= np.partition(exact, k - 1)[k - 1]:
                break
        step = min(len(candidates), done + RERANK_STEP)
        parts.append(_squared(read(candidates[done:step]), centre))
        done = step
    return candidates[:done], np.concatenate(parts)


def sorted_holds(sorted_rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whether each value is in `sorted_rows` (sorted, distinct): a binary search each, where
    np.isin hashes all 100,000 rows of a selective filter (15 ms at 10M tracks)."""
    if not len(sorted_rows) or not len(values):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_rows, values), len(sorted_rows) - 1)
    return sorted_rows[at] == values


def _best_fresh(space: ServedSpace, centre: np.ndarray, k: int, eligible: np.ndarray | None,
                exclude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The k rows ranked beside the index (newer than it, or kept beside it: the co-listen
    space's 100,000 learned positions at 10M tracks) nearest `centre` among those `eligible`
    passes (None: every one but `exclude`): one product with their vectors, their norms
    computed once."""
    if not len(space.fresh_rows):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if space.fresh_sq is None:
        space.fresh_sq = np.einsum("ij,ij->i", space.fresh_z, space.fresh_z)
    d = np.maximum(space.fresh_sq - 2.0 * (space.fresh_z @ centre) + np.float32(centre @ centre), 0).astype(np.float32)
    if eligible is None:
        d[np.searchsorted(space.fresh_rows, exclude[sorted_holds(space.fresh_rows, exclude)])] = np.inf
    else:
        d[~eligible[space.fresh_rows]] = np.inf
    best = np.argpartition(d, k)[:k] if len(d) > k else np.arange(len(d))
    best = best[np.isfinite(d[best])]
    return space.fresh_rows[best], d[best]


def _through_index(space: ServedSpace, centre: np.ndarray, k: int, passing: int, eligible: np.ndarray | None,
                   exclude: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """The IVF index's nearest candidates, as many as the filter's share needs to leave k
    (widened until it does), kept when `eligible` passes them (None: every row but
    `exclude`); tracks newer than the index ranked exactly beside them."""
    rows_f, d_f = _best_fresh(space, centre, k, eligible, exclude)
    share = passing / max(space.with_vectors, 1)
    want = int(min(max(4 * k / share, 2 * k), 50_000))
    while True:
        ids, dist = search(space.table, centre, want, space.state.nprobes)
        at = space.rowids.places(ids)
        at[at >= len(space.rows_at)] = -1
        # In the index as it was built (a track changed or deleted since maps to -1; a changed
        # one is ranked from `fresh`), and passing.
        got = np.where(at >= 0, space.rows_at[np.maximum(at, 0)], -1).astype(np.int64)
        ok = got >= 0
        found = got[ok]
        ok[ok] = ~np.isin(found, exclude) if eligible is None else eligible[found]
        if ok.sum() >= k or want >= 50_000 or len(ids) < want:
            break
        want *= 4
    rows = np.concatenate([got[ok], rows_f])
    d = np.concatenate([dist[ok], d_f])
    order = np.argsort(d, kind="stable")[:k]
    how = (f"IVF_FLAT index in LanceDB ({space.state.partitions} partitions, nprobes {space.state.nprobes}; "
           f"{want:,} candidates for a filter passing {share:.1%})")
    return rows[order], d[order], how



#: Vectors the product quantiser is trained on.
PQ_SAMPLE = 25_000


def build_index(snap: Snapshot, store, name: str, *, batches, versions, estimated_rows: int, progress=None) -> IndexState:
    """Fit the space's whitening from the whole library (streamed: the vectors are never all
    in memory) and its playlists, and write and index its whitened vectors.

    `batches()`: an iterator of (track ids, raw vectors) over every track with a vector (read
    twice: once to fit, once to write); `versions`: the tables' versions the index is built
    from; `progress(rows)` is called per batch written."""
    in_playlists = {t for p in snap.playlists.values() for t in p.track_ids}
    moments = Moments()
    member_ids: list[str] = []
    member_x: list[np.ndarray] = []
    sample: list[np.ndarray] = []  # for the product quantiser: about PQ_SAMPLE rows, spread over the library
    rng = np.random.default_rng(0)
    for ids, x in batches():
        x = np.asarray(x, dtype=np.float64)
        moments.add(x)
        sample.append(x[rng.random(len(x)) < PQ_SAMPLE / max(estimated_rows, 1)])
        keep = [i for i, t in enumerate(ids) if t in in_playlists]  # playlist members: for the scatter
        if keep:
            member_ids += [ids[i] for i in keep]
            member_x.append(x[keep])
    if moments.n == 0:
        raise ValueError(f"no track has a vector in the {name} space")
    mean, sigma = moments.result()
    d = len(mean)
    x = np.concatenate(member_x) if member_x else np.zeros((0, d))
    where = {t: i for i, t in enumerate(member_ids)}
    groups = [np.array([where[t] for t in p.track_ids if t in where], dtype=np.int64) for p in snap.playlists.values()]
    dims = tuple(f"{name}{i}" for i in range(d))
    whitener = whitener_from(mean, sigma, *summed_scatter(x, groups), dims)

    drawn = np.concatenate(sample) if sample else np.zeros((0, d))
    pq = train_pq(whitener.transform(drawn[:PQ_SAMPLE])) if len(drawn) >= 256 else None

    def whitened():
        for batch_ids, raw in batches():
            z = whitener.transform(np.asarray(raw))
            yield batch_ids, z, (pq.encode(z) if pq is not None else None)

    built_at = datetime.now(UTC).isoformat()

    def state(rows: int, partitions: int) -> IndexState:
        return IndexState(name, rows, d, partitions, versions.tracks, versions.segments, whitener.to_json(), built_at,
                          versions.playlists, pq.to_json() if pq is not None else None)

    return store.vectors.write(name, whitened(), d, state=state, progress=progress)


def refresh_index(store, name: str, state: IndexState, ids: list[str], raw: np.ndarray, versions) -> IndexState:
    """Add the tracks written since the index was built (their vectors whitened as the index
    was, and coded), replacing their old rows; LanceDB then adds them to the IVF index."""
    whitener = Whitener.from_json(state.whitener)
    z = whitener.transform(raw) if len(ids) else np.zeros((0, state.dims), dtype=np.float32)
    codes = _codec(state).encode(z) if state.pq is not None and len(ids) else None
    new = replace(state, tracks_version=versions.tracks, segments_version=versions.segments,
                  built_at=datetime.now(UTC).isoformat())
    rows, version = store.vectors.append(name, ids, z, codes)
    new = replace(new, rows=rows, table_version=version)
    store.vectors.record(name, new)
    store.vectors.clean(name)
    return new
