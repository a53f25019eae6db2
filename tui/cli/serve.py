"""`attune serve` (HTTP and MCP) and `attune keys` (who may call it)."""

from __future__ import annotations

import click

from .common import Group, cli, library_option, library_path_of, open_library


@cli.command("serve")
@library_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs a key first (attune keys create).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one).")
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Engine calls answered at once (more wait in a bounded queue).")
@click.option("--search-seconds", default=10.0, show_default=True, type=click.FloatRange(0.1, 600),
              help="How long a search may run before the service gives up on it (503).")
@click.option("--mcp", "mcp", is_flag=True, help="Speak the Model Context Protocol on stdin/stdout instead of HTTP.")
def serve_command(library_path, host, port, workers, search_seconds, mcp) -> None:
    """Serve the library to front ends: JSON over HTTP (docs at /docs), or MCP tools with --mcp.

    Without keys it answers loopback only; once `attune keys create` has made one, every
    request needs `Authorization: Bearer KEY` (except /health).
    """
    from attune.service import Service
    from attune.service.http import is_loopback

    lib = open_library(library_path_of(library_path))  # a missing library is an error before anything starts
    if mcp:
        from attune.service.mcp import create_server

        service = Service(library=lib, workers=workers, search_seconds=search_seconds)
        create_server(service).run("stdio")
        return
    if not is_loopback(host) and not lib.keys.any():
        raise click.ClickException(
            f"refusing to listen on {host} without a key: anyone who can reach it could read and edit the library. "
            "Create one first (attune keys create NAME [--scope write]) or listen on 127.0.0.1")
    import uvicorn
    from attune.service import create_app, wrap

    service = Service(library_path_of(library_path), workers=workers, search_seconds=search_seconds)
    config = uvicorn.Config(wrap(create_app(service)), host=host, port=port, log_level="warning",
                            timeout_graceful_shutdown=5, limit_concurrency=1024)
    server = uvicorn.Server(config)
    original = server.startup

    async def startup(sockets=None) -> None:  # say where it listens once the socket is bound (port 0 included)
        await original(sockets)
        for s in server.servers:
            for sock in s.sockets:
                bound_host, bound_port = sock.getsockname()[:2]
                click.echo(f"attune serves {lib.path} on http://{_url_host(bound_host)}:{bound_port} "
                           f"(docs at /docs; {'keys required' if lib.keys.any() else 'loopback only, no keys'})",
                           err=True)

    server.startup = startup  # type: ignore[method-assign]
    server.run()
    service.close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@cli.group("keys", cls=Group)
def keys_group() -> None:
    """API keys for `attune serve` (stored hashed in the library)."""


@keys_group.command("create")
@click.argument("name")
@click.option("--scope", type=click.Choice(["read", "write"]), default="read", show_default=True,
              help="read: search, ask, recipes, expansion, playlists to read; write: also edit playlists.")
@library_option
def keys_create(name, scope, library_path) -> None:
    """Make a key; it is printed once, alone on the last line (the library keeps only its hash)."""
    key = open_library(library_path).keys.create(name, scope)
    click.echo(f"key '{name}' ({scope}) created; send it as 'Authorization: Bearer KEY'. It is shown only now:", err=True)
    click.echo(key)


@keys_group.command("list")
@library_option
def keys_list(library_path) -> None:
    """The keys: name, scope, when made (never the keys themselves)."""
    keys = open_library(library_path).keys.all()
    if not keys:
        click.echo("no keys: `attune serve` answers loopback only")
    for k in keys:
        click.echo(f"{k.name:<24} {k.scope:<6} {k.created}")


@keys_group.command("revoke")
@click.argument("name")
@library_option
def keys_revoke(name, library_path) -> None:
    """Delete a key: requests that send it are refused from now on (a running service included)."""
    open_library(library_path).keys.revoke(name)
    click.echo(f"key '{name}' revoked")

