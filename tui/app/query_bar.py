"""The query bar: an input that checks the query as it is typed (no running),
walks the per-library history with Up/Down and completes names with Tab."""

from __future__ import annotations

import re
from collections.abc import Callable

from attune.query import QueryError, parse
from attune.query import fields as vocab
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

COMPLETABLE = [f"{f}:" for f in vocab.TEXT_FIELDS] + list(vocab.NUMERIC_FIELDS) + [f"{o}:" for o in vocab.OPTIONS] + ["like:", "unlike:"]


class QueryBar(Input):
    BINDINGS = [
        Binding("up", "history(-1)", "previous query", show=False),
        Binding("down", "history(1)", "next query", show=False),
        Binding("tab", "complete", "complete", show=False),
        Binding("escape", "leave", "leave the query bar", show=False),
    ]

    def __init__(self, history: list[str], names: Callable[[], tuple[list[str], list[str]]], **kwargs) -> None:
        super().__init__(placeholder="query, e.g. genre:soul energy<0.4 like:playlist(\"Sunday Morning\") - or ? plain words", **kwargs)
        self.history = history
        self._cursor = len(history)
        self._names = names  # () -> (playlist names, artist names)

    def check(self) -> QueryError | None:
        """The error of the current text, or None; nothing is run. "?..." is plain words: never an error."""
        if self.plain_words() is not None:
            return None
        try:
            parse(self.value)
        except QueryError as err:
            return err
        return None

    def plain_words(self) -> str | None:
        """The words after a leading "?" (plain words for `ask`), or None for a query."""
        text = self.value.lstrip()
        return text[1:].strip() if text.startswith("?") else None

    def remember(self, query: str) -> None:
        if query and (not self.history or self.history[-1] != query):
            self.history.append(query)
        self._cursor = len(self.history)

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self._cursor = max(0, min(len(self.history), self._cursor + step))
        self.value = self.history[self._cursor] if self._cursor < len(self.history) else ""
        self.cursor_position = len(self.value)

    class Left(Message):
        """Escape was pressed: the app decides where focus goes next."""

    def action_leave(self) -> None:
        self.post_message(self.Left())

    def action_complete(self) -> None:
        """Complete the word under the cursor: a field, an option, a playlist or an artist name."""
        before = self.value[: self.cursor_position]
        match = re.search(r'(playlist\(|artist\(|playlist:|artist:)"?([^"()]*)$', before)
        if match:
            playlists, artists = self._names()
            pool = playlists if match.group(1).startswith("playlist") else artists
            options = [n for n in pool if n.lower().startswith(match.group(2).lower())]
            if options:
                start = match.start(2) - (1 if before[match.start(2) - 1 : match.start(2)] == '"' else 0)
                self._replace(start, f'"{options[0]}"')
            return
        word = re.search(r"[A-Za-z_]*$", before).group(0)
        options = [c for c in COMPLETABLE if c.startswith(word)] if word else []
        if options:
            self._replace(len(before) - len(word), options[0])

    def _replace(self, start: int, text: str) -> None:
        end = self.cursor_position
        self.value = self.value[:start] + text + self.value[end:]
        self.cursor_position = start + len(text)
