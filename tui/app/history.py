"""The query history, kept per library in `<library>/tui-history.json` (the last 200)."""

from __future__ import annotations

import json
from pathlib import Path

KEEP = 200


def history_file(library_path: Path | None) -> Path:
    return Path(library_path or ".") / "tui-history.json"


def load(library_path: Path | None) -> list[str]:
    try:
        return [str(q) for q in json.loads(history_file(library_path).read_text())][-KEEP:]
    except (OSError, ValueError, TypeError):
        return []


def save(library_path: Path | None, history: list[str]) -> None:
    try:
        history_file(library_path).write_text(json.dumps(history[-KEEP:]))
    except OSError:
        pass  # history is a convenience; a read-only library still works
