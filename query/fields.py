"""The vocabulary of the query language: field names, option names and values.

The parser validates names against these sets so that a typo is an error with a
suggestion rather than a query that silently matches nothing. A library may
define more numeric attribute columns; callers pass them to `parse(fields=...)`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

TEXT_FIELDS: tuple[str, ...] = ("artist", "album", "title", "genre", "tag", "path", "playlist")

NUMERIC_FIELDS: tuple[str, ...] = (
    "energy",
    "valence",
    "vocalness",
    "tempo",
    "consistency",
    "popularity",
    "year",
    "length",
    "danceability",
    "acousticness",
    "speechiness",
    "instrumentalness",
    "liveness",
    "loudness",
)

SPACES: tuple[str, ...] = ("attr", "audio", "colisten")
OPTIONS: tuple[str, ...] = ("in", "limit", "sort", "per", "weight")
LIKE_KEYWORDS: tuple[str, ...] = ("like", "unlike")
LIKE_TARGETS: tuple[str, ...] = ("playlist", "track", "artist")
KEYWORDS: tuple[str, ...] = ("AND", "OR", "NOT")

#: Fields that `per:FIELD=N` can cap.
PER_FIELDS: tuple[str, ...] = ("artist", "album", "genre", "year")
#: Non-numeric keys `sort:` accepts besides the numeric fields.
SORT_EXTRA: tuple[str, ...] = ("score", "title", "artist", "album", "path")
#: `weight:genre=0.5` scales every genre dimension at once.
WEIGHT_EXTRA: tuple[str, ...] = ("genre",)


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt word, or None when nothing is close."""
    pool = list(dict.fromkeys(candidates))
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered:
        return lowered[word.lower()]
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None
