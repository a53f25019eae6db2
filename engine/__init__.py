"""attune's engine: the music library, its spaces, search, recipes and expansion.

Imports `attune.query` and never torch or textual at import time.
"""

from attune.query import AttuneError, QueryError

__all__ = ["AttuneError", "QueryError"]
