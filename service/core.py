"""The service's operations: one code path for HTTP (`http.py`) and MCP (`mcp.py`).

`Service` opens the library in the background (requests meanwhile get 503), runs every
engine call on a bounded pool of worker threads (a request that finds the queue full gets
503 at once instead of piling up), stops waiting for a search after `search_seconds`, and
turns the engine's errors into `ServiceError`s that carry an HTTP status and the same
fields as `QueryError` (message, position, expected, hint).

Each operation returns plain data (dicts, lists, strings): what a JSON body or an MCP
tool result holds. Results are `{"query": the canonical query that ran, "results": rows}`
so that a front end can show the query and let its user edit it.

The engine answers from its current snapshot; a write by another process (an import,
`attune index`, a terminal app editing a playlist) is picked up by the next request that
finds the tables' versions changed. Tracks written by another process also make the
service build the new snapshot's spaces again in the background (`_watch`, every
WATCH_SECONDS), so the next `like:` query does not wait for them.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from attune.engine import Library
from attune.engine.errors import LibraryError, NotAvailableError
from attune.engine.playlists.formats import write_m3u, write_xspf
from attune.engine.spaces import computed
from attune.engine.storage.locks import BusyError
from attune.engine.storage.place import DeniedError, UnreachableError
from attune.query import AttuneError, QueryError, render

#: What a search may take before the service stops waiting for it (seconds).
SEARCH_SECONDS = 10.0
#: Engine calls running at once, and waiting beyond those (then 503).
WORKERS = 4
QUEUE = 64
#: Seconds before the service tries again to open a library whose storage did not answer
#: (or whose tables another writer held): doubled after each failure, up to the second.
OPEN_RETRY = (1.0, 30.0)
#: How often the service looks for tracks another process wrote (seconds): it then builds
#: what `Library.warm` builds for the new tracks (the attribute space: 11-14 s at 10M).
WATCH_SECONDS = 2.0
#: The longest query text the service takes (characters).
MAX_QUERY = 20_000
#: The most results one request returns.
MAX_LIMIT = 10_000
FORMATS = ("json", "m3u", "xspf", "csv")
MEDIA_TYPES = {"json": "application/json", "m3u": "audio/x-mpegurl", "xspf": "application/xspf+xml",
               "csv": "text/csv; charset=utf-8"}


class ServiceError(Exception):
    """An error with its HTTP status and a JSON body (`body()`)."""

    def __init__(self, status: int, message: str, *, title: str = "error", position: int | None = None,
                 expected: list[str] | None = None, hint: str | None = None, query: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.title = title
        self.position = position
        self.expected = expected or []
        self.hint = hint
        self.query = query

    def body(self) -> dict[str, Any]:
        return {"error": self.title, "message": self.message, "position": self.position, "expected": self.expected,
                "hint": self.hint, "query": self.query, "status": self.status}


def from_engine(exc: Exception) -> ServiceError:
    """The service's error for an engine exception (anything unexpected is a 500)."""
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, QueryError):
        return ServiceError(400, exc.message, title=exc.title, position=exc.position, expected=list(exc.expected or []),
                            hint=exc.hint, query=exc.query)
    if isinstance(exc, BusyError | UnreachableError):  # retry later
        return ServiceError(503, str(exc), title=exc.title)
    if isinstance(exc, DeniedError):  # the service's own credentials: not the caller's doing
        return ServiceError(500, str(exc), title=exc.title)
    if isinstance(exc, NotAvailableError):
        return ServiceError(409, str(exc), title=exc.title)
    if isinstance(exc, AttuneError):
        return ServiceError(400, str(exc), title=exc.title)
    return ServiceError(500, f"internal error: {type(exc).__name__}: {exc}", title="internal error")


def _check_query(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ServiceError(400, "the query is empty; give q=QUERY (for example q=genre:soul energy<0.4)",
                           title="query error", position=0, query=text if isinstance(text, str) else None)
    if len(text) > MAX_QUERY:
        raise ServiceError(400, f"the query is {len(text):,} characters; the service takes at most {MAX_QUERY:,}",
                           title="query error", position=MAX_QUERY, query=text[:200] + "...")
    return text


def _check_limit(limit: int | None) -> int | None:
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise ServiceError(400, f"limit {limit} is outside 1..{MAX_LIMIT}", title="request error")
    return limit


class Service:
    def __init__(self, library_path: str | Path | None = None, *, workers: int = WORKERS, queue: int = QUEUE,
                 search_seconds: float = SEARCH_SECONDS, library: Library | None = None,
                 watch_seconds: float = WATCH_SECONDS) -> None:
        self.library_path = library_path
        self.search_seconds = search_seconds
        self.watch_seconds = watch_seconds
        self._lib: Library | None = library
        self._opening_error: Exception | None = None
        self._retrying = False  # the last error is one the service tries again after (`_open`)
        #: What `Library.warm` built once the library was open, with its seconds (None: not yet).
        self.warmed: dict[str, float] | None = None
        self._closed = threading.Event()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="attune-engine")
        self._slots = threading.BoundedSemaphore(workers + queue)
        self.started = time.time()
        if library is None:
            threading.Thread(target=self._open, name="attune-open", daemon=True).start()
        else:
            threading.Thread(target=self._watch, args=(library,), name="attune-watch", daemon=True).start()

    def _open(self) -> None:
        """Open the library; while its storage does not answer (or another writer holds it),
        try again, waiting longer each time (OPEN_RETRY): a service started during an outage
        serves once the storage is back, without a restart."""
        wait, longest = OPEN_RETRY
        while True:
            try:
                lib = Library.open(self.library_path)
                lib.snapshot()  # warm: the first request should not pay for loading the tracks
            except (UnreachableError, BusyError) as exc:
                self._opening_error, self._retrying = exc, True
                if self._closed.wait(wait):
                    return
                wait = min(2 * wait, longest)
                continue
            except Exception as exc:  # reported by every request and by /health
                self._opening_error, self._retrying = exc, False
                return
            self._lib, self._opening_error = lib, None
            break
        self._watch(lib)

    def _watch(self, lib: Library) -> None:
        """Warm the library (serving already: the first `like:` query should not wait 4-14 s
        for the attribute space), then every snapshot that follows another process's write
        (an import, `attune index`: at 10M tracks the new attribute space takes 10-16 s)
        once the service finds it, here rather than in the first request that needs it.
        The versions are read without renewing the store's cached ones
        (`Store.newest_versions`), so looking here never delays a request's own view of
        another process's write."""
        last, tracks = None, None  # the snapshot seen last (weakly: not kept alive here), its tracks' versions
        while True:
            try:
                snap = lib.snapshot(lib.store.newest_versions())
            except Exception:  # noqa: BLE001 - the storage did not answer: look again later
                snap = None
            if snap is not None and (last is None or last() is not snap):
                last = weakref.ref(snap)  # each snapshot once: a failure is the next query's to report
                try:
                    if snap.key.track_key != tracks:
                        self.warmed, tracks = lib.warm(snap), snap.key.track_key
                    elif computed(snap, "attr") is None:
                        # The same tracks, other playlists: the attribute space is refitted in
                        # milliseconds from the one before (or, where a request built this
                        # snapshot beside the one warmed here, built). Nothing else: after a
                        # playlist edit the first genre query rebuilds an inherited-genre index.
                        lib.warm(snap, only=("attribute space",))
                except Exception:  # noqa: BLE001 - nothing is lost: the first query that needs it builds it (and says why not)
                    self.warmed = self.warmed or {}
            if self._closed.wait(self.watch_seconds):
                return

    def wait_open(self, timeout: float = 60.0) -> None:
        """Wait until the library is open, or failed for good, or `timeout` passed."""
        deadline = time.monotonic() + timeout
        while self._lib is None and (self._opening_error is None or self._retrying) and time.monotonic() < deadline:
            time.sleep(0.02)

    @property
    def lib(self) -> Library:
        if self._lib is not None:
            return self._lib
        if self._opening_error is not None:
            again = "; the service keeps trying" if self._retrying else ""
            raise ServiceError(503, f"the library could not be opened: {self._opening_error}{again}",
                               title=getattr(self._opening_error, "title", "library error") if self._retrying
                               else "library error")
        raise ServiceError(503, "the library is still opening; try again in a moment", title="opening")

    def close(self) -> None:
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- running engine calls ------------------------------------------------------------

    async def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """Run `fn(*args)` on the engine's pool; errors become ServiceErrors."""
        if not self._slots.acquire(blocking=False):
            raise ServiceError(503, "the service is busy (every worker and queue place is taken); try again shortly",
                               title="busy")
        loop = asyncio.get_running_loop()

        def run() -> Any:
            try:
                return fn(*args)
            finally:
                self._slots.release()

        try:
            future = loop.run_in_executor(self._pool, run)
        except RuntimeError:  # the pool is shut down
            self._slots.release()
            raise ServiceError(503, "the service is stopping", title="stopping") from None
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise ServiceError(503, f"the request took longer than {timeout:g} s and was abandoned; narrow the query",
                               title="time limit") from None
        except Exception as exc:
            raise from_engine(exc) from None

    # -- operations (plain data in, plain data out; run on the pool) ---------------------

    def health(self) -> dict[str, Any]:
        if self._lib is None:
            if self._opening_error is None:
                return {"status": "opening", "uptime_s": round(time.time() - self.started, 1)}
            return {"status": "retrying" if self._retrying else "failed", "uptime_s": round(time.time() - self.started, 1)}
        return {"status": "ok", "tracks": self._lib.track_count(), "warm": self.warmed is not None,
                "uptime_s": round(time.time() - self.started, 1)}

    def stats(self) -> dict[str, Any]:
        return self.lib.stats()

    def search(self, q: str, limit: int | None = None, fmt: str = "json") -> dict[str, Any] | str:
        results = self.lib.search(_check_query(q), limit=_check_limit(limit))
        return self._results(results, render(results.plan.query), fmt, "attune search")

    def explain(self, q: str) -> dict[str, Any]:
        text = _check_query(q)
        lib = self.lib
        query = lib.parse(text)
        return {"query": render(query), "plan": lib.explain(text)}

    def explain_results(self, q: str, limit: int | None = None) -> dict[str, Any]:
        results = self.lib.search(_check_query(q), limit=_check_limit(limit))
        return {"query": render(results.plan.query), "plan": results.plan.describe(),
                "results": _plain(results.explanations())}

    def ask(self, text: str, limit: int | None = None) -> dict[str, Any]:
        answer = self.lib.ask(_check_query(text), limit=_check_limit(limit))
        return answer.to_dict() | {"results": answer.results.rows() if answer.results is not None else []}

    # Reading playlists looks for other processes' commits first (the tables' versions read
    # anew, where a search takes them as read up to CONSISTENCY_SECONDS ago): a player that
    # edits a playlist through the command line, or a curator in the terminal app, and then
    # asks here sees the edit, and the tracks it added, at once.

    def playlists(self) -> list[dict[str, Any]]:
        self.lib.store.changed()
        return [self._playlist_summary(p) for p in self.lib.playlists.all()]

    def playlist(self, name: str, fmt: str = "json") -> dict[str, Any] | str:
        self.lib.store.changed()
        playlist = self._resolve(name)
        if fmt != "json":
            return self.lib.playlists.export(playlist.name, _check_format(fmt))
        snap = self.lib.snapshot()
        rows = {r["track_id"]: r for r in snap.gather(snap.rows_of(playlist.track_ids)).select(
            "track_id", "title", "artist", "album", "year", "length", "path").to_dicts()}
        return self._playlist_summary(playlist) | {"track_ids": list(playlist.track_ids),
                                                    "tracks": [rows[t] for t in playlist.track_ids if t in rows]}

    def create_playlist(self, name: str, track_ids: list[str]) -> dict[str, Any]:
        if self.lib.playlists.listing(fresh=True).find(name) is not None:
            raise ServiceError(409, f"a playlist named '{name}' exists; add tracks to it with POST "
                                    f"/playlists/{{name}}/tracks or choose another name", title="exists")
        return self._playlist_summary(self.lib.playlists.create(name, track_ids))

    def add_tracks(self, name: str, track_ids: list[str], position: int | None = None) -> dict[str, Any]:
        self._resolve(name)
        return self._playlist_summary(self.lib.playlists.add(name, track_ids, position=position))

    def remove_track(self, name: str, track_id: str) -> dict[str, Any]:
        playlist = self._resolve(name)
        if track_id not in playlist.track_ids:
            raise ServiceError(404, f"track {track_id} is not in the playlist '{playlist.name}'", title="not found")
        return self._playlist_summary(self.lib.playlists.remove(name, [track_id]))

    def move_track(self, name: str, track_id: str, index: int) -> dict[str, Any]:
        self._resolve(name)
        return self._playlist_summary(self.lib.playlists.move(name, track_id, index))

    def rename_playlist(self, name: str, new_name: str) -> dict[str, Any]:
        self._resolve(name)
        return self._playlist_summary(self.lib.playlists.rename(name, new_name))

    def delete_playlist(self, name: str) -> dict[str, Any]:
        playlist = self._resolve(name)
        self.lib.playlists.delete(playlist.name)
        return {"deleted": playlist.name}

    def recipe(self, name: str) -> dict[str, Any]:
        playlist = self._resolve(name)
        recipe = self.lib.recipe(playlist.name)
        return {"playlist": playlist.name, "query": str(recipe), "description": recipe.describe()}

    def expand(self, name: str, limit: int = 50, discover: bool = False, include: str | None = None,
               exclude: str | None = None, per_artist: int | None = None, versions: bool = False,
               fmt: str = "json") -> dict[str, Any] | str:
        playlist = self._resolve(name)
        kwargs: dict[str, Any] = {"limit": _check_limit(limit) or 50, "discover": discover, "include": include,
                                  "exclude": exclude, "versions": versions}
        if per_artist is not None:
            kwargs["per_artist"] = per_artist if per_artist > 0 else None
        results = self.lib.expand(playlist.name, **kwargs)
        query = str(results.recipe) if results.recipe is not None else render(results.plan.query)
        out = self._results(results, query, fmt, f"{playlist.name} (expanded)")
        if isinstance(out, dict):
            out["playlist"] = playlist.name
            why = {e["track_id"]: e.get("why") for e in results.explanations()}
            for row in out["results"]:
                row["why"] = why.get(row["track_id"])
        return out

    def track(self, track_id: str) -> dict[str, Any]:
        row = self.lib.track(track_id)
        if row is None:
            raise ServiceError(404, f"no track with id {track_id} in the library", title="not found")
        return row

    # -- helpers -----------------------------------------------------------------------------

    def _resolve(self, name: str):
        try:
            return self.lib.playlists.get(name)
        except QueryError as exc:
            raise ServiceError(404, exc.message, title="not found", hint=exc.hint) from None

    @staticmethod
    def _playlist_summary(playlist) -> dict[str, Any]:
        return {"name": playlist.name, "id": playlist.playlist_id, "tracks": len(playlist.track_ids),
                "genres": list(playlist.genres), "source": playlist.source}

    @staticmethod
    def _results(results, query: str, fmt: str, name: str) -> dict[str, Any] | str:
        fmt = _check_format(fmt)
        if fmt == "csv":
            return results.to_csv()
        if fmt in ("m3u", "xspf"):
            out = io.StringIO()
            (write_m3u if fmt == "m3u" else write_xspf)(name, results.frame.to_dicts(), out)
            return out.getvalue()
        return {"query": query, "count": len(results), "notes": list(results.notes), "results": results.rows()}


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ServiceError(400, f"unknown format '{fmt}'; use one of {', '.join(FORMATS)}", title="request error")
    return fmt


def _plain(value: Any) -> Any:
    """JSON-safe: NaN as None, tuples as lists."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


__all__ = ["FORMATS", "MEDIA_TYPES", "LibraryError", "Service", "ServiceError"]
