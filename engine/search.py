"""Query -> plan -> results.

A plan says what executes each part of a query:
- the filter is split into SQL that LanceDB can evaluate (`FilterCompiler.split`)
  and predicates evaluated in memory after retrieval;
- similarity terms are resolved to seed rows and become centroids in one space;
- the executor is "memory" (a filter mask over the snapshot and one
  matrix-vector product) unless the query is filter-only, the in-memory
  snapshot is not loaded yet and the pushed-down filter is selective, in which
  case LanceDB fetches every matching row and the rest runs on those rows.
Neither executor truncates before post-filtering, so no query returns fewer
rows than exist.

Distance (lower is better), for like targets c_l (+1) and unlike targets (-1),
with per-dimension weights w:   D(z) = sum_l s_l * sum_j w_j (z_j - c_lj)^2
and `score` = -D / (number of like/unlike terms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from attune.query import Like, Not, Query, QueryError, TextMatch, render
from attune.query.ast import And, Expr

from .filters import FilterCompiler, leaves
from .masks import MaskEvaluator
from .results import Results
from .snapshot import Snapshot, prepare
from .store import LibraryError

if TYPE_CHECKING:
    from .library import Library

DEFAULT_LIMIT = 50
#: A filter-only query goes to LanceDB when the snapshot is cold and at most this many rows match.
LANCE_MAX_ROWS = 20_000


class NotAvailableError(LibraryError):
    title = "not available"


@dataclass
class Target:
    """A resolved like/unlike term."""

    like: Like
    rows: np.ndarray
    label: str
    sign: int
    notes: list[str] = field(default_factory=list)
    #: Attribute fields a free-text target named; distance is measured on those alone (None: all).
    dims: frozenset[str] | None = None


@dataclass
class Plan:
    query: Query
    text: str
    space: str
    sql: str | None
    post: list[Expr]
    targets: list[Target]
    exclude: np.ndarray
    limit: int
    executor: str
    notes: list[str] = field(default_factory=list)
    snapshot: Snapshot | None = field(default=None, repr=False)
    compiler: FilterCompiler | None = field(default=None, repr=False)

    def describe(self) -> str:
        lines = [f"query:      {render(self.query) or '(everything)'}"]
        where = render(self.query.where) if self.query.where is not None else "(none)"
        if self.executor == "lance":
            lines.append("executor:   lance (filter-only query, snapshot not loaded, selective filter)")
            lines.append(f"LanceDB filter:   {self.sql}")
            if self.post:
                lines.append("after retrieval:  " + " AND ".join(render(p) for p in self.post))
        else:
            lines.append("executor:   memory (filter mask over the in-memory snapshot)")
            lines.append(f"filter:     {where}")
            if self.query.where is not None:
                lines.append(f"  SQL part: {self.sql or '(none)'}")
                if self.post:
                    lines.append("  not SQL:  " + " AND ".join(render(p) for p in self.post))
        if self.targets:
            lines.append(f"space:      {self.space} (whitened squared distance)")
            for t in self.targets:
                lines.append(f"  {'+' if t.sign > 0 else '-'} {t.label} ({len(t.rows)} seed tracks)")
            lines.append(f"  seeds excluded from results: {len(self.exclude)}")
        opts = self.query.options
        order = f"{'-' if opts.sort.descending else ''}{opts.sort.field}" if opts.sort else ("distance" if self.targets else "-popularity")
        lines.append(f"order:      {order}")
        lines.append(f"limit:      {self.limit}" + (f", at most {opts.per.count} per {opts.per.field}" if opts.per else ""))
        if opts.weights:
            lines.append("weights:    " + ", ".join(f"{w.field}x{w.value:g}" for w in opts.weights))
        lines += [f"note:       {n}" for n in self.notes]
        return "\n".join(lines)


def plan(
    lib: "Library",
    query: Query,
    text: str = "",
    *,
    limit: int | None = None,
    snapshot: Snapshot | None = None,
    executor: str | None = None,
) -> Plan:
    """Compile a parsed query. `executor` forces "memory" or "lance" (tests compare them)."""
    snap = snapshot
    if snap is None and (lib._snapshot is not None or query.likes or executor == "memory"):
        snap = lib.snapshot()
    playlists = snap.playlists if snap is not None else {p.name: p for p in lib.playlists.all()}
    compiler = FilterCompiler(playlists, text)
    sql, post = compiler.split(query.where)
    space = query.options.space or "attr"
    limit = effective_limit(query.options.limit, limit)
    if executor is None:
        executor = "memory"
        if snap is None and sql is not None:
            if lib.store.tables["tracks"].count_rows(sql) <= LANCE_MAX_ROWS:
                executor = "lance"
    elif executor == "lance" and query.likes:
        raise ValueError("the lance executor runs filter-only queries")
    if executor == "memory" and snap is None:
        snap = lib.snapshot()
    targets, exclude = [], np.zeros(0, dtype=np.int64)
    if query.likes:
        assert snap is not None
        targets = [_resolve(lib, snap, like, text) for like in query.likes]
        exclude = _seeds_to_exclude(snap, query, targets)
    notes = [n for t in targets for n in t.notes]
    return Plan(query, text, space, sql, post, targets, exclude, limit, executor, notes, snapshot=snap, compiler=compiler)


def effective_limit(asked: int | None, cap: int | None) -> int:
    """How many rows a search returns: the query's own `limit:` (else DEFAULT_LIMIT when
    the caller gives no cap), never more than the caller's cap.

    A front end's `limit=N` is a ceiling, so `limit:20` with `limit=100000` gives 20,
    and a query without `limit:` gives up to N.
    """
    if asked is None:
        return cap or DEFAULT_LIMIT
    return min(asked, cap) if cap else asked


def _resolve(lib: "Library", snap: Snapshot, like: Like, text: str) -> Target:
    sign = -1 if like.unlike else 1
    pos = like.span.start if like.span else 0
    if like.kind == "text":
        from .ask import text_rows

        try:
            rows, read_as, notes, dims = text_rows(lib, snap, like.target)
        except QueryError as exc:
            raise QueryError(exc.message, query=text, position=pos, hint=exc.hint) from None
        label = f'text("{like.target}" read as {read_as}, {len(rows)} tracks'
        label += f"; distance over {', '.join(sorted(dims))})" if dims else ")"
        return Target(like, rows, label, sign, notes, dims)
    if like.kind == "playlist":
        low = like.target.lower()
        for name, p in snap.playlists.items():
            if name.lower() == low or p.playlist_id == like.target:
                return Target(like, snap.playlist_rows(name), f'playlist("{name}")', sign)
        raise lib.unknown_name_error("playlist", like.target, snap.playlists, text, pos)
    if like.kind == "artist":
        index = snap.text_index("artist")
        rows = np.flatnonzero(index.rows_where(index.matching("exact", like.target)))
        if len(rows) == 0:
            raise lib.unknown_name_error("artist", like.target, snap.artists(), text, pos)
        return Target(like, rows, f'artist("{like.target}")', sign)
    row = snap.row_of_id(like.target)
    if row is None:
        for field_name in ("path", "title"):
            index = snap.text_index(field_name)
            rows = np.flatnonzero(index.rows_where(index.matching("exact", like.target)))
            if field_name == "title" and len(rows) > 1:
                ids = snap.frame["track_id"].gather(rows[:3]).to_list()
                raise QueryError(
                    f"{len(rows)} tracks are titled '{like.target}'",
                    query=text,
                    position=pos,
                    hint="name the track by its id: " + ", ".join(ids),
                )
            if len(rows):
                row = int(rows[0])
                break
    if row is None:
        raise QueryError(f"no track with id, path or title '{like.target}'", query=text, position=pos)
    return Target(like, np.array([row], dtype=np.int64), f'track("{snap.frame["track_id"][row]}")', sign)


def _seeds_to_exclude(snap: Snapshot, query: Query, targets: list[Target]) -> np.ndarray:
    """Seed tracks of like-terms are left out unless the filter itself asks for them.

    A positive `playlist:` term keeps a playlist's own tracks, a positive
    `artist:` term keeps an artist's. Unlike-targets are always left out.
    """
    asked = {leaf.field for leaf in leaves(query.where) if isinstance(leaf, TextMatch)}
    # A text target's tracks are what the words asked for, not seeds to leave out.
    keep = {"playlist": "playlist" in asked, "artist": "artist" in asked, "track": False, "text": True}
    rows = [t.rows for t in targets if t.sign < 0 or not keep.get(t.like.kind, False)]
    return np.unique(np.concatenate(rows)) if rows else np.zeros(0, dtype=np.int64)


def run(
    lib: "Library",
    query: Query,
    text: str = "",
    *,
    limit: int | None = None,
    snapshot: Snapshot | None = None,
    executor: str | None = None,
) -> Results:
    p = plan(lib, query, text, limit=limit, snapshot=snapshot, executor=executor)
    if p.executor == "lance":
        return _run_lance(lib, p)
    snap = p.snapshot
    assert snap is not None
    compiler = p.compiler
    assert compiler is not None
    mask = MaskEvaluator(snap, compiler).mask(query.where)
    if p.targets:
        return _rank(snap, p, mask, compiler)
    # Order on a narrow frame of the matching rows, then fetch whole rows for the top only.
    opts = query.options
    needed = {"_row", "popularity", "artist", "title"}
    needed |= {opts.sort.field} if opts.sort else set()
    needed |= {"genres" if opts.per.field == "genre" else opts.per.field} if opts.per else set()
    narrow = snap.frame.select([c for c in snap.frame.columns if c in needed])[np.flatnonzero(mask)]
    ordered = _order(p, narrow, None, ranked=False)
    return Results(snap.frame[ordered["_row"].to_numpy()].with_columns(ordered["score"]), p, compiler)


def _run_lance(lib: "Library", p: Plan) -> Results:
    from .library import SCALAR_COLUMNS

    table = lib.store.read("tracks", SCALAR_COLUMNS, where=p.sql)
    compiler = p.compiler  # holds the playlists the plan was compiled against
    assert compiler is not None
    frame = prepare(pl.from_arrow(table), list(compiler.playlists.values()))  # type: ignore[arg-type]
    for node in p.post:
        frame = frame.filter(compiler.expr(node).fill_null(False))
    return _finish(p, frame, None, compiler)


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


def distances(z: np.ndarray, sqnorm: np.ndarray, centres: list[tuple], w: np.ndarray | None) -> np.ndarray:
    """D(z) = sum_l s_l * sum_j w_j m_lj (z_j - c_lj)^2 for every row, in one matrix-vector product.

    A centre is (s_l, c_l) or (s_l, c_l, m_l); m_l (0/1 per dimension) limits a
    target to the dimensions it speaks about (a free-text target that named
    only valence and tempo), and is all ones when absent.
    """
    d = _partial_distances(z, sqnorm, centres, w)
    d += np.float32(_distance_constant(centres, w))
    return d


def weighted_centres(centres: list[tuple], w: np.ndarray | None, dims: int) -> tuple[list[tuple], bool]:
    """(s_l, c_l, w * m_l) for each centre (m_l all ones when absent), and whether any had m_l."""
    base = np.ones(dims, dtype=np.float32) if w is None else w.astype(np.float32)
    out = [(c[0], c[1], base if len(c) < 3 or c[2] is None else base * c[2]) for c in centres]
    return out, any(len(c) > 2 and c[2] is not None for c in centres)


def _partial_distances(z, sqnorm, centres, w) -> np.ndarray:
    """D minus its constant term: the same order, one pass less (float32, in place)."""
    parts, masked = weighted_centres(centres, w, z.shape[1])
    lin = sum(s * wl * c for s, c, wl in parts).astype(np.float32)
    d = z @ (-2.0 * lin).astype(np.float32)
    if masked:
        d += (z * z) @ sum(s * wl for s, _, wl in parts).astype(np.float32)
        return d
    total = sum(s for s, _, _ in parts)
    if total:
        base = sqnorm if w is None else (z * z) @ w.astype(np.float32)
        d += np.float32(total) * base if total != 1 else base
    return d


def _distance_constant(centres, w) -> float:
    if not centres:
        return 0.0
    parts, _ = weighted_centres(centres, w, len(centres[0][1]))
    return float(sum(s * float((wl * c) @ c) for s, c, wl in parts))


def _dimension_mask(space, target: Target) -> np.ndarray | None:
    """0/1 per dimension for a target that names some attribute dimensions (attr space only)."""
    if target.dims is None or space.name != "attr":
        return None
    mask = np.array([d in target.dims or (d.startswith("genre:") and "genre" in target.dims) for d in space.dims], dtype=np.float32)
    return mask if mask.any() else None


def _rank(snap: Snapshot, p: Plan, mask: np.ndarray, compiler: FilterCompiler) -> Results:
    try:
        space = snap.space(p.space)
    except KeyError:
        raise LibraryError(f"unknown space '{p.space}'") from None
    if space.z.shape[1] == 0 or not space.has.any():
        raise NotAvailableError(
            f"no track in this library has a vector in the {p.space} space"
            + ("; index audio files with `attune index` first" if p.space == "audio" else "")
        )
    centres = []
    for t in p.targets:
        rows = t.rows[space.has[t.rows]]
        if len(rows) == 0:
            raise NotAvailableError(f"none of the tracks of {t.label} has a vector in the {p.space} space")
        centre = space.z[rows].mean(axis=0)
        dims = _dimension_mask(space, t)
        centres.append((t.sign, centre) if dims is None else (t.sign, centre, dims))
    w = _weights(space.dims, p.query)
    d = _partial_distances(space.z, space.sqnorm, centres, w)
    eligible = mask & space.has
    eligible[p.exclude] = False
    if not space.has.all() and (unranked := int((mask & ~space.has).sum())):
        p.notes.append(f"{unranked} matching tracks have no {p.space} vector and could not be ranked")
    d[~eligible] = np.inf
    order = _top(d, int(eligible.sum()), p, snap)
    picked = snap.frame[order]
    scores = -(d[order].astype(np.float64) + _distance_constant(centres, w)) / len(centres)
    results = _finish(p, picked, scores, compiler, ranked=True)
    results.centres, results.weights, results.space = centres, w, space
    return results


def _top(d: np.ndarray, eligible: int, p: Plan, snap: Snapshot) -> np.ndarray:
    """Rows of the smallest finite d, best first, enough to fill the limit after per:."""
    want = p.limit * (4 if p.query.options.per else 1)
    while True:
        k = min(want, eligible)
        order = smallest(d, k)
        if k == eligible or not p.query.options.per or _apply_per(snap.frame[order], p).height >= p.limit:
            return order
        want *= 4


def smallest(d: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k smallest values of d, sorted; exact.

    A threshold from a strided sample keeps the partial sort to a few thousand
    candidates instead of every row; when too few pass it, all rows are used.
    """
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    n = len(d)
    if n > 50_000 and k < n // 100:
        sample = d[:: max(1, n // 20_000)]
        sample = sample[np.isfinite(sample)]
        if len(sample) >= 100:
            share = len(sample) / len(d[:: max(1, n // 20_000)])  # finite share of all rows
            threshold = np.quantile(sample, min(1.0, 4.0 * k / (n * share) + 0.001))
            candidates = np.flatnonzero(d <= threshold)
        else:
            candidates = np.zeros(0, dtype=np.int64)
        if len(candidates) >= k:
            part = candidates[np.argpartition(d[candidates], k - 1)[:k]]
            return part[np.argsort(d[part], kind="stable")]
    part = np.argpartition(d, k - 1)[:k] if k < n else np.arange(n)
    return part[np.argsort(d[part], kind="stable")]


def _apply_per(frame: pl.DataFrame, p: Plan) -> pl.DataFrame:
    per = p.query.options.per
    if per is None:
        return frame
    key = pl.col("genres").list.first() if per.field == "genre" else pl.col(per.field)
    return frame.filter(pl.int_range(pl.len()).over(key) < per.count)


def _finish(p: Plan, frame: pl.DataFrame, scores: np.ndarray | None, compiler: FilterCompiler, *, ranked: bool = False) -> Results:
    return Results(_order(p, frame, scores, ranked=ranked), p, compiler)


def _order(p: Plan, frame: pl.DataFrame, scores: np.ndarray | None, *, ranked: bool) -> pl.DataFrame:
    """Order, cap per field, and cut to the limit. Ranked frames arrive best first."""
    sort = p.query.options.sort
    score = scores if scores is not None else np.full(frame.height, np.nan)
    frame = frame.with_columns(pl.Series("score", score, dtype=pl.Float64))
    if not ranked:
        if sort is None:
            frame = frame.sort(["popularity", "artist", "title"], descending=[True, False, False], nulls_last=True)
        else:
            frame = frame.sort(sort.field, descending=sort.descending, nulls_last=True, maintain_order=True)
    frame = _apply_per(frame, p).head(p.limit)
    if sort is not None and ranked:
        frame = frame.sort(sort.field, descending=sort.descending, nulls_last=True, maintain_order=True)
    return frame
