"""Plan -> results: filter, rank, order, cap.

In memory: the numpy backend's mask over the snapshot; for ranked queries the kernel's
distances in the query's space, the seeds left out, and the smallest distances first
(enough to fill the limit after `per:`). Filter-only queries are ordered by `sort:` or
by popularity. On the lance executor the rest of the filter runs on the rows LanceDB
returned (the numpy backend again, over just those rows) and they are ordered the same
way. `score` = -D / (number of like/unlike terms).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import polars as pl
from attune.query import And, Query, QueryError

from ..errors import LibraryError, NotAvailableError
from ..execution import NumpyBackend, PolarsBackend
from ..spaces import computed as computed_space
from ..spaces import space as space_of
from ..spaces.compact import RERANK_MIN, RERANK_PER_RESULT, CompactVectors, exact_sqnorm
from ..spaces.related import related_artists
from ..spaces.segments import passage_distances
from ..spaces.served import EXACT_ROWS, NOTHING_PASSES, ServedSpace, median_distance, nearest, seed_vectors
from ..spaces.served import distances as served_distances
from ..storage import SCALAR_COLUMNS, Snapshot, TrackData
from .kernel import Centre, distance_constant, distance_to, partial_distances, smallest
from .path import path_between
from .plan import Plan, Source, plan
from .results import Results
from .targets import Target, track_row
from .versions import collapse_versions

#: Steps of a `path:` query that names no `limit:`.
PATH_STEPS = 10


def run(
    source: Source | Snapshot,
    query: Query,
    text: str = "",
    *,
    limit: int | None = None,
    executor: str | None = None,
    model_tags: frozenset[str] = frozenset(),
) -> Results:
    """Plan and execute a parsed query (`text` is its source, for error carets)."""
    if not isinstance(source, Source):
        source = Source.of(source, model_tags=model_tags)
    if query.path is not None:
        return _run_path(source, query, text, limit)
    p = plan(source, query, text, limit=limit, executor=executor)
    if p.executor == "lance":
        assert source.store is not None
        return _run_lance(source, p)
    snap = p.snapshot
    assert snap is not None and p.matcher is not None
    if p.targets and p.served is not None and p.where is None:
        return _rank_served(snap, p, None)  # no filter: no 10M-row mask of ones is built
    mask = NumpyBackend(snap, p.matcher, text, deadline=p.deadline).mask(p.where)
    if p.targets:
        return _rank(snap, p, mask)
    # Order on a narrow frame of the matching rows, then fetch whole rows for the top only.
    opts = query.options
    needed = {"_row", "popularity", "artist", "title"}
    needed |= {opts.sort.field} if opts.sort else set()
    needed |= {"genres" if opts.per.field == "genre" else opts.per.field} if opts.per else set()
    rows = np.flatnonzero(mask)
    names = [c for c in snap.tracks.columns if c in needed]
    ordered = None
    if not snap.tracks.whole_rows and opts.sort is None and opts.per is None and "popularity" in names and (
            len(top := _most_popular(snap, rows, _window(p.limit))) <= TAKE_ROWS):
        # Over the memory budget: the default order starts with popularity, so only the
        # rows as popular as the best few can come first; their artist and title are taken
        # from LanceDB instead of reading both columns whole (1 GB at 10M tracks).
        ordered = _order(p, snap.tracks.take_columns(top, names), None, ranked=False)
        if ordered.height < p.limit and len(top) < len(rows):
            ordered = None  # versions folded away too many: order every row
    if ordered is None:
        if opts.per and opts.per.field == "genre":
            narrow = snap.gather(rows).select(names)
        else:
            narrow = snap.tracks.select(names)[rows]
        ordered = _order(p, narrow, None, ranked=False)
    return _results(p, snap.gather(ordered["_row"].to_numpy()).with_columns(ordered["score"]))


#: At most this many rows have their artist and title taken from LanceDB to be ordered
#: (about 30 us a row); more (popularity mostly tied or unknown) read the columns whole.
TAKE_ROWS = 20_000


def _most_popular(snap: Snapshot, rows: np.ndarray, n: int) -> np.ndarray:
    """The rows (of `rows`) at least as popular as the n-th most popular, ties included:
    the default order's first n rows are among them (unknown popularity sorts last)."""
    if len(rows) <= n:
        return rows
    popularity = snap.numbers("popularity")[rows]
    popularity = np.where(np.isnan(popularity), -np.inf, popularity)
    nth = np.partition(popularity, len(popularity) - n)[len(popularity) - n]
    return rows[popularity >= nth]


def _run_lance(source: Source, p: Plan) -> Results:
    """LanceDB returns the rows its part of the filter selects; the rest of the filter runs
    on those rows with the numpy backend (text indexes over just these rows)."""
    assert source.store is not None and p.matcher is not None
    seconds = max(0.001, p.deadline - time.monotonic()) if p.deadline is not None else None
    table = source.store.read("tracks", SCALAR_COLUMNS, where=p.sql, timeout=seconds)
    fetched = Snapshot(TrackData(pl.from_arrow(table)), p.matcher.playlists.values())  # type: ignore[arg-type]
    rows = np.arange(len(fetched))
    if p.post:
        rest = p.post[0] if len(p.post) == 1 else And(tuple(p.post))
        rows = np.flatnonzero(NumpyBackend(fetched, p.matcher, p.text, deadline=p.deadline).mask(rest))
    return _results(p, _order(p, fetched.gather(rows), None, ranked=False))


def _run_path(source: Source, query: Query, text: str, cap: int | None) -> Results:
    """`path:track(A)..track(B)`: the path's steps (`path.py`), the filter applied to the
    steps between A and B, `limit:` steps (PATH_STEPS when the query names none), in order."""
    term = query.path
    assert term is not None
    steps = query.options.limit or PATH_STEPS
    steps = min(steps, cap) if cap else steps  # a front end's limit is a ceiling
    p = plan(source, query, text, limit=steps, executor="memory")
    snap = p.snapshot
    assert snap is not None and p.matcher is not None
    pos = term.span.start if term.span else 0
    a, b = track_row(snap, term.start, text, pos), track_row(snap, term.end, text, pos)
    if a == b:
        raise QueryError("a path needs two different tracks", query=text, position=pos)
    if p.space != "attr" and source.served is not None and source.served(snap, p.space) is not None:
        raise NotAvailableError(f"a path in the {p.space} space needs the whole space in memory, and this library is "
                                f"over its memory budget (raise ATTUNE_MEMORY_BUDGET, or walk in:attr)")
    mask = NumpyBackend(snap, p.matcher, text, deadline=p.deadline).mask(p.where) if p.where is not None else None
    found = path_between(snap, a, b, steps=steps, space=p.space, mask=mask)
    p.notes += found.notes
    p.ordering = (f"the path from track(\"{term.start}\") to track(\"{term.end}\") in the {p.space} space: each step "
                  "nearer the end and farther from the start")
    frame = snap.gather(np.asarray(found.rows, dtype=np.int64))
    frame = frame.with_columns(pl.Series("score", [-d for d in found.to_b], dtype=pl.Float64))
    return _results(p, frame)


def _results(p: Plan, frame: pl.DataFrame) -> Results:
    assert p.matcher is not None
    return Results(frame, p, PolarsBackend(p.matcher, p.text))


def _weights(space_dims: tuple[str, ...], query: Query) -> np.ndarray | None:
    weights = query.options.weight_map
    if not weights:
        return None
    w = np.ones(len(space_dims), dtype=np.float32)
    for i, dim in enumerate(space_dims):
        if dim in weights:
            w[i] = weights[dim]
        elif dim.startswith("genre:") and "genre" in weights:
            w[i] = weights["genre"]
    return w


def _dimension_mask(space, target: Target) -> np.ndarray | None:
    """0/1 per dimension for a target that names some attribute dimensions (attr space only)."""
    if target.dims is None or space.name != "attr":
        return None
    mask = np.array([d in target.dims or (d.startswith("genre:") and "genre" in target.dims) for d in space.dims], dtype=np.float32)
    return mask if mask.any() else None


def _centres(p: Plan, has: np.ndarray, vectors_of, mask_of=lambda t: None) -> list[Centre]:
    """One centre per like/unlike term (passages aside): the mean vector of its seed rows
    that have one."""
    centres = []
    for t in p.targets:
        if t.passage is not None:
            continue
        rows = t.rows[has[t.rows]]
        if len(rows) == 0:
            raise NotAvailableError(f"none of the tracks of {t.label} has a vector in the {p.space} space")
        centres.append(Centre(t.sign, vectors_of(rows).mean(axis=0), mask_of(t)))
    return centres


def _rank(snap: Snapshot, p: Plan, mask: np.ndarray) -> Results:
    if p.served is not None:
        return _rank_served(snap, p, mask)
    try:
        space = space_of(snap, p.space)
    except KeyError:
        raise LibraryError(f"unknown space '{p.space}'") from None
    if space.z.shape[1] == 0 or not space.has.any():
        raise NotAvailableError(
            f"no track in this library has a vector in the {p.space} space"
            + ("; index audio files with `attune index` first" if p.space == "audio" else "")
        )
    if space.estimated is not None and space.estimated.any():
        p.notes.append(f"{int(space.estimated.sum())} tracks in no playlist are placed in the co-listen space "
                       "by the cold-start mapping (from their attributes and artist)")
    centres = _centres(p, space.has, lambda rows: space.z[rows], lambda t: _dimension_mask(space, t))
    w = _weights(space.dims, p.query)
    # Held in parts (over the memory budget): the best by the parts' distances are ranked
    # again exactly (a passage's distances are added to those as they are).
    compact = isinstance(space.z, CompactVectors) and bool(centres) and all(t.passage is None for t in p.targets)
    if compact and (w is not None or any(c.mask is not None for c in centres)):
        # every row's whole vector is needed: whitened a chunk at a time (exact, slower)
        d = np.empty(len(snap), dtype=np.float32)
        for rows, z in space.z.chunks():
            d[rows] = partial_distances(z, exact_sqnorm(z), centres, w)
        compact = False
        p.notes.append("the attribute space is held in parts (over the memory budget): weights and named dimensions "
                       "whiten every track for this query")
    elif centres:
        d = partial_distances(space.z, space.sqnorm, centres, w)
    else:
        d = np.zeros(len(snap), dtype=np.float32)
    if space.name == "colisten":
        for t, centre in zip([t for t in p.targets if t.passage is None], centres):
            if t.like.kind == "artist":
                d += _related_pull(snap, space, t, centre)
    eligible = mask & space.has
    d, passage = _passages(snap, p, d, eligible)
    eligible[p.exclude] = False
    if not space.has.all() and (unranked := int((mask & ~space.has).sum())):
        p.notes.append(f"{unranked} matching tracks have no {p.space} vector and could not be ranked")
    count = int(np.count_nonzero(eligible))
    # The rows left out count as inf without being set so (45 ms a query at 10M tracks)
    where = eligible if count < len(d) else None
    if compact:
        order, picked, at_order = _top_exactly(space, d, count, centres, w, p, snap, where)
    else:
        order, picked = _top(d, count, p, snap, where=where)
        at_order = d[order]
    if passage is not None:
        picked = picked.with_columns(pl.Series("passage", passage[order], dtype=pl.Float64))
    scores = -(at_order.astype(np.float64) + distance_constant(centres, w)) / len(p.targets)
    results = _results(p, _order(p, picked, scores, ranked=True))
    results.centres, results.weights, results.space = centres, w, space
    return results


def _passages(snap: Snapshot, p: Plan, d: np.ndarray, eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Add each passage term's distance (`spaces.segments`: a track's nearest segment to the
    seed segment, signed like the term) to d; tracks without segments are not eligible.
    Returns d and where the first like-passage's match starts in each track (None without one)."""
    where = None
    for t in p.targets:
        if t.passage is None:
            continue
        distance, start = passage_distances(snap, t.passage)
        finite = np.isfinite(distance)
        if unranked := int((eligible & ~finite).sum()):
            p.notes.append(f"{unranked} matching tracks have no indexed segments and could not be ranked by the passage")
        eligible &= finite
        d = d + t.sign * np.where(finite, distance, 0.0).astype(np.float32)
        if where is None and t.sign > 0:
            where = start
    return d, where


def _rank_served(snap: Snapshot, p: Plan, mask: np.ndarray | None) -> Results:
    """Rank in a space served from LanceDB (`spaces.served`): the like and unlike terms fold
    into one centre (sum_l s_l |z - c_l|^2 = S |z - c|^2 + const, S = sum_l s_l, c = sum_l s_l c_l / S),
    so one nearest-neighbour search answers them."""
    sp = p.served
    assert isinstance(sp, ServedSpace)
    if _weights(sp.dims, p.query) is not None:
        raise NotAvailableError(f"weights in the {p.space} space need the whole space in memory, and this library is over "
                                "its memory budget (raise ATTUNE_MEMORY_BUDGET)")
    centres = _centres(p, sp.has, lambda rows: seed_vectors(sp, rows))
    total = sum(c.sign for c in centres)
    if total <= 0:
        raise NotAvailableError(f"a query with as many unlike as like terms in the {p.space} space needs the whole space in "
                                "memory, and this library is over its memory budget (raise ATTUNE_MEMORY_BUDGET)")
    centre = sum(c.sign * c.vector for c in centres) / total
    constant = sum(c.sign * float(c.vector @ c.vector) for c in centres) - total * float(centre @ centre)
    everything = p.where is None  # no filter: no per-row mask is built (milliseconds a pass at 10M rows)
    passing_rows = None  # a selective filter's rows: what follows works on them, not on 10M-row masks
    if everything:
        unranked = len(sp.has) - sp.with_vectors
    elif (count := int(np.count_nonzero(mask))) <= EXACT_ROWS:
        passing_rows = np.flatnonzero(mask)
        unranked = count - int(np.count_nonzero(sp.has[passing_rows]))
    else:
        unranked = count - int(np.count_nonzero(mask & sp.has))
    if unranked:
        p.notes.append(f"{unranked} matching tracks have no {p.space} vector and could not be ranked")
    if (estimated := int((sp.state.extra or {}).get("estimated", 0))) and p.space == "colisten":
        p.notes.append(f"{estimated} tracks in no playlist are placed in the co-listen space by the cold-start mapping "
                       "(from their attributes and artist), as the index was built")
    pull = _served_pull(snap, p, sp, centres, mask if not everything else None)
    shaped = p.query.options.per is not None or _collapsing(p)
    want = p.limit * (2 if shaped else 1)
    while True:
        rows, d, how = nearest(sp, centre.astype(np.float32), None if everything else mask, want,
                               p.exclude if pull is None else pull.exclude, passing_rows)
        d = total * d.astype(np.float64)
        if pull is not None:  # the tracks of related artists, each ranked exactly with its pull
            rows, d = np.concatenate([rows, pull.rows]), np.concatenate([d, total * pull.d + pull.shift])
            order = np.argsort(d, kind="stable")[:want]
            rows, d = rows[order], d[order] + pull.constant
        picked = snap.gather(rows)  # whole rows: taken from LanceDB over the budget, so once per round
        if len(rows) < want or not shaped or _shape(p, picked)[0].height >= p.limit:
            break
        want *= 4
    if pull is not None:
        how = pull.how if how == NOTHING_PASSES else how + "; " + pull.how
    p.served_how = how
    scores = -(d + constant) / len(centres)
    results = _results(p, _order(p, picked, scores, ranked=True))
    results.centres = centres
    return results


def _related_pull(snap: Snapshot, space, target: Target, centre: Centre) -> np.ndarray:
    """In the co-listen space an artist target also pulls in the artists that share
    playlists with it (`spaces.related`): each row's distance gains
    m * (1 - related(its artist)), m the median distance to the artist's centre, so the
    artist's own tracks and those of closely related artists come first, then the rest by
    distance (signed like the target: an unlike pushes related artists away)."""
    codes = snap.text_index("artist").codes
    related = _related_to(snap, target)
    d = distance_to(space.z, space.sqnorm, centre.vector)
    pull = float(np.median(d[space.has])) if space.has.any() else 0.0
    return (target.sign * pull * (1.0 - related[codes])).astype(np.float32)


def _related_to(snap: Snapshot, target: Target) -> np.ndarray:
    """Per artist code: how related the artist is to the target's artists (theirs: 1)."""
    codes = snap.text_index("artist").codes
    shares = np.bincount(codes[target.rows], minlength=len(snap.text_index("artist").values)).astype(float)
    related = related_artists(snap, shares / max(shares.sum(), 1.0))
    related[np.unique(codes[target.rows])] = 1.0
    return related


@dataclass
class _Pull:
    """The artist pull (`_related_pull`) in a served co-listen space. Every track gains
    sum_t s_t m_t (1 - related_t(its artist)): a constant, less `bonus` of its artist. The
    tracks of artists with no bonus keep the index's order; those with one (`rows`, few:
    the related artists' tracks) are ranked exactly, their distances `d`, shifted by
    -bonus, and merged with the index's candidates (which leave them out: `exclude`)."""

    rows: np.ndarray
    d: np.ndarray
    shift: np.ndarray
    constant: float
    exclude: np.ndarray
    how: str


def _served_pull(snap: Snapshot, p: Plan, sp: ServedSpace, centres: list[Centre], mask: np.ndarray | None) -> _Pull | None:
    """The pull of the query's artist targets in a served co-listen space (None: none)."""
    if p.space != "colisten":
        return None
    terms = [(t, c) for t, c in zip([t for t in p.targets if t.passage is None], centres) if t.like.kind == "artist"]
    if not terms:
        return None
    codes = snap.text_index("artist").codes
    bonus = np.zeros(len(snap.text_index("artist").values))
    constant = 0.0
    for t, c in terms:
        m = median_distance(sp, c.vector)  # (over a sample past served.SAMPLE tracks)
        bonus += t.sign * m * _related_to(snap, t)
        constant += t.sign * m
    pulled = np.flatnonzero(bonus[codes] != 0)
    exclude = np.union1d(p.exclude, pulled)
    rows = pulled[sp.has[pulled] & (mask[pulled] if mask is not None else True)]
    rows = rows[~np.isin(rows, p.exclude)]
    total = sum(c.sign for c in centres)
    centre = sum(c.sign * c.vector for c in centres) / total
    d = served_distances(sp, rows, centre.astype(np.float32)).astype(np.float64)
    how = f"the {len(rows):,} passing tracks of related artists ranked exactly with their pull"
    return _Pull(rows, d, -bonus[codes[rows]], constant, exclude, how)


def _top(d: np.ndarray, eligible: int, p: Plan, snap: Snapshot, *,
         rows: np.ndarray | None = None, where: np.ndarray | None = None) -> tuple[np.ndarray, pl.DataFrame]:
    """Rows of the smallest finite d, best first, enough to fill the limit after per: and
    after versions of one song are collapsed, and those rows (gathered once: over the
    memory budget each gather is a read from LanceDB). `where`: only those rows count
    (`eligible` of them). `rows`: d holds the distances of these rows only (sorted; their
    places are returned as `smallest` over the whole array would order them, ties to the
    lower row)."""
    shaped = p.query.options.per is not None or _collapsing(p)
    want = p.limit * (2 if shaped else 1)
    while True:
        k = min(want, eligible)
        order = smallest(d, k, where)
        if rows is not None:
            order = rows[order]
        picked = snap.gather(order)
        if k == eligible or not shaped or _shape(p, picked)[0].height >= p.limit:
            return order, picked
        want *= 4


def _top_exactly(space, d: np.ndarray, eligible: int, centres: list[Centre], w: np.ndarray | None, p: Plan,
                 snap: Snapshot, where: np.ndarray | None = None) -> tuple[np.ndarray, pl.DataFrame, np.ndarray]:
    """`_top` for a space held in parts (`spaces/compact.py`): the best candidates by the
    parts' distances, ranked again on their exact vectors, as many more as the limit
    needs. Returns the exact distances of the rows returned too. The candidates are ranked
    among themselves: at 10M tracks a second top-k over an array of every row (inf but at
    the candidates) took a 10M-row gather and partition a query."""
    size = min(eligible, max(RERANK_MIN, RERANK_PER_RESULT * p.limit))
    while True:
        candidates = np.sort(smallest(d, size, where))
        z = space.z[candidates]
        exact = partial_distances(z, exact_sqnorm(z), centres, w)
        order, picked = _top(exact, size, p, snap, rows=candidates)
        if size == eligible or len(order) < size:
            return order, picked, exact[np.searchsorted(candidates, order)]
        size = min(eligible, size * 4)


def _collapsing(p: Plan) -> bool:
    return p.query.options.versions != "all"


def _shape(p: Plan, frame: pl.DataFrame) -> tuple[pl.DataFrame, dict[int, list[str]]]:
    """Versions of one song collapsed (unless versions:all) and per: applied, best first."""
    also: dict[int, list[str]] = {}
    if _collapsing(p) and {"title", "artist", "_row"} <= set(frame.columns):
        frame, also = collapse_versions(frame, _audio_rows(p, frame))
    return _apply_per(frame, p), also


def _audio_rows(p: Plan, frame: pl.DataFrame) -> np.ndarray | None:
    """The rows' whitened audio vectors when the audio space is already built (the same
    recording under two names then folds too); None otherwise (no read just for this)."""
    audio = computed_space(p.snapshot, "audio") if p.snapshot is not None else None
    if audio is None:
        return None
    rows = frame["_row"].to_numpy()
    return np.where(audio.has[rows][:, None], audio.z[rows], 0.0)


def _apply_per(frame: pl.DataFrame, p: Plan) -> pl.DataFrame:
    per = p.query.options.per
    if per is None:
        return frame
    key = pl.col("genres").list.first() if per.field == "genre" else pl.col(per.field)
    return frame.filter(pl.int_range(pl.len()).over(key) < per.count)


def _window(limit: int) -> int:
    """How many of the best rows `_order` folds and caps first (widened when too few are left)."""
    return max(4 * limit, 64)


def _order(p: Plan, frame: pl.DataFrame, scores: np.ndarray | None, *, ranked: bool) -> pl.DataFrame:
    """Order, collapse versions, cap per field, and cut to the limit. Ranked frames arrive
    best first. The versions folded into each kept row are left in `p.versions`."""
    sort = p.query.options.sort
    score = scores if scores is not None else np.full(frame.height, np.nan)
    frame = frame.with_columns(pl.Series("score", score, dtype=pl.Float64))
    if not ranked:
        if sort is None:
            frame = frame.sort(["popularity", "artist", "title"], descending=[True, False, False], nulls_last=True)
        else:
            frame = frame.sort(sort.field, descending=sort.descending, nulls_last=True, maintain_order=True)
    # Collapse and cap only as far down the ranking as the limit needs: a window of the best
    # rows, widened while folding and capping leave fewer than the limit. (Keeping the first
    # row of each song is decided by the rows above it alone, so a window's answer is the
    # whole frame's answer for those rows.)
    window = _window(p.limit)
    while True:
        shaped, also = _shape(p, frame.head(window))
        if shaped.height >= p.limit or window >= frame.height:
            break
        window *= 4
    frame = shaped.head(p.limit)
    p.versions = also
    if sort is not None and ranked:
        frame = frame.sort(sort.field, descending=sort.descending, nulls_last=True, maintain_order=True)
    return frame
