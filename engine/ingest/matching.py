"""Matching rows of someone else's table (a Spotify export) to the library's indexed files.

A row and a file are the same recording when

1. both have an ISRC and the ISRCs are equal (dashes, spaces and case aside), else
2. their *recording keys* are equal: the first credited artist and the title, folded
   (case, accents, apostrophes and punctuation aside), with the parts of a title that do not change the
   audio set aside: "- 2011 Remaster", "(Remastered)", "(feat. X)", "- Radio Edit",
   "(Mono)", "[Explicit]", "- Single Version". Parts that name another recording stay, so
   "Song (Live)", "Song - Acoustic", "Song (Remix)" match only their own kind: a live or
   acoustic take has other energy and acousticness than the studio one.

A file whose ISRC is known is matched by ISRC only when the table has ISRCs, so a wrong
artist-and-title guess never overrides an exact code. Rows that share a recording key
with several files are reported as ambiguous and not used; a second row for a file already
matched (the same song on an album and a single) is reported as a duplicate.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from ..search.versions import fold, song_artist
from .spotify import normalise_isrc

#: Words whose bracketed or " - " part leaves the recording as it is.
SAME_RECORDING = ("remaster", "remastered", "remasterizado", "mono", "stereo", "explicit", "clean", "feat", "ft",
                  "featuring", "with", "radio", "single", "album", "original", "digital", "lp", "deluxe")
#: Words that name another recording (a part holding one of them is kept in the key).
OTHER_RECORDING = ("live", "acoustic", "remix", "mix", "demo", "instrumental", "unplugged", "session", "extended",
                   "rework", "vip", "re-recorded", "rerecorded", "karaoke", "cover", "orchestral", "version")
_SAME = "|".join(re.escape(w) for w in SAME_RECORDING)
_PART = re.compile(r"\s*[(\[]([^()\[\]]*)[)\]]|\s+[-\u2013\u2014]\s+([^-\u2013\u2014]*)$")
_OTHER = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in OTHER_RECORDING) + r")\b", re.IGNORECASE)
_SAME_RE = re.compile(rf"\b(?:{_SAME})\b|^\s*\d{{4}}\s*$", re.IGNORECASE)
#: Dropped, not spaced: "Don't" and "Dont", "Guns N' Roses" and "Guns N Roses" are one spelling.
_APOSTROPHES = re.compile("['\u2019\u2018`\u00b4]")
_FEAT = re.compile(r"\s+(?:feat\.?|ft\.?|featuring)\s+.*$", re.IGNORECASE)


def recording_title(title: str) -> str:
    """The title with the parts that do not change the audio set aside, folded."""
    previous = None
    while previous != title:
        previous = title

        def drop(match: re.Match) -> str:
            part = match.group(1) if match.group(1) is not None else match.group(2)
            if _OTHER.search(part) and not re.search(r"\bradio\s+edit\b|\bsingle\s+version\b|\balbum\s+version\b",
                                                     part, re.IGNORECASE):
                return match.group(0)
            return "" if _SAME_RE.search(part) else match.group(0)

        title = _PART.sub(drop, title).strip()
    return fold(_FEAT.sub("", title))


def recording_key(title: str | None, artist: str | None) -> str | None:
    """First credited artist + recording title, folded (None without a title and an artist)."""
    if not title or not artist:
        return None
    name, who = recording_title(_APOSTROPHES.sub("", title)), song_artist(_APOSTROPHES.sub("", artist))
    return f"{who}\x1f{name}" if name and who else None


@dataclass
class Match:
    """Which library track each matched row labels, and what did not match."""

    pairs: list[tuple[int, str, str]] = field(default_factory=list)  # (row index, track id, "isrc" | "artist+title")
    unmatched_rows: list[int] = field(default_factory=list)
    ambiguous_rows: list[tuple[int, str]] = field(default_factory=list)
    duplicate_rows: list[tuple[int, int]] = field(default_factory=list)  # (row, the earlier row for the same file)
    unlabelled_tracks: list[str] = field(default_factory=list)

    @property
    def by_isrc(self) -> int:
        return sum(1 for _, _, how in self.pairs if how == "isrc")

    @property
    def by_name(self) -> int:
        return sum(1 for _, _, how in self.pairs if how == "artist+title")


def match_rows(tracks: list[dict], rows: list[dict]) -> Match:
    """Match table rows to tracks. Both are dicts with `title`, `artist` and `isrc` (either
    may be None); tracks also have `track_id`."""
    by_isrc: dict[str, list[str]] = defaultdict(list)
    by_key: dict[str, list[str]] = defaultdict(list)
    for track in tracks:
        code = normalise_isrc(track.get("isrc"))
        if code:
            by_isrc[code].append(track["track_id"])
        key = recording_key(track.get("title"), track.get("artist"))
        if key:
            by_key[key].append(track["track_id"])
    out = Match()
    claimed: dict[str, int] = {}
    for i, row in enumerate(rows):
        code = normalise_isrc(row.get("isrc"))
        found, how = (by_isrc.get(code, []), "isrc") if code else ([], "")
        if not found:
            found, how = by_key.get(recording_key(row.get("title"), row.get("artist")) or "", []), "artist+title"
        found = list(dict.fromkeys(found))
        if not found:
            out.unmatched_rows.append(i)
        elif len(found) > 1:
            out.ambiguous_rows.append((i, f"{len(found)} indexed files are {how} matches"))
        elif found[0] in claimed:
            out.duplicate_rows.append((i, claimed[found[0]]))
        else:
            claimed[found[0]] = i
            out.pairs.append((i, found[0], how))
    matched = {tid for _, tid, _ in out.pairs}
    out.unlabelled_tracks = [t["track_id"] for t in tracks if t["track_id"] not in matched]
    return out
