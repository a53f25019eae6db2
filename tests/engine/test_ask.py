"""Plain words -> query terms: the curator's test set, its precision and recall, and the rules."""

import pytest
from attune.engine import Library, ask
from attune.query import QueryError, parse, render
from attune.query.ast import And, Query
from hypothesis import given, settings
from hypothesis import strategies as st

from .ask_fixture import HELD_OUT, PHRASINGS, build


@pytest.fixture(scope="module")
def words_lib(tmp_path_factory) -> Library:
    return build(tmp_path_factory.mktemp("asklib"))


def produced_terms(query_text: str) -> set[str]:
    q = parse(query_text)
    items = [] if q.where is None else (q.where.items if isinstance(q.where, And) else (q.where,))
    return {render(i) for i in items} | {render(Query(likes=(like,))) for like in q.likes}


def score(lib, table):
    tp = fp = fn = 0
    misses = []
    for text, want in table:
        got = produced_terms(read(lib, text).query)
        tp, fp, fn = tp + len(got & want), fp + len(got - want), fn + len(want - got)
        if got != want:
            misses.append(f"{text!r}: got {sorted(got)}, expected {sorted(want)}")
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1), misses


def test_the_phrasing_set_is_large_and_well_formed():
    assert len(PHRASINGS) >= 60
    for _, want in PHRASINGS + HELD_OUT:
        for term in want:
            parse(term)  # every expected term is a valid query


@pytest.mark.slow
def test_phrasings_precision_and_recall(words_lib, capsys):
    precision, recall, misses = score(words_lib, PHRASINGS)
    with capsys.disabled():
        print(f"\nask: {len(PHRASINGS)} phrasings, term precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.95 and recall >= 0.95, "\n".join(misses)


@pytest.mark.slow
def test_held_out_phrasings_precision_and_recall(words_lib, capsys):
    precision, recall, misses = score(words_lib, HELD_OUT)
    with capsys.disabled():
        print(f"\nask (held out): {len(HELD_OUT)} phrasings, term precision {precision:.3f}, recall {recall:.3f}")
        for m in misses:
            print("  miss:", m)
    assert precision >= 0.85 and recall >= 0.85, "\n".join(misses)


def test_the_answer_runs_explains_and_is_deterministic(words_lib):
    a = words_lib.ask("mellow instrumental jazz for a late night")
    assert a.query == "genre:jazz energy<0.4 vocalness<0.3"
    assert a.query == words_lib.ask("mellow instrumental jazz for a late night").query
    ids = set(a.results.to_polars()["track_id"])
    expected = set(words_lib.search(a.query).to_polars()["track_id"])
    assert ids == expected and ids
    text = a.explain()
    assert "mellow" in text and "energy<0.4" in text and "query:   genre:jazz" in text


def test_words_it_cannot_map_are_reported(words_lib):
    a = words_lib.ask("jazz with a kazoo solo")
    assert a.query == "genre:jazz"
    assert "kazoo" in a.unmapped and "solo" in a.unmapped
    assert "not understood: 'kazoo', 'solo'" in a.explain()


def test_a_genre_the_library_lacks_is_said_not_dropped(words_lib):
    a = read(words_lib, "gospel")
    assert a.query == ""
    assert any("gospel" in n for n in a.notes)


def test_nothing_meets_every_term_so_the_least_certain_is_dropped(words_lib):
    a = words_lib.ask("jazz by Metallica")
    assert len(a.results) > 0
    assert [t.phrase for t in a.dropped] == ["jazz"]
    assert a.query == "artist:=Metallica"
    assert "dropped 'jazz'" in a.explain()


def test_like_text_inside_a_query(words_lib):
    results = words_lib.search('like:"calm piano" limit:5')
    assert len(results) == 5
    plan = words_lib.explain('like:"calm piano"')
    assert 'text("calm piano" read as energy<0.4 tag:=piano' in plan
    # combined with ordinary filters
    rock = words_lib.search('genre:rock like:"sad songs"').to_polars()
    assert set(rock["artist"]) <= {"The Beatles", "Fleetwood Mac", "Radiohead"} and rock.height


def test_like_text_measures_only_the_dimensions_it_named(words_lib):
    results = words_lib.search('like:"sad" limit:8')
    explained = results.explain()
    assert "distance over valence" in explained
    frame = results.to_polars()
    sad = words_lib.search("valence<0.4").to_polars()
    centre = sad["valence"].mean()
    gaps = (frame["valence"] - centre).abs().to_list()
    assert gaps == sorted(gaps)  # ranked by valence alone: energy, genre and the rest do not count


def test_like_text_reports_words_it_could_not_read(words_lib):
    results = words_lib.search('like:"calm kazoo piano"')
    assert any("not understood: 'kazoo'" in n for n in results.notes)


def test_like_text_that_maps_to_nothing_is_a_query_error(words_lib):
    with pytest.raises(QueryError, match="no word of it maps onto this library") as err:
        words_lib.search('genre:rock like:"kazoo solo"')
    assert err.value.position == len("genre:rock ")


def test_without_the_text_model_the_word_lists_still_work(words_lib, monkeypatch):
    monkeypatch.setenv("ATTUNE_TEXT_MODEL", "off")
    a = read(words_lib, "sad jazz that feels bleak and mournful-ish, rather glum")
    assert "genre:jazz" in a.query and "valence<0.4" in a.query
    assert "glum" in a.unmapped
    assert any("ATTUNE_TEXT_MODEL=off" in n for n in a.notes)


def test_contradictions_keep_the_first_and_say_so(words_lib):
    a = read(words_lib, "calm energetic rock")
    assert a.query == "genre:rock energy<0.4"
    assert any("contradicts" in n for n in a.notes)


def test_like_a_genre_widens_it_with_lsi_related_genres(tmp_path):
    lib = Library.open(tmp_path / "lib")
    import pyarrow as pa
    from attune.engine.storage import TRACKS_SCHEMA

    rows = []
    for i in range(60):  # soul co-occurs with funk and motown; metal with nothing of theirs
        genres = [["soul", "funk"], ["soul", "motown"], ["funk", "motown"], ["metal"], ["metal", "punk"]][i % 5]
        rows.append({"track_id": f"t{i}", "title": f"t{i}", "artist": f"a{i % 7}", "genres": genres, "energy": 0.5})
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(rows, schema=TRACKS_SCHEMA))
    assert read(lib, "soul").query == "genre:soul"
    widened = read(lib, "something like soul").query
    assert widened.startswith("genre:(soul,") and "funk" in widened and "metal" not in widened


def test_part_of_one_artists_name_is_that_artist(words_lib):
    assert read(words_lib, "songs by kendrick").query == 'artist:="Kendrick Lamar"'
    assert read(words_lib, "something like dylan").query == 'like:artist("Bob Dylan")'


def test_a_model_tag_no_track_carries_is_reported(tmp_path):
    lib = build(tmp_path / "lib")
    lib.store.set_meta("model_tags", {"msd-musicnn": ["guitar", "harmonica"]})
    a = read(lib, "jazz with harmonica")
    assert a.query == "genre:jazz" and "harmonica" not in a.unmapped
    assert any("harmonica" in n and "no indexed track" in n for n in a.notes)


@settings(max_examples=300)
# Characters Python's Unicode database assigns (polars' may be newer and know more).
@given(st.text(st.characters(exclude_categories=("Cn", "Cs")), max_size=40))
def test_names_fold_the_same_in_python_and_in_polars(text):
    import polars as pl
    from attune.engine.words.vocabulary import fold, folded

    assert pl.DataFrame({"v": [text]}).select(folded(pl.col("v"))).item() == fold(text)


def read(lib, text):
    """The reading of `text` against the library, without running it."""
    return ask.read(lib.snapshot(), text, model_tags=lib.model_tags())
