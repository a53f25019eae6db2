"""The `attune` program: the command line, plus `attune tui`, the terminal app.

The command line (`tui/cli/`) and the Textual app (`tui/app/`) do not import each other;
this module, above both, adds the command that starts the app. It imports them only
inside `main`, so that Ctrl-C while the program is still starting up is one line too.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    try:
        from .cli.common import run

        program = _program()
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(130)
    sys.exit(run(program, argv))


def _program():
    """The `attune` command group, with `attune tui` added (once)."""
    import click

    from .cli import cli
    from .cli.common import library_option, library_path_of

    if "tui" in cli.commands:
        return cli

    @cli.command("tui")
    @library_option
    def tui_command(library_path) -> None:
        """The curator's terminal app (press ? inside for the keys)."""
        from attune.engine import Library
        from attune.engine.storage import default_library_path

        from .app import AttuneApp

        path = library_path_of(library_path) or default_library_path()
        Library.check_exists(path)
        AttuneApp(library_path=path).run()

    assert isinstance(tui_command, click.Command)
    return cli


if __name__ == "__main__":  # pragma: no cover
    main()
