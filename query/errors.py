"""The project's root error and the query language's error.

`AttuneError` lives here because `attune.query` is the bottom layer: every other
package imports it from here (and `attune.engine` re-exports it).
"""

from __future__ import annotations


class AttuneError(Exception):
    """Root of every error attune raises on purpose.

    `title` is a short label a front end can show (the TUI uses it as a heading).
    User errors make the CLI exit with status 2; anything else is a bug (status 1).
    """

    title = "attune error"
    user_error = True


class QueryError(AttuneError, ValueError):
    """A query that cannot be parsed or does not make sense.

    Attributes:
        message: what is wrong, in words.
        query: the text that was parsed.
        position: 0-based character offset of the offending spot.
        expected: what would have been accepted there, in the language's own words.
        hint: an optional suggestion ("did you mean 'energy'?").
    """

    title = "query error"

    def __init__(
        self,
        message: str,
        *,
        query: str = "",
        position: int = 0,
        expected: list[str] | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.query = query
        self.position = max(0, min(position, len(query)))
        self.expected = list(expected or [])
        self.hint = hint
        super().__init__(message)

    @classmethod
    def unknown(cls, what: str, name: str, pool, *, query: str = "", position: int = 0) -> QueryError:
        """ "no WHAT named 'NAME'", suggesting the closest name of `pool` (a playlist, an artist)."""
        from .fields import did_you_mean

        return cls(f"no {what} named '{name}'", query=query, position=position, hint=did_you_mean(name, pool))

    @property
    def snippet(self) -> tuple[str, str]:
        """The line of the query that holds the error and a caret line under it."""
        start = self.query.rfind("\n", 0, self.position) + 1
        end = self.query.find("\n", self.position)
        line = self.query[start : end if end != -1 else len(self.query)]
        # Tabs keep their width in the caret line so the caret stays aligned.
        pad = "".join("\t" if ch == "\t" else " " for ch in line[: self.position - start])
        return line, pad + "^"

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text += f" - {self.hint}"
        if not self.query:  # a name given outside a query (attune recipe NAME): no caret to show
            return text
        line, caret = self.snippet
        return f"{text}\n  {line}\n  {caret}"
