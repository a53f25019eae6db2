"""attune as Model Context Protocol tools, for LLM-driven voice and text assistants:
`attune serve --mcp` speaks MCP over stdio (the `mcp` package's MCPServer).

The tools are the HTTP service's operations (`core.Service`), called the same way (on the
same bounded pool, with the same time limit and errors), so an assistant gets what a
front end gets: plain words in, the visible query and the tracks out. A failure comes back
as a tool error whose text ends with the JSON error body ({"error", "message", "position",
"expected", "hint"}), for the model to read and correct its query.
"""

from __future__ import annotations

import json
from typing import Any

from .core import Service, ServiceError

INSTRUCTIONS = (
    "attune searches the user's music library. Prefer `ask` with the user's own words: it returns the query "
    "those words became (show it to the user; they can edit it) and the tracks. `search` takes attune's query "
    "language (genre:soul energy<0.4 like:playlist(\"Sunday Morning\") -artist:\"Al Green\" limit:20). "
    "Tracks have `path` when they are files the user can play."
)


def create_server(service: Service):
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("attune", instructions=INSTRUCTIONS)

    async def run(fn, *args: Any, timeout: float | None = None) -> Any:
        try:
            return await service.call(fn, *args, timeout=timeout)
        except ServiceError as exc:
            raise ToolError(json.dumps(exc.body(), ensure_ascii=False)) from None

    limit = service.search_seconds

    @server.tool()
    async def ask(text: str, limit_results: int = 20) -> dict:
        """Search in plain words ("calm soul from the 70s"): returns how each word was read, the query they
        became (show it) and the matching tracks, best first."""
        return await run(service.ask, text, limit_results, timeout=limit)

    @server.tool()
    async def search(query: str, limit_results: int = 20) -> dict:
        """Run a query of attune's language; returns the canonical query and the tracks, best first."""
        return await run(service.search, query, limit_results, "json", timeout=limit)

    @server.tool()
    async def explain(query: str) -> dict:
        """How a query is read and executed, without running it."""
        return await run(service.explain, query, timeout=limit)

    @server.tool()
    async def playlists() -> dict:
        """Every playlist: name, id, number of tracks, genres."""
        return {"playlists": await run(service.playlists)}

    @server.tool()
    async def playlist(name: str) -> dict:
        """One playlist and its tracks, in order."""
        return await run(service.playlist, name, "json")

    @server.tool()
    async def recipe(name: str) -> dict:
        """A playlist's recipe: its genres, energy, valence, tempo, artists and years as an editable query."""
        return await run(service.recipe, name, timeout=limit)

    @server.tool()
    async def expand(name: str, limit_results: int = 20, discover: bool = False, include: str | None = None,
                     exclude: str | None = None) -> dict:
        """Tracks to add to a playlist, best first, each with why; discover=True for artists it lacks only;
        include / exclude are filters of the query language."""
        return await run(service.expand, name, limit_results, discover, include, exclude, None, False, "json",
                         timeout=limit)

    @server.tool()
    async def track(track_id: str) -> dict:
        """Everything about one track: attributes, genres, tags, playlists, path."""
        return await run(service.track, track_id)

    @server.tool()
    async def create_playlist(name: str, track_ids: list[str]) -> dict:
        """Create a playlist from track ids (in order)."""
        return await run(service.create_playlist, name, track_ids)

    @server.tool()
    async def add_to_playlist(name: str, track_ids: list[str]) -> dict:
        """Append tracks to a playlist."""
        return await run(service.add_tracks, name, track_ids, None)

    @server.tool()
    async def remove_from_playlist(name: str, track_id: str) -> dict:
        """Remove a track from a playlist."""
        return await run(service.remove_track, name, track_id)

    return server
