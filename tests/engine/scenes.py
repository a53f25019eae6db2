"""A generated library of three music scenes, for discovery and cold start.

Each scene has its own sound (energy, valence, tempo, years) and six artists of ten
tracks; sixty playlists each draw twelve tracks from one scene's artists. Per scene,
four tracks by its artists and four by a newcomer artist sit in no playlist (cold).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .conftest import HEADER

#: name -> (energy, valence, tempo, first year)
SCENES = {"ambient": (0.15, 0.30, 70.0, 1995), "disco": (0.80, 0.85, 120.0, 1977), "metal": (0.95, 0.20, 170.0, 2005)}
ARTISTS = 6
TRACKS_PER_ARTIST = 6
PLAYLISTS_PER_SCENE = 20
PLAYLIST_SIZE = 12
COLD_PER_ARTIST_GROUP = 4


def artist(scene: str, k: int) -> str:
    return f"{scene.title()} Artist {k}"


def newcomer(scene: str) -> str:
    return f"{scene.title()} Newcomer"


def write_scenes(path: Path, seed: int = 0) -> dict[str, dict[str, list[str]]]:
    """Write the Spotify-style CSV; returns scene -> {"playlisted", "cold_known", "cold_new"} track ids."""
    rng = np.random.default_rng(seed)
    rows, out = [], {}
    for s, (scene, (energy, valence, tempo, year)) in enumerate(SCENES.items()):
        tracks: dict[str, tuple] = {}
        for k in range(ARTISTS):
            for j in range(TRACKS_PER_ARTIST):
                tracks[f"{scene[:2]}{k}{j:02d}"] = (f"{scene} song {k}-{j}", artist(scene, k))
        for j in range(COLD_PER_ARTIST_GROUP):
            tracks[f"{scene[:2]}n{j:02d}"] = (f"{scene} new song {j}", newcomer(scene))
        ids = list(tracks)
        cold_known = [f"{scene[:2]}{k}{TRACKS_PER_ARTIST - 1:02d}" for k in range(COLD_PER_ARTIST_GROUP)]
        cold_new = [t for t in ids if t[2] == "n"]
        playlisted = [t for t in ids if t not in cold_known and t not in cold_new]
        out[scene] = {"playlisted": playlisted, "cold_known": cold_known, "cold_new": cold_new}

        def features(tid: str) -> list:
            jitter = rng.normal(0, 0.04, 3)
            return [min(max(energy + jitter[0], 0), 1), min(max(valence + jitter[1], 0), 1), tempo + 8 * jitter[2],
                    f"{year + int(rng.integers(0, 8))}-01-01"]

        attrs = {t: features(t) for t in ids}
        for p in range(PLAYLISTS_PER_SCENE):
            name = f"{scene} mix {p}"
            for tid in rng.choice(playlisted, PLAYLIST_SIZE, replace=False):
                rows.append(_row(tid, *tracks[tid], attrs[tid], name, f"pl_{scene}_{p}", s))
        for tid in cold_known + cold_new:
            rows.append(_row(tid, *tracks[tid], attrs[tid], "", "", s))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return out


def _row(tid, title, artist_name, attrs, playlist, pid, s):
    energy, valence, tempo, date = attrs
    return [tid, title, artist_name, 50 + s, f"alb_{tid[:3]}", f"Album {tid[:3]}", date, playlist, pid, "", "",
            0.5, round(energy, 3), 5, -8.0, 1, 0.05, 0.3, 0.1, 0.1, round(valence, 3), round(tempo, 1), 200000]
