"""Passages (`like:track("x" @ 1:30)`): tracks ranked by their nearest 3-second segment to a
moment inside another track; and energy over time (energy_start, energy_end, energy_slope)."""

import numpy as np
import pytest
from attune.engine import Library, NotAvailableError
from attune.engine.ingest import Indexed
from attune.engine.ingest.energy import energy_shape
from attune.query import QueryError

SEGMENT = 3.0
DIMS = 16


def _indexed(track_id: str, embeddings: np.ndarray, *, artist: str = "", tiles=None) -> Indexed:
    n = len(embeddings)
    tiles = list(tiles) if tiles is not None else [0.5] * max(1, int(np.ceil(n * SEGMENT / 10)))
    track = {
        "track_id": track_id, "source": "audio", "title": track_id, "artist": artist or f"artist {track_id}",
        "path": f"/music/{track_id}.flac", "length": n * SEGMENT, "genres": [], "raw_genres": [],
        "embedding": embeddings.mean(axis=0).astype(np.float32).tolist(), "energy_tiles": tiles,
        "energy": max(tiles), **energy_shape(tiles),
    }
    starts = np.arange(n) * SEGMENT
    return Indexed(track["path"], track, starts, embeddings.astype(np.float32), np.zeros((n, 0), np.float32), SEGMENT)


@pytest.fixture
def passages_lib(tmp_path):
    """40 tracks of 40 random segments; "cut" is 5 segments copied (with a little noise)
    from track t07 at 60-75 s; a near-copy of the cut's second segment also sits in t21
    at 30 s but farther away."""
    rng = np.random.default_rng(7)
    tracks = {f"t{i:02d}": rng.normal(size=(40, DIMS)) for i in range(40)}
    cut = tracks["t07"][20:25] + rng.normal(scale=0.01, size=(5, DIMS))
    tracks["t21"][10] = cut[1] + rng.normal(scale=0.5, size=DIMS)
    lib = Library.open(tmp_path / "lib")
    lib.write_indexed([_indexed(t, e) for t, e in tracks.items()] + [_indexed("cut", cut)])
    return lib


def test_a_passage_finds_the_track_it_was_cut_from_and_where(passages_lib):
    results = passages_lib.search('like:track("cut" @ 0:04) limit:5')
    rows = results.to_polars()
    assert rows["track_id"][0] == "t07"
    assert rows["passage"][0] == 63.0  # the cut's segment at 3-6 s is t07's at 63-66 s
    assert rows["track_id"][1] == "t21" and rows["passage"][1] == 30.0
    assert "cut" not in rows["track_id"].to_list()  # the seed track is left out
    assert results.plan.space == "audio"
    text = results.explain()
    assert 'track("cut" @ 0:04: the passage 0:03-0:06)' in text
    assert "its nearest passage starts at 1:03" in text


def test_another_moment_of_the_same_track_finds_another_passage(passages_lib):
    rows = passages_lib.search('like:track("cut" @ 13.5) limit:1').to_polars()
    assert rows["track_id"][0] == "t07" and rows["passage"][0] == 72.0


def test_a_passage_with_a_filter_and_a_second_term(passages_lib):
    rows = passages_lib.search('like:track("cut" @ 0:04) -artist:"artist t07" limit:3').to_polars()
    assert rows["track_id"][0] == "t21"
    both = passages_lib.search('like:track("cut" @ 0:04) like:track(t33) limit:40').to_polars()
    assert len(both) == 39 and both["passage"].is_not_null().all()  # 41 tracks less the two seeds


def test_passage_errors_say_what_is_wrong(passages_lib, tmp_path):
    with pytest.raises(QueryError, match=r"past the end of its indexed audio \(0:15\)"):
        passages_lib.search('like:track("cut" @ 5:00)')
    with pytest.raises(QueryError, match="measured in the audio space, not in:attr"):
        passages_lib.search('like:track("cut" @ 0:04) in:attr')
    with pytest.raises(QueryError, match="no track with id, path or title 'nope'"):
        passages_lib.search('like:track("nope" @ 0:04)')


def test_imported_tracks_have_no_passages(tmp_path, fixture_csv):
    lib = Library.open(tmp_path / "imported")
    lib.import_spotify([fixture_csv])
    with pytest.raises(NotAvailableError, match="need audio indexed with `attune index`"):
        lib.search('like:track("t01" @ 0:10)')


def test_energy_shape_of_a_build_a_fade_and_a_flat_track():
    build = energy_shape(np.linspace(0.1, 0.9, 24))
    assert build["energy_start"] == pytest.approx(np.linspace(0.1, 0.9, 24)[:3].mean())
    assert build["energy_end"] == pytest.approx(np.linspace(0.1, 0.9, 24)[-3:].mean())
    assert build["energy_slope"] == pytest.approx(0.8, abs=1e-9)
    assert energy_shape(np.linspace(0.9, 0.2, 10))["energy_slope"] == pytest.approx(-0.7, abs=1e-9)
    assert energy_shape([0.4] * 12)["energy_slope"] == pytest.approx(0.0, abs=1e-12)
    assert energy_shape([0.6]) == {"energy_start": 0.6, "energy_end": 0.6, "energy_slope": 0.0}
    assert energy_shape([]) == {}


def test_tracks_that_build_up_are_found_by_their_start_and_end(tmp_path):
    rng = np.random.default_rng(1)
    shapes = {"builds": np.linspace(0.1, 0.95, 24), "fades": np.linspace(0.9, 0.1, 24), "flat": np.full(24, 0.5),
              "peaks": np.r_[np.linspace(0.2, 0.9, 12), np.linspace(0.9, 0.2, 12)]}
    lib = Library.open(tmp_path / "lib")
    lib.write_indexed([_indexed(name, rng.normal(size=(80, DIMS)), tiles=tiles) for name, tiles in shapes.items()])
    assert lib.search("energy_start<0.3 energy_end>0.7").track_ids == ["builds"]
    assert lib.search("energy_slope<-0.3").track_ids == ["fades"]
    assert sorted(lib.search("energy_slope:-0.1..0.1").track_ids) == ["flat", "peaks"]


def test_a_library_written_before_energy_over_time_gets_it_from_its_tiles(tmp_path):
    rng = np.random.default_rng(2)
    lib = Library.open(tmp_path / "lib")
    lib.write_indexed([_indexed("builds", rng.normal(size=(80, DIMS)), tiles=np.linspace(0.1, 0.9, 24))])
    lib.store.tables["tracks"].drop_columns(["energy_start", "energy_end", "energy_slope"])
    reopened = Library.open(tmp_path / "lib")
    assert reopened.search("energy_start<0.3 energy_end>0.7").track_ids == ["builds"]


def test_a_fill_stopped_after_the_columns_were_added_is_done_at_the_next_open(tmp_path, monkeypatch):
    """The process that adds the energy columns dies before filling them: the columns exist
    from then on, so only the record in meta tells the next open to fill them."""
    from attune.engine.ingest import energy
    from attune.engine.storage import Store

    rng = np.random.default_rng(3)
    lib = Library.open(tmp_path / "lib")
    lib.write_indexed([_indexed("builds", rng.normal(size=(80, DIMS)), tiles=np.linspace(0.1, 0.9, 24))])
    lib.store.tables["tracks"].drop_columns(["energy_start", "energy_end", "energy_slope"])

    def killed(store):
        raise KeyboardInterrupt  # stopped between adding the columns and filling them

    monkeypatch.setattr(energy, "backfill", killed)
    with pytest.raises(KeyboardInterrupt):
        Library.open(tmp_path / "lib")
    assert "energy_start" in Store(tmp_path / "lib").tables["tracks"].schema.names  # added, not filled
    monkeypatch.undo()
    reopened = Library.open(tmp_path / "lib")
    assert reopened.search("energy_start<0.3 energy_end>0.7").track_ids == ["builds"]
    assert reopened.store.added_columns == [] and Library.open(tmp_path / "lib").store.added_columns == []
