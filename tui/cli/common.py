"""What every command shares: the `attune` group, `--library` (before or after the
command), `--columns`, opening the library, and turning attune's errors into one line."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import click
from attune.query import AttuneError


def _version() -> str:
    try:
        return version("attune")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


class Group(click.Group):
    """Turns AttuneError into a clean message and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AttuneError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2 if exc.user_error else 1)


# Queries often start with '-' (a negation): commands that take a query have no
# short options, so click hands '-artist:x' through untouched.
QUERY_ARGS = {"ignore_unknown_options": True, "help_option_names": ["--help"]}

# `--library` is taken before the command (`attune --library PATH search ...`, as beets
# takes -l) and after it (`attune search ... --library PATH`); after wins. Neither: the
# engine's default ($ATTUNE_LIBRARY, else the user data directory).
library_option = click.option(
    "--library",
    "library_path",
    type=click.Path(path_type=Path, file_okay=False),
    help="Library directory (default: $ATTUNE_LIBRARY, else the user data directory).",
)


def library_path_of(path: Path | None) -> Path | None:
    """The library the command names: its own --library, else the one given before it."""
    if path is not None:
        return path
    ctx = click.get_current_context(silent=True)
    return ctx.find_root().params.get("library_path") if ctx is not None else None


def _columns(ctx, param, value: str | None) -> tuple[str, ...] | None:
    return tuple(c.strip() for c in value.split(",") if c.strip()) if value else None


columns_option = click.option(
    "--columns", callback=_columns, metavar="A,B,...",
    help="Result columns to print, in this order (e.g. title,artist,energy,tags).",
)


def open_library(path: Path | None):
    from attune.engine import Library

    return Library.open(library_path_of(path))


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", "-V", prog_name="attune")
@library_option
def cli(library_path: Path | None) -> None:
    """attune: find music by what it sounds like and what it means.

    Every command that uses a library takes --library PATH, before the command
    or after it.
    """
