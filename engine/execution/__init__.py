"""Execution: a filter expression evaluated by one of three backends, which give the
same rows (a differential property test checks it):

- `numpy_backend`: row masks over the in-memory snapshot (every in-memory search);
- `polars_backend`: polars expressions over a frame (rows fetched from LanceDB, explanations);
- `sql_backend`: LanceDB SQL for the part of a filter pushed down to the store;

and the one playlist matcher (`playlists`) that says which playlists a name means.
"""

from .numpy_backend import NumpyBackend
from .playlists import PlaylistMatcher
from .polars_backend import PolarsBackend
from .regex import regex_error
from .sql_backend import SqlBackend, sql_number

__all__ = ["NumpyBackend", "PlaylistMatcher", "PolarsBackend", "SqlBackend", "regex_error", "sql_number"]
