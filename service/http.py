"""The HTTP face of the service: FastAPI routes over `core.Service`.

Access (the library's keys, `attune keys`):
- no key exists: requests from loopback only, without a key (`attune serve` refuses to
  listen on another address until a key exists);
- once a key exists: every request, on any address, needs `Authorization: Bearer KEY`
  (except `GET /health`): none or a wrong one is 401, a read key on an edit is 403.

Limits: bodies over MAX_BODY bytes are refused with 413 before they are read, queries over
core.MAX_QUERY characters with 400, a search that runs past core.SEARCH_SECONDS with 503,
and requests beyond the engine's bounded pool and queue with 503.
"""

import ipaddress
import json
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .core import MEDIA_TYPES, Service, ServiceError

#: The largest request body taken (bytes): a playlist of 10,000 ids fits several times.
MAX_BODY = 1 << 20
#: Paths that need no key.
OPEN_PATHS = frozenset({"/health"})

# Parameter types shared by the routes (module level: FastAPI resolves them by name).
limit_q = Annotated[int | None, Query(description="At most this many results.")]
fmt_q = Annotated[str, Query(alias="format", description="json, m3u, xspf or csv")]
name_p = Annotated[str, Path(description="The playlist's name (any case) or id.")]
ids_b = Annotated[list[str], Body(embed=True, description="Track ids, in order.")]


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


class BodyLimit:
    """413 for a body over `limit` bytes: at once when Content-Length says so, else as soon
    as the streamed body passes it."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _too_large(self.limit, send)
            return
        seen, refused = 0, False

        async def counted() -> dict:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                seen += len(message.get("body", b""))
                if seen > self.limit:  # answer 413 now; the app sees the client gone
                    refused = True
                    await _too_large(self.limit, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: dict) -> None:
            if not refused:  # after a 413, whatever the app would still send is dropped
                await send(message)

        await self.app(scope, counted, guarded)


async def _too_large(limit: int, send: Send) -> None:
    body = json.dumps(ServiceError(413, f"the request body is over {limit:,} bytes", title="too large").body()).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(service: Service) -> FastAPI:
    app = FastAPI(
        title="attune",
        summary="Semantic search and playlist expansion for music",
        description="Every result says the canonical query that ran (`query`), so a front end can show it and let "
                    "people edit it. Send `Authorization: Bearer KEY` once the library has keys (`attune keys create`).",
        version=_version(),
    )
    app.state.service = service

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        error = ServiceError(500, f"internal error ({type(exc).__name__}); the service log has the details",
                             title="internal error")
        return JSONResponse(error.body(), status_code=500)

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
        error = ServiceError(400, f"{where}: {first.get('msg', 'invalid request')}", title="request error")
        return JSONResponse(error.body(), status_code=400)

    def access(scope: str):
        """The dependency that checks a request's key for `scope` (see the module docstring)."""

        def check(request: Request) -> None:
            keys = service.lib.keys if service._lib is not None else None
            if keys is None:  # still opening: only loopback, as with no keys
                if not is_loopback(request.client.host if request.client else None):
                    raise ServiceError(503, "the library is still opening; try again in a moment", title="opening")
                return
            try:
                has_keys = keys.any()
            except Exception as exc:
                raise ServiceError(500, str(exc), title="access error") from None
            header = request.headers.get("authorization", "")
            given = header[7:].strip() if header[:7].lower() == "bearer " else None
            if not has_keys:
                if is_loopback(request.client.host if request.client else None):
                    return
                raise ServiceError(401, "this library has no keys, so it answers loopback only; create one with "
                                        "`attune keys create NAME` and send it as `Authorization: Bearer KEY`",
                                   title="unauthorised")
            if not given:
                raise ServiceError(401, "send a key: `Authorization: Bearer KEY` (`attune keys create NAME`)",
                                   title="unauthorised")
            key = keys.check(given)
            if key is None:
                raise ServiceError(401, "that key is not one of this library's (revoked, or mistyped)",
                                   title="unauthorised")
            if scope == "write" and key.scope != "write":
                raise ServiceError(403, f"the key '{key.name}' may read but not edit playlists; use a key made with "
                                        "`attune keys create NAME --scope write`", title="forbidden")
        return Depends(check)

    write = access("write")
    read_check = access("read").dependency

    @app.middleware("http")
    async def guard(request: Request, call_next):
        """Every path but /health needs read access (the docs and unknown paths included);
        edits also check the key's scope (their `write` dependency)."""
        if request.url.path not in OPEN_PATHS:
            try:
                read_check(request)
            except ServiceError as exc:
                headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
                return JSONResponse(exc.body(), status_code=exc.status, headers=headers)
        return await call_next(request)

    from starlette.exceptions import HTTPException

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        error = ServiceError(exc.status_code, str(exc.detail), title="not found" if exc.status_code == 404 else "error")
        return JSONResponse(error.body(), status_code=exc.status_code)

    def reply(value: Any, fmt: str = "json", status: int = 200) -> Response:
        if isinstance(value, str):
            return Response(value, media_type=MEDIA_TYPES[fmt], status_code=status)
        return JSONResponse(value, status_code=status)

    # -- reading ----------------------------------------------------------------------------

    @app.get("/health", summary="Whether the service is up and the library open (no key needed).")
    async def health() -> JSONResponse:
        body = service.health()
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    @app.get("/stats", summary="Tracks, indexed tracks, playlists, backbones.")
    async def stats():
        return await service.call(service.stats)

    @app.get("/search", summary="Run a query of the language.")
    async def search(q: Annotated[str, Query(description="A query: genre:soul energy<0.4 limit:20")] = "",
                     limit: limit_q = None, fmt: fmt_q = "json"):
        return reply(await service.call(service.search, q, limit, fmt, timeout=service.search_seconds), fmt)

    @app.get("/explain", summary="How a query is read and executed (add results=true for each result's reasons).")
    async def explain(q: str = "", results: bool = False, limit: limit_q = None):
        if results:
            return await service.call(service.explain_results, q, limit, timeout=service.search_seconds)
        return await service.call(service.explain, q, timeout=service.search_seconds)

    @app.post("/ask", summary="Plain words: the reading, the query they became and its results.")
    async def ask(text: Annotated[str, Body(embed=True)], limit: Annotated[int | None, Body(embed=True)] = None):
        return await service.call(service.ask, text, limit, timeout=service.search_seconds)

    @app.get("/playlists", summary="Every playlist: name, id, track count, genres, source.")
    async def playlists():
        return await service.call(service.playlists)

    @app.get("/playlists/{name}", summary="One playlist with its tracks (format=m3u|xspf|csv exports it).")
    async def playlist(name: name_p, fmt: fmt_q = "json"):
        return reply(await service.call(service.playlist, name, fmt), fmt)

    @app.get("/playlists/{name}/recipe", summary="The playlist's recipe as an editable query.")
    async def recipe(name: name_p):
        return await service.call(service.recipe, name, timeout=service.search_seconds)

    @app.get("/playlists/{name}/expand", summary="Tracks to add to the playlist, best first, each explained.")
    async def expand(name: name_p, limit: int = 50, discover: bool = False, include: str | None = None,
                     exclude: str | None = None, per_artist: int | None = None, versions: bool = False,
                     fmt: fmt_q = "json"):
        return reply(await service.call(service.expand, name, limit, discover, include, exclude, per_artist, versions,
                                        fmt, timeout=service.search_seconds), fmt)

    @app.get("/tracks/{track_id:path}", summary="One track: attributes, genres, tags, playlists, path.")
    async def track(track_id: str):
        return await service.call(service.track, track_id)

    # -- editing ----------------------------------------------------------------------------

    @app.post("/playlists", status_code=201, summary="Create a playlist.", dependencies=[write])
    async def create(name: Annotated[str, Body(embed=True)], track_ids: ids_b = None):  # type: ignore[assignment]
        return reply(await service.call(service.create_playlist, name, track_ids or []), status=201)

    @app.post("/playlists/{name}/tracks", summary="Append tracks (or insert them at `position`).", dependencies=[write])
    async def add(name: name_p, track_ids: ids_b, position: Annotated[int | None, Body(embed=True)] = None):
        return await service.call(service.add_tracks, name, track_ids, position)

    @app.delete("/playlists/{name}/tracks/{track_id:path}", summary="Remove a track.", dependencies=[write])
    async def remove(name: name_p, track_id: str):
        return await service.call(service.remove_track, name, track_id)

    @app.post("/playlists/{name}/move", summary="Move a track to a position (0 is the first).", dependencies=[write])
    async def move(name: name_p, track_id: Annotated[str, Body(embed=True)], index: Annotated[int, Body(embed=True)]):
        return await service.call(service.move_track, name, track_id, index)

    @app.post("/playlists/{name}/rename", summary="Rename a playlist.", dependencies=[write])
    async def rename(name: name_p, new_name: Annotated[str, Body(embed=True, alias="name")]):
        return await service.call(service.rename_playlist, name, new_name)

    @app.delete("/playlists/{name}", summary="Delete a playlist.", dependencies=[write])
    async def delete(name: name_p):
        return await service.call(service.delete_playlist, name)

    return app


def wrap(app: FastAPI) -> ASGIApp:
    """The app with its body limit (outermost, so an oversized body is never read)."""
    return BodyLimit(app)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("attune")
    except PackageNotFoundError:
        return "0"
