"""Playlist file formats: M3U/M3U8 (with #EXTINF), XSPF and CSV, read and written.

Reading yields `Entry` rows that say what the file names (a location, an id, an
artist and title); matching them to library tracks is the playlist manager's job.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

from ..errors import LibraryError
from ..ingest.spotify import header_map

_XSPF_NS = "http://xspf.org/ns/0/"
_EXTINF_RE = re.compile(r"#EXTINF:\s*(-?\d+(?:\.\d+)?)?\s*(?:[^,]*),(.*)")


@dataclass
class Entry:
    line: int
    location: str | None = None
    track_id: str | None = None
    artist: str | None = None
    title: str | None = None

    def describe(self) -> str:
        if self.location:
            return self.location
        if self.track_id:
            return self.track_id
        return f"{self.artist or '?'} - {self.title or '?'}"


def read_entries(path: Path) -> list[Entry]:
    suffix = path.suffix.lower()
    readers = {".m3u": read_m3u, ".m3u8": read_m3u, ".xspf": read_xspf, ".csv": read_csv}
    if suffix not in readers:
        raise LibraryError(f"{path.name}: unknown playlist format '{suffix}'; attune reads .m3u, .m3u8, .xspf and .csv")
    try:
        return readers[suffix](path)
    except OSError as exc:
        raise LibraryError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise LibraryError(f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_m3u(path: Path) -> list[Entry]:
    entries, pending = [], None
    for number, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#EXTINF"):
            match = _EXTINF_RE.match(line)
            if match:
                artist, sep, title = match.group(2).partition(" - ")
                pending = (artist.strip(), title.strip()) if sep else (None, match.group(2).strip())
            continue
        if line.startswith("#"):
            continue
        artist, title = pending or (None, None)
        entries.append(Entry(number, location=unquote(line) if line.startswith("file://") else line, artist=artist, title=title))
        pending = None
    return entries


def read_xspf(path: Path) -> list[Entry]:
    from defusedxml import ElementTree

    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as exc:
        raise LibraryError(f"{path.name} is not valid XSPF: {exc}") from None
    ns = {"x": _XSPF_NS} if root.tag.startswith("{") else {}
    prefix = "x:" if ns else ""
    entries = []
    for index, track in enumerate(root.iterfind(f".//{prefix}trackList/{prefix}track", ns), start=1):
        def text(tag: str) -> str | None:
            node = track.find(f"{prefix}{tag}", ns)
            return node.text.strip() if node is not None and node.text else None

        location = text("location")
        if location and location.startswith("file://"):
            location = unquote(location[7:])
        entries.append(
            Entry(getattr(track, "sourceline", None) or index, location, text("identifier"), text("creator"), text("title"))
        )
    return entries


def read_csv(path: Path) -> list[Entry]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = header_map(reader.fieldnames or [])
        path_col = next((h for h in reader.fieldnames or [] if h.strip().lower() in ("path", "location", "file")), None)
        if not columns.get("track_id") and not path_col and not ("artist" in columns and "title" in columns):
            raise LibraryError(f"{path.name} has no track id, path, or artist and title columns")
        entries, line = [], reader.line_num
        for row in reader:
            start, line = line + 1, reader.line_num

            def cell(ours: str) -> str | None:
                header = columns.get(ours)
                return (row.get(header) or "").strip() or None if header else None

            location = (row.get(path_col) or "").strip() or None if path_col else None
            entries.append(Entry(start, location, cell("track_id"), cell("artist"), cell("title")))
    return entries


def _location(track: dict) -> str:
    if track.get("path"):
        return str(track["path"])
    if track.get("source") == "spotify":
        return f"spotify:track:{track['track_id']}"
    return str(track["track_id"])


def write_m3u(name: str, tracks: Sequence[dict], out: TextIO) -> None:
    out.write("#EXTM3U\n")
    out.write(f"#PLAYLIST:{name}\n")
    for t in tracks:
        seconds = int(round(t["length"])) if t.get("length") else -1
        out.write(f"#EXTINF:{seconds},{t.get('artist') or ''} - {t.get('title') or ''}\n")
        out.write(_location(t) + "\n")


def write_xspf(name: str, tracks: Sequence[dict], out: TextIO) -> None:
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(f'<playlist version="1" xmlns="{_XSPF_NS}">\n')
    out.write(f"  <title>{escape(name)}</title>\n  <trackList>\n")
    for t in tracks:
        out.write("    <track>\n")
        location = _location(t)
        if t.get("path"):
            location = "file://" + quote(str(Path(location).expanduser().resolve(strict=False)))
        out.write(f"      <location>{escape(location)}</location>\n")
        out.write(f"      <identifier>{escape(str(t['track_id']))}</identifier>\n")
        for tag, key in (("title", "title"), ("creator", "artist"), ("album", "album")):
            if t.get(key):
                out.write(f"      <{tag}>{escape(str(t[key]))}</{tag}>\n")
        if t.get("length"):
            out.write(f"      <duration>{int(round(t['length'] * 1000))}</duration>\n")
        out.write("    </track>\n")
    out.write("  </trackList>\n</playlist>\n")


def write_csv(name: str, tracks: Sequence[dict], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["track_id", "title", "artist", "album", "year", "path"])
    for t in tracks:
        writer.writerow([t["track_id"], t.get("title") or "", t.get("artist") or "", t.get("album") or "", t.get("year") or "", t.get("path") or ""])
