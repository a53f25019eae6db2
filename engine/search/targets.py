"""Target resolution: each like/unlike term of a query becomes seed rows.

- `like:track(x)`: the track with that id, path or title (a title shared by several
  tracks is an error listing their ids); `like:track(x @ 1:30)`: the segment of that
  track holding 1:30 (a passage, `spaces.segments`);
- `like:artist(x)`: every track by that artist (exact name, ignoring case);
- `like:playlist(x)`: the playlist's tracks (the one playlist matcher);
- `like:"free text"`: the tracks the words' translation returns (`words.translate`),
  measured only over the attribute dimensions the words named.

Seeds of like-terms are left out of the results unless the filter asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from attune.query import Expr, Like, Query, QueryError, TextMatch, render, timestamp
from attune.query.walk import leaves

from ..execution import NumpyBackend, PlaylistMatcher
from ..spaces.segments import segment_at, segments
from ..storage import Snapshot
from ..words.translate import Term, Translator, compose, named_fields, relax


@dataclass
class Target:
    """A resolved like/unlike term."""

    like: Like
    rows: np.ndarray
    label: str
    sign: int
    notes: list[str] = field(default_factory=list)
    #: Attribute fields a free-text target named; distance is measured on those alone (None: all).
    dims: frozenset[str] | None = None
    #: A passage target's seed segment (`spaces.segments`), None for every other target.
    passage: int | None = None


def resolve(snap: Snapshot, like: Like, text: str, *, model_tags: frozenset[str] = frozenset()) -> Target:
    """The seed rows of one like/unlike term of the query `text`."""
    sign = -1 if like.unlike else 1
    pos = like.span.start if like.span else 0
    if like.kind == "text":
        try:
            rows, read_as, notes, dims = text_rows(snap, like.target, model_tags=model_tags)
        except QueryError as exc:
            raise QueryError(exc.message, query=text, position=pos, hint=exc.hint) from None
        label = f'text("{like.target}" read as {read_as}, {len(rows)} tracks'
        label += f"; distance over {', '.join(sorted(dims))})" if dims else ")"
        return Target(like, rows, label, sign, notes, dims)
    if like.kind == "playlist":
        playlist = PlaylistMatcher(snap.playlists).resolve(like.target, query=text, position=pos)
        return Target(like, snap.playlist_rows(playlist.name), f'playlist("{playlist.name}")', sign)
    if like.kind == "artist":
        index = snap.text_index("artist")
        rows = np.flatnonzero(index.rows_where(index.matching("exact", like.target)))
        if len(rows) == 0:
            raise QueryError.unknown("artist", like.target, snap.artists(), query=text, position=pos)
        return Target(like, rows, f'artist("{like.target}")', sign)
    row = track_row(snap, like.target, text, pos)
    label = f'track("{snap.tracks.column("track_id")[row]}")'
    if like.at is None:
        return Target(like, np.array([row], dtype=np.int64), label, sign)
    try:
        passage = segment_at(snap, row, like.at)
    except ValueError as exc:
        raise QueryError(f"{label} @ {timestamp(like.at)} is {exc}", query=text, position=pos) from None
    seg = segments(snap)
    label = (f'{label[:-1]} @ {timestamp(like.at)}: the passage {timestamp(round(float(seg.starts[passage])))}-'
             f'{timestamp(round(float(seg.ends[passage])))})')
    return Target(like, np.array([row], dtype=np.int64), label, sign, passage=passage)


def track_row(snap: Snapshot, target: str, text: str, pos: int) -> int:
    row = snap.row_of_id(target)
    if row is not None:
        return row
    for field_name in ("path", "title"):
        index = snap.text_index(field_name)
        rows = np.flatnonzero(index.rows_where(index.matching("exact", target)))
        if field_name == "title" and len(rows) > 1:
            ids = snap.tracks.column("track_id").gather(rows[:3]).to_list()
            raise QueryError(f"{len(rows)} tracks are titled '{target}'", query=text, position=pos,
                             hint="name the track by its id: " + ", ".join(ids))
        if len(rows):
            return int(rows[0])
    raise QueryError(f"no track with id, path or title '{target}'", query=text, position=pos)


def seeds_to_exclude(where: Expr | None, targets: list[Target]) -> np.ndarray:
    """Seed tracks of like-terms are left out unless the filter itself asks for them.

    A positive `playlist:` term keeps a playlist's own tracks, a positive
    `artist:` term keeps an artist's. Unlike-targets are always left out.
    """
    asked = {leaf.field for leaf in leaves(where) if isinstance(leaf, TextMatch)}
    # A text target's tracks are what the words asked for, not seeds to leave out.
    keep = {"playlist": "playlist" in asked, "artist": "artist" in asked, "track": False, "text": True}
    rows = [t.rows for t in targets if t.sign < 0 or not keep.get(t.like.kind, False)]
    return np.unique(np.concatenate(rows)) if rows else np.zeros(0, dtype=np.int64)


def text_rows(snap: Snapshot, text: str, *, model_tags: frozenset[str] = frozenset()) -> tuple[np.ndarray, str, list[str], frozenset[str] | None]:
    """The tracks a `like:"text"` term stands for, the query it was read as, notes
    (words not understood, terms dropped because no track met them all), and the
    attribute fields the words named: similarity is then measured on those."""
    terms, unmapped, notes = Translator(snap, model_tags=model_tags).translate(text)
    live = [t for t in terms if t.nodes]
    if unmapped:
        notes.append(f'like:"{text}": not understood: ' + ", ".join(f"'{w}'" for w in unmapped))
    if not live:
        words = ", ".join(f"'{w}'" for w in unmapped) or "nothing"
        raise QueryError(f'like:"{text}": no word of it maps onto this library (not understood: {words})')
    backend = NumpyBackend(snap)

    def attempt(live: list[Term]):
        query, _ = compose(live)
        mask = backend.mask(query.where)
        if query.likes:
            likes = Query(likes=query.likes)
            seeds = [resolve(snap, like, render(likes), model_tags=model_tags).rows for like in query.likes]
            rows = np.unique(np.concatenate(seeds))
            rows = rows[mask[rows]] if query.where is not None and mask[rows].any() else rows
        else:
            rows = np.flatnonzero(mask)
        return (query, rows), len(rows) > 0

    (query, rows), dropped = relax(live, attempt)
    notes += [f'like:"{text}": no track met every term; dropped \'{t.phrase}\' ({t.text()})' for t in dropped]
    if not len(rows):
        raise QueryError(f'like:"{text}": no track matches {render(query)}')
    return rows.astype(np.int64), render(query), notes, named_fields(query)
