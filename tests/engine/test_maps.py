"""Maps of a space (PCA, UMAP) and the agreement S_n of two spaces."""

import numpy as np
import polars as pl
import pytest
from attune.engine import Library, LibraryError
from attune.engine.analysis import library_map, neighbour_overlap
from attune.engine.storage import Playlist, Snapshot
from attune.tui.main import main


def test_a_space_agrees_with_itself_and_unrelated_spaces_agree_by_chance():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 8))
    assert neighbour_overlap(a, a, 10).mean() == 1.0
    assert neighbour_overlap(a, 3.0 * a + 1.0, 10).mean() == 1.0  # scaling and shifting keep every neighbour
    chance = neighbour_overlap(a, rng.normal(size=(2000, 8)), 10).mean()
    assert chance == pytest.approx(10 / 1999, abs=0.003)
    # half the dimensions shared: more than chance, less than all
    mixed = np.c_[a[:, :4], rng.normal(size=(2000, 4))]
    assert 5 * chance < neighbour_overlap(a, mixed, 10).mean() < 0.9
    with pytest.raises(LibraryError, match="n must be from 1 to 1999"):
        neighbour_overlap(a, a, 2000)


def _two_playlists(n: int = 300) -> Snapshot:
    rng = np.random.default_rng(1)
    loud = rng.uniform(0, 1, n) < 0.5
    frame = pl.DataFrame({
        "track_id": [f"m{i:03d}" for i in range(n)], "title": [f"m{i:03d}" for i in range(n)],
        "artist": [f"A{i % 40}" for i in range(n)],
        "energy": np.where(loud, rng.normal(0.85, 0.03, n), rng.normal(0.15, 0.03, n)).clip(0, 1),
        "valence": rng.uniform(0, 1, n), "danceability": rng.uniform(0, 1, n), "tempo": rng.uniform(80, 160, n),
        "year": rng.integers(1970, 2020, n), "genres": [["pop"]] * n,
    })
    ids = frame["track_id"].to_list()
    return Snapshot.build(frame, [Playlist("l", "Loud", tuple(i for i, x in zip(ids, loud) if x)[:60]),
                                  Playlist("q", "Quiet", tuple(i for i, x in zip(ids, loud) if not x)[:60])])


def test_a_pca_map_keeps_two_different_playlists_apart_and_labels_them():
    snap = _two_playlists()
    found = library_map(snap, space="attr", playlists=["Loud", "Quiet"])
    frame = found.frame
    assert frame.height == len(snap) and set(frame.columns) == {"track_id", "title", "artist", "playlist", "x", "y"}
    assert frame.filter(pl.col("playlist") == "Loud").height == 60 and frame.filter(pl.col("playlist") == "Quiet").height == 60
    loud = frame.filter(pl.col("playlist") == "Loud")["x"].to_numpy()
    quiet = frame.filter(pl.col("playlist") == "Quiet")["x"].to_numpy()
    # energy splits the library in two: the first axis is the split, and the playlists sit on either side of it
    assert abs(loud.mean() - quiet.mean()) > 3 * (loud.std() + quiet.std())
    assert found.explained[0] > found.explained[1] > 0
    sampled = library_map(snap, playlists=["Loud"], sample=100)
    assert sampled.frame.height == 100 and sampled.frame.filter(pl.col("playlist") == "Loud").height == 60
    with pytest.raises(LibraryError, match="unknown map method 'tsne'"):
        library_map(snap, method="tsne")


@pytest.mark.slow
def test_a_umap_map_keeps_them_apart_too():
    found = library_map(_two_playlists(), playlists=["Loud", "Quiet"], method="umap")
    frame = found.frame
    loud = frame.filter(pl.col("playlist") == "Loud").select("x", "y").to_numpy()
    quiet = frame.filter(pl.col("playlist") == "Quiet").select("x", "y").to_numpy()
    gap = np.linalg.norm(loud.mean(axis=0) - quiet.mean(axis=0))
    assert gap > 2 * (loud.std(axis=0).mean() + quiet.std(axis=0).mean()) and found.explained is None


def _command(*args: str) -> int:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    return done.value.code


def test_the_map_and_agreement_commands(tmp_path, fixture_csv, capsys):
    lib = Library.open(tmp_path / "lib")
    lib.import_spotify([fixture_csv])
    names = [p.name for p in lib.playlists.all()]
    out = tmp_path / "maps" / "attr.png"
    assert _command("--library", str(tmp_path / "lib"), "map", "--playlist", names[0], "--out", str(out)) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    coords = pl.read_csv(out.with_suffix(".csv"))
    assert coords.columns == ["track_id", "title", "artist", "playlist", "x", "y"] and coords.height == lib.track_count()
    assert f"wrote {out}" in capsys.readouterr().out
    assert _command("--library", str(tmp_path / "lib"), "analyze", "--agreement", "attr,colisten", "--n", "3") == 0
    printed = capsys.readouterr().out
    assert "attr vs colisten" in printed and "S_3" in printed
    found = lib.agreement(["attr", "colisten"], n=3)
    value, count = found.pairs[("attr", "colisten")]
    assert 0 <= value <= 1 and count > 3 and found.chance(("attr", "colisten")) == pytest.approx(3 / (count - 1))
