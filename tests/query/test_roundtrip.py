"""render() gives one canonical spelling and parse() reads it back to the same tree."""

from pathlib import Path

from attune.query import parse, render
from hypothesis import given

from .strategies import queries

FIXTURE = Path(__file__).parent.parent / "fixtures" / "canonical_queries.txt"


def test_fixture_lines_are_canonical():
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    assert len(lines) > 30
    for line in lines:
        assert render(parse(line)) == line


@given(queries)
def test_parse_render_round_trip(query):
    text = render(query)
    assert parse(text) == query, text


@given(queries)
def test_render_is_a_fixed_point(query):
    once = render(query)
    assert render(parse(once)) == once


def test_non_canonical_spellings_normalise():
    assert render(parse("genre:soul   AND  NOT artist:x")) == "genre:soul -artist:x"
    assert render(parse("genre:soul | genre:funk")) == "genre:soul OR genre:funk"
    assert render(parse("limit:5 genre:( soul )")) == "genre:soul limit:5"
    assert render(parse("length<3:30")) == "length<210"
    assert render(parse('artist:"Green"')) == "artist:Green"
    assert render(parse('artist:"=x"')) == 'artist:"=x"'
    assert render(parse("year:1975")) == "year=1975"
