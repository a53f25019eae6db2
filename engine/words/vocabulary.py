"""What one library can answer in plain words: its genres, tags, names and fields.

Built once per snapshot (cached on it) for `ask`: genre and tag counts, a
dictionary of folded artist / album / title names (accents, case, punctuation
and a leading "the" ignored) with a word -> artist index for partial names,
the numeric fields that have values, and the newest year.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ..storage import Key, Snapshot
from . import genres as genre_names
from . import lexicon


def fold(text: str) -> str:
    """Lower case without accents or punctuation other than '&': how names are compared."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch if (ch.isalnum() or ch == "&") else " " for ch in text if not unicodedata.category(ch).startswith("M"))
    return " ".join(text.split())




@dataclass
class Vocabulary:
    """What one library can answer, built once per snapshot."""

    genres: dict[str, int]  # genre (lower case) -> tracks
    genre_keys: dict[str, str]  # genres.key -> genre
    tags: dict[str, int]
    names: Names  # folded name -> (field, name as written, tracks)
    artist_keys: dict[str, list[str]]  # first letter -> folded artist names
    fields_with_values: frozenset[str]
    newest_year: int | None
    artist_words: dict[str, frozenset[str]] = field(default_factory=dict)  # word -> folded artist names
    model_tags: frozenset[str] = frozenset()  # the installed backbones' tags (meta "model_tags")

    @classmethod
    def of(cls, snap: Snapshot, model_tags: frozenset[str] = frozenset()) -> Vocabulary:
        """The snapshot's vocabulary, built on first use. `model_tags`: the installed
        backbones' tag vocabulary (the indexer records it; it also writes tracks, so a
        new snapshot follows when it changes)."""
        vocabulary = snap.memo(_VOCABULARY, lambda: cls._build(snap))
        if model_tags and not vocabulary.model_tags:
            vocabulary.model_tags = model_tags
        return vocabulary

    @classmethod
    def _build(cls, snap: Snapshot) -> Vocabulary:
        genres = snap.text_index("genre").value_counts()
        keys = {genre_names.key(g): g for g in genre_names.GENRES}
        keys.update({genre_names.key(g): g for g in genres})
        keys.update({k: g for k, g in genre_names.ALIASES.items() if k not in keys})
        names, artists, words, present, newest = snap.memo(_NAMES, lambda: _names(snap))
        return cls(genres, keys, snap.text_index("tag").value_counts(), names, artists, present, newest, words)


def _names(snap: Snapshot) -> tuple:
    """What depends on the tracks alone: names, the artist indexes, fields with values, the newest year."""
    frame = snap.tracks.frame
    names = Names.build(frame)
    artists: dict[str, list[str]] = {}
    words: dict[str, set[str]] = {}
    for k in names.keys_of("artist"):
        artists.setdefault(k[0], []).append(k)
        for w in k.split():
            if len(w) >= 3 and w not in lexicon.STOPWORDS:
                words.setdefault(w, set()).add(k)
    present = frozenset(
        c for c in frame.columns if frame.schema[c].is_numeric() and frame[c].null_count() < frame.height
    )
    years = frame["year"].drop_nulls()
    newest = int(years.max()) if len(years) else None  # type: ignore[arg-type]
    return names, artists, {w: frozenset(v) for w, v in words.items()}, present, newest


_VOCABULARY = Key["Vocabulary"]("words.vocabulary")
_NAMES = Key[tuple]("words.names", "tracks")


def folded(column: pl.Expr) -> pl.Expr:
    """`fold` as a polars expression (the same result for the same text)."""
    return (
        column.str.to_lowercase()
        .str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.replace_all(r"[^\p{L}\p{N}&]+", " ")
        .str.strip_chars()
    )


@dataclass
class Names:
    """Folded artist, album and title names, sorted for binary search.

    Built with vectorised polars string operations and looked up with
    `np.searchsorted`, so a library of a million tracks needs no Python
    dictionary of a million titles. A name folded to one word is kept only
    for artists: one-word titles and albums ("Home", "No") would swallow
    ordinary words. Where fields share a folded name, the artist wins.
    """

    keys: np.ndarray  # sorted folded names
    fields: np.ndarray
    values: np.ndarray  # the name as written
    counts: np.ndarray

    @classmethod
    def build(cls, frame: pl.DataFrame) -> Names:
        parts = []
        for rank, field_name in enumerate(("artist", "album", "title")):
            names = frame.select(pl.col(field_name).alias("value")).drop_nulls().group_by("value").len("n")
            for k in (folded(pl.col("value")), folded(pl.col("value").str.replace(r"(?i)^the\s+", ""))):
                parts.append(names.with_columns(k.alias("key"), pl.lit(field_name).alias("field"), pl.lit(rank).alias("rank")))
        table = (
            pl.concat(parts)
            .filter((pl.col("key") != "") & ((pl.col("field") == "artist") | pl.col("key").str.contains(" ")))
            .sort("key", "rank", "value")
            .unique("key", keep="first", maintain_order=True)
        )
        return cls(table["key"].to_numpy(), table["field"].to_numpy(), table["value"].to_numpy(), table["n"].to_numpy())

    def get(self, key: str) -> tuple[str, str, int] | None:
        at = int(np.searchsorted(self.keys, key))
        if at < len(self.keys) and self.keys[at] == key:
            return str(self.fields[at]), str(self.values[at]), int(self.counts[at])
        return None

    def __getitem__(self, key: str) -> tuple[str, str, int]:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def keys_of(self, field_name: str) -> list[str]:
        return self.keys[self.fields == field_name].tolist()
