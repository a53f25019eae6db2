"""Importing LanceDB without its REST namespace client's endpoints.

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
"""

from __future__ import annotations

import importlib.util
import sys
import threading

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
