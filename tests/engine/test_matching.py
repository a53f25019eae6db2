"""Matching a Spotify export's rows to indexed files: ISRC first, else artist and title,
on the spellings real tags and exports use."""

import pytest
from attune.engine.ingest.matching import match_rows, recording_key, recording_title
from attune.engine.ingest.spotify import normalise_isrc


@pytest.mark.parametrize(("written", "isrc"), [
    ("USRC17607839", "USRC17607839"),
    ("US-RC1-76-07839", "USRC17607839"),  # the dashed form on sleeves and in some taggers
    ("usrc17607839", "USRC17607839"),
    (" GBAYE6900001 ", "GBAYE6900001"),
    ("US RC1 76 07839", "USRC17607839"),
    ("", None), (None, None), ("not an isrc", None), ("USRC1760783", None), ("USRC176078399", None),
])
def test_isrc_spellings(written, isrc):
    assert normalise_isrc(written) == isrc


@pytest.mark.parametrize(("a", "b"), [
    (("Hey Jude - Remastered 2015", "The Beatles"), ("Hey Jude", "The Beatles")),
    (("Bohemian Rhapsody - 2011 Remaster", "Queen"), ("Bohemian Rhapsody", "Queen")),
    (("Smells Like Teen Spirit (Radio Edit)", "Nirvana"), ("Smells Like Teen Spirit", "Nirvana")),
    (("Señorita (feat. Lil Dicky)", "Shawn Mendes, Camila Cabello"), ("Senorita", "Shawn Mendes")),
    (("One Dance [Explicit]", "Drake, WizKid, Kyla"), ("One Dance", "Drake feat. WizKid & Kyla")),
    (("Halo", "Beyoncé"), ("HALO", "Beyonce")),
    (("Don't Stop Me Now - Remastered", "Queen"), ("Dont Stop Me Now", "Queen")),
    (("Song 2 - 2012 Remaster", "Blur"), ("Song 2", "blur")),
    (("Lose Yourself - From \"8 Mile\" Soundtrack", "Eminem"), ("Lose Yourself - From \"8 Mile\" Soundtrack", "Eminem")),
    (("Heroes - Single Version", "David Bowie"), ("Heroes", "David Bowie")),
    (("Yesterday (Mono)", "The Beatles"), ("Yesterday", "The Beatles; Paul McCartney")),
])
def test_same_recording(a, b):
    assert recording_key(*a) == recording_key(*b) is not None


@pytest.mark.parametrize(("a", "b"), [
    (("Here Comes the Sun (Live)", "George Harrison"), ("Here Comes the Sun", "George Harrison")),
    (("Hotline Bling - Acoustic", "Drake"), ("Hotline Bling", "Drake")),
    (("Titanium (Alesso Remix)", "David Guetta"), ("Titanium", "David Guetta")),
    (("Layla - Unplugged", "Eric Clapton"), ("Layla", "Eric Clapton")),
    (("Song", "Artist A"), ("Song", "Artist B")),
])
def test_other_recordings_do_not_match(a, b):
    assert recording_key(*a) != recording_key(*b)


def test_no_key_without_a_title_or_an_artist():
    assert recording_key(None, "Queen") is None and recording_key("Song", None) is None and recording_key("", "") is None
    assert recording_title("(Remastered)") == ""


def test_isrc_wins_and_everything_is_reported():
    tracks = [
        {"track_id": "a", "title": "Hey Jude", "artist": "The Beatles", "isrc": "GBAYE0601477"},
        {"track_id": "b", "title": "Untitled", "artist": None, "isrc": "US-RC1-76-07839"},  # tags lost, code kept
        {"track_id": "c", "title": "Halo", "artist": "Beyoncé", "isrc": None},
        {"track_id": "d", "title": "Intro", "artist": "The xx", "isrc": None},
        {"track_id": "e", "title": "Intro", "artist": "The xx", "isrc": None},  # two files, one key
        {"track_id": "f", "title": "Not in the export", "artist": "Nobody", "isrc": None},
    ]
    rows = [
        {"title": "Hey Jude - Remastered 2015", "artist": "The Beatles", "isrc": "GBAYE0601477"},
        {"title": "Something else entirely", "artist": "Whoever", "isrc": "USRC17607839"},
        {"title": "Halo", "artist": "Beyonce", "isrc": None},
        {"title": "Intro", "artist": "The xx", "isrc": None},
        {"title": "Halo - Single Version", "artist": "Beyoncé", "isrc": None},  # the same file again
        {"title": "Missing", "artist": "Nobody", "isrc": "GBXXX0000001"},
    ]
    match = match_rows(tracks, rows)
    assert match.pairs == [(0, "a", "isrc"), (1, "b", "isrc"), (2, "c", "artist+title")]
    assert match.by_isrc == 2 and match.by_name == 1
    assert [i for i, _ in match.ambiguous_rows] == [3] and "2 indexed files" in match.ambiguous_rows[0][1]
    assert match.duplicate_rows == [(4, 2)]
    assert match.unmatched_rows == [5]
    assert match.unlabelled_tracks == ["d", "e", "f"]
