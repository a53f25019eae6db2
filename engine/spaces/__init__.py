"""Spaces: each maps a track to a vector (attributes, audio embeddings, co-listen), and
each is whitened by its pooled within-playlist covariance before distances are measured
(Patwari et al., ISMIR 2020)."""

from .coldstart import Mapping
from .space import SPACE_NAMES, VECTOR_COLUMNS, SpaceData, computed, fit_all, sound_rows, space, train_colisten, vectors_missing
from .whitening import Whitener, fit_whitener

__all__ = [
    "Mapping", "SPACE_NAMES", "SpaceData", "VECTOR_COLUMNS", "Whitener", "computed", "fit_all", "fit_whitener", "sound_rows",
    "space", "train_colisten", "vectors_missing",
]
