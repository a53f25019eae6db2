"""`attune serve`: the library over HTTP (FastAPI + uvicorn) and as MCP tools, one code path.

    from attune.service import Service, create_app
    app = create_app(Service("~/music-library"))     # an ASGI app; `attune serve` runs it with uvicorn

`core.py` holds the operations, `http.py` the routes and access rules, `mcp.py` the tools.
"""

from .core import Service, ServiceError
from .http import create_app, wrap

__all__ = ["Service", "ServiceError", "create_app", "wrap"]
