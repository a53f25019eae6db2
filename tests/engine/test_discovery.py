"""Expansion that discovers: related artists, cold start, versions of a song, steering."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from attune.engine import Library
from attune.engine.errors import AttuneError
from attune.engine.search.versions import song_key
from attune.engine.spaces import coldstart
from attune.engine.spaces.related import related_artists

from .conftest import HEADER
from .scenes import artist, newcomer, write_scenes


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scenes")
    ids = write_scenes(folder / "scenes.csv")
    lib = Library.open(folder / "lib")
    lib.import_spotify([folder / "scenes.csv"])
    return lib, ids


def _write(path, rows):
    """rows: (track_id, title, artist, playlist name or "", energy)"""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for tid, title, who, playlist, energy in rows:
            writer.writerow([tid, title, who, 50, f"alb_{tid}", "Album", "2000-01-01", playlist,
                             f"pl_{playlist}" if playlist else "", "", "", 0.5, energy, 5, -8.0, 1, 0.05, 0.3, 0.1, 0.1,
                             0.5, 120.0, 200000])
    return path


# -- related artists -----------------------------------------------------------------------


def test_related_artists_follow_shared_playlists_and_damp_wallpaper(tmp_path):
    # A shares two playlists with B, one with C; D and E share one only with each other;
    # W is in every playlist (a "wallpaper" artist).
    playlists = {"p1": ["A", "B", "W"], "p2": ["A", "B", "W"], "p3": ["A", "C", "W"], "p4": ["D", "E", "W"],
                 "p5": ["D", "E", "W"], "p6": ["B", "W"], "p7": ["C", "W"]}
    rows, n = [], 0
    for name, who in playlists.items():
        for a in who:
            n += 1
            rows.append((f"t{n}", f"song {n}", a, name, 0.5))
    lib = Library.open(tmp_path / "lib")
    lib.import_spotify([_write(tmp_path / "r.csv", rows)])
    snap = lib.snapshot()
    index = snap.text_index("artist")
    code = {snap.tracks.frame["artist"][int(np.flatnonzero(index.codes == c)[0])]: c for c in np.unique(index.codes)}
    shares = np.zeros(len(index.values))
    shares[code["A"]] = 1.0
    related = related_artists(snap, shares)
    score = {a: related[code[a]] for a in "BCDEW"}
    assert score["B"] > score["C"] > 0
    assert score["D"] == score["E"] == 0.0
    assert score["B"] > score["W"]  # in every playlist: damped below A's real companions


def test_like_artist_in_colisten_ranks_related_artists_first(scenes):
    lib, _ = scenes
    results = lib.search(f'like:artist("{artist("disco", 0)}") in:colisten limit:40')
    artists = results.frame["artist"].to_list()
    disco = {artist("disco", k) for k in range(6)} | {newcomer("disco")}
    assert artist("disco", 0) not in artists  # the seed artist's tracks are left out, as in every space
    assert all(a in disco for a in artists[:30]), artists[:30]
    assert "share playlists" in results.explain()
    # In the attribute space it keeps meaning "sounds like": nothing about playlists.
    assert "share playlists" not in lib.search(f'like:artist("{artist("disco", 0)}") limit:5').explain()


# -- cold start ---------------------------------------------------------------------------


def test_cold_start_places_tracks_in_no_playlist_near_their_scene(scenes):
    lib, ids = scenes
    lib.space("colisten")  # learned and stored: the tracks table changes once
    snap = lib.snapshot()
    space = lib.space("colisten")
    assert snap is lib.snapshot()
    assert space.estimated is not None
    cold = [t for s in ids.values() for t in s["cold_known"] + s["cold_new"]]
    assert set(snap.tracks.frame["track_id"].gather(np.flatnonzero(space.estimated)).to_list()) == set(cold)
    for scene, group in ids.items():
        others = [s for s in ids if s != scene]
        for kind in ("cold_known", "cold_new"):
            for tid in group[kind]:
                z = space.z[snap.row_of_id(tid)]

                def distance(track_ids):  # to the centre of a scene's playlisted tracks
                    return float(((space.z[snap.rows_of(track_ids)].mean(axis=0) - z) ** 2).sum())

                own = distance(group["playlisted"])
                assert all(own < distance(ids[o]["playlisted"]) for o in others), (tid, kind)
    # and a search in the co-listen space ranks them with their scene, before the others
    seeds = set(lib.playlists.get("disco mix 0").track_ids)
    disco = {t for group in ids["disco"].values() for t in group} - seeds
    results = lib.search(f'like:playlist("disco mix 0") in:colisten limit:{len(disco)}')
    assert set(results.frame["track_id"].to_list()) == disco
    assert "cold-start mapping" in results.explain()


def test_cold_start_mapping_reports_held_out_loss_and_is_stored_until_playlists_change(scenes, tmp_path, monkeypatch):
    lib, ids = scenes
    report = lib.train_colisten().report
    assert report["held_out_loss"] < report["chance_loss"]
    assert report["tracks"] > 0 and report["held_out_tracks"] > 0 and report["residual"] < report["random_distance"]
    stored = lib.store.get_meta("colisten_mapping")
    assert stored["playlists_version"] == lib.store.versions().playlists

    fresh = Library.open(lib.path)

    def no_training(*args, **kwargs):
        raise AssertionError("the stored mapping should have been used")

    import importlib

    monkeypatch.setattr(importlib.import_module("attune.engine.spaces.space"), "train_mapping", no_training)
    assert fresh.space("colisten").estimated is not None


def test_cold_start_is_retrained_when_playlists_change(tmp_path):
    write_scenes(tmp_path / "s.csv")
    lib = Library.open(tmp_path / "lib")
    lib.import_spotify([tmp_path / "s.csv"])
    lib.space("colisten")
    before = lib.store.get_meta("colisten_mapping")["playlists_version"]
    lib.playlists.create("Bridge", ["am000", "di000"])
    lib.space("colisten")
    assert lib.store.get_meta("colisten_mapping")["playlists_version"] != before


def test_contrastive_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    params = coldstart._init(5, 3, rng)
    x = rng.standard_normal((8, 5)).astype(np.float64)
    v = rng.standard_normal((8, 3)).astype(np.float64)
    scale = np.array([1.0, 2.0, 0.5])
    params = {k: p.astype(np.float64) for k, p in params.items()}
    _, grads = coldstart._loss(params, x, v, scale, 6.0, grad=True)
    for name in ("w1", "b2"):
        flat = params[name].reshape(-1)
        for i in range(min(5, flat.size)):
            old = flat[i]
            flat[i] = old + 1e-6
            up = coldstart._loss(params, x, v, scale, 6.0, grad=False)[0]
            flat[i] = old - 1e-6
            down = coldstart._loss(params, x, v, scale, 6.0, grad=False)[0]
            flat[i] = old
            assert grads[name].reshape(-1)[i] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-7)


def test_too_few_playlists_for_a_mapping(lib):
    assert lib.train_colisten() is None  # 11 playlisted tracks: too little to learn from
    assert lib.space("colisten").estimated is None


# -- versions of one song ------------------------------------------------------------------


@pytest.mark.parametrize("variant", [
    "Song - 2011 Remaster", "Song (Live)", "Song - Radio Edit", "Song (feat. Somebody)", "Song [Remastered 2009]",
    "Song - Live at Wembley 1986", "song (Mono Version)", "Song - Remix",
])
def test_version_titles_share_the_song_key(variant):
    assert song_key(variant, "The Band") == song_key("Song", "The Band")


@pytest.mark.parametrize("other", ["Songbird", "Song 2", "Song for Someone", "Live Forever", "Sing"])
def test_other_songs_do_not(other):
    assert song_key(other, "The Band") != song_key("Song", "The Band")


def test_versions_collapse_in_search_and_expansion(tmp_path):
    rows = [("v1", "Song", "The Band", "", 0.5), ("v2", "Song - 2011 Remaster", "The Band", "", 0.51),
            ("v3", "Song (Live)", "The Band", "", 0.52), ("v4", "Song - Radio Edit", "The Band", "", 0.49),
            ("v5", "Song", "Another Band", "", 0.5), ("v6", "Songbird", "The Band", "", 0.5)]
    rows += [(f"p{i}", f"Seed {i}", "Seeder", "Seeds", 0.5) for i in range(4)]
    lib = Library.open(tmp_path / "lib")
    lib.import_spotify([_write(tmp_path / "v.csv", rows)])
    results = lib.search("artist:\"The Band\" | artist:\"Another Band\"")
    titles = sorted(results.frame["title"].to_list())
    assert len([t for t in titles if t.startswith("Song") and t != "Songbird"]) == 2  # one per artist
    assert "Songbird" in titles
    explained = results.explain()
    assert "other versions:" in explained and "Song (Live)" in explained
    every = lib.search("artist:\"The Band\" versions:all")
    assert every.frame.height == 5
    expanded = lib.expand("Seeds", limit=10, per_artist=None)
    band = [t for t, a in zip(expanded.frame["title"], expanded.frame["artist"]) if a == "The Band" and t != "Songbird"]
    assert len(band) == 1
    assert len([t for a in [expanded.frame["artist"]] for t in a if t == "The Band"]) == 2
    kept = lib.expand("Seeds", limit=10, per_artist=None, versions=True)
    assert len([a for a in kept.frame["artist"] if a == "The Band"]) == 5


# -- discovery and steering in expansion ------------------------------------------------------


def test_default_expansion_mixes_own_and_new_artists_with_a_cap(scenes):
    lib, _ = scenes
    playlist = lib.playlists.get("metal mix 0")
    snap = lib.snapshot()
    own = set(snap.gather(snap.playlist_rows(playlist.name))["artist"].to_list())
    results = lib.expand("metal mix 0", limit=20)
    artists = results.frame["artist"].to_list()
    assert any(a in own for a in artists) and any(a not in own for a in artists)
    assert max(artists.count(a) for a in set(artists)) <= 5
    assert "per:artist=5" in str(results.recipe)
    capped = lib.expand("metal mix 0", limit=20, per_artist=2)
    assert max(capped.frame["artist"].to_list().count(a) for a in set(capped.frame["artist"])) <= 2


def test_the_share_of_places_for_new_artists_is_kept(scenes):
    from attune.engine.playlists.expand import expansion_parts, rank
    from attune.engine.playlists.recipe import derive_recipe

    lib, _ = scenes
    snap = lib.snapshot()
    playlist = lib.playlists.get("metal mix 0")
    parts = expansion_parts(snap, playlist, derive_recipe(snap, playlist), limit=10)
    own_artist = parts.own
    assert (parts.pool & own_artist).sum() >= 10 and (parts.pool_new & ~own_artist).sum() >= 10
    for share, new in ((0.0, 0), (0.3, 3), (0.5, 5), (1.0, 10)):
        top = rank(snap, parts, limit=10, share=share, per_artist=None)
        assert len(top) == 10 and int((~own_artist[top]).sum()) == new, share


def test_discover_returns_only_artists_the_playlist_lacks(scenes):
    lib, _ = scenes
    snap = lib.snapshot()
    name = "disco mix 3"
    own = set(snap.gather(snap.playlist_rows(name))["artist"].to_list())
    results = lib.expand(name, limit=15, discover=True)
    assert results.frame.height > 0
    assert not own & set(results.frame["artist"].to_list())
    # the newcomer and the scene's other artists come before other scenes
    assert all(a.startswith("Disco") for a in results.frame["artist"].to_list()[:3])
    assert "-artist:=(" in str(results.recipe)


def test_include_and_exclude_steer_the_expansion_and_show_in_the_recipe(scenes):
    lib, _ = scenes
    name = "ambient mix 1"
    results = lib.expand(name, limit=30, include="year>=1998", exclude=f'artist:"{artist("ambient", 1)}"')
    frame = results.frame
    assert frame.height > 0
    assert (frame["year"] >= 1998).all()
    assert artist("ambient", 1) not in frame["artist"].to_list()
    recipe = str(results.recipe)
    assert "year>=1998" in recipe and f'-artist:"{artist("ambient", 1)}"' in recipe
    # the recipe's query, run as a search, keeps the steering
    assert (lib.search(recipe + " limit:10").frame["year"] >= 1998).all()
    with pytest.raises(AttuneError, match="takes a filter"):
        lib.expand(name, include='like:artist("x")')
    with pytest.raises(AttuneError):
        lib.expand(name, include="year>>3")


def test_cli_expand_flags_and_train_colisten(scenes):
    import shutil
    import subprocess
    import sys

    lib, _ = scenes
    exe = shutil.which("attune")
    base = [exe] if exe else [sys.executable, "-m", "attune.tui.main"]

    def run(*args):
        return subprocess.run([*base, "--library", str(lib.path), *args], capture_output=True, text=True)

    out = run("expand", "metal mix 2", "--discover", "--limit", "5", "--include", "year>=2000",
              "--exclude", f'artist:"{artist("metal", 0)}"', "--format", "csv")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 6 and artist("metal", 0) not in out.stdout
    bad = run("expand", "metal mix 2", "--include", "year>>2000")
    assert bad.returncode == 2 and "year>>2000" in bad.stderr
    trained = run("train", "colisten")
    assert trained.returncode == 0, trained.stderr
    assert "held out" in trained.stdout and "chance" in trained.stdout
    assert f"{sum(len(s['cold_known']) + len(s['cold_new']) for s in _.values())} tracks in no playlist" in trained.stdout


def test_the_parts_are_held_for_the_pools_rows_only(scenes):
    """Expansion's parts are computed and kept for its candidates, not for every track;
    indexed by row they read as the full arrays would (0 outside the pools)."""
    from attune.engine.playlists.expand import AtRows, _same_album, expansion_parts
    from attune.engine.playlists.recipe import derive_recipe
    from attune.engine.spaces import sound_rows, space

    lib, _ = scenes
    snap = lib.snapshot()
    playlist = lib.playlists.get("metal mix 0")
    parts = expansion_parts(snap, playlist, derive_recipe(snap, playlist), limit=3)
    at = np.flatnonzero(parts.pool | parts.pool_new)
    assert 0 < len(at) < len(snap)
    outside = np.setdiff1d(np.arange(len(snap)), at)
    for name in ("artist_share", "same_album", "proximity", "year", "popularity", "artist_rank", "related", "names",
                 "same_song", "colisten"):
        part = getattr(parts, name)
        assert isinstance(part, AtRows) and np.array_equal(part.at, at) and len(part.values) == len(at), name
        assert np.array_equal(part[at], part.values) and not part[outside].any(), name
        assert isinstance(part[int(at[0])], float) and part[int(outside[0])] == 0.0
    # same album: the candidate's (artist, album) pair, the album named, is one of the playlist's
    frame = snap.frame
    seeds = snap.playlist_rows(playlist.name)
    pair = [(a.lower(), b.lower()) for a, b in zip(frame["artist"].fill_null(""), frame["album"].fill_null(""))]
    theirs = {pair[r] for r in seeds if pair[r][1]}
    assert _same_album(snap, at, seeds).tolist() == [pair[r] in theirs for r in at]
    # the sound rows are the attribute space's rows without its genre dimensions
    attr = space(snap, "attr")
    keep = [i for i, d in enumerate(attr.dims) if not d.startswith("genre:")]
    assert np.array_equal(sound_rows(snap, at[::-1]), attr.z[at[::-1]][:, keep])
    # proximity: exp(-d / (2 dims)), d the squared distance to the playlist's centre in those dimensions
    z = attr.z[:, keep].astype(np.float64)
    d = ((z[at] - z[seeds].mean(axis=0)) ** 2).sum(axis=1)
    assert parts.proximity[at] == pytest.approx(np.exp(-d / (2 * len(keep))), rel=1e-4, abs=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_the_capped_list_from_the_best_few_is_the_one_from_every_candidate(seed):
    """`_capped` sorts only the best m candidates (m growing until enough pass the cap): the
    same rows, in the same order, as sorting every candidate, with ties in the scores and
    artists that fill the top of the list."""
    import importlib

    expand = importlib.import_module("attune.engine.playlists.expand")
    rng = np.random.default_rng(seed)
    n = 20_000
    rows = np.sort(rng.choice(200_000, n, replace=False))
    score = np.round(rng.normal(size=n), 1)  # many ties
    codes = np.where(rng.random(200_000) < 0.3, 7, rng.integers(0, 3000, 200_000))  # one artist everywhere
    hogged = codes.copy()
    hogged[rows[np.argsort(-score)[:5000]]] = 7  # one artist has the 5,000 best: the list must look past them
    for by in (codes, hogged):
        for k, cap in [(50, 2), (10, None), (300, 1), (40, 5), (n + 5, 3)]:
            got = expand._capped((rows, score), by, k, cap)
            want = expand._capped_all(rows, score, by, k, cap)
            np.testing.assert_array_equal(got, want)
            assert len(got) == min(k, len(want))


def test_artist_rank_is_each_tracks_place_among_its_artists_tracks_by_popularity():
    """1 for each artist's most popular track, 1/2 for the next (popularity ties in row
    order, no popularity last), of any rows asked for."""
    import polars as pl
    from attune.engine.playlists.expand import artist_rank
    from attune.engine.storage import Snapshot, TrackData

    rng = np.random.default_rng(5)
    n = 4000
    popularity = rng.integers(0, 5, n).astype(float)  # many ties
    popularity[rng.random(n) < 0.2] = np.nan
    artists = [f"a{a}" for a in rng.integers(0, 60, n)]
    snap = Snapshot(TrackData(pl.DataFrame({"track_id": [f"t{i}" for i in range(n)], "artist": artists,
                                            "popularity": popularity})), [])
    every = artist_rank(snap)
    by_artist: dict[str, list[int]] = {}
    for row, a in enumerate(artists):
        by_artist.setdefault(a, []).append(row)
    for rows in by_artist.values():
        ranked = sorted(rows, key=lambda r: (-np.nan_to_num(popularity[r], nan=-1.0), r))
        assert [every[r] for r in ranked] == [1.0 / (1 + i) for i in range(len(ranked))]
    for rows in (np.array([7]), rng.choice(n, 50, replace=False)):
        assert np.array_equal(artist_rank(snap, rows), every[rows])
