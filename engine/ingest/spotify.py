"""Reading Spotify audio-feature tables into tracks and playlists.

Two layouts are accepted, columns matched by header case-insensitively:
the spotifyr / TidyTuesday one (`track_id, track_name, track_artist, ...,
playlist_name, playlist_id, playlist_genre, playlist_subgenre, danceability, ...`)
and Exportify's one-CSV-per-playlist export (`Track URI, Track Name, Artist
Name(s), ..., Artist Genres`), where the playlist is named after the file.
A file ending in `.gz` is read through gzip.

Bad rows never abort a read and never vanish: each is reported with its line
number and the reason.
"""

from __future__ import annotations

import csv
import gzip
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from attune.query.fields import BY_NAME

from ..errors import LibraryError

# Our column -> the header spellings that feed it (lower-case).
ALIASES: dict[str, tuple[str, ...]] = {
    "track_id": ("track_id", "track uri", "spotify uri", "uri", "spotify id", "id"),
    "title": ("track_name", "track name", "name", "title"),
    "artist": ("track_artist", "artist name(s)", "artist names", "artist_name", "artists", "artist"),
    "album": ("track_album_name", "album name", "album_name", "album"),
    "release_date": ("track_album_release_date", "album release date", "release_date", "release date"),
    "popularity": ("track_popularity", "popularity"),
    "playlist_name": ("playlist_name", "playlist name", "playlist"),
    "playlist_id": ("playlist_id", "playlist id"),
    "playlist_genre": ("playlist_genre",),
    "playlist_subgenre": ("playlist_subgenre",),
    "track_genres": ("artist genres", "genres", "genre"),
    "duration_ms": ("duration_ms", "track duration (ms)", "duration (ms)"),
    "danceability": ("danceability",),
    "energy": ("energy",),
    "key": ("key",),
    "loudness": ("loudness",),
    "mode": ("mode",),
    "speechiness": ("speechiness",),
    "acousticness": ("acousticness",),
    "instrumentalness": ("instrumentalness",),
    "liveness": ("liveness",),
    "valence": ("valence",),
    "tempo": ("tempo",),
    "isrc": ("isrc", "external_ids.isrc"),
}

#: The audio-feature columns, each checked against its field's valid range (the field
#: registry); a value outside is a broken row.
FEATURES = ("danceability", "energy", "speechiness", "acousticness", "instrumentalness", "liveness", "valence",
            "popularity", "tempo", "loudness", "key", "mode")
RANGES: dict[str, tuple[float, float]] = {
    **{c: BY_NAME[c].bounds for c in FEATURES},  # type: ignore[misc]
    "duration_ms": (1.0, 48 * 3600 * 1000.0),
}

_DATE_RE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_ISRC_RE = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")
_SPOTIFY_ID_RE = re.compile(r"(?:spotify:track:|open\.spotify\.com/track/)([A-Za-z0-9]+)")


def normalise_isrc(value: str | None) -> str | None:
    """An ISRC as 12 upper-case characters (CC-XXX-YY-NNNNN with its dashes and spaces
    dropped), or None when `value` is not one."""
    text = re.sub(r"[\s-]", "", value or "").upper()
    return text if _ISRC_RE.fullmatch(text) else None


def spotify_id(value: str) -> str:
    """The bare track id from an id, a `spotify:track:` URI or an open.spotify.com URL."""
    match = _SPOTIFY_ID_RE.search(value)
    return match.group(1) if match else value.strip()


@dataclass
class Skipped:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class SpotifyRead:
    """What a set of files holds: tracks by id, playlists by source id, and the bad rows."""

    tracks: dict[str, dict] = field(default_factory=dict)
    playlists: dict[str, dict] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[Skipped] = field(default_factory=list)
    rows: int = 0


def header_map(fieldnames: Iterable[str]) -> dict[str, str]:
    """Our column -> the file's header for it."""
    lowered = {name.strip().lower(): name for name in fieldnames if name}
    found = {}
    for ours, spellings in ALIASES.items():
        for spelling in spellings:
            if spelling in lowered:
                found[ours] = lowered[spelling]
                break
    return found


def read_spotify(paths: Iterable[str | Path], *, encoding: str | None = None) -> SpotifyRead:
    """Read the tables. Text is UTF-8 (or UTF-16 with a byte-order mark) unless `encoding`
    says otherwise; a file that is not what it says is an error naming the place."""
    out = SpotifyRead()
    for path in paths:
        _read_file(Path(path), out, encoding)
    return out


def _encoding_of(path: Path, encoding: str | None) -> str:
    """The encoding to read with: the caller's, else what a byte-order mark says, else UTF-8."""
    if encoding:
        return encoding
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as handle:
        head = handle.read(4)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    return "utf-8-sig"


def _read_file(path: Path, out: SpotifyRead, encoding: str | None = None) -> None:
    try:
        encoding = _encoding_of(path, encoding)
        if path.suffix.lower() == ".gz":  # a compressed export, read as it streams
            handle = gzip.open(path, "rt", newline="", encoding=encoding)
        else:
            handle = path.open(newline="", encoding=encoding)
    except LookupError:
        raise LibraryError(f"unknown text encoding '{encoding}'") from None
    except (OSError, EOFError) as exc:
        raise LibraryError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            _read_rows(path, reader, out)
        except UnicodeDecodeError as exc:
            raise LibraryError(
                f"{path.name} near line {reader.line_num + 1} is not {encoding.removesuffix('-sig')} text "
                f"(byte 0x{exc.object[exc.start]:02x}); save it as UTF-8, or give its encoding with --encoding"
            ) from None
        except csv.Error as exc:
            raise LibraryError(f"{path.name}, line {reader.line_num}: not a readable CSV row ({exc})") from None
        except (OSError, EOFError) as exc:  # a damaged .gz
            raise LibraryError(f"cannot read {path}: {exc}") from None


def _read_rows(path: Path, reader: csv.DictReader, out: SpotifyRead) -> None:
    columns = header_map(reader.fieldnames or [])
    if "track_id" not in columns:
        raise LibraryError(
            f"{path} has no track id column (looked for: {', '.join(ALIASES['track_id'])}); "
            "is it a Spotify audio-feature export?"
        )
    exportify = "playlist_name" not in columns and "playlist_id" not in columns
    line = reader.line_num
    for row in reader:
        start, line = line + 1, reader.line_num
        out.rows += 1
        try:
            track, membership = _parse_row(row, columns, path, start, out)
        except ValueError as exc:
            out.skipped.append(Skipped(path.name, start, str(exc)))
            continue
        _merge_track(out.tracks, track)
        if exportify:
            membership = (f"exportify:{path.stem}", path.stem, ())
        if membership is not None:
            _add_membership(out.playlists, membership, track["track_id"])


def _cell(row: dict, columns: dict[str, str], ours: str) -> str:
    header = columns.get(ours)
    value = row.get(header) if header else None
    return (value or "").strip()


def _number(row: dict, columns: dict[str, str], ours: str) -> float | None:
    text = _cell(row, columns, ours)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{ours} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{ours} {text!r} is not a finite number")
    low, high = RANGES.get(ours, (-math.inf, math.inf))
    if not low <= value <= high:
        raise ValueError(f"{ours} {text} is outside {low:g}..{high:g}")
    return value


def _parse_row(row: dict, columns: dict[str, str], path: Path, line: int, out: SpotifyRead):
    if None in row:  # csv puts surplus cells under the None key
        raise ValueError(f"the row has {len(row) - 1 + len(row[None])} cells, the header {len(row) - 1}")
    if any(value is None for value in row.values()):  # and fills a short row with None
        cells = sum(value is not None for value in row.values())
        raise ValueError(f"the row has {cells} cells, the header {len(row)}")
    raw_id = _cell(row, columns, "track_id")
    if not raw_id:
        raise ValueError("missing track id")
    numbers = {c: _number(row, columns, c) for c in RANGES}
    release = _cell(row, columns, "release_date")
    year = None
    if release:
        match = _DATE_RE.fullmatch(release)
        if match and 1 <= int(match.group(2) or 1) <= 12 and 1 <= int(match.group(3) or 1) <= 31:
            year = int(match.group(1))
        else:
            out.warnings.append(Skipped(path.name, line, f"release date {release!r} is not YYYY, YYYY-MM or YYYY-MM-DD; year left empty"))
    # Raw genre strings, as written; the library normalises them (engine/genres.py).
    genres = [g.strip() for g in _cell(row, columns, "track_genres").split(",") if g.strip()]
    instrumental = numbers["instrumentalness"]
    duration = numbers.pop("duration_ms")
    track = {
        "track_id": spotify_id(raw_id),
        "source": "spotify",
        "title": _cell(row, columns, "title") or None,
        "artist": _cell(row, columns, "artist") or None,
        "album": _cell(row, columns, "album") or None,
        "release_date": release or None,
        "year": year,
        "length": duration / 1000.0 if duration is not None else None,
        "genres": genres,
        "tags": [],
        "isrc": normalise_isrc(_cell(row, columns, "isrc")),
        "vocalness": None if instrumental is None else 1.0 - instrumental,
        **numbers,
    }
    playlist_id = _cell(row, columns, "playlist_id")
    playlist_name = _cell(row, columns, "playlist_name")
    membership = None
    if playlist_id or playlist_name:
        genres_of_playlist = tuple(
            g for g in (_cell(row, columns, "playlist_genre"), _cell(row, columns, "playlist_subgenre")) if g
        )
        membership = (playlist_id or f"name:{playlist_name}", playlist_name or playlist_id, genres_of_playlist)
    return track, membership


def _merge_track(tracks: dict[str, dict], track: dict) -> None:
    """A track seen on several rows: first values win, genres are the union."""
    seen = tracks.get(track["track_id"])
    if seen is None:
        tracks[track["track_id"]] = track
        return
    for key, value in track.items():
        if seen.get(key) is None and value is not None:
            seen[key] = value
    seen["genres"] = list(dict.fromkeys([*seen["genres"], *track["genres"]]))


def _add_membership(playlists: dict[str, dict], membership: tuple, track_id: str) -> None:
    playlist_id, name, genres = membership
    entry = playlists.setdefault(playlist_id, {"name": name, "track_ids": {}, "genres": {}})
    entry["track_ids"].setdefault(track_id, None)  # an ordered set: first position wins
    for g in genres:
        entry["genres"].setdefault(g, None)
