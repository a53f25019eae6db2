"""Genre normalisation: messy strings onto one vocabulary, originals kept, overrides win."""

import contextlib

import pyarrow as pa
import pytest
from attune.engine import Library
from attune.engine.ingest import normalize_genres
from attune.engine.storage import TRACKS_SCHEMA
from attune.engine.words.genres import GenreMap, key, parts


@pytest.mark.parametrize(
    "raw, genres",
    [
        pytest.param("Hip Hop", ("hip hop",), id="spaced"),
        pytest.param("hiphop", ("hip hop",), id="joined"),
        pytest.param("Rap/Hip-Hop", ("rap", "hip hop"), id="slash-and-hyphen"),
        pytest.param("R&B/Soul", ("r&b", "soul"), id="ampersand-kept"),
        pytest.param("alt rock", ("alternative rock",), id="abbreviation"),
        pytest.param("Electronica/Dance", ("electronic", "dance"), id="model-maps-electronica"),
        pytest.param("Drum & Bass", ("drum and bass",), id="model-maps-ampersand"),
        pytest.param("rnb", ("r&b",), id="alias"),
        pytest.param("Neo-Soul", ("neo soul",), id="hyphen"),
        pytest.param("  Soul ;  Funk ", ("soul", "funk"), id="semicolon-and-spaces"),
        pytest.param("Progressive Electro House", ("progressive electro house",), id="subgenre-kept"),
    ],
)
def test_messy_genre_strings(raw, genres):
    assert GenreMap().normalize(raw).genres == genres


def test_how_each_was_mapped_is_recorded():
    gm = GenreMap()
    assert gm.normalize("Electronica").how.startswith("model 0.")
    assert gm.normalize("alt rock").how == "alias"
    assert gm.normalize("Soul").how == "exact"
    m = gm.normalize("Zydeco Polka Fusion Deluxe")
    assert m.how == "new" and m.genres == ("zydeco polka fusion deluxe",)
    # a new genre joins the vocabulary: its other spellings now map to it
    assert gm.normalize("Zydeco-Polka Fusion deluxe").genres == ("zydeco polka fusion deluxe",)


def test_splitting_never_breaks_ampersands_or_and():
    assert parts("R&B / Drum and Bass") == ["R&B", "Drum and Bass"]
    assert key("Hip-Hop") == key("hip hop") == key("HIPHOP") == "hiphop"


def test_overrides_win_and_survive_storage():
    gm = GenreMap(overrides={"Rap/Hip-Hop": ("hip hop",)})
    assert gm.normalize("Rap/Hip-Hop").genres == ("hip hop",)
    again = GenreMap.from_json(gm.to_json())
    assert again.normalize("Rap/Hip-Hop").how == "override"


def test_import_normalises_and_keeps_the_original_as_a_tag(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "Track URI,Track Name,Artist Name(s),Artist Genres,Energy\n"
        "spotify:track:a1,One,A,\"Rap/Hip-Hop,R&B/Soul\",0.5\n"
        "spotify:track:a2,Two,B,alt rock,0.6\n",
        encoding="utf-8",
    )
    lib = Library.open(tmp_path / "lib")
    lib.import_spotify([path])
    frame = lib.snapshot().frame.sort("track_id")
    assert frame["genres"].to_list() == [["rap", "hip hop", "r&b", "soul"], ["alternative rock"]]
    assert frame["tags"].to_list() == [["Rap/Hip-Hop", "R&B/Soul"], ["alt rock"]]
    assert len(lib.search("genre:=\"hip hop\"")) == 1 and len(lib.search('tag:="rap/hip-hop"')) == 1
    assert set(lib.genre_map().seen) == {"Rap/Hip-Hop", "R&B/Soul", "alt rock"}


def test_a_curator_override_remaps_existing_tracks(tmp_path):
    lib = Library.open(tmp_path / "lib")
    tracks = [
        {"track_id": "x", "genres": ["R&B/Soul"], "tags": []},
        {"track_id": "y", "genres": ["Soul", "R&B/Soul"], "tags": []},
    ]
    normalize_genres(lib.store, tracks)
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(tracks, schema=TRACKS_SCHEMA))
    assert lib.set_genre_override("R&B/Soul", ["rhythm and blues"]) == 2
    genres = dict(lib.snapshot().frame.select("track_id", "genres").iter_rows())
    assert genres["x"] == ["rhythm and blues"]
    assert genres["y"] == ["soul", "rhythm and blues"]  # its own "Soul" tag still gives soul
    assert lib.genre_map().seen["R&B/Soul"].how == "override"
    lib.set_genre_override("R&B/Soul", None)
    genres = dict(lib.snapshot().frame.select("track_id", "genres").iter_rows())
    assert genres["x"] == ["r&b", "soul"]


def test_indexed_tracks_keep_model_genres_and_add_the_file_tag():
    lib_tracks = [{"track_id": "z", "genres": ["rock"], "raw_genres": ["Alt. Rock/Grunge"], "tags": ["guitar"]}]

    class Store:
        def writing(self, table):
            return contextlib.nullcontext()

        def get_meta(self, key):
            return None

        def set_meta(self, key, value):
            self.saved = value

    normalize_genres(Store(), lib_tracks)
    assert lib_tracks[0]["genres"] == ["rock", "alternative rock", "grunge"]
    assert lib_tracks[0]["tags"] == ["Alt. Rock/Grunge", "guitar"]
