"""Versions of one song: "Song", "Song - 2011 Remaster", "Song (Live)", "Song - Radio Edit",
"Song (feat. X)" are one row in results, the others named under it.

Two tracks are versions of one song when, once the words that name a version are set
aside, they have the same title and the same (first) artist (`song_key`), or when both
have audio embeddings that are all but identical (the same recording in two files).
The best-ranked version stays; `versions:all` in a query keeps them all.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np
import polars as pl

#: Words that name a version rather than a song (in a trailing "- ..." part or in brackets).
VERSION_WORDS = (
    "remaster", "remastered", "live", "remix", "mix", "edit", "version", "mono", "stereo", "demo", "acoustic",
    "unplugged", "instrumental", "extended", "single", "radio", "explicit", "clean", "deluxe", "bonus", "session",
    "feat", "ft", "featuring", "with", "bootleg", "rework", "vip", "re-recorded", "anniversary",
)
_VERSION = "|".join(re.escape(w) for w in VERSION_WORDS)
#: A bracketed part that names a version: "(Live)", "[feat. X]", "(2011 Remaster)".
_BRACKETS = re.compile(rf"\s*[(\[][^()\[\]]*\b(?:{_VERSION})\b[^()\[\]]*[)\]]", re.IGNORECASE)
#: A trailing " - ..." part that names a version: " - Radio Edit", " - Live at Wembley".
_DASH = re.compile(rf"\s+[-\u2013\u2014]\s+[^-\u2013\u2014]*\b(?:{_VERSION})\b.*$", re.IGNORECASE)
#: "feat. X" / "ft. X" / "featuring X" left outside brackets.
_FEAT = re.compile(r"\s+(?:feat\.?|ft\.?|featuring)\s+.*$", re.IGNORECASE)
#: Embeddings closer than this (cosine distance) are the same recording.
SAME_AUDIO = 1e-3


def fold(text: str) -> str:
    """Lower case, accents and punctuation aside, spaces collapsed ("Beyoncé" = "beyonce")."""
    return _fold(text)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("M"))
    return " ".join(re.sub(r"[^\w&]+", " ", text).split())


def song_title(title: str) -> str:
    """The title without the words that name a version, folded for comparison."""
    previous = None
    while previous != title:  # "Song (feat. X) - 2011 Remaster": strip until nothing changes
        previous = title
        title = _DASH.sub("", _BRACKETS.sub("", title))
    return _fold(_FEAT.sub("", title))


def song_artist(artist: str) -> str:
    """The first credited artist, folded ("Drake, Future" and "Drake feat. X" are Drake)."""
    first = re.split(r",|;|\s+&\s+|\s+x\s+|\s+and\s+", _FEAT.sub("", artist), maxsplit=1)[0]
    return _fold(first)


@lru_cache(maxsize=1 << 18)
def song_key(title: str | None, artist: str | None) -> str | None:
    """Versions of one song share this key (None: not enough to tell)."""
    if not title:
        return None
    name = song_title(title)
    return f"{song_artist(artist or '')}\x1f{name}" if name else None


def collapse_versions(frame: pl.DataFrame, vectors: np.ndarray | None = None) -> tuple[pl.DataFrame, dict[int, list[str]]]:
    """Keep the first row of each song (the frame is best first); returns the kept frame
    and, by the kept row's `_row`, the titles of the versions folded into it.

    `vectors`: the rows' audio embeddings (zero rows where there is none), to also fold
    recordings that are the same audio under two names."""
    if frame.height < 2:
        return frame, {}
    keys = [song_key(t, a) for t, a in zip(frame["title"].to_list(), frame["artist"].to_list())]
    owner: list[int] = list(range(frame.height))
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key is not None:
            owner[i] = first.setdefault(key, i)
    if vectors is not None and len(vectors) == frame.height:
        norms = np.linalg.norm(vectors, axis=1)
        has = norms > 0
        unit = np.where(has[:, None], vectors / np.where(has, norms, 1)[:, None], 0)
        close = (1.0 - unit @ unit.T) < SAME_AUDIO
        for i in range(frame.height):
            if has[i] and owner[i] == i:
                earlier = np.flatnonzero(close[i, :i] & has[:i])
                if len(earlier):
                    owner[i] = owner[int(earlier[0])]
    keep = [i for i in range(frame.height) if owner[i] == i]
    if len(keep) == frame.height:
        return frame, {}
    rows, titles = frame["_row"].to_list(), frame["title"].to_list()
    also: dict[int, list[str]] = {}
    for i in range(frame.height):
        if owner[i] != i:
            also.setdefault(rows[owner[i]], []).append(titles[i] or str(rows[i]))
    return frame[keep], also
