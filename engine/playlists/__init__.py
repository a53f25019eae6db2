"""Playlists: editing them (`manager.py`), their file formats (`formats.py`), the
recipe a playlist is summarised by (`recipe.py`) and expansion (`expand.py`)."""

from .expand import WEIGHTS, expand, expansion_parts, expansion_score
from .manager import PlaylistImportReport, PlaylistManager
from .recipe import Recipe, derive_recipe

__all__ = [
    "PlaylistImportReport", "PlaylistManager", "Recipe", "WEIGHTS", "derive_recipe", "expand", "expansion_parts",
    "expansion_score",
]
