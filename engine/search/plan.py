"""Query -> plan: what executes each part of a query.

- the filter is split into SQL that LanceDB can evaluate (`SqlBackend.split`) and
  predicates evaluated after retrieval;
- similarity terms are resolved to seed rows (`targets.py`) and become centres in one space;
- the executor is "memory" (a numpy filter mask over the snapshot and one
  matrix-vector product) unless the query is filter-only, the in-memory snapshot is not
  loaded yet and the pushed-down filter is selective, in which case LanceDB fetches
  every matching row and the rest runs on those rows (polars).
Neither executor truncates before post-filtering, so no query returns fewer rows than exist.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from attune.query import Query, QueryError, render, timestamp
from attune.query.ast import Expr
from attune.query.walk import normalize

from ..errors import NotAvailableError
from ..execution import PlaylistMatcher, SqlBackend
from ..storage import Playlist, Snapshot, Store
from .targets import Target, resolve, seeds_to_exclude

DEFAULT_LIMIT = 50
#: Every search stops with a QueryTimeout past this many seconds (ATTUNE_QUERY_SECONDS).
QUERY_SECONDS = float(os.environ.get("ATTUNE_QUERY_SECONDS", "30"))
#: A filter-only query goes to LanceDB when the snapshot is cold and at most this many rows match.
LANCE_MAX_ROWS = 20_000


@dataclass
class Source:
    """Where a search reads tracks from; the library facade provides one.

    `snapshot()` gives the in-memory snapshot (loading it when needed); `loaded` is the
    snapshot if it is in memory already; `store` and `playlists()` let a filter-only
    query on a cold library run in LanceDB without loading the snapshot.
    """

    snapshot: Callable[[], Snapshot]
    loaded: Snapshot | None = None
    store: Store | None = None
    playlists: Callable[[], dict[str, Playlist]] | None = None
    model_tags: frozenset[str] = frozenset()
    #: (snapshot, space) -> the space served from its LanceDB index, when the library is over
    #: its memory budget (`spaces.served`), else None (the in-memory space).
    served: Callable[[Snapshot, str], object | None] | None = None
    #: Why a space that is over the budget is still in memory (no index yet), by space.
    budget_notes: Callable[[str], list[str]] | None = None

    @classmethod
    def of(cls, snap: Snapshot, *, model_tags: frozenset[str] = frozenset()) -> Source:
        return cls(lambda: snap, snap, model_tags=model_tags)


def effective_limit(asked: int | None, cap: int | None) -> int:
    """How many rows a search returns: the query's own `limit:` (else DEFAULT_LIMIT when
    the caller gives no cap), never more than the caller's cap.

    A front end's `limit=N` is a ceiling, so `limit:20` with `limit=100000` gives 20,
    and a query without `limit:` gives up to N.
    """
    if asked is None:
        return cap or DEFAULT_LIMIT
    return min(asked, cap) if cap else asked


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
    matcher: PlaylistMatcher | None = field(default=None, repr=False)
    #: The filter as executed: `query.where` normalised (NOT pushed down, And/Or flattened).
    where: Expr | None = None
    #: time.monotonic() past which the search stops (QueryTimeout).
    deadline: float | None = None
    #: Versions of a song folded into a result row, by the kept row's `_row` (titles).
    versions: dict[int, list[str]] = field(default_factory=dict)
    #: How the rows are ordered when it is not the query's own order (expansion's score).
    ordering: str | None = None
    #: The space served from LanceDB (`spaces.served.ServedSpace`), None: in memory.
    served: object | None = None
    #: How the served space found its rows (filled in by the search).
    served_how: str | None = None

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
        if self.targets and self.served is not None:
            st = self.served.state  # type: ignore[attr-defined]
            lines.append(f"space:      {self.space} (whitened squared distance), served from LanceDB: the library is over "
                         f"its memory budget")
            lines.append(f"  index:    IVF_FLAT over {st.rows:,} tracks, {st.partitions} partitions, nprobes {st.nprobes}, "
                         f"built {st.built_at[:19]} (whitening as of then)")
            lines.append("  path:     " + (self.served_how or "IVF index for broad filters; exact over the passing tracks "
                                           "for filters that pass few"))
        elif self.targets or self.query.path is not None:
            lines.append(f"space:      {self.space} (whitened squared distance)")
        for t in self.targets:
            lines.append(f"  {'+' if t.sign > 0 else '-'} {t.label} ({len(t.rows)} seed tracks)")
        if self.targets:
            lines.append(f"  seeds excluded from results: {len(self.exclude)}")
        opts = self.query.options
        order = f"{'-' if opts.sort.descending else ''}{opts.sort.field}" if opts.sort else ("distance" if self.targets else "-popularity")
        lines.append(f"order:      {self.ordering or order}")
        lines.append(f"limit:      {self.limit}" + (f", at most {opts.per.count} per {opts.per.field}" if opts.per else ""))
        if opts.weights:
            lines.append("weights:    " + ", ".join(f"{w.field}x{w.value:g}" for w in opts.weights))
        lines += [f"note:       {n}" for n in self.notes]
        return "\n".join(lines)


def plan(source: Source | Snapshot, query: Query, text: str = "", *, limit: int | None = None, executor: str | None = None) -> Plan:
    """Compile a parsed query. `executor` forces "memory" or "lance" (tests compare them)."""
    deadline = time.monotonic() + QUERY_SECONDS
    source = source if isinstance(source, Source) else Source.of(source)
    snap = source.loaded
    if snap is None and (query.likes or executor == "memory" or source.store is None):
        snap = source.snapshot()
    playlists = snap.playlists if snap is not None else (source.playlists() if source.playlists else {})
    matcher = PlaylistMatcher(playlists)
    inherited = snap.inherits_genres if snap is not None else any(p.genres for p in playlists.values())
    where = normalize(query.where)
    sql, post = SqlBackend(matcher, text, genres_inherited=inherited).split(where)
    passage = next((like for like in query.likes if like.at is not None), None)
    if passage is not None and query.options.space not in (None, "audio"):
        raise QueryError(f"a passage (@ {timestamp(passage.at)}) is measured in the audio space, not in:{query.options.space}",
                         query=text, position=passage.span.start if passage.span else 0,
                         hint=f"drop in:{query.options.space}")  # type: ignore[arg-type]
    space = query.options.space or ("audio" if passage is not None else "attr")
    limit = effective_limit(query.options.limit, limit)
    if executor is None:
        executor = "memory"
        if snap is None and sql is not None and source.store is not None:
            if source.store.count("tracks", sql) <= LANCE_MAX_ROWS:
                executor = "lance"
    elif executor == "lance" and query.likes:
        raise ValueError("the lance executor runs filter-only queries")
    if executor == "memory" and snap is None:
        snap = source.snapshot()
    targets: list[Target] = []
    exclude = np.zeros(0, dtype=np.int64)
    if query.likes:
        assert snap is not None
        targets = [resolve(snap, like, text, model_tags=source.model_tags) for like in query.likes]
        exclude = seeds_to_exclude(where, targets)
    notes = [n for t in targets for n in t.notes]
    served = None
    if query.likes and source.served is not None:
        assert snap is not None
        served = source.served(snap, space)
        if served is not None and passage is not None:
            raise NotAvailableError("passages need the audio space in memory, and this library is over its memory budget "
                                    "(raise ATTUNE_MEMORY_BUDGET)")
        if served is not None:
            notes += list(served.notes)  # type: ignore[attr-defined]
            if snap.key is not None and served.state.playlists_version not in (-1, snap.key.playlists):  # type: ignore[attr-defined]
                notes.append(f"the playlists changed since the {space} index was built; "
                             + ("its positions, whitening and cold-start mapping are those of then (`attune optimize` "
                                "learns them again)" if space == "colisten" else
                                "its whitening is the one of then (`attune optimize` refits it)"))
        elif source.budget_notes is not None:
            notes += source.budget_notes(space)
    if space == "colisten":
        notes += [f"{t.label} in the co-listen space: artists that share playlists with it come first"
                  for t in targets if t.like.kind == "artist"]
    return Plan(query, text, space, sql, post, targets, exclude, limit, executor, notes, snapshot=snap, matcher=matcher,
                where=where, deadline=deadline, served=served)
