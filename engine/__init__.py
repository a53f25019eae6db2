"""attune's engine: the music library, its spaces, search, recipes and expansion.

    from attune.engine import Library
    lib = Library.open("/path/to/library")

Sub-packages, each importing only those below it (import-linter checks the order):

    library.py   the facade (`Library`)
    analysis/    playlist analysis and the expansion benchmark
    playlists/   editing, file formats, recipes, expansion
    ingest/      Spotify tables in; the indexer's rows in (`Library.write_indexed`)
    ask.py       plain-words search
    search/      plan, target resolution, the distance/top-k kernel, run, results
    words/       word lists, the library's vocabulary, genres, the text model, tags, translation
    spaces/      attribute, audio and co-listen spaces and their whitening
    execution/   filter backends (numpy, polars, SQL) and the playlist matcher
    storage/     LanceDB tables, the snapshot and its typed cache, text indexes
    errors.py    LibraryError, NotAvailableError

Imports `attune.query` and never torch, textual or the indexer; the heavy parts
(LanceDB, polars) load on first use of `Library`, so `import attune.engine` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attune.query import AttuneError, QueryError

from .errors import LibraryError, NotAvailableError

if TYPE_CHECKING:
    from .ingest import ImportReport
    from .library import Library
    from .playlists import Recipe
    from .search import Results

_LAZY = {
    "Library": "library",
    "ImportReport": "ingest",
    "Recipe": "playlists",
    "Results": "search",
}

__all__ = ["AttuneError", "LibraryError", "NotAvailableError", "QueryError", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'attune.engine' has no attribute {name!r}")
