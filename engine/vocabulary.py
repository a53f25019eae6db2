"""What one library can answer in plain words: its genres, tags, names and fields.

Built once per snapshot (cached on it) for `ask`: genre and tag counts, a
dictionary of folded artist / album / title names (accents, case, punctuation
and a leading "the" ignored) with a word -> artist index for partial names,
the numeric fields that have values, and the newest year.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from . import genres as genre_names
from . import lexicon

if TYPE_CHECKING:
    from .snapshot import Snapshot


def fold(text: str) -> str:
    """Lower case without accents or punctuation other than '&': how names are compared."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch if (ch.isalnum() or ch == "&") else " " for ch in text if not unicodedata.combining(ch))
    return " ".join(text.split())



@dataclass
class Vocabulary:
    """What one library can answer, built once per snapshot."""

    genres: dict[str, int]  # genre (lower case) -> tracks
    genre_keys: dict[str, str]  # genres.key -> genre
    tags: dict[str, int]
    names: dict[str, tuple[str, str, int]]  # folded name -> (field, name as written, tracks)
    artist_keys: dict[str, list[str]]  # first letter -> folded artist names
    fields_with_values: frozenset[str]
    newest_year: int | None
    artist_words: dict[str, frozenset[str]] = field(default_factory=dict)  # word -> folded artist names
    model_tags: frozenset[str] = frozenset()  # the installed backbones' tags (meta "model_tags")

    @classmethod
    def of(cls, snap: "Snapshot") -> "Vocabulary":
        cached = snap._numbers.get("ask/vocabulary")
        if cached is None:
            cached = snap._numbers["ask/vocabulary"] = cls._build(snap)
        return cached

    @classmethod
    def _build(cls, snap: "Snapshot") -> "Vocabulary":
        def counts(field_name: str) -> dict[str, int]:
            index = snap.text_index(field_name)
            n = np.bincount(index.codes, minlength=len(index.values))
            return {v: int(c) for v, c in zip(index.values.to_list(), n) if v}

        genres = counts("genre")
        keys = {genre_names.key(g): g for g in genre_names.GENRES}
        keys.update({genre_names.key(g): g for g in genres})
        keys.update({k: g for k, g in genre_names.ALIASES.items() if k not in keys})
        names: dict[str, tuple[str, str, int]] = {}
        for field_name in ("title", "album", "artist"):  # artist last: it wins a tie
            column = snap.frame[field_name].drop_nulls()
            frame = pl.DataFrame({"v": column}).group_by("v").len().sort("v")
            for value, n in frame.iter_rows():
                for k in {fold(value), fold(re.sub(r"^the\s+", "", value, flags=re.I))}:
                    # one-word titles and albums ("Home", "No") would swallow ordinary words
                    if k and (field_name == "artist" or " " in k):
                        names[k] = (field_name, value, int(n))
        artists: dict[str, list[str]] = {}
        for k, (f, _, _) in names.items():
            if f == "artist":
                artists.setdefault(k[0], []).append(k)
        present = frozenset(
            c for c in snap.frame.columns
            if snap.frame.schema[c].is_numeric() and snap.frame[c].null_count() < snap.frame.height
        )
        years = snap.frame["year"].drop_nulls()
        words: dict[str, set[str]] = {}
        for k, (f, _, _) in names.items():
            if f == "artist":
                for w in k.split():
                    if len(w) >= 3 and w not in lexicon.STOPWORDS:
                        words.setdefault(w, set()).add(k)
        return cls(genres, keys, counts("tag"), names, artists, present, int(years.max()) if len(years) else None,
                   {w: frozenset(v) for w, v in words.items()})
