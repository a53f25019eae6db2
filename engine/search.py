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
    playlists = snap.playlists if snap is not None else {p.name: p for p in lib.playlists.all()}
    compiler = FilterCompiler(playlists, text)
    sql, post = compiler.split(query.where)
    space = query.options.space or "attr"
    limit = limit or query.options.limit or DEFAULT_LIMIT
    if query.likes and space == "colisten":
        raise NotAvailableError("the co-listen space (in:colisten) is not available yet; use in:attr or in:audio")
    if executor is None:
        executor = "memory"
        if not query.likes and snap is None and lib._snapshot is None and sql is not None:
            if lib.store.tables["tracks"].count_rows(sql) <= LANCE_MAX_ROWS:
                executor = "lance"
    elif executor == "lance" and query.likes:
        raise ValueError("the lance executor runs filter-only queries")
    targets, exclude = [], np.zeros(0, dtype=np.int64)
    if query.likes:
        snap = snap or lib.snapshot()
        targets = [_resolve(lib, snap, like, text) for like in query.likes]
        exclude = _seeds_to_exclude(snap, query, targets)
    return Plan(query, text, space, sql, post, targets, exclude, limit, executor)


def _resolve(lib: "Library", snap: Snapshot, like: Like, text: str) -> Target:
    sign = -1 if like.unlike else 1
    pos = like.span.start if like.span else 0
    if like.kind == "text":
        raise NotAvailableError(
            f'free-text similarity (like:"{like.target}") is not available yet; '
            "use like:playlist(...), like:track(...) or like:artist(...)"
        )
    if like.kind == "playlist":
        low = like.target.lower()
        for name, p in snap.playlists.items():
            if name.lower() == low or p.playlist_id == like.target:
                return Target(like, snap.playlist_rows(name), f'playlist("{name}")', sign)
        raise lib.unknown_name_error("playlist", like.target, snap.playlists, text, pos)
    frame = snap.frame
    if like.kind == "artist":
        rows = frame.filter(pl.col("_artist") == like.target.lower())["_row"].to_numpy()
        if len(rows) == 0:
            raise lib.unknown_name_error("artist", like.target, snap.artists(), text, pos)
        return Target(like, rows.astype(np.int64), f'artist("{like.target}")', sign)
    hit = frame.filter((pl.col("track_id") == like.target) | (pl.col("path") == like.target))
    if hit.height == 0:
        hit = frame.filter(pl.col("_title") == like.target.lower())
        if hit.height > 1:
            raise QueryError(
                f"{hit.height} tracks are titled '{like.target}'",
                query=text,
                position=pos,
                hint="name the track by its id: " + ", ".join(hit["track_id"].head(3).to_list()),
            )
    if hit.height == 0:
        raise QueryError(f"no track with id, path or title '{like.target}'", query=text, position=pos)
    return Target(like, hit["_row"].to_numpy().astype(np.int64), f'track("{hit["track_id"][0]}")', sign)


def _seeds_to_exclude(snap: Snapshot, query: Query, targets: list[Target]) -> np.ndarray:
    """Seed tracks of like-terms are left out unless the filter itself asks for them.

    A positive `playlist:` term keeps a playlist's own tracks, a positive
    `artist:` term keeps an artist's. Unlike-targets are always left out.
    """
    asked = {leaf.field for leaf in leaves(query.where) if isinstance(leaf, TextMatch)}
    keep = {"playlist": "playlist" in asked, "artist": "artist" in asked, "track": False}
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
    snap = snapshot or lib.snapshot()
    compiler = FilterCompiler(snap.playlists, text)
    frame = snap.frame
    mask = np.ones(frame.height, dtype=bool)
    if query.where is not None:
        mask = frame.select(compiler.expr(query.where).fill_null(False)).to_series().to_numpy()
    if p.targets:
        return _rank(snap, p, mask, compiler)
    picked = frame.filter(pl.Series(mask))
    return _finish(p, picked, None, compiler, snap)


def _run_lance(lib: "Library", p: Plan) -> Results:
    from .library import SCALAR_COLUMNS

    table = lib.store.read("tracks", SCALAR_COLUMNS, where=p.sql)
    playlists = lib.playlists.all()
    frame = prepare(pl.from_arrow(table), playlists)  # type: ignore[arg-type]
    compiler = FilterCompiler({pl_.name: pl_ for pl_ in playlists}, p.text)
    for node in p.post:
        frame = frame.filter(compiler.expr(node).fill_null(False))
    return _finish(p, frame, None, compiler, None)


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


def distances(z: np.ndarray, sqnorm: np.ndarray, centres: list[tuple[int, np.ndarray]], w: np.ndarray | None) -> np.ndarray:
    """D(z) = sum_l s_l * sum_j w_j (z_j - c_lj)^2 for every row, in one matrix-vector product."""
    total = sum(s for s, _ in centres)
    if w is None:
        lin = sum(s * c for s, c in centres)
        const = sum(s * float(c @ c) for s, c in centres)
        return total * sqnorm - 2.0 * (z @ lin.astype(np.float32)) + const
    lin = sum(s * w * c for s, c in centres)
    const = sum(s * float((w * c) @ c) for s, c in centres)
    base = (z * z) @ w if total else 0.0
    return total * base - 2.0 * (z @ lin.astype(np.float32)) + const


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
        centres.append((t.sign, space.z[rows].mean(axis=0)))
    w = _weights(space.dims, p.query)
    d = distances(space.z, space.sqnorm, centres, w)
    eligible = mask & space.has
    eligible[p.exclude] = False
    if mask.sum() > eligible.sum() and not space.has.all():
        p.notes.append(f"{int((mask & ~space.has).sum())} matching tracks have no {p.space} vector and could not be ranked")
    order = _top(d, eligible, p, snap)
    picked = snap.frame[order]
    scores = -d[order] / len(centres)
    results = _finish(p, picked, scores, compiler, snap, ranked=True)
    results.centres, results.weights, results.space = centres, w, space
    return results


def _top(d: np.ndarray, eligible: np.ndarray, p: Plan, snap: Snapshot) -> np.ndarray:
    """Row indices of the best eligible rows, best first, enough to fill the limit after per:."""
    candidates = np.flatnonzero(eligible)
    want = p.limit * (4 if p.query.options.per else 1)
    while True:
        k = min(want, len(candidates))
        part = candidates[np.argpartition(d[candidates], k - 1)[:k]] if 0 < k < len(candidates) else candidates
        order = part[np.argsort(d[part], kind="stable")]
        if k == len(candidates) or not p.query.options.per:
            return order
        if _apply_per(snap.frame[order], p).height >= p.limit:
            return order
        want *= 4


def _apply_per(frame: pl.DataFrame, p: Plan) -> pl.DataFrame:
    per = p.query.options.per
    if per is None:
        return frame
    key = pl.col("genres").list.first() if per.field == "genre" else pl.col(per.field)
    return frame.filter(pl.int_range(pl.len()).over(key) < per.count)


def _finish(p: Plan, frame: pl.DataFrame, scores: np.ndarray | None, compiler: FilterCompiler, snap, *, ranked: bool = False) -> Results:
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
    return Results(frame, p, compiler)
