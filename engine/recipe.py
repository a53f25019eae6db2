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
   - popularity:   popularity / 100 (0 when unknown),
   - colisten:     exp(-d / (2 * dims)) with d the whitened squared distance to
                   the playlist's centroid in the co-listen space (Word2Vec over
                   the library's playlists); 0 for tracks in no playlist. Its
                   weight is 0 by default (see WEIGHTS).
The weights were chosen on the dev playlists with `attune eval expand`;
bench/README.md and the issue note give the figures.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from attune.query import And, Like, Options, Query, Range, TextMatch, render
from attune.query.ast import Expr

from .filters import FilterCompiler
from .masks import MaskEvaluator
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
    # Off by default: on the dev playlists it adds +0.000 / +0.002 recall@100, while the first
    # expansion after a playlist change would train the co-listen space (24 s and about 1 GB
    # more at 1M tracks). `attune eval expand` reports it with weight 0.5 every run.
    "colisten": 0.0,
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
    #: The genre cluster the playlist sits in: its top genre and the genres LSI relates to it.
    cluster: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The recipe in words, for people; `str(recipe)` is the query."""
        lines = [f"recipe of '{self.playlist}' ({self.size} tracks)"]
        if self.cluster:
            lines.append("genre cluster: " + " / ".join(self.cluster) + " (related by LSI over the library's tags)")
        if self.genres:
            lines.append("top genres:    " + ", ".join(self.genres))
        for attr, (mean, std) in self.stats.items():
            lines.append(f"{attr + ':':<15}mean {mean:.3g}, spread {std:.3g}")
        if self.years:
            lines.append(f"years:         {self.years[0]}-{self.years[1]}")
        if self.artists:
            lines.append("artists:       " + ", ".join(self.artists))
        lines.append(f"query:         {self}")
        return "\n".join(lines)

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

    def constraints(self, *, widen: float = 1.0, artists: bool = True, years: bool = True, genres: bool = True) -> list[tuple[str, Expr]]:
        """(name, filter) for each constraint of the recipe, strict at widen=1."""
        terms: list[tuple[str, Expr]] = []
        if genres and self.genres:
            terms.append(("genre", TextMatch("genre", tuple(self.genres), "exact")))
        for attr, (low, high) in self.ranges(widen).items():
            terms.append((attr, Range(attr, low, high)))
        if years and self.years:
            terms.append(("year", Range("year", float(self.years[0]), float(self.years[1]))))
        if artists and self.artists:
            terms.append(("artist", TextMatch("artist", tuple(self.artists), "exact")))
        return terms

    def query(self, **relax: Any) -> Query:
        terms = tuple(term for _, term in self.constraints(**relax))
        where = And(terms) if len(terms) > 1 else (terms[0] if terms else None)
        return Query(where, (Like("playlist", self.playlist),), Options())

    def __str__(self) -> str:
        return render(self.query())


def derive_recipe(snap: Snapshot, playlist: Playlist) -> Recipe:
    rows = snap.playlist_rows(playlist.name)
    tracks = snap.frame[np.sort(rows)]
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


class ConstraintMasks:
    """Row masks of a recipe's constraints, each evaluated once however often relaxed."""

    def __init__(self, snap: Snapshot, recipe: Recipe) -> None:
        self.snap = snap
        self.recipe = recipe
        self.evaluator = MaskEvaluator(snap, FilterCompiler(snap.playlists))
        self._cache: dict[Expr, np.ndarray] = {}

    def each(self, widen: float, use: dict[str, bool]) -> list[np.ndarray]:
        """One mask per constraint. A track with no genre passes the genre constraint
        (it is unknown there; its fit is judged on the rest)."""
        out = []
        for name, term in self.recipe.constraints(widen=widen, artists=use["artist"], years=use["year"], genres=use["genre"]):
            if term not in self._cache:
                mask = self.evaluator.mask(term)
                self._cache[term] = mask | self.snap.genre_unknown() if name == "genre" else mask
            out.append(self._cache[term])
        return out

    def all(self, widen: float, use: dict[str, bool]) -> np.ndarray:
        out = np.ones(len(self.snap), dtype=bool)
        for mask in self.each(widen, use):
            out &= mask
        return out


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
    colisten: np.ndarray
    pool: np.ndarray
    relaxed: list[str]


def expansion_parts(snap: Snapshot, playlist: Playlist, recipe: Recipe, *, limit: int, colisten: bool | None = None) -> ExpansionParts:
    """The score's parts; the co-listen part is computed only when it is weighted (or asked for)."""
    n = len(snap)
    rows = snap.playlist_rows(playlist.name)
    outside = np.ones(n, dtype=bool)
    outside[rows] = False
    artist = snap.text_index("artist")
    counts = np.bincount(artist.codes[rows], minlength=len(artist.values)).astype(float)
    counts[(artist.values == "").to_numpy()] = 0.0  # no artist is nobody's artist
    share = counts[artist.codes] / max(len(rows), 1)
    album = snap.text_index("album")
    album_key = artist.codes * len(album.values) + album.codes
    named = ~(album.values == "").to_numpy()[album.codes]
    same_album = np.isin(album_key, album_key[rows][named[rows]]) & named
    # Proximity over the sound attributes; genres enter through the recipe's pool.
    z, sq = snap.sound_space()
    centre = z[rows].mean(axis=0) if len(rows) else np.zeros(z.shape[1], dtype=np.float32)
    d = sq - 2.0 * (z @ centre) + float(centre @ centre)
    proximity = np.exp(-np.maximum(d, 0) / (2.0 * max(z.shape[1], 1)))
    years = snap.numbers("year")
    known = years[rows][~np.isnan(years[rows])]
    year = np.full(n, math.exp(-1))
    if len(known):
        spread = max(float(known.std()), 1.0)
        close = np.exp(-np.abs(years - float(np.median(known))) / spread)
        year = np.where(np.isnan(close), math.exp(-1), close)
    popularity = np.nan_to_num(snap.numbers("popularity") / 100.0).clip(0, 1)
    relaxed: list[str] = []
    masks = ConstraintMasks(snap, recipe)
    for widen, use, label in _relaxation_steps():
        if label:
            relaxed.append(label)
        pool = outside & masks.all(widen, use)
        if pool.sum() >= POOL_FACTOR * limit:
            break
    else:
        relaxed.append("every constraint dropped")
        pool = outside
    use_colisten = WEIGHTS["colisten"] > 0 if colisten is None else colisten
    colisten_part = colisten_proximity(snap, rows) if use_colisten else np.zeros(n)
    return ExpansionParts((share > 0).astype(float), share, same_album.astype(float), proximity, year, popularity, colisten_part, pool, relaxed)


def colisten_proximity(snap: Snapshot, rows: np.ndarray) -> np.ndarray:
    """exp(-d / (2 * dims)) in the whitened co-listen space; 0 without a vector (or no playlists)."""
    if snap.vectors_missing("colisten"):
        return np.zeros(len(snap))
    space = snap.space("colisten")
    seeds = rows[space.has[rows]]
    if not len(seeds):
        return np.zeros(len(snap))
    centre = space.z[seeds].mean(axis=0)
    d = space.sqnorm - 2.0 * (space.z @ centre) + float(centre @ centre)
    return np.where(space.has, np.exp(-np.maximum(d, 0) / (2.0 * space.z.shape[1])), 0.0)


def expansion_score(parts: ExpansionParts, weights: dict[str, float] | None = None) -> np.ndarray:
    """The documented expansion score; tracks outside the pool get -inf."""
    w = WEIGHTS | (weights or {})
    score = sum(w[name] * getattr(parts, name) for name in WEIGHTS)
    return np.where(parts.pool, score, -np.inf)


def expand(snap: Snapshot, playlist: Playlist, *, limit: int = 50):
    """Tracks to add to a playlist, best first, each explained."""
    from attune.query import parse

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
                f"proximity {parts.proximity[i]:.2f}, "
                + (f"co-listen {parts.colisten[i]:.2f}, " if WEIGHTS["colisten"] else "")
                + f"year fit {parts.year[i]:.2f}, "
                f"popularity {parts.popularity[i] * 100:.0f}"
            )
        }
        for i in top
    ]
    results.recipe = recipe
    return results
