"""Ingest: what comes into a library. Spotify audio-feature tables (`spotify.py`) and the
audio indexer's rows (`writer.write_indexed`, the one door the indexer writes through)."""

from .spotify import Skipped, read_spotify, spotify_id
from .writer import (
    Failed,
    ImportReport,
    Indexed,
    Unchanged,
    genre_map,
    import_tables,
    known_files,
    model_tags,
    normalize_genres,
    prune_missing,
    remember_model_tags,
    remove_tracks,
    set_genre_override,
    write_indexed,
)

__all__ = [
    "Failed", "ImportReport", "Indexed", "Skipped", "Unchanged", "genre_map", "import_tables", "known_files",
    "model_tags", "normalize_genres", "prune_missing", "read_spotify", "remember_model_tags", "remove_tracks", "set_genre_override",
    "spotify_id", "write_indexed",
]
