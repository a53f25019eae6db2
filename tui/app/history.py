"""The query history, kept per library in `<library>/tui-history.json` (the last 200);
for a library on object storage, in the user's data folder under a name made from its URI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

KEEP = 200


def history_file(library_path: Path | str | None) -> Path:
    if isinstance(library_path, str) and "://" in library_path:
        from platformdirs import user_data_path

        folder = user_data_path("attune") / "tui-history"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{hashlib.sha256(library_path.encode()).hexdigest()[:16]}.json"
    return Path(library_path or ".") / "tui-history.json"


def load(library_path: Path | str | None) -> list[str]:
    try:
        return [str(q) for q in json.loads(history_file(library_path).read_text())][-KEEP:]
    except (OSError, ValueError, TypeError):
        return []


def save(library_path: Path | str | None, history: list[str]) -> None:
    try:
        history_file(library_path).write_text(json.dumps(history[-KEEP:]))
    except OSError:
        pass  # history is a convenience; a read-only library still works
