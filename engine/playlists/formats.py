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


#: How a track id that could not stand alone on a line (control characters, a leading
#: "#", surrounding spaces) is written: percent-encoded after this prefix.
ENCODED_ID = "attune:track:"
#: Characters that end a line for Python's `splitlines` or are not allowed in XML 1.0.
_BREAKS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff\ud800-\udfff]")


def plain(text: str) -> bool:
    """Whether `text` can stand alone on a line of a playlist file and be read back as is."""
    return not _BREAKS.search(text) and "\t" not in text and text == text.strip() and not text.startswith("#")


def encode_id(track_id: str) -> str:
    """A track id as a playlist file writes it (`decode_id` reads it back)."""
    return track_id if plain(track_id) else ENCODED_ID + quote(track_id, safe="")


def decode_id(text: str) -> str:
    return unquote(text[len(ENCODED_ID):]) if text.startswith(ENCODED_ID) else text


def one_line(text: str) -> str:
    """Text for a line of its own (a title, a playlist name): control characters become spaces."""
    return _BREAKS.sub(" ", text.replace("\t", " "))


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
        raise LibraryError(f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    except csv.Error as exc:
        raise LibraryError(f"{path.name} is not a readable CSV file: {exc}") from None


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
        location = unquote(line) if line.startswith("file://") else decode_id(line)
        entries.append(Entry(number, location=location, artist=artist, title=title))
        pending = None
    return entries


def read_xspf(path: Path) -> list[Entry]:
    from defusedxml import DefusedXmlException, ElementTree

    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as exc:
        raise LibraryError(f"{path.name} is not valid XSPF: {exc}") from None
    except DefusedXmlException as exc:  # a DTD, entities or external references: never expanded
        raise LibraryError(f"{path.name} is refused: it declares {type(exc).__name__.removesuffix('Forbidden').lower() or 'XML features'} "
                           "(a DTD or entities), which a playlist never needs") from None
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
        identifier = text("identifier")
        entries.append(
            Entry(getattr(track, "sourceline", None) or index, location, decode_id(identifier) if identifier else None,
                  text("creator"), text("title"))
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
            if location and location.startswith("file://"):
                location = unquote(location[7:])
            track_id = cell("track_id")
            entries.append(Entry(start, location, decode_id(track_id) if track_id else None, cell("artist"), cell("title")))
    return entries


def _location(track: dict) -> str:
    """Where a playlist file says the track is: its path (a file:// URI when the path
    could not stand on a line as it is), its Spotify URI, or its (encoded) id."""
    if track.get("path"):
        path = str(track["path"])
        return path if plain(path) else "file://" + quote(path)
    if track.get("source") == "spotify" and re.fullmatch(r"[A-Za-z0-9]+", str(track["track_id"])):
        return f"spotify:track:{track['track_id']}"
    return encode_id(str(track["track_id"]))


def write_m3u(name: str, tracks: Sequence[dict], out: TextIO) -> None:
    """M3U with #EXTINF lines; control characters in names become spaces, and a path or id
    that could not stand on its own line is encoded, so the file reads back the same."""
    out.write("#EXTM3U\n")
    out.write(f"#PLAYLIST:{one_line(name)}\n")
    for t in tracks:
        seconds = int(round(t["length"])) if t.get("length") else -1
        out.write(f"#EXTINF:{seconds},{one_line(t.get('artist') or '')} - {one_line(t.get('title') or '')}\n")
        out.write(_location(t) + "\n")


def write_xspf(name: str, tracks: Sequence[dict], out: TextIO) -> None:
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(f'<playlist version="1" xmlns="{_XSPF_NS}">\n')
    out.write(f"  <title>{escape(one_line(name))}</title>\n  <trackList>\n")
    for t in tracks:
        out.write("    <track>\n")
        location = _location(t)
        if t.get("path"):
            location = "file://" + quote(str(Path(str(t["path"])).expanduser().resolve(strict=False)))
        out.write(f"      <location>{escape(location)}</location>\n")
        out.write(f"      <identifier>{escape(encode_id(str(t['track_id'])))}</identifier>\n")
        for tag, key in (("title", "title"), ("creator", "artist"), ("album", "album")):
            if t.get(key):
                out.write(f"      <{tag}>{escape(one_line(str(t[key])))}</{tag}>\n")
        if t.get("length"):
            out.write(f"      <duration>{int(round(t['length'] * 1000))}</duration>\n")
        out.write("    </track>\n")
    out.write("  </trackList>\n</playlist>\n")


def write_csv(name: str, tracks: Sequence[dict], out: TextIO) -> None:
    """CSV (quoted where needed); an id or path that would not read back as is is encoded."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["track_id", "title", "artist", "album", "year", "path"])
    for t in tracks:
        path = str(t.get("path") or "")
        path = path if plain(path) else "file://" + quote(path)
        writer.writerow([encode_id(str(t["track_id"])), one_line(t.get("title") or ""), one_line(t.get("artist") or ""),
                         one_line(t.get("album") or ""), t.get("year") or "", path])
