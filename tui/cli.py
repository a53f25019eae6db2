"""The `attune` command line.

Every command prints user errors (`AttuneError`) to stderr without a traceback
and exits with status 2; anything unexpected exits with status 1.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version

import click

from attune.query import AttuneError, outline, parse, render


def _version() -> str:
    try:
        return version("attune")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


class _Group(click.Group):
    """Turns AttuneError into a clean message and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AttuneError as exc:
            click.echo(_format_error(exc), err=True)
            ctx.exit(2 if exc.user_error else 1)


def _format_error(exc: AttuneError) -> str:
    return f"error: {exc}"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", "-V", prog_name="attune")
def cli() -> None:
    """attune: find music by what it sounds like and what it means."""


# Queries often start with '-' (a negation): commands that take a query have no
# short options, so click hands '-artist:x' through untouched.
_QUERY_ARGS = {"ignore_unknown_options": True, "help_option_names": ["--help"]}


@cli.command("parse", context_settings=_QUERY_ARGS)
@click.argument("query", nargs=-1, type=click.UNPROCESSED)
@click.option("--explain", is_flag=True, help="Also print the query's parts in plain words.")
def parse_command(query: tuple[str, ...], explain: bool) -> None:
    """Parse QUERY and print its canonical form.

    Several arguments are joined with spaces, so quoting the whole query is optional.
    A malformed query prints the error with a caret under the column and exits 2.
    """
    q = parse(" ".join(query))
    click.echo(outline(q) if explain else render(q))


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="attune")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
