"""The engine's errors. Each is an `AttuneError`: a one-line message that names the bad
value and says what to do next; the front ends print it without a traceback."""

from __future__ import annotations

from attune.query import AttuneError


class LibraryError(AttuneError):
    """Something about the library or a request to it is wrong (a name, a file, a value)."""

    title = "library error"


class NotAvailableError(LibraryError):
    """The library cannot answer this yet (no audio indexed, no vectors in a space)."""

    title = "not available"


class DamagedError(LibraryError):
    """A table's files cannot be read; the message names the table and the way out."""

    title = "damaged library"
