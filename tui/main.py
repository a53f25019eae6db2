"""The `attune` program: the command line, plus `attune tui`, the terminal app.

The command line (`tui/cli/`) and the Textual app (`tui/app/`) do not import each other;
this module, above both, adds the command that starts the app.
"""

from __future__ import annotations

import sys

from .cli import cli
from .cli.common import library_option, library_path_of


@cli.command("tui")
@library_option
def tui_command(library_path) -> None:
    """The curator's terminal app (press ? inside for the keys)."""
    from attune.engine.storage import default_library_path

    from .app import AttuneApp

    AttuneApp(library_path=library_path_of(library_path) or default_library_path()).run()


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="attune")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
