"""The MCP tools through a real client session: `attune serve --mcp` over stdio."""

import json
import sys

import pytest

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


async def test_tools_over_stdio(library):
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "attune.tui.main", "serve", "--mcp", "--library", str(library)])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = {t.name for t in (await session.list_tools()).tools}
        assert {"ask", "search", "explain", "playlists", "playlist", "recipe", "expand", "track", "create_playlist",
                "add_to_playlist", "remove_from_playlist"} <= tools

        def body(result):
            assert not result.is_error, result.content
            return json.loads(result.content[0].text)

        answer = body(await session.call_tool("ask", {"text": "calm soul", "limit_results": 5}))
        assert answer["query"] and "energy<" in answer["query"] and isinstance(answer["results"], list)
        found = body(await session.call_tool("search", {"query": "artist:green", "limit_results": 5}))
        assert found["query"] == "artist:green" and [r["track_id"] for r in found["results"]] == ["t01", "t02"]
        assert body(await session.call_tool("recipe", {"name": "Sunday Morning"}))["query"]
        expanded = body(await session.call_tool("expand", {"name": "Sunday Morning", "limit_results": 3}))
        assert len(expanded["results"]) == 3
        assert body(await session.call_tool("track", {"track_id": "t08"}))["title"] == "Hoppípolla"
        assert body(await session.call_tool("create_playlist", {"name": "Voice", "track_ids": ["t01"]}))["tracks"] == 1
        assert body(await session.call_tool("add_to_playlist", {"name": "Voice", "track_ids": ["t02"]}))["tracks"] == 2
        assert body(await session.call_tool("remove_from_playlist", {"name": "Voice", "track_id": "t01"}))["tracks"] == 1
        assert "Voice" in {p["name"] for p in body(await session.call_tool("playlists", {}))["playlists"]}

        bad = await session.call_tool("search", {"query": "energey<0.4"})
        assert bad.is_error
        text = bad.content[0].text  # the SDK puts "Error executing tool search: " before the body
        error = json.loads(text[text.index("{"):])
        assert error["hint"] == "did you mean 'energy'?" and error["position"] == 0 and error["status"] == 400
