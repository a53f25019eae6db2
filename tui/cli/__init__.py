"""The `attune` command line: one module per command group, each adding its commands to
the `attune` group (`common.cli`). Errors become one line on stderr and an exit status."""

from . import audio, library, playlists, search, serve  # noqa: F401  (each module adds its commands to `cli`)
from .common import cli

__all__ = ["cli"]
