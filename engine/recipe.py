"""Playlist recipes and expansion (Patwari et al., ISMIR 2020, section 3.3.2).

A recipe summarises a playlist in the query language: its top genres covering
80% of the cumulative genre frequency, the mean +/- one standard deviation of
energy, valence, vocalness and tempo, its ten most frequent artists and its
release years. `str(recipe)` is a query a curator can copy, edit and run.

Expansion ranks every track not in the playlist:

1. The recipe's constraints pick a candidate pool. When fewer than
   POOL_FACTOR x limit tracks satisfy them all, they are relaxed one step at a
   time (ranges widen to 1.5, 2 and 3 standard deviations, then the artist
   list, the year range and the genres are dropped) and each relaxation is
   reported.
2. Within the pool, score = sum of WEIGHTS[part] * part, with parts
   - same_artist:  1 when the playlist has a track by the candidate's artist,
   - artist_share: the share of the playlist's tracks by that artist (0..1),
   - same_album:   1 when the playlist has a track from the candidate's album,
   - proximity:    exp(-d / (2 * dims)), d the whitened squared distance to the
                   playlist's centroid over the sound attributes (genres already
                   act through the pool),
   - year:         exp(-|year - median year| / max(std of years, 1)),
   - popularity:   popularity / 100 (0 when unknown).
The weights were chosen on the dev playlists with `attune eval expand`;
bench/README.md and the issue note give the figures.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from attune.query import And, Like, Options, Query, Range, TextMatch, render

from .snapshot import Playlist, Snapshot

RECIPE_ATTRIBUTES = ("energy", "valence", "vocalness", "tempo")
GENRE_COVERAGE = 0.8
TOP_ARTISTS = 10

POOL_FACTOR = 20
WIDENINGS = (1.0, 1.5, 2.0, 3.0)
#: Weights of the expansion score's parts (see the module docstring).
WEIGHTS = {
    "same_artist": 1.0,
    "artist_share": 1.0,
    "same_album": 0.5,
    "proximity": 0.5,
    "year": 0.3,
    "popularity": 0.5,
}


@dataclass
class Recipe:
    playlist: str
    size: int
    genres: list[str]
    stats: dict[str, tuple[float, float]]  # attribute -> (mean, std)
    artists: list[str]
    years: tuple[int, int] | None
    relaxed: list[str] = field(default_factory=list)

    def ranges(self, widen: float = 1.0) -> dict[str, tuple[float, float]]:
        """attribute -> (low, high) = mean -/+ widen * std, rounded outwards."""
        out = {}
        for attr, (mean, std) in self.stats.items():
            digits = 1 if attr == "tempo" else 3
            scale = 10**digits
            low = math.floor((mean - widen * std) * scale) / scale
            high = math.ceil((mean + widen * std) * scale) / scale
            bounds = (0.0, None) if attr == "tempo" else (0.0, 1.0)
            low = max(low, bounds[0])
            high = min(high, bounds[1]) if bounds[1] is not None else high
            out[attr] = (low, high)
        return out

    def query(self, *, widen: float = 1.0, artists: bool = True, years: bool = True, genres: bool = True) -> Query:
        terms = []
        if genres and self.genres:
            terms.append(TextMatch("genre", tuple(self.genres), "exact"))
        for attr, (low, high) in self.ranges(widen).items():
            terms.append(Range(attr, low, high))
        if years and self.years:
            terms.append(Range("year", float(self.years[0]), float(self.years[1])))
        if artists and self.artists:
            terms.append(TextMatch("artist", tuple(self.artists), "exact"))
        where = And(tuple(terms)) if len(terms) > 1 else (terms[0] if terms else None)
        return Query(where, (Like("playlist", self.playlist),), Options())

    def __str__(self) -> str:
        return render(self.query())


def derive_recipe(snap: Snapshot, playlist: Playlist) -> Recipe:
    rows = snap.playlist_rows(playlist.name)
    tracks = snap.frame[rows]
    counts: Counter[str] = Counter(g.lower() for gs in tracks["genres"].to_list() for g in gs or ())
    genres, covered, total = [], 0, sum(counts.values())
    for genre, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if total and covered >= GENRE_COVERAGE * total:
            break
        genres.append(genre)
        covered += n
    stats = {}
    for attr in RECIPE_ATTRIBUTES:
        values = tracks[attr].drop_nulls().drop_nans() if tracks[attr].dtype.is_float() else tracks[attr].drop_nulls()
        if len(values):
            stats[attr] = (float(values.mean()), float(values.std(ddof=0)))  # type: ignore[arg-type]
    artist_counts = Counter(a for a in tracks["artist"].to_list() if a)
    artists = [a for a, _ in sorted(artist_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_ARTISTS]]
    years = tracks["year"].drop_nulls()
    span = (int(years.min()), int(years.max())) if len(years) else None  # type: ignore[arg-type]
    return Recipe(playlist.name, len(rows), genres, stats, artists, span)


# -- expansion ---------------------------------------------------------------------------


def satisfied(frame: pl.DataFrame, recipe: Recipe, widen: float, use: dict[str, bool]) -> np.ndarray:
    """(N, C) matrix: which constraint each track meets (C = genre, ranges..., year, artist)."""
    cols = []
    if use["genre"] and recipe.genres:
        # A track with no genre is unknown: it passes (its fit is judged on the rest).
        genres = frame["_genres"]
        pattern = "\n(" + "|".join(re.escape(g) for g in recipe.genres) + ")\n"
        cols.append((genres.str.contains(pattern) | (genres == "\n\n")).to_numpy())
    for attr, (low, high) in recipe.ranges(widen).items():
        cols.append(frame[attr].is_between(low, high).fill_null(False).to_numpy())
    if use["year"] and recipe.years:
        cols.append(frame["year"].is_between(*recipe.years).fill_null(False).to_numpy())
    if use["artist"] and recipe.artists:
        cols.append(frame["_artist"].is_in([a.lower() for a in recipe.artists]).to_numpy())
    return np.column_stack(cols) if cols else np.ones((frame.height, 1), dtype=bool)


def _relaxation_steps():
    """(widen, use-flags, label) from strict to loose."""
    use = {"genre": True, "year": True, "artist": True}
    for widen in WIDENINGS:
        yield widen, dict(use), (f"ranges widened to +/-{widen:g} std" if widen > 1 else None)
    for name in ("artist", "year", "genre"):
        use[name] = False
        yield WIDENINGS[-1], dict(use), f"{name} constraint dropped"


@dataclass
class ExpansionParts:
    """The score's components for every track (for evaluation and explanation)."""

    same_artist: np.ndarray  # 1 when the playlist has a track by this artist
    artist_share: np.ndarray  # share of the playlist's tracks by this artist
    same_album: np.ndarray  # 1 when the playlist has a track from this album
    proximity: np.ndarray
    year: np.ndarray
    popularity: np.ndarray
    pool: np.ndarray
    relaxed: list[str]


def _shares(keys: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For every row, the share of `rows` that have the same key (empty keys never match)."""
    counts = Counter(k for k in keys[rows] if k)
    n = max(len(rows), 1)
    return np.array([counts.get(k, 0) / n if k else 0.0 for k in keys])


def expansion_parts(snap: Snapshot, playlist: Playlist, recipe: Recipe, *, limit: int) -> ExpansionParts:
    frame = snap.frame
    rows = snap.playlist_rows(playlist.name)
    outside = np.ones(frame.height, dtype=bool)
    outside[rows] = False
    artists = frame["_artist"].to_numpy()
    albums = (frame["_artist"] + "\x1f" + frame["album"].fill_null("").str.to_lowercase()).to_numpy()
    albums[frame["album"].is_null().to_numpy()] = ""
    share = _shares(artists, rows)
    # Proximity over the sound attributes; genres enter through the recipe's pool.
    space = snap.space("attr")
    sound = np.array([not d.startswith("genre:") for d in space.dims])
    z = space.z[:, sound]
    centre = z[rows].mean(axis=0) if len(rows) else np.zeros(z.shape[1], dtype=np.float32)
    d = np.einsum("ij,ij->i", z, z) - 2.0 * (z @ centre) + float(centre @ centre)
    proximity = np.exp(-np.maximum(d, 0) / (2.0 * max(z.shape[1], 1)))
    years = frame["year"].cast(pl.Float64).to_numpy()
    known = years[rows][~np.isnan(years[rows])]
    if len(known):
        spread = max(float(known.std()), 1.0)
        year = np.exp(-np.abs(years - float(np.median(known))) / spread)
        year = np.where(np.isnan(year), math.exp(-1), year)
    else:
        year = np.full(frame.height, math.exp(-1))
    popularity = (frame["popularity"].fill_null(0).fill_nan(0).to_numpy() / 100.0).clip(0, 1)
    relaxed: list[str] = []
    for widen, use, label in _relaxation_steps():
        if label:
            relaxed.append(label)
        pool = outside & satisfied(frame, recipe, widen, use).all(axis=1)
        if pool.sum() >= POOL_FACTOR * limit:
            break
    else:
        relaxed.append("every constraint dropped")
        pool = outside
    return ExpansionParts(
        (share > 0).astype(float), share, (_shares(albums, rows) > 0).astype(float), proximity, year, popularity, pool, relaxed
    )


def expansion_score(parts: ExpansionParts, weights: dict[str, float] | None = None) -> np.ndarray:
    """The documented expansion score; tracks outside the pool get -inf."""
    w = WEIGHTS | (weights or {})
    score = sum(w[name] * getattr(parts, name) for name in WEIGHTS)
    return np.where(parts.pool, score, -np.inf)


def expand(snap: Snapshot, playlist: Playlist, *, limit: int = 50):
    """Tracks to add to a playlist, best first, each explained."""
    from attune.query import parse

    from .filters import FilterCompiler
    from .results import Results
    from .search import Plan

    recipe = derive_recipe(snap, playlist)
    parts = expansion_parts(snap, playlist, recipe, limit=limit)
    score = expansion_score(parts)
    candidates = np.flatnonzero(np.isfinite(score))
    k = min(limit, len(candidates))
    top = candidates[np.argsort(-score[candidates], kind="stable")[:k]]
    frame = snap.frame[top].with_columns(pl.Series("score", score[top], dtype=pl.Float64))
    recipe.relaxed = parts.relaxed
    query = parse(str(recipe))
    notes = [f"recipe: {recipe}"] + [f"relaxed: {r}" for r in parts.relaxed]
    plan = Plan(query, str(recipe), "attr", None, [], [], np.zeros(0, dtype=np.int64), limit, "memory", notes)
    results = Results(frame, plan, FilterCompiler(snap.playlists))
    results.extra_explanations = [
        {
            "why": (
                f"artist share {parts.artist_share[i]:.2f}, same album {parts.same_album[i]:.0f}, "
                f"proximity {parts.proximity[i]:.2f}, year fit {parts.year[i]:.2f}, "
                f"popularity {parts.popularity[i] * 100:.0f}"
            )
        }
        for i in top
    ]
    results.recipe = recipe
    return results
