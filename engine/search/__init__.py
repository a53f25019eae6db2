"""Search: query -> plan (`plan.py`) -> seeds of each like-term (`targets.py`) ->
filter mask and distances (`execution`, `kernel.py`) -> ordered results (`run.py`,
`results.py`). `run(source, query)` is the entry point."""

from .kernel import Centre, centroid, distance_to, distances, largest, smallest
from .plan import DEFAULT_LIMIT, Plan, Source, effective_limit, plan
from .results import COLUMNS, Results
from .run import run
from .targets import Target, resolve, text_rows

__all__ = [
    "COLUMNS", "Centre", "DEFAULT_LIMIT", "Plan", "Results", "Source", "Target", "centroid", "distance_to",
    "distances", "effective_limit", "largest", "plan", "resolve", "run", "smallest", "text_rows",
]
