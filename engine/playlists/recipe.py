"""Playlist recipes (Patwari et al., ISMIR 2020, section 3.3.2).

A recipe summarises a playlist in the query language: its top genres covering
80% of the cumulative genre frequency, the mean +/- one standard deviation of
energy, valence, vocalness and tempo, its ten most frequent artists and its
release years, the curator's steering (`include` and `exclude` filters) and the
cap on tracks per artist that spreads the list (`per:artist=N`). `str(recipe)` is a
query a curator can copy, edit and run.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from attune.query import And, Like, Not, Options, PerLimit, Query, Range, TextMatch, render
from attune.query.ast import Expr
from attune.query.walk import conjuncts

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
    #: Steering: candidates must meet `include` and must not meet `exclude` (filters of the language).
    include: Expr | None = None
    exclude: Expr | None = None
    #: At most this many tracks per artist in an expansion (None: no cap).
    per_artist: int | None = None
    #: Discovery: every artist of the playlist, whom candidates must not be by (None: off).
    avoid_artists: list[str] | None = None

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
        if self.include is not None:
            lines.append(f"include:       {render(self.include)}")
        if self.exclude is not None:
            lines.append(f"exclude:       {render(self.exclude)}")
        if self.avoid_artists is not None:
            lines.append(f"discover:      none of its {len(self.avoid_artists)} artists")
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
        if self.avoid_artists:
            terms.append(("artist", Not(TextMatch("artist", tuple(self.avoid_artists), "exact"))))
        elif artists and self.artists:
            terms.append(("artist", TextMatch("artist", tuple(self.artists), "exact")))
        return terms

    def steering(self) -> list[Expr]:
        """The curator's include and exclude filters, as filter terms."""
        out = conjuncts(self.include)
        return out + ([Not(self.exclude)] if self.exclude is not None else [])

    def query(self, **relax: Any) -> Query:
        terms = tuple(term for _, term in self.constraints(**relax)) + tuple(self.steering())
        where = And(terms) if len(terms) > 1 else (terms[0] if terms else None)
        per = PerLimit("artist", self.per_artist) if self.per_artist else None
        return Query(where, (Like("playlist", self.playlist),), Options(per=per))

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
