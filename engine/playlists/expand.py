"""Playlist expansion (Patwari et al., ISMIR 2020, section 3.3.2): tracks to add to a playlist,
a mix of more by the playlist's own artists and artists it does not have yet.

1. Pools. The recipe's constraints (genres, attribute ranges, years, the curator's
   include/exclude) pick candidates. When fewer than POOL_FACTOR x limit tracks meet
   them all they are relaxed a step at a time (ranges widen to 1.5, 2 and 3 standard
   deviations, then the artist list, the year range and the genres are dropped) and each
   step is reported. Candidates by artists the playlist lacks are pooled the same way
   without the artist list.
2. Two scores, each a weighted sum of parts (all 0..1):
   - own artists:  OWN_WEIGHTS over artist_share (the share of the playlist's tracks by
     the candidate's artist), same_album, proximity, year, popularity and artist_rank;
   - new artists:  NEW_WEIGHTS over related (how much the candidate's artist shares other
     playlists with the playlist's artists, damped for artists that are everywhere:
     `related.py`), proximity, year, popularity, artist_rank and names (how close the
     candidate's title, album and artist are, as character n-grams, to the playlist's
     tracks': `words/names.py`; the language and the words of a scene) and same_song (1
     for another artist's version of a song the playlist has: a cover, or a remix credited
     to the remixer; weighted down), the last two computed for the NAMES_FACTOR x limit
     best candidates by the other parts;
   with proximity = exp(-d / (2 * dims)), d the whitened squared distance to the
   playlist's centroid over the sound attributes; year = exp(-|year - median| /
   max(std, 1)); popularity / 100; artist_rank = 1 / (1 + the candidate's rank among its
   artist's tracks by popularity); colisten (weight 0 by default) the same closeness in
   the co-listen space.
3. The list. DISCOVERY_SHARE of the places go to new artists and the rest to the
   playlist's own, interleaved evenly; at most `per:artist` tracks per
   artist (the recipe's cap, shown in its query and editable; at most NEW_PER_ARTIST of
   it for a new artist; no cap at all when it is off). `discover=True` lists only artists the playlist lacks. Versions of one song
   (live, remaster, edit) collapse to one row (`search/versions.py`).

The weights were fitted on the dev playlists (logistic regression of "this hidden track
was in the playlist" on the parts, fitted on half the playlists and checked on the other
half; features that reveal a track's own playlist memberships were left out, because the
hold-out protocol makes "in no other playlist" a give-away there: the co-listen part is
one, as a track in no visible playlist has no co-listen vector) and rounded;
`attune eval expand` reports the result next to the baselines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from attune.query import parse
from attune.query.ast import Expr

from ..execution import NumpyBackend, PlaylistMatcher, PolarsBackend
from ..search import Plan, Results, centroid, distance_to, largest
from ..search.versions import collapse_versions, song_title
from ..spaces import sound_rows, space, vectors_missing
from ..spaces.related import related_artists
from ..storage import Key, Playlist, Snapshot
from ..words.names import Fields, closeness, fields_of
from .recipe import Recipe, derive_recipe

POOL_FACTOR = 20
WIDENINGS = (1.0, 1.5, 2.0, 3.0)
#: Weights of the score of candidates by the playlist's own artists.
OWN_WEIGHTS = {"artist_share": 5.0, "same_album": 1.2, "proximity": 0.1, "year": 1.8, "popularity": -1.3,
               "artist_rank": 2.0, "colisten": 0.0}
#: Weights of the score of candidates by artists the playlist does not have.
NEW_WEIGHTS = {"related": 2.5, "proximity": 2.0, "year": 1.8, "popularity": -0.6, "artist_rank": 1.2, "names": 12.0,
               "same_song": -5.0, "colisten": 0.0}
#: New-artist candidates whose names are compared with the playlist's: the NAMES_FACTOR x
#: limit best by the other parts.
NAMES_FACTOR = 10
#: Share of an expansion's places kept for artists the playlist does not have.
DISCOVERY_SHARE = 0.3
#: The default cap on tracks per artist (the recipe's `per:artist=N`), and for new artists.
PER_ARTIST = 5
NEW_PER_ARTIST = 2
DISCOVER_PER_ARTIST = 3

_ARTIST_RANK = Key[np.ndarray]("playlists.expand.artist_rank", "tracks")


class ConstraintMasks:
    """Row masks of a recipe's constraints, each evaluated once however often relaxed."""

    def __init__(self, snap: Snapshot, recipe: Recipe) -> None:
        self.snap = snap
        self.recipe = recipe
        self.evaluator = NumpyBackend(snap)
        self._cache: dict[Expr, np.ndarray] = {}

    def each(self, widen: float, use: dict[str, bool]) -> list[np.ndarray]:
        """One mask per constraint. A track with no genre passes the genre constraint
        (it is unknown there; its fit is judged on the rest)."""
        out = []
        terms = self.recipe.constraints(widen=widen, artists=use["artist"], years=use["year"], genres=use["genre"])
        for name, term in terms + [("steering", t) for t in self.recipe.steering()]:
            if term not in self._cache:
                mask = self.evaluator.mask(term)
                self._cache[term] = mask | self.snap.genre_unknown() if name == "genre" else mask
            out.append(self._cache[term])
        return out

    def steering(self) -> np.ndarray:
        """Rows that meet the curator's include and exclude filters (all rows without any)."""
        out = np.ones(len(self.snap), dtype=bool)
        for term in self.recipe.steering():
            if term not in self._cache:
                self._cache[term] = self.evaluator.mask(term)
            out &= self._cache[term]
        return out

    def all(self, widen: float, use: dict[str, bool]) -> np.ndarray:
        out = np.ones(len(self.snap), dtype=bool)
        for mask in self.each(widen, use):
            out &= mask
        return out


def _relaxation_steps(*, artists: bool = True):
    """(widen, use-flags, label) from strict to loose."""
    use = {"genre": True, "year": True, "artist": artists}
    for widen in WIDENINGS:
        yield widen, dict(use), (f"ranges widened to +/-{widen:g} std" if widen > 1 else None)
    for name in ("artist", "year", "genre"):
        if use[name]:
            use[name] = False
            yield WIDENINGS[-1], dict(use), f"{name} constraint dropped"


def _pool(masks: ConstraintMasks, outside: np.ndarray, want: int, *, artists: bool) -> tuple[np.ndarray, list[str]]:
    """The candidates of the first relaxation step with at least `want` of them, and the
    steps taken. Each step's pool holds the one before it, so the first step with enough
    is found by bisection: about three steps' masks evaluated instead of up to seven (a
    range mask over a million tracks takes milliseconds)."""
    steps = list(_relaxation_steps(artists=artists))
    pools: dict[int, np.ndarray] = {}

    def enough(i: int) -> bool:
        widen, use, _ = steps[i]
        pools[i] = outside & masks.all(widen, use)
        return int(pools[i].sum()) >= want

    lo, hi = 0, len(steps)  # the first enough step is in [lo, hi]; hi: none is
    while lo < hi:
        mid = (lo + hi) // 2
        if enough(mid):
            hi = mid
        else:
            lo = mid + 1
    labels = [label for _, _, label in steps[: lo + 1] if label]
    if lo < len(steps):
        return pools[lo], labels
    return outside & masks.steering(), [*labels, "every constraint but the include/exclude filters dropped"]


class AtRows:
    """A part of the scores at some rows (sorted), 0 at every other: the parts are computed
    for the pools' rows only, and at 10M tracks ten full-length float arrays would take
    800 MB. Indexed by rows like the full array would be."""

    def __init__(self, at: np.ndarray, values: np.ndarray) -> None:
        self.at = at
        self.values = np.asarray(values, dtype=np.float64)

    def __getitem__(self, rows):
        scalar = np.ndim(rows) == 0
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        place = np.minimum(np.searchsorted(self.at, rows), max(len(self.at) - 1, 0))
        found = self.at[place] == rows if len(self.at) else np.zeros(len(rows), dtype=bool)
        out = np.where(found, self.values[place] if len(self.at) else 0.0, 0.0)
        return float(out[0]) if scalar else out


@dataclass
class ExpansionParts:
    """The scores' components for every track (for ranking, evaluation and explanation)."""

    same_artist: np.ndarray  # (every row) True when the playlist has a track by this artist
    # The rest at the pools' rows only (AtRows):
    artist_share: AtRows  # share of the playlist's tracks by this artist
    same_album: AtRows  # 1 when the playlist has a track from this album
    proximity: AtRows
    year: AtRows
    popularity: AtRows
    artist_rank: AtRows  # 1 / (1 + rank among the artist's tracks by popularity)
    related: AtRows  # the artist's relatedness to the playlist's artists (0 for its own)
    names: AtRows  # closeness of the names to the playlist's (0 outside the best new candidates)
    same_song: AtRows  # 1 for another artist's version of a song the playlist has (the best new candidates)
    colisten: AtRows
    pool: np.ndarray  # candidates by the playlist's own artists, within the recipe (relaxed over all artists)
    pool_new: np.ndarray  # candidates by other artists, within the recipe without its artist list
    relaxed: list[str]
    own: np.ndarray = field(init=False)  # by one of the playlist's artists

    def __post_init__(self) -> None:
        self.own = self.same_artist > 0
        self._scores: dict[tuple, tuple] = {}

    def scores(self, weights: dict[str, float] | None = None) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """((rows, score) by own artists, (rows, score) by new artists) under these weights,
        each computed once."""
        key = tuple(sorted((weights or {}).items()))
        if key not in self._scores:
            self._scores[key] = (own_score(self, {k: v for k, v in (weights or {}).items() if k in OWN_WEIGHTS}),
                                 new_score(self, {k: v for k, v in (weights or {}).items() if k in NEW_WEIGHTS}))
        return self._scores[key]


def expansion_parts(snap: Snapshot, playlist: Playlist, recipe: Recipe, *, limit: int, colisten: bool | None = None) -> ExpansionParts:
    """The scores' parts; the co-listen part is computed only when it is weighted (or asked
    for). The pools come first, and the parts are computed for their rows only (elsewhere
    they are 0): at a million tracks that is a few thousand rows, not all of them."""
    n = len(snap)
    rows = snap.playlist_rows(playlist.name)
    outside = np.ones(n, dtype=bool)
    outside[rows] = False
    artist = snap.text_index("artist")
    counts = np.bincount(artist.codes[rows], minlength=len(artist.values)).astype(float)
    counts[(artist.values == "").to_numpy()] = 0.0  # no artist is nobody's artist
    by_own = counts > 0
    own_artist = by_own[artist.codes]
    masks = ConstraintMasks(snap, recipe)
    pool, relaxed = _pool(masks, outside, POOL_FACTOR * limit, artists=True)
    pool &= own_artist
    pool_new, relaxed_new = _pool(masks, outside & ~own_artist, POOL_FACTOR * limit, artists=False)
    del masks  # a mask per constraint and widening, 10 MB each at 10M tracks: not needed past the pools
    relaxed = [f"{r} (the playlist's artists)" for r in relaxed] + [f"{r} (new artists)" for r in relaxed_new]
    at = np.flatnonzero(pool | pool_new)
    codes = artist.codes[at]

    def spread(values: np.ndarray) -> AtRows:
        return AtRows(at, values)

    share = spread(counts[codes] / max(len(rows), 1))
    same_album = spread(_same_album(snap, at, rows))
    # Proximity over the sound attributes; genres enter through the recipe's pool.
    z, seeds = sound_rows(snap, at), sound_rows(snap, rows)
    centre = centroid(seeds, np.arange(len(seeds)))
    proximity = spread(np.exp(-distance_to(z, np.einsum("ij,ij->i", z, z), centre) / (2.0 * max(z.shape[1], 1))))
    years = snap.numbers("year")  # float32 over the memory budget: the rows' as float64
    seed_years, years = years[rows].astype(np.float64), years[at].astype(np.float64)
    known = seed_years[~np.isnan(seed_years)]
    year = spread(np.full(len(at), math.exp(-1)))
    if len(known):
        close = np.exp(-np.abs(years - float(np.median(known))) / max(float(known.std()), 1.0))
        year = spread(np.where(np.isnan(close), math.exp(-1), close))
    popularity = spread(np.nan_to_num(snap.numbers("popularity")[at].astype(np.float64) / 100.0).clip(0, 1))
    related = spread(np.where(by_own[codes], 0.0, related_artists(snap, counts / max(counts.sum(), 1.0), playlist.name)[codes]))
    use_colisten = (OWN_WEIGHTS["colisten"] or NEW_WEIGHTS["colisten"]) > 0 if colisten is None else colisten
    colisten_part = spread(colisten_proximity(snap, rows)[at] if use_colisten else np.zeros(len(at)))
    ranks = spread(artist_rank(snap, at))
    # Names are compared for the best new candidates by the other parts only.
    names, same_song = np.zeros(len(at)), np.zeros(len(at))
    new_rows = np.flatnonzero(pool_new)
    if len(new_rows):
        places = np.searchsorted(at, new_rows)  # the new candidates are among the pools' rows
        other = {"related": related, "proximity": proximity, "year": year, "popularity": popularity, "artist_rank": ranks}
        before = sum((NEW_WEIGHTS[k] * v.values[places] for k, v in other.items()), np.zeros(len(new_rows)))
        best = np.sort(new_rows[largest(before, NAMES_FACTOR * limit)])
        place = np.searchsorted(at, best)
        fields = fields_of(snap, np.concatenate([best, rows]))  # one take for both parts
        names[place] = closeness(snap, best, rows, fields=fields)
        same_song[place] = _same_songs(best, rows, fields)
    return ExpansionParts(own_artist, share, same_album, proximity, year, popularity,
                          ranks, related, spread(names), spread(same_song), colisten_part, pool, pool_new, relaxed)


def _same_songs(rows: np.ndarray, seeds: np.ndarray, fields: Fields) -> np.ndarray:
    """1 where the row's title names a song the seeds have (its cover, or a remix credited
    to the remixer: "Song - X Remix" is "song"), by `versions.song_title`."""
    songs = {song_title(t or "") for t in fields(seeds)["title"].to_list()} - {""}
    titles = fields(rows)["title"].to_list()
    return np.array([song_title(t or "") in songs for t in titles], dtype=float)


def _same_album(snap: Snapshot, rows: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Whether each row's (artist, album) pair, the album named, is one of the seeds': for
    these rows only (a code per pair for every track took 340 MB at its peak at 10M)."""
    artist, album = snap.tracks.text_index("artist"), snap.tracks.text_index("album")
    named = ~(album.values == "").to_numpy()

    def pairs(at: np.ndarray) -> np.ndarray:
        return artist.codes[at].astype(np.int64) * max(len(album.values), 1) + album.codes[at]

    keep = named[album.codes[seeds]]
    return np.isin(pairs(rows), pairs(seeds[keep])) & named[album.codes[rows]]


def artist_rank(snap: Snapshot, rows: np.ndarray | None = None) -> np.ndarray:
    """1 / (1 + each track's rank among its artist's tracks by popularity): 1 for an
    artist's most popular track, 1/2 for the next, and so on (of these rows; None: all).
    The ranks are kept as int32 (40 MB at 10M tracks). Built with 32-bit places throughout
    (two stable sorts, by popularity and then by artist, as `np.lexsort` orders them): at
    10M tracks its peak was 313 MB with lexsort's 64-bit places and np.repeat, 191 MB now."""

    def build() -> np.ndarray:
        codes = snap.tracks.text_index("artist").codes
        n = len(codes)
        if not n:
            return np.zeros(0, dtype=np.int32)
        key = np.nan_to_num(snap.numbers("popularity"), nan=-1.0)  # a copy: negated in place
        np.negative(key, out=key)
        order = np.argsort(key, kind="stable").astype(np.int32)  # the most popular first, ties in row order
        del key
        order = order[np.argsort(codes[order], kind="stable").astype(np.int32)]  # then by artist, stably
        by_artist = codes[order]
        first = np.empty(n, dtype=bool)  # where an artist's tracks begin
        first[0] = True
        np.not_equal(by_artist[1:], by_artist[:-1], out=first[1:])
        del by_artist
        place = np.arange(n, dtype=np.int32)
        start = np.where(first, place, 0).astype(np.int32, copy=False)
        del first
        np.maximum.accumulate(start, out=start)  # each track's artist's first place
        place -= start
        del start
        rank = np.empty(n, dtype=np.int32)
        rank[order] = place
        return rank

    rank = snap.memo(_ARTIST_RANK, build)
    return 1.0 / (1.0 + (rank if rows is None else rank[rows]))


def colisten_proximity(snap: Snapshot, rows: np.ndarray) -> np.ndarray:
    """exp(-d / (2 * dims)) in the whitened co-listen space; 0 without a vector (or no playlists)."""
    if vectors_missing(snap, "colisten"):
        return np.zeros(len(snap))
    colisten = space(snap, "colisten")
    seeds = rows[colisten.has[rows]]
    if not len(seeds):
        return np.zeros(len(snap))
    d = distance_to(colisten.z, colisten.sqnorm, centroid(colisten.z, seeds))
    return np.where(colisten.has, np.exp(-d / (2.0 * colisten.z.shape[1])), 0.0)


def own_score(parts: ExpansionParts, weights: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, score) of the candidates by the playlist's artists (in its pool)."""
    return _weighted(parts, np.flatnonzero(parts.pool & parts.own), OWN_WEIGHTS | (weights or {}), OWN_WEIGHTS)


def new_score(parts: ExpansionParts, weights: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, score) of the candidates by artists the playlist lacks (in their pool)."""
    return _weighted(parts, np.flatnonzero(parts.pool_new & ~parts.own), NEW_WEIGHTS | (weights or {}), NEW_WEIGHTS)


def _weighted(parts: ExpansionParts, rows: np.ndarray, w: dict[str, float], names) -> tuple[np.ndarray, np.ndarray]:
    """(rows, the weighted sum of these parts at them). The rows are pool rows, and every
    part is held at the pools' rows (`spread`), so their places among them are searched
    for once, not once per part (a million candidates at 10M tracks: 40 ms a search)."""
    places = np.searchsorted(parts.artist_share.at, rows)
    total = np.zeros(len(rows))
    for name in names:
        total += w[name] * getattr(parts, name).values[places]
    return rows, total


def expansion_score(parts: ExpansionParts, weights: dict[str, float] | None = None) -> np.ndarray:
    """One score per track (own artists first, -inf outside the pools): for callers that
    need a single ranking; `rank` is how expansion orders its list."""
    out = np.full(len(parts.own), -np.inf)
    (own_rows, own), (new_rows, new) = parts.scores(weights)
    out[new_rows] = new
    out[own_rows] = 100.0 + own
    return out


def rank(snap: Snapshot, parts: ExpansionParts, *, limit: int, per_artist: int | None = PER_ARTIST,
         discover: bool = False, weights: dict[str, float] | None = None, share: float = DISCOVERY_SHARE) -> np.ndarray:
    """Rows of the expansion, in order (see the module docstring, part 3); `weights`
    changes parts' weights in both scores and `share` the places kept for new artists
    (the evaluation's variants)."""
    codes = snap.text_index("artist").codes
    own_scores, new_scores = parts.scores(weights)
    if discover:
        return _capped(new_scores, codes, limit, per_artist or DISCOVER_PER_ARTIST)
    new_cap = None if per_artist is None else min(per_artist, NEW_PER_ARTIST)
    new = _capped(new_scores, codes, int(round(limit * share)), new_cap)
    own = _capped(own_scores, codes, limit - len(new), per_artist)
    if len(own) + len(new) < limit:  # too few of one kind: the other fills the list
        more_new = _capped(new_scores, codes, limit - len(own), new_cap)
        new = more_new if len(more_new) > len(new) else new
    return _interleave(own, new, limit)


def _capped(scored: tuple[np.ndarray, np.ndarray], codes: np.ndarray, k: int, cap: int | None) -> np.ndarray:
    """The k best-scored rows, at most `cap` per artist code (ties to the lower row).

    A row's place among its artist's rows depends only on the rows scored above it, so the
    capped list of the best m rows (every row tied with the m-th included) is the start of
    the whole one: m grows until that start holds k rows, instead of sorting every
    candidate (a million at 10M tracks)."""
    rows, score = scored
    if k <= 0 or not len(rows):
        return np.zeros(0, dtype=np.int64)
    m = 8 * k * (1 if cap is None else 2)
    while True:
        if m >= len(rows):
            return _capped_all(rows, score, codes, k, cap)
        nth = np.partition(score, len(score) - m)[len(score) - m]
        best = score >= nth  # the best m, and every row tied with the m-th
        picked = _capped_all(rows[best], score[best], codes, k, cap)
        if len(picked) >= k:
            return picked
        m *= 4


def _capped_all(rows: np.ndarray, score: np.ndarray, codes: np.ndarray, k: int, cap: int | None) -> np.ndarray:
    order = rows[np.lexsort((rows, -score))]
    if cap is None:
        return order[:k]
    # a row's place among its artist's rows, in score order
    artist = codes[order]
    by_artist = np.argsort(artist, kind="stable")
    sorted_artist = artist[by_artist]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_artist)) + 1]
    place = np.empty(len(order), dtype=np.int64)
    place[by_artist] = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    return order[place < cap][:k]


def _interleave(own: np.ndarray, new: np.ndarray, limit: int) -> np.ndarray:
    """Own and new in turn, spread evenly (three own, one new for the default share)."""
    out: list[int] = []
    i = j = 0
    while len(out) < limit and (i < len(own) or j < len(new)):
        if j < len(new) and (i >= len(own) or (j + 1) * (len(own) + len(new)) <= (len(out) + 1) * len(new)):
            out.append(int(new[j]))
            j += 1
        else:
            out.append(int(own[i]))
            i += 1
    return np.asarray(out, dtype=np.int64)


def expand(snap: Snapshot, playlist: Playlist, *, limit: int = 50, discover: bool = False,
           include: Expr | None = None, exclude: Expr | None = None, per_artist: int | None = PER_ARTIST,
           versions: bool = False) -> Results:
    """Tracks to add to a playlist, best first, each explained.

    `discover`: only artists the playlist lacks. `include` / `exclude`: filters of the
    language every candidate must meet / must not meet. `per_artist`: the cap on tracks
    per artist (None: no cap). `versions`: keep every version of a song (by default
    live, remastered and edited versions collapse into one row).
    """
    recipe = derive_recipe(snap, playlist)
    recipe.include, recipe.exclude = include, exclude
    recipe.per_artist = (per_artist or DISCOVER_PER_ARTIST) if discover else per_artist
    parts = expansion_parts(snap, playlist, recipe, limit=limit)
    if discover:  # shown in the recipe's query; the ranking already keeps to new artists
        rows = snap.playlist_rows(playlist.name)
        recipe.avoid_artists = sorted({a for a in snap.gather(rows)["artist"].to_list() if a})
    top = rank(snap, parts, limit=limit * 2 if not versions else limit, per_artist=recipe.per_artist, discover=discover)
    frame = snap.gather(top).with_columns(pl.Series("score", _scores_of(parts, top), dtype=pl.Float64))
    why = _why(parts, top)
    frame, also = (frame, {}) if versions else collapse_versions(frame)
    frame = frame.head(limit)
    recipe.relaxed = parts.relaxed
    query = parse(str(recipe))
    notes = [f"recipe: {recipe}"] + [f"relaxed: {r}" for r in parts.relaxed]
    if discover:
        notes.append("discover: only artists the playlist does not have")
    plan = Plan(query=query, text=str(recipe), space="attr", sql=None, post=[], targets=[],
                exclude=np.zeros(0, dtype=np.int64), limit=limit, executor="memory", notes=notes, snapshot=snap)
    results = Results(frame, plan, PolarsBackend(PlaylistMatcher(snap.playlists), str(recipe)))
    plan.versions = also
    plan.ordering = ("expansion score, new artists only" if discover else
                     f"expansion score: the playlist's own artists and new ones in turn ({DISCOVERY_SHARE:.0%} new)")
    results.extra_explanations = [{"why": why[r]} for r in frame["_row"].to_list()]
    results.recipe = recipe
    return results


def _scores_of(parts: ExpansionParts, top: np.ndarray) -> np.ndarray:
    """The score each of these rows was ranked by (each score's rows are sorted)."""
    top = np.asarray(top, dtype=np.int64)
    out = np.full(len(top), np.nan)
    for rows, values in parts.scores():
        if not len(rows):
            continue
        places = np.minimum(np.searchsorted(rows, top), len(rows) - 1)
        here = rows[places] == top
        out[here] = values[places[here]]
    return out


def _why(parts: ExpansionParts, rows: np.ndarray) -> dict[int, str]:
    """Each row's explanation, from its parts (looked up for all the rows at once)."""
    rows = np.asarray(rows, dtype=np.int64)
    v = {name: getattr(parts, name)[rows] for name in ("artist_share", "same_album", "proximity", "year", "popularity",
                                                        "related", "names", "same_song")}
    out = {}
    for k, (row, own) in enumerate(zip(rows.tolist(), parts.own[rows].tolist())):
        if own:
            out[row] = (f"the playlist's artist (share {v['artist_share'][k]:.2f}), same album {v['same_album'][k]:.0f}, "
                        f"proximity {v['proximity'][k]:.2f}, year fit {v['year'][k]:.2f}, popularity {v['popularity'][k] * 100:.0f}")
            continue
        cover = ", another artist's version of a song the playlist has" if v["same_song"][k] else ""
        out[row] = (f"new artist{cover}, related {v['related'][k]:.2f}, names {v['names'][k]:.2f}, proximity {v['proximity'][k]:.2f}, "
                    f"year fit {v['year'][k]:.2f}, popularity {v['popularity'][k] * 100:.0f}")
    return out
