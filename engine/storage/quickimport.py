"""What attune sets up before LanceDB loads: its import without the REST namespace
client's endpoints, and the size of its thread pool.

`import lancedb` imports `lance_namespace`, which imports the models of
`lance_namespace_urllib3_client` (the client of LanceDB's REST catalogue). Python runs
that package's `__init__` first, and it imports every API module of the client: several
hundred endpoint methods, each wrapped in pydantic's `validate_call`, built at import.
That was 0.8-1.6 s of every `attune` command's start (`python -X importtime -c "import
lancedb"`), for a client that a library in a folder or on S3, GCS or Azure never calls.

`defer_namespace_client()` registers the package with its `__init__` not yet run: its
submodules (the models LanceDB needs) import as usual, and the first attribute asked of
the package itself (`from lance_namespace_urllib3_client import TableApi`, what the REST
client would do) runs the real `__init__` then, once. Nothing behaves differently; the
cost moves to the one code path that needs it.

`lance_threads()`: Lance searches the partitions of an IVF index on its CPU pool, one
thread per core by default, and a partition that is not in memory is read from disk on
that thread: on 2 cores two reads at a time, the other partitions waiting. With at least
LANCE_THREADS threads the reads of a query overlap. Measured on the 10M-track catalogue
(`bench/bench_first_pass.py`: page cache dropped, new seeds every run, the two pool sizes
alternating, 2 cores; two runs of 4 and 6 rounds): a first-pass audio-space like p50 55.9
and 60.1 ms against 67.5 and 71.4 with one thread per core (0.83x, 0.84x), p90 0.73x and
0.62x; under a 1% filter (its exact vectors are taken by row id, not partition reads) 1.14x
and 0.92x, no clear change; with the partitions in memory the same. (A first measurement
that ran both sizes on the same seeds, 43.6-46.0 against 55.6-59.7 ms, overstated it: the
virtual disk's host keeps what the first run read.) LANCE_CPU_THREADS set by the user wins.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading

#: Lance's CPU pool at least this large (its default: one thread per core).
LANCE_THREADS = 8


def lance_threads() -> None:
    """Size Lance's CPU pool (read once, when LanceDB first runs) unless the user did."""
    os.environ.setdefault("LANCE_CPU_THREADS", str(max(os.cpu_count() or 1, LANCE_THREADS)))


#: The package whose `__init__` imports the REST client's API modules.
PACKAGE = "lance_namespace_urllib3_client"


def defer_namespace_client() -> None:
    """Register PACKAGE with its `__init__` deferred to its first attribute access (a no-op
    once it is imported, or where it is not installed)."""
    if PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return
    module = importlib.util.module_from_spec(spec)
    lock = threading.RLock()

    def __getattr__(name: str):  # PEP 562: only for names the module does not have yet
        with lock:
            if module.__dict__.get("__getattr__") is __getattr__:
                del module.__dict__["__getattr__"]
                spec.loader.exec_module(module)  # the real __init__, in the same module
        try:
            return module.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}") from None

    module.__getattr__ = __getattr__  # type: ignore[attr-defined]
    sys.modules[PACKAGE] = module


defer_namespace_client()  # on import (`storage/__init__.py` imports this module first)
lance_threads()
