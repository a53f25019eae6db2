"""A space over a snapshot: whitened vectors for the tracks that have one.

    space(snap, "attr")       # SpaceData: .z, .has, .sqnorm, .dims, .transform(x)

The raw vectors come from the attribute columns (`attr`), the audio embeddings
(`audio`) or vectors learned from the playlists (`colisten`); whitening is fitted on
the playlists (`whitening.py`). Both are cached on the snapshot.

A playlist edit changes the within-playlist scatter of one playlist. The scatter is
kept per playlist, so the next snapshot recomputes only the playlists that changed;
and when the refitted whitening differs from the one in use by less than
REFIT_TOLERANCE (relative Frobenius norm of the matrix), the whitened vectors are kept
as they are instead of transforming every track again. `Library.fit()` always refits
exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import LibraryError
from ..storage import Key, Snapshot
from .attributes import AttributeParts, attribute_matrix, attribute_parts
from .coldstart import CoListen, Mapping, feature_plan, features
from .coldstart import train as train_mapping
from .compact import CHUNK, CompactVectors, exact_sqnorm
from .served import sorted_holds
from .whitening import Moments, Whitener, group_scatter, moments, summed_scatter, whitener_from

SPACE_NAMES = ("attr", "audio", "colisten")
VECTOR_COLUMNS = {"audio": "embedding", "colisten": "colisten"}
#: Keep the whitened vectors when a refit moves the whitening matrix by less than this.
REFIT_TOLERANCE = 0.01


@dataclass
class SpaceData:
    """One space over a snapshot: whitened vectors for the rows that have one."""

    name: str
    dims: tuple[str, ...]
    z: np.ndarray | CompactVectors  # (N, d) float32; rows without a vector are zero (`compact.py`: over the budget)
    has: np.ndarray  # (N,) bool
    sqnorm: np.ndarray  # (N,) float32, |z|^2
    whitener: Whitener
    #: Rows whose vector was estimated (co-listen positions of tracks in no playlist); None: none.
    estimated: np.ndarray | None = None

    @property
    def missing(self) -> int:
        return int((~self.has).sum())

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Whiten raw vectors of this space (rows of the same dims as `dims`)."""
        return self.whitener.transform(x)


@dataclass
class _Raw:
    """A space's raw vectors, their moments, and each playlist's scatter (computed on demand)."""

    x: np.ndarray | None  # (N, d); None once the attribute space has whitened it in place
    has: np.ndarray
    dims: tuple[str, ...]
    #: (mean, sigma) of the raw vectors, or what computes them: needed only to fit a
    #: whitening, so a space whose whitening is stored (`Library._stored_whiteners`) over
    #: millions of tracks does not pass over their vectors for them.
    moments: tuple[np.ndarray, np.ndarray] | Callable[[], tuple[np.ndarray, np.ndarray]]
    #: Computes some rows again once `x` is gone (the attribute space: from the columns).
    compute: Callable[[np.ndarray], np.ndarray] | None = None
    #: The attribute space over the memory budget: the raw vectors in parts, no `x` at all.
    parts: AttributeParts | None = None

    @property
    def mean(self) -> np.ndarray:
        return self._moments()[0]

    @property
    def sigma(self) -> np.ndarray:
        return self._moments()[1]

    def _moments(self) -> tuple[np.ndarray, np.ndarray]:
        if callable(self.moments):
            self.moments = self.moments()
        return self.moments

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """The raw vectors of these rows."""
        if self.x is not None:
            return self.x[rows]
        assert self.compute is not None
        return self.compute(rows)

    def whole(self) -> np.ndarray:
        """Every row's raw vector."""
        return self.x if self.x is not None else self.rows(np.arange(len(self.has)))


_SPACE = {name: Key[SpaceData](f"spaces.{name}") for name in SPACE_NAMES}
_RAW_TRACKS = {name: Key[_Raw](f"spaces.raw.{name}", "tracks") for name in ("attr", "audio")}
_RAW_PLAYLISTS = {name: Key[_Raw](f"spaces.raw.{name}.playlists") for name in SPACE_NAMES}
_SCATTER = {name: Key["_Scatter"](f"spaces.scatter.{name}") for name in SPACE_NAMES}
_MAPPING = Key[Mapping | None]("spaces.colisten.mapping")
_LEARNED = Key[CoListen]("spaces.colisten.learned")


def space(snap: Snapshot, name: str) -> SpaceData:
    """The whitened space `name` over the snapshot (built on first use)."""
    if name not in SPACE_NAMES:
        raise LibraryError(f"unknown space '{name}'; spaces are {', '.join(SPACE_NAMES)}")
    return snap.memo(_SPACE[name], lambda: _build(snap, name))


def computed(snap: Snapshot, name: str) -> SpaceData | None:
    """The space if this snapshot has built it already (nothing is computed)."""
    return snap.cache.peek(_SPACE[name])


def vectors_missing(snap: Snapshot, name: str) -> bool:
    """True when no track has a vector in this space."""
    if name == "attr":
        return False
    if name == "colisten":
        return snap.membership.height == 0
    return not _raw(snap, name).has.any()


def sound_rows(snap: Snapshot, rows: np.ndarray) -> np.ndarray:
    """Some rows of the attribute space without its genre dimensions (whitened, float32):
    taken from the attribute space for these rows only, so no second matrix of every track
    is held (240 MB at 10M tracks)."""
    attr = space(snap, "attr")
    keep = np.flatnonzero([not d.startswith("genre:") for d in attr.dims])
    return np.ascontiguousarray(attr.z[np.ix_(np.asarray(rows, dtype=np.int64), keep)])


def _raw(snap: Snapshot, name: str) -> _Raw:
    """Raw vectors of a space. Attribute vectors depend on the playlists only through the
    genres tracks inherit from them; audio vectors never do; co-listen vectors always."""
    if name == "colisten" or (name == "attr" and snap.inherits_genres):
        return snap.memo(_RAW_PLAYLISTS[name], lambda: _read_raw(snap, name))
    return snap.memo(_RAW_TRACKS[name], lambda: _read_raw(snap, name))


def _read_raw(snap: Snapshot, name: str) -> _Raw:
    if name == "attr" and not snap.tracks.whole_rows:
        # Over the memory budget: the raw vectors in parts (`compact.py`), their moments
        # over the same chunks of rows as the whole matrix's (so the same figures).
        stored = snap.stored_parts(snap.inherits_genres) if snap.stored_parts is not None else None
        parts = AttributeParts.from_stored(stored) if stored is not None else attribute_parts(snap)

        def chunked() -> tuple[np.ndarray, np.ndarray]:
            acc = Moments(len(parts.names))
            for start in range(0, len(parts), CHUNK):
                acc.add(parts.rows(slice(start, min(len(parts), start + CHUNK))))
            return acc.result()

        return _Raw(None, np.ones(len(parts), dtype=bool), parts.names, chunked, compute=parts.rows, parts=parts)
    if name == "attr":
        x, dims = attribute_matrix(snap)
        has = np.ones(len(x), dtype=bool)
    elif name == "colisten":
        x, has = _colisten_matrix(snap)
        dims = tuple(f"colisten{i}" for i in range(x.shape[1]))
    else:
        x, has = snap.tracks.vectors(VECTOR_COLUMNS[name])
        dims = tuple(f"{name}{i}" for i in range(x.shape[1]))
    d = x.shape[1]
    mean, sigma = moments(x if has.all() else x[has]) if has.any() else (np.zeros(d), np.ones(d))
    if name == "attr":  # cheap to compute again from the columns: the space whitens x in place
        return _Raw(x, has, dims, (mean, sigma), compute=lambda rows: attribute_matrix(snap, rows)[0])
    return _Raw(x, has, dims, (mean, sigma))


@dataclass
class _Scatter:
    """Each playlist's within-playlist scatter (of the raw vectors) and their sum."""

    raw: _Raw  # the raw vectors the parts were computed from
    parts: dict[str, tuple[tuple[str, ...], int, np.ndarray | None]]  # name -> (track ids, entries, scatter)
    total: np.ndarray
    entries: int
    groups: int


def _scatter(snap: Snapshot, name: str, raw: _Raw) -> tuple[np.ndarray, int, int]:
    """(summed within-playlist scatter, entries, playlists) over playlists of two or more
    tracks with vectors. After a playlist edit only the playlists that changed are
    recomputed, and the sum is updated by their difference."""
    before = snap.earlier(_SCATTER[name])

    def part(p) -> tuple[tuple[str, ...], int, np.ndarray | None]:
        rows = snap.playlist_rows(p.name)
        rows = rows[raw.has[rows]]
        return (p.track_ids, len(rows), group_scatter(raw.rows(rows)) if len(rows) >= 2 else None)

    def build() -> _Scatter:
        if before is not None and before.raw is raw:
            changed = {n for n, p in snap.playlists.items() if n not in before.parts or before.parts[n][0] != p.track_ids}
            gone = set(before.parts) - set(snap.playlists)
            if len(changed) + len(gone) <= max(1, len(snap.playlists) // 10):
                parts = dict(before.parts)
                total, entries, groups = before.total.copy(), before.entries, before.groups
                for n in changed | gone:
                    old = parts.pop(n, None)
                    if old is not None and old[2] is not None:
                        total -= old[2]
                        entries, groups = entries - old[1], groups - 1
                for n in changed:
                    parts[n] = new = part(snap.playlists[n])
                    if new[2] is not None:
                        total += new[2]
                        entries, groups = entries + new[1], groups + 1
                return _Scatter(raw, parts, total, entries, groups)
        snap.resolve_playlists()  # every playlist's rows in one lookup
        parts = {p.name: part(p) for p in snap.playlists.values()}
        used = [v for v in parts.values() if v[2] is not None]
        d = len(raw.dims)
        total = np.sum([v[2] for v in used], axis=0) if used else np.zeros((d, d))
        return _Scatter(raw, parts, total, sum(v[1] for v in used), len(used))

    result = snap.memo(_SCATTER[name], build)
    return result.total, result.entries, result.groups


def _build(snap: Snapshot, name: str) -> SpaceData:
    raw = _raw(snap, name)
    whitener = snap.whiteners.get(name)
    if whitener is None or whitener.dims != raw.dims:
        scatter, n, k = _scatter(snap, name, raw)
        whitener = whitener_from(raw.mean, raw.sigma, scatter, n, k, raw.dims)
        before = snap.earlier(_SPACE[name])
        if before is not None and _close(before, whitener, raw):
            snap.whiteners[name] = before.whitener
            return before
        snap.whiteners[name] = whitener
    if raw.parts is not None:
        z = CompactVectors(raw.parts, whitener)
        return SpaceData(name, raw.dims, z, raw.has, z.sqnorm(), whitener, None)
    if raw.compute is not None:
        # The attribute space (every row has a vector): whiten the raw matrix in place, a
        # chunk of rows at a time, instead of holding a raw and a whitened copy (2.6 GB at
        # 10M tracks); a later refit computes the rows again from the columns.
        x, raw.x = raw.whole(), None
        z = whitener.transform(x, out=x)
        return SpaceData(name, raw.dims, z, raw.has, exact_sqnorm(z), whitener, None)
    x, has, estimated = raw.x, raw.has, None
    assert x is not None
    if name == "colisten":  # tracks in no playlist: positions from the cold-start mapping
        x, estimated = _estimate_colisten(snap, raw, whitener)
        has = raw.has if estimated is None else raw.has | estimated
    z = np.zeros((len(x), len(raw.dims)), dtype=np.float32)
    if has.all():
        z = whitener.transform(x)
    elif has.any():
        z[has] = whitener.transform(x[has])
    sqnorm = exact_sqnorm(z)
    if estimated is not None:  # an estimate's expected distance: + its held-out squared error
        sqnorm[estimated] += np.float32(colisten_mapping(snap).residual)  # type: ignore[union-attr]
    return SpaceData(name, raw.dims, z, has, sqnorm, whitener, estimated)


def _close(before: SpaceData, whitener: Whitener, raw: _Raw) -> bool:
    """Whether the space built before can stand for one whitened with `whitener`."""
    old = before.whitener
    if old.dims != whitener.dims or old.pooled != whitener.pooled or len(before.has) != len(raw.has):
        return False
    learned = before.has if before.estimated is None else before.has & ~before.estimated
    if not np.array_equal(learned, raw.has) or not np.allclose(old.mean, whitener.mean):
        return False
    change = np.linalg.norm(whitener.matrix - old.matrix) / max(np.linalg.norm(old.matrix), 1e-12)
    return bool(change < REFIT_TOLERANCE)


def colisten_learned(snap: Snapshot) -> CoListen:
    """The co-listen vectors of this snapshot's playlists (see colisten.py): the stored ones
    when they were trained on these playlists, else trained now (and stored)."""
    from .colisten import DIMENSIONS, train

    def build() -> CoListen:
        vectors = snap.colisten_io.load_vectors() if snap.colisten_io else None
        if vectors is None:
            in_library = set(snap.membership["track_id"].to_list())  # only tracks the library has
            vectors = train([[t for t in p.track_ids if t in in_library] for p in snap.playlists.values()])
            if snap.colisten_io:
                snap.colisten_io.save_vectors(vectors)
        ids = list(vectors)
        rows = snap.tracks.rows_or_missing(ids) if ids else np.zeros(0, dtype=np.int64)
        found = np.flatnonzero(rows >= 0)
        order = found[np.argsort(rows[found], kind="stable")]
        x = np.stack([vectors[ids[i]] for i in order]) if len(order) else np.zeros((0, DIMENSIONS), dtype=np.float32)
        return CoListen(rows[order], np.asarray(x, dtype=np.float32))

    return snap.memo(_LEARNED, build)


def _colisten_matrix(snap: Snapshot) -> tuple[np.ndarray, np.ndarray]:
    """Every track's learned co-listen vector as one matrix (zero where it has none)."""
    from .colisten import DIMENSIONS

    learned = colisten_learned(snap)
    x = np.zeros((len(snap), DIMENSIONS), dtype=np.float32)
    x[learned.rows] = learned.x
    return x, learned.has(len(snap))


def colisten_whitener(snap: Snapshot, learned: CoListen) -> Whitener:
    """The co-listen space's whitening fitted from the learned vectors alone (no matrix of
    every track): what a space built from the snapshot fits, for the index (`colisten_index.py`)."""
    from .colisten import DIMENSIONS

    dims = tuple(f"colisten{i}" for i in range(DIMENSIONS))
    snap.resolve_playlists()
    groups = [np.searchsorted(learned.rows, r[sorted_holds(learned.rows, r)]) for r in
              (snap.playlist_rows(name) for name in snap.playlists)]
    mean, sigma = moments(learned.x) if len(learned.rows) else (np.zeros(len(dims)), np.ones(len(dims)))
    return whitener_from(mean, sigma, *summed_scatter(learned.x, groups), dims)


def colisten_mapping(snap: Snapshot, *, retrain: bool = False, whitener: Whitener | None = None,
                     audio_dims: int | None = None, audio_of=None) -> Mapping | None:
    """The cold-start mapping for this snapshot's playlists: the stored one when it was
    trained on them with the same features, else trained now (and stored). None when the
    playlists are too few to learn from. `whitener`: the space's (default: the space's own,
    built if need be); `audio_dims` and `audio_of(rows) -> (vectors, has)`: the audio
    embedding's length and a reader of some rows' embeddings, when the caller has them
    (else the snapshot's audio matrix is read: 16 GB at 10M tracks)."""
    from .colisten import DIMENSIONS

    learned = colisten_learned(snap)

    def build() -> Mapping | None:
        plan = feature_plan(snap, DIMENSIONS, audio_dims)
        stored = snap.colisten_io.load_mapping() if snap.colisten_io and not retrain else None
        if stored is not None:
            mapping = Mapping.from_json(stored)
            if mapping.feature_names == plan.names and "fill" in stored:  # (older mappings kept no fill)
                return mapping
        fitted = whitener or snap.whiteners.get("colisten") or space(snap, "colisten").whitener
        audio = audio_of(learned.rows) if audio_of is not None and plan.audio else None
        mapping = train_mapping(snap, learned, fitted, plan, audio=audio)
        if mapping is not None and snap.colisten_io:
            snap.colisten_io.save_mapping(mapping.to_json())
        return mapping

    if retrain:
        snap.forget(_MAPPING)
    return snap.memo(_MAPPING, build)


def train_colisten(snap: Snapshot) -> Mapping | None:
    """Train the cold-start mapping again now (the co-listen vectors first, when the
    playlists changed since they were learned); the space is rebuilt with its estimates."""
    space(snap, "colisten")  # the vectors and the whitening the mapping is trained under
    mapping = colisten_mapping(snap, retrain=True)
    snap.forget(_SPACE["colisten"])
    return mapping


def _estimate_colisten(snap: Snapshot, raw: _Raw, whitener: Whitener) -> tuple[np.ndarray, np.ndarray | None]:
    """The raw co-listen vectors with the positions of tracks in no playlist filled in by
    the cold-start mapping, and the rows filled in (None when there is no mapping or
    nothing to fill)."""
    if raw.has.all() or not raw.has.any():
        return raw.x, None
    snap.whiteners.setdefault("colisten", whitener)
    mapping = colisten_mapping(snap)
    if mapping is None:
        return raw.x, None
    rows = np.flatnonzero(~raw.has)
    x = raw.x.copy()
    x[rows] = mapping.predict(features(snap, colisten_learned(snap), rows, mapping.plan))
    return x, ~raw.has


def fit_all(snap: Snapshot) -> dict[str, Whitener]:
    """Refit every space that has vectors, exactly (no carried-over whitening)."""
    for name in SPACE_NAMES:
        snap.forget(_SPACE[name])
    snap.whiteners.clear()
    snap.previous, snap.inherited = None, {}
    for name in SPACE_NAMES:
        if name == "attr" or not vectors_missing(snap, name):
            space(snap, name)
    return dict(snap.whiteners)
