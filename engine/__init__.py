"""attune's engine: the music library, its spaces, search, recipes and expansion.

    from attune.engine import Library
    lib = Library.open("/path/to/library")

Imports `attune.query` and never torch or textual; the heavy parts (LanceDB,
polars) load on first use of `Library`, so `import attune.engine` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attune.query import AttuneError, QueryError

if TYPE_CHECKING:
    from .library import ImportReport, Library
    from .recipe import Recipe
    from .results import Results
    from .search import NotAvailableError
    from .store import LibraryError

_LAZY = {
    "Library": "library",
    "ImportReport": "library",
    "Recipe": "recipe",
    "Results": "results",
    "NotAvailableError": "search",
    "LibraryError": "store",
}

__all__ = ["AttuneError", "QueryError", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'attune.engine' has no attribute {name!r}")
