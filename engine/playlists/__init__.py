"""Playlists: editing them (`manager.py`), their file formats (`formats.py`), the
recipe a playlist is summarised by (`recipe.py`) and expansion (`expand.py`)."""

from .expand import NEW_WEIGHTS, OWN_WEIGHTS, PER_ARTIST, expand, expansion_parts, expansion_score, rank
from .manager import PlaylistImportReport, PlaylistManager
from .recipe import Recipe, derive_recipe

__all__ = [
    "NEW_WEIGHTS", "OWN_WEIGHTS", "PER_ARTIST", "PlaylistImportReport", "PlaylistManager", "Recipe", "derive_recipe", "expand",
    "expansion_parts", "expansion_score", "rank",
]
