"""Playlist expansion (Patwari et al., ISMIR 2020, section 3.3.2): tracks to add to a playlist.

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
from dataclasses import dataclass

import numpy as np
import polars as pl
from attune.query import parse
from attune.query.ast import Expr

from ..execution import NumpyBackend, PlaylistMatcher, PolarsBackend
from ..search import Plan, Results, centroid, distance_to, largest
from ..spaces import sound_space, space, vectors_missing
from ..storage import Playlist, Snapshot
from .recipe import Recipe, derive_recipe

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
    z, sq = sound_space(snap)
    proximity = np.exp(-distance_to(z, sq, centroid(z, rows)) / (2.0 * max(z.shape[1], 1)))
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
    if vectors_missing(snap, "colisten"):
        return np.zeros(len(snap))
    colisten = space(snap, "colisten")
    seeds = rows[colisten.has[rows]]
    if not len(seeds):
        return np.zeros(len(snap))
    d = distance_to(colisten.z, colisten.sqnorm, centroid(colisten.z, seeds))
    return np.where(colisten.has, np.exp(-d / (2.0 * colisten.z.shape[1])), 0.0)


def expansion_score(parts: ExpansionParts, weights: dict[str, float] | None = None) -> np.ndarray:
    """The documented expansion score; tracks outside the pool get -inf."""
    w = WEIGHTS | (weights or {})
    score = sum(w[name] * getattr(parts, name) for name in WEIGHTS)
    return np.where(parts.pool, score, -np.inf)


def expand(snap: Snapshot, playlist: Playlist, *, limit: int = 50) -> Results:
    """Tracks to add to a playlist, best first, each explained."""
    recipe = derive_recipe(snap, playlist)
    parts = expansion_parts(snap, playlist, recipe, limit=limit)
    score = expansion_score(parts)
    top = largest(score, limit)
    frame = snap.gather(top).with_columns(pl.Series("score", score[top], dtype=pl.Float64))
    recipe.relaxed = parts.relaxed
    query = parse(str(recipe))
    notes = [f"recipe: {recipe}"] + [f"relaxed: {r}" for r in parts.relaxed]
    plan = Plan(query=query, text=str(recipe), space="attr", sql=None, post=[], targets=[],
                exclude=np.zeros(0, dtype=np.int64), limit=limit, executor="memory", notes=notes, snapshot=snap)
    results = Results(frame, plan, PolarsBackend(PlaylistMatcher(snap.playlists), str(recipe)))
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
