"""Analysis: does each playlist hang together, and in which space (`analysis.py`); how
well expansion does against baselines (`evaluate.py`)."""

from .analysis import Analysis, SpaceAnalysis, analyze, histogram
from .evaluate import EvalResult, evaluate_expansion, split_playlists

__all__ = ["Analysis", "EvalResult", "SpaceAnalysis", "analyze", "evaluate_expansion", "histogram", "split_playlists"]
