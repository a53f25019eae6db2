"""What every command shares: the `attune` group, `--library` (before or after the
command), `--columns`, opening the library, and `run`, which turns every error into a
short message and an exit status: attune's errors (2 for bad input, 1 otherwise) in one
line, anything unexpected in two (what happened, and where the full traceback was
written), Ctrl-C as 130. No traceback ever reaches the terminal."""

from __future__ import annotations

import sys
import tempfile
import time
import traceback
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
    """The command groups; errors are turned into messages by `run`."""


def run(group: click.Group, argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    bad = next((i for i, arg in enumerate(argv or []) if "\x00" in arg), None)
    if bad is not None:  # no shell can pass one; a program calling main() can
        click.echo(f"error: argument {bad + 1} contains a NUL character", err=True)
        return 2
    try:
        group.main(args=argv, prog_name="attune", standalone_mode=False)
        return 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:  # usage errors: click's own message, status 2
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort as exc:  # Ctrl-C (click turns it into Abort), or no answer at a prompt
        interrupted = isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt)
        click.echo("interrupted" if interrupted else "aborted: no answer", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("\ninterrupted", err=True)
        return 130
    except AttuneError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2 if exc.user_error else 1
    except BrokenPipeError:  # `attune search ... | head`: the reader left; nothing to say
        sys.stderr.close()
        return 0
    except Exception as exc:  # a bug: say so briefly, keep the details for a report
        where = _write_traceback()
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        click.echo(f"internal error: {type(exc).__name__}" + (f": {first}" if first else ""), err=True)
        click.echo(f"  this is a bug in attune; the full traceback is in {where}", err=True)
        return 1


def _write_traceback() -> Path:
    """Write the current exception's traceback to a file; returns its path."""
    try:
        from platformdirs import user_log_path

        folder = user_log_path("attune")
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.gettempdir())
    path = folder / f"attune-error-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    try:
        path.write_text(f"attune {_version()}\nargv: {sys.argv!r}\n\n{traceback.format_exc()}", encoding="utf-8")
    except OSError:
        return Path("(could not be written)")
    return path


# Queries often start with '-' (a negation): commands that take a query have no
# short options, so click hands '-artist:x' through untouched.
QUERY_ARGS = {"ignore_unknown_options": True, "help_option_names": ["--help"]}

# `--library` is taken before the command (`attune --library PATH search ...`, as beets
# takes -l) and after it (`attune search ... --library PATH`); after wins. Neither: the
# engine's default ($ATTUNE_LIBRARY, else the user data directory).
class _LibraryPlace(click.ParamType):
    """A library folder (a Path) or an object-storage URI (kept as text: s3://bucket/prefix)."""

    name = "path|uri"

    def convert(self, value, param, ctx):
        from attune.engine.storage.place import is_uri

        if isinstance(value, Path) or not is_uri(str(value)):
            return click.Path(path_type=Path, file_okay=False).convert(value, param, ctx)
        return str(value)


library_option = click.option(
    "--library",
    "library_path",
    type=_LibraryPlace(),
    help="Library folder, or s3://bucket/prefix (gs://, az://) on object storage "
    "(default: $ATTUNE_LIBRARY, else the user data directory).",
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


def open_library(path: Path | None, *, create: bool = False):
    """The library the command names. Only commands that write new data (imports,
    indexing, creating playlists) create a missing one; the others say it is missing."""
    from attune.engine import Library

    return Library.open(library_path_of(path), create=create)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", "-V", prog_name="attune")
@library_option
def cli(library_path: Path | None) -> None:
    """attune: find music by what it sounds like and what it means.

    Every command that uses a library takes --library PATH, before the command
    or after it.
    """
