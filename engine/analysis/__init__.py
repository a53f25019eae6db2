"""Analysis: does each playlist hang together, and in which space (`analysis.py`); maps of
a space and the agreement of two (`maps.py`); how well expansion does against baselines
(`evaluate.py`)."""

from .analysis import Analysis, SpaceAnalysis, analyze, histogram
from .evaluate import EvalResult, evaluate_expansion, split_playlists
from .maps import Agreement, LibraryMap, agreement, library_map, neighbour_overlap

__all__ = ["Agreement", "Analysis", "EvalResult", "LibraryMap", "SpaceAnalysis", "agreement", "analyze", "evaluate_expansion",
           "histogram", "library_map", "neighbour_overlap", "split_playlists"]
