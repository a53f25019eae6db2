"""Sequencing a playlist: the arc is followed as closely as the values allow, the steps are
short within it, and saving is one undoable edit."""

import numpy as np
import polars as pl
import pytest
from attune.engine import Library, LibraryError
from attune.engine.playlists.sequence import arc_levels, sequence
from attune.engine.storage import Playlist, Snapshot
from scipy.stats import spearmanr


def _snap(n: int, seed: int = 0, artists: list[str] | None = None) -> tuple[Snapshot, list[str]]:
    rng = np.random.default_rng(seed)
    ids = [f"s{i:03d}" for i in range(n)]
    frame = pl.DataFrame({
        "track_id": ids, "title": ids, "artist": artists or [f"A{i}" for i in range(n)],
        "energy": rng.permutation(np.linspace(0.05, 0.95, n)), "valence": rng.uniform(0, 1, n),
        "tempo": rng.uniform(70, 170, n), "danceability": rng.uniform(0, 1, n), "genres": [["pop"]] * n,
    })
    shuffled = list(rng.permutation(ids))
    return Snapshot.build(frame, [Playlist("p1", "Mix", tuple(shuffled))]), shuffled


def test_a_rise_comes_back_rising_when_the_energies_allow_it():
    snap, _ = _snap(40)
    done = sequence(snap, "Mix", arc="rise", by="energy")
    assert spearmanr(np.arange(40), done.values).statistic == pytest.approx(1.0)
    fall = sequence(snap, "Mix", arc="fall", by="energy")
    assert spearmanr(np.arange(40), fall.values).statistic == pytest.approx(-1.0)


def test_a_peak_puts_the_highest_third_in_the_middle_third_and_steps_no_longer_than_a_plain_sort():
    snap, _ = _snap(45, seed=3)
    done = sequence(snap, "Mix", arc="peak", by="energy")
    values = np.array(done.values)
    top = set(np.argsort(-values)[:15])
    assert top == set(range(15, 30))  # the highest-energy third is exactly the middle third
    assert int(np.argmax(values)) in range(15, 30)
    assert np.corrcoef(values, arc_levels("peak", 45))[0, 1] > 0.95
    assert sum(done.steps) <= sum(done.sorted_steps) + 1e-9  # no longer than a plain sort into the peak
    rise = sequence(snap, "Mix", arc="rise", by="energy")
    assert sum(rise.steps) <= sum(rise.sorted_steps) + 1e-9  # nor a plain sort by energy
    valley = sequence(snap, "Mix", arc="valley", by="energy")
    assert set(np.argsort(np.array(valley.values))[:15]) == set(range(15, 30))


def test_the_sides_of_a_peak_are_chosen_for_short_steps():
    """Two groups far apart in the space, with interleaved energies: the sides of the peak
    keep each group together instead of zig-zagging between them."""
    n = 20
    ids = [f"t{i:02d}" for i in range(n)]
    energy = np.linspace(0.1, 0.9, n)
    group = np.arange(n) % 2  # neighbours in energy alternate between the groups
    frame = pl.DataFrame({"track_id": ids, "title": ids, "artist": [f"A{i}" for i in range(n)], "energy": energy,
                          "valence": group * 1.0, "danceability": group * 1.0, "tempo": 100 + 40.0 * group,
                          "genres": [["pop"]] * n})
    snap = Snapshot.build(frame, [Playlist("p", "Mix", tuple(ids)), Playlist("q", "A", tuple(ids[::2])),
                                  Playlist("r", "B", tuple(ids[1::2]))])
    done = sequence(snap, "Mix", arc="peak", by="energy")
    sides = [int(t[1:]) % 2 for t in done.track_ids]
    switches = sum(a != b for a, b in zip(sides, sides[1:]))
    assert switches <= 3  # one group up the left side, the other down the right (a zig-zag has 19)


def test_a_flat_arc_orders_for_short_steps_only_and_beats_the_own_order():
    snap, _ = _snap(30, seed=5)
    done = sequence(snap, "Mix", arc="flat", by="energy")
    assert sorted(done.track_ids) == sorted(snap.playlists["Mix"].track_ids)
    assert done.mean_step < done.mean_step_before


def test_the_same_artist_is_not_twice_in_a_row_where_it_can_be_avoided():
    artists = ["Solo"] * 10 + [f"B{i}" for i in range(10)]
    snap, _ = _snap(20, seed=7, artists=artists)
    done = sequence(snap, "Mix", arc="flat", by="energy")
    by_id = dict(zip(snap.tracks.frame["track_id"].to_list(), artists))
    names = [by_id[t] for t in done.track_ids]
    assert sum(a == b == "Solo" for a, b in zip(names, names[1:])) == 0


def test_unknown_arcs_and_attributes_are_clear_errors():
    snap, _ = _snap(10)
    with pytest.raises(LibraryError, match="unknown arc 'zigzag'"):
        sequence(snap, "Mix", arc="zigzag")
    with pytest.raises(LibraryError, match="cannot sequence by 'loudness2'"):
        sequence(snap, "Mix", by="loudness2")


def test_saving_rewrites_the_order_as_one_undoable_edit(tmp_path, fixture_csv):
    lib = Library.open(tmp_path / "lib")
    lib.import_spotify([fixture_csv])
    before = lib.playlists.get("Odd Names").track_ids
    done = lib.sequence("odd names", arc="rise", by="energy", save=True)
    after = lib.playlists.get("Odd Names").track_ids
    assert list(after) == done.track_ids and sorted(after) == sorted(before)
    energies = [lib.track(t)["energy"] for t in after]
    assert energies == sorted(energies)
    lib.restore(lib.history(1)[0].number)
    assert lib.playlists.get("Odd Names").track_ids == before
