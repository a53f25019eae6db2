"""The one playlist matcher: which playlists a name means.

- `resolve(name)`: the playlist a command or a like:playlist(...) term names: the same
  name ignoring case, or the playlist's id; an unknown name is an error that suggests
  the closest one.
- `matching(mode, value)`: the playlists a `playlist:` filter matches (contains, exact
  or regular expression, ignoring case; regular expressions on the same engine as every
  other field's, `regex.py`), and `track_ids(...)` their tracks.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
from attune.query import QueryError, TextMatch
from attune.query.fields import did_you_mean

from ..storage import Playlist
from .regex import matches


class PlaylistMatcher:
    def __init__(self, playlists: Mapping[str, Playlist]) -> None:
        self.playlists = playlists

    def find(self, name: str) -> Playlist | None:
        """The playlist called `name` (case-insensitively) or with that id, or None."""
        low = name.lower()
        for p in self.playlists.values():
            if p.name.lower() == low or p.playlist_id == name:
                return p
        return None

    def resolve(self, name: str, *, query: str = "", position: int = 0) -> Playlist:
        """As `find`, but an unknown name is an error naming the closest playlist."""
        found = self.find(name)
        if found is None:
            raise QueryError.unknown("playlist", name, self.playlists, query=query, position=position)
        return found

    def matching(self, mode: str, value: str) -> list[str]:
        """Names of the playlists a `playlist:` filter value matches."""
        low = value.lower()
        if mode == "contains":
            return [n for n in self.playlists if low in n.lower()]
        if mode == "exact":
            return [n for n in self.playlists if n.lower() == low]
        names = list(self.playlists)
        hit = matches(pl.Series(names, dtype=pl.String), [value]).to_list()
        return [n for n, ok in zip(names, hit) if ok]

    def track_ids(self, node: TextMatch, value: str, query: str = "") -> set[str]:
        """Track ids of every playlist whose name matches; no match is an error."""
        names = self.matching(node.mode, value)
        if not names:
            raise QueryError(
                f"no playlist matches '{value}'",
                query=query,
                position=node.span.start if node.span else 0,
                hint=did_you_mean(value, self.playlists) or "attune playlist list shows them",
            )
        return {tid for n in names for tid in self.playlists[n].track_ids}
