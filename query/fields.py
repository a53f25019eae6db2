"""The field registry: every field of a track, declared once.

Each `Field` says what it is (`kind`), where it is stored (`column`), whether queries
may name it (`queryable`, `sortable`, `per`), whether it is a dimension of the
attribute space (`space`: position, offset and scale), where it is shown (its position
among the result columns, in the results table and in the detail pane) and which
values are valid (`bounds`). Everything else derives from this table: the parser's
field names (below), the store's schema (`attune.engine.storage.schema`), the result
columns, the attribute space's dimensions and the terminal's tables (beets'
`Item._fields` is the model). Adding an attribute is one line here.

The parser validates names against the derived sets so that a typo is an error with a
suggestion rather than a query that silently matches nothing. A library may define more
numeric attribute columns; callers pass them to `parse(fields=...)`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

#: id/text: one string; texts: a list of strings; int32/int64/float: numbers; vector: a
#: list of float32; scores: genre scores; timestamp: a UTC time; computed: not stored
#: (a playlist membership, a search score).
Kind = Literal["id", "text", "texts", "int32", "int64", "float", "vector", "scores", "timestamp", "computed"]
NUMERIC_KINDS = frozenset({"int32", "int64", "float"})
TEXT_KINDS = frozenset({"id", "text", "texts"})


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    column: str | None = None  # the store column; None: not stored
    queryable: bool = False  # usable in filters (`artist:x`, `energy<0.4`)
    sortable: bool = False  # `sort:FIELD` (queryable numbers are always sortable)
    per: bool = False  # `per:FIELD=N`
    space: tuple[int, float, float] | None = None  # attribute space: (position, offset, scale)
    result: int | None = None  # position among the result columns (Results.to_polars)
    table: int | None = None  # position in the results table (command line and terminal app)
    detail: int | None = None  # position among the detail pane's bars
    bounds: tuple[float, float] | None = None  # valid values (imports refuse others)
    doc: str = ""

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS


def _unit(name: str, *, space: int | None = None, result: int, table: int | None = None, detail: int | None = None,
          doc: str = "") -> Field:
    """A 0..1 audio attribute: queryable, stored as a float."""
    return Field(name, "float", name, queryable=True, space=(space, 0.0, 1.0) if space is not None else None,
                 result=result, table=table, detail=detail, bounds=(0.0, 1.0), doc=doc)


#: In the order of the tracks table's columns.
FIELDS: tuple[Field, ...] = (
    Field("track_id", "id", "track_id", sortable=False, result=0, doc="the track's id"),
    Field("source", "text", "source", doc="where the track came from: spotify, audio, ..."),
    Field("title", "text", "title", queryable=True, sortable=True, result=1, table=0),
    Field("artist", "text", "artist", queryable=True, sortable=True, per=True, result=2, table=1),
    Field("album", "text", "album", queryable=True, sortable=True, per=True, result=3),
    Field("release_date", "text", "release_date"),
    Field("year", "int32", "year", queryable=True, per=True, result=4, table=2, bounds=(0, 9999)),
    Field("length", "float", "length", queryable=True, result=20, bounds=(0.0, 48 * 3600.0), doc="seconds"),
    Field("popularity", "float", "popularity", queryable=True, result=19, bounds=(0.0, 100.0)),
    Field("genre", "texts", "genres", queryable=True, per=True, result=6, table=7),
    Field("tag", "texts", "tags", queryable=True, result=7),
    Field("path", "text", "path", queryable=True, sortable=True, result=22),
    _unit("energy", space=0, result=8, table=3, detail=0),
    _unit("valence", space=1, result=9, table=4, detail=1),
    _unit("vocalness", space=2, result=10, table=5, detail=2),
    _unit("danceability", space=3, result=12, detail=3),
    _unit("acousticness", space=4, result=13, detail=4),
    _unit("speechiness", space=5, result=14),
    _unit("instrumentalness", result=15),
    _unit("liveness", space=6, result=16),
    Field("loudness", "float", "loudness", queryable=True, space=(8, -60.0, 60.0), result=17, bounds=(-100.0, 20.0),
          doc="dB"),
    Field("tempo", "float", "tempo", queryable=True, space=(7, 50.0, 150.0), result=11, table=6, bounds=(0.0, 1000.0),
          doc="beats per minute"),
    _unit("consistency", result=18, detail=5, doc="1 - normalised total variation of energy over time"),
    _unit("energy_start", result=31, doc="mean energy over the first 30 seconds"),
    _unit("energy_end", result=32, doc="mean energy over the last 30 seconds"),
    Field("energy_slope", "float", "energy_slope", queryable=True, result=33, bounds=(-1.0, 1.0),
          doc="energy gained from start to end (least-squares slope over the track's 10-second tiles)"),
    _unit("energy_confidence", result=24, doc="how far the indexer's energy can be trusted (its cues agree)"),
    _unit("valence_confidence", result=25, doc="how far the indexer's valence can be trusted (tonal music, cues agree)"),
    _unit("vocalness_confidence", result=26, doc="how sure the indexer's tags are about voices, either way"),
    _unit("tempo_confidence", result=27, doc="pulse clarity x octave certainty of the indexer's tempo"),
    Field("tempo_alternative", "float", "tempo_alternative", queryable=True, result=28, bounds=(0.0, 1000.0),
          doc="the other octave of the indexer's tempo (half or double), when in doubt"),
    Field("isrc", "text", "isrc", queryable=True, result=29, doc="International Standard Recording Code (file tags or export)"),
    Field("key", "float", "key", bounds=(-1.0, 11.0)),
    Field("mode", "float", "mode", bounds=(0.0, 1.0)),
    Field("embedding", "vector", "embedding", doc="the audio space: the mean segment embedding"),
    Field("taggram", "vector", "taggram"),
    Field("colisten", "vector", "colisten", doc="the co-listen space"),
    Field("energy_tiles", "vector", "energy_tiles"),
    Field("genre_scores", "scores", "genre_scores"),
    Field("backbone", "text", "backbone", result=23),
    Field("file_size", "int64", "file_size"),
    Field("file_mtime", "float", "file_mtime"),
    Field("updated_at", "timestamp", "updated_at"),
    # Not stored: computed per query.
    Field("playlist", "computed", queryable=True, doc="membership of a playlist, by name"),
    Field("score", "computed", sortable=True, result=5, table=8, doc="the ranking score (higher is better)"),
    Field("duration", "computed", result=21, doc="length, in seconds, for audio front ends"),
    Field("passage", "computed", result=30, doc='where the matching passage starts, in seconds (like:track("x" @ 1:30))'),
)

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
#: attribute -> the field saying how far the indexer's value can be trusted (0..1).
CONFIDENCE_OF: dict[str, str] = {f.name.removesuffix("_confidence"): f.name for f in FIELDS if f.name.endswith("_confidence")}
#: A value whose confidence is below this is shown as a guess (marked "?"), not as a fact.
LOW_CONFIDENCE = 0.4


def _ordered(attribute: str) -> tuple[str, ...]:
    return tuple(f.name for f in sorted((f for f in FIELDS if getattr(f, attribute) is not None),
                                        key=lambda f: getattr(f, attribute)))


TEXT_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.queryable and not f.numeric)
NUMERIC_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.queryable and f.numeric)
#: Text fields whose values are lists (a track has several genres and tags).
LIST_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.queryable and f.kind == "texts")
#: Result columns, in order (Results.to_polars()).
RESULT_COLUMNS: tuple[str, ...] = _ordered("result")
#: Columns of the results table shown to people.
TABLE_COLUMNS: tuple[str, ...] = _ordered("table")
#: Bars of the terminal app's detail pane.
DETAIL_BARS: tuple[str, ...] = _ordered("detail")
#: The attribute space's numeric dimensions: name -> (offset, scale), so that
#: (value - offset) / scale brings each to a 0..1-like range before standardisation.
SPACE_DIMS: dict[str, tuple[float, float]] = {
    f.name: (f.space[1], f.space[2]) for f in sorted((f for f in FIELDS if f.space), key=lambda f: f.space[0])  # type: ignore[index]
}

SPACES: tuple[str, ...] = ("attr", "audio", "colisten")
OPTIONS: tuple[str, ...] = ("in", "limit", "sort", "per", "weight", "versions")
#: `versions:one` (the default: live, remastered and edited versions of a song are one row) or `versions:all`.
VERSIONS: tuple[str, ...] = ("one", "all")
LIKE_KEYWORDS: tuple[str, ...] = ("like", "unlike")
LIKE_TARGETS: tuple[str, ...] = ("playlist", "track", "artist")
KEYWORDS: tuple[str, ...] = ("AND", "OR", "NOT")

#: Fields that `per:FIELD=N` can cap.
PER_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.per)
#: Non-numeric keys `sort:` accepts besides the numeric fields.
SORT_EXTRA: tuple[str, ...] = tuple(f.name for f in FIELDS if f.sortable and not f.numeric)
#: `weight:genre=0.5` scales every genre dimension at once.
WEIGHT_EXTRA: tuple[str, ...] = ("genre",)


def frame_column(name: str) -> str:
    """The column a field has in a result frame (`genre` -> `genres`, `score` -> `score`)."""
    return BY_NAME[name].column or name


def column(name: str) -> str:
    """The store column of a queryable field (`genre` -> `genres`)."""
    found = BY_NAME[name].column
    if found is None:
        raise KeyError(f"{name} is not stored")
    return found


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt word, or None when nothing is close.

    The one "did you mean" of attune: fields, options, playlists, artists, tags.
    """
    pool = list(dict.fromkeys(candidates))
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered:
        return lowered[word.lower()]
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """"did you mean 'X'?" for the closest candidate, or None."""
    guess = suggest(word, candidates)
    return f"did you mean '{guess}'?" if guess else None
