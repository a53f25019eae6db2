"""Playlist recipes and expansion (Patwari et al., ISMIR 2020, section 3.3.2).

A recipe summarises a playlist in the query language: its top genres covering
80% of the cumulative genre frequency, the mean +/- one standard deviation of
energy, valence, vocalness and tempo, its ten most frequent artists and its
release years. `str(recipe)` is a query a curator can copy, edit and run.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from attune.query import And, Like, Options, Query, Range, TextMatch, render
from attune.query.ast import Expr

from ..storage import Playlist, Snapshot

RECIPE_ATTRIBUTES = ("energy", "valence", "vocalness", "tempo")
GENRE_COVERAGE = 0.8
TOP_ARTISTS = 10


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
    tracks = snap.gather(np.sort(rows))
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
