"""Malformed queries: the message, the position, the caret line and the suggestions."""

import re

import pytest
from attune.query import AttuneError, QueryError, parse
from hypothesis import given
from hypothesis import strategies as st


def caret_lines(err: QueryError) -> list[str]:
    return str(err).splitlines()[1:]


ERRORS = [
    # (query, message regex, position, expected caret line, expected-vocabulary item or None)
    pytest.param("energy<", r"expected a number after 'energy<'", 7, "         ^", "a value", id="missing-number"),
    pytest.param('like:playlist("x"', r"missing '\)' - to close the '\(' at column 13", 17, "                   ^", "')'", id="unclosed-call"),
    pytest.param("energey<0.4", r"unknown field 'energey' - did you mean 'energy'\?", 0, "  ^", "a field", id="misspelt-field"),
    pytest.param("year:1990..abc", r"'abc' is not a number", 11, "             ^", "a number", id="bad-range-end"),
    pytest.param("limit:-3", r"limit: takes a whole number from 1 to 10,000,000, not '-3'", 6, "        ^", None, id="negative-limit"),
    pytest.param("limit:99999999999999999999", r"limit: takes a whole number from 1 to 10,000,000", 6, "        ^", None, id="huge-limit"),
    pytest.param("limit:0", r"whole number from 1 to 10,000,000, not '0'", 6, "        ^", None, id="zero-limit"),
    pytest.param("(genre:soul OR", r"expected a term after 'OR'", 14, "                ^", "a field", id="dangling-or"),
    pytest.param("limit:5 limit:6", r"limit: is given twice \(first at column 0\)", 8, "          ^", None, id="limit-twice"),
    pytest.param("genre:soul)", r"unmatched '\)'", 10, "            ^", None, id="stray-close"),
    pytest.param(")", r"unmatched '\)'", 0, "  ^", None, id="only-close"),
    pytest.param("genre:soul or genre:funk", r"'or' is not a field - write OR in capitals", 11, "             ^", None, id="lowercase-or"),
    pytest.param("soul", r"'soul' is not a term.*genre:soul or like:\"soul\"", 0, "  ^", None, id="bare-word"),
    pytest.param("like:playlist(Sunday Morning)", r"quote values that contain spaces", 21, "                       ^", "')'", id="unquoted-name"),
    pytest.param('artist:"abc', r"unterminated quoted string", 7, "         ^", None, id="unterminated"),
    pytest.param("genre:a OR limit:5", r"options apply to the whole query and cannot be part of an OR", 11, "             ^", None, id="ored-option"),
    pytest.param("genre:a OR like:x", r"like: and unlike: terms .* cannot be part of an OR", 11, "             ^", None, id="ored-like"),
    pytest.param("-limit:5", r"the option limit: cannot be negated", 1, "   ^", None, id="negated-option"),
    pytest.param("-like:x", r"like: cannot be negated - use unlike: instead", 1, "   ^", None, id="negated-like"),
    pytest.param("NOT unlike:x", r"unlike: cannot be negated - use like: instead", 4, "      ^", None, id="negated-unlike"),
    pytest.param("in:audoi", r"unknown space 'audoi' - did you mean 'audio'\?", 3, "     ^", "audio", id="bad-space"),
    pytest.param("sort:-enrgy", r"unknown sort key 'enrgy' - did you mean 'energy'\?", 6, "        ^", None, id="bad-sort"),
    pytest.param("per:artst=2", r"unknown per: field 'artst' - did you mean 'artist'\?", 4, "      ^", "artist", id="bad-per-field"),
    pytest.param("per:artist=0", r"per:artist= takes a whole number from 1 to 10,000,000", 11, "             ^", None, id="bad-per-count"),
    pytest.param("weight:energy=-1", r"weight:energy= takes a number from 0 to 1,000,000", 14, "                ^", None, id="negative-weight"),
    pytest.param("weight:energy=1e308", r"weight:energy= takes a number from 0 to 1,000,000", 14, "                ^", None, id="huge-weight"),
    pytest.param("weight:energy=2 weight:energy=3", r"weight:energy= is given twice", 16, "                  ^", None, id="weight-twice"),
    pytest.param("lmit:5", r"unknown field 'lmit' - did you mean 'limit'\?", 0, "  ^", None, id="misspelt-option"),
    pytest.param("artist<3", r"artist is a text field and cannot be compared with '<'", 6, "        ^", None, id="compare-text"),
    pytest.param("year:=1975", r"':=' works on text fields; year is a number", 4, "      ^", None, id="exact-on-number"),
    pytest.param("energy:high", r"'high' is not a number - energy takes numbers, e.g. energy:0.2..0.5", 7, "         ^", None, id="word-for-number"),
    pytest.param("energy:0.5..0.2", r"empty range: 0.5 is above 0.2 - write energy:0.2..0.5", 7, "         ^", None, id="empty-range"),
    pytest.param("year:..", r"a range needs at least one end", 5, "       ^", None, id="open-both-ends"),
    pytest.param("year:1..2..3", r"a range has one '..'", 9, "           ^", None, id="two-dots"),
    pytest.param("length<3:75", r"'3:75' is not a duration", 7, "         ^", None, id="bad-duration"),
    pytest.param("year:(1975,1980)", r"value lists are for text fields", 5, "       ^", None, id="numeric-list"),
    pytest.param("artist:~(", r"expected a value after 'artist:~\('", 9, "           ^", None, id="regex-open"),
    pytest.param('artist:~"(unclosed"', r"invalid regular expression: missing \)", 8, "          ^", None, id="bad-regex"),
    pytest.param("genre:", r"expected a value after 'genre:'", 6, "        ^", "a value", id="missing-value"),
    pytest.param('like:""', r"like: needs a target", 5, "       ^", None, id="empty-like"),
    pytest.param("genre:soul OR OR genre:funk", r"expected a term but found 'OR'", 14, "                ^", None, id="double-or"),
    pytest.param("()", r"expected a term before '\)'", 1, "   ^", None, id="empty-parens"),
    pytest.param('like:track("x" @ foo)', r"'foo' is not a time in the track - write seconds or m:ss", 17, "                   ^", None, id="bad-moment"),
    pytest.param('like:track("x" @ 1:75)', r"'1:75' is not a time in the track", 17, "                   ^", None, id="bad-moment-seconds"),
    pytest.param('like:playlist("x" @ 1:30)', r"unexpected '@'; expected '\)'", 18, "                    ^", None, id="moment-of-a-playlist"),
    pytest.param("path:track(A)..track(B) like:track(C)", r"a path and like:/unlike: terms cannot be combined", 0, "  ^", None, id="path-and-like"),
    pytest.param("path:track(A)..track(B) sort:energy", r"a path keeps its own order; sort: does not apply", 0, "  ^", None, id="path-sorted"),
    pytest.param("-path:track(A)..track(B)", r"path: cannot be negated", 1, "   ^", None, id="negated-path"),
    pytest.param("genre:a OR path:track(A)..track(B)", r"a path applies to the whole query and cannot be part of an OR", 11, "             ^", None, id="ored-path"),
    pytest.param("path:track(A)", r"expected '\.\.'", 13, "               ^", "'..'", id="half-a-path"),
    pytest.param("genre:soul @", r"'@' is not a term|expected a term but found '@'", 11, "             ^", None, id="junk"),
]


@pytest.mark.parametrize("text, message, position, caret, expected", ERRORS)
def test_error(text, message, position, caret, expected):
    with pytest.raises(QueryError, match=message) as info:
        parse(text)
    err = info.value
    assert err.position == position
    assert err.query == text
    assert caret_lines(err) == ["  " + text, caret]
    if expected is not None:
        assert expected in err.expected


def test_error_fields_are_structured():
    with pytest.raises(QueryError) as info:
        parse("energey<0.4")
    err = info.value
    assert err.message == "unknown field 'energey'"
    assert err.hint == "did you mean 'energy'?"
    assert err.snippet == ("energey<0.4", "^")
    assert isinstance(err, AttuneError)
    assert err.title == "query error"


def test_expected_uses_our_vocabulary_not_terminal_names():
    with pytest.raises(QueryError) as info:
        parse("genre:soul (")
    assert info.value.expected
    for word in info.value.expected:
        assert word in ("AND", "OR", "NOT") or not re.fullmatch(r"_?[A-Z_]+", word), word


def test_caret_in_multiline_query_points_at_the_right_line():
    with pytest.raises(QueryError) as info:
        parse("genre:soul\nenergey<0.4")
    assert caret_lines(info.value) == ["  energey<0.4", "  ^"]


def test_deep_parentheses_parse():
    assert parse("(" * 5000 + "genre:a" + ")" * 5000) == parse("genre:a")


def test_deep_negation_is_a_query_error_not_a_recursion_error():
    with pytest.raises(QueryError, match="nested too deeply"):
        parse("-" * 5000 + "genre:a")


def test_non_string_is_a_type_error():
    with pytest.raises(TypeError):
        parse(42)  # type: ignore[arg-type]


# Fragments of real queries, glued at random: reaches far more parser states than
# uniformly random text does.
FRAGMENTS = list('artisgenyl:=~<>!.,()"\\- |0123456789_') + [
    "é", "\n", "\u00a0", "like:", "unlike:", "playlist(", "track(", "limit:", "sort:", "per:", "weight:",
    "in:", " OR ", " AND ", "NOT ", "energy", "genre", "artist", "year", "length", "..", "3:30",
]
QUERYISH = st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join)


@given(st.text(max_size=60))
def test_no_lark_error_escapes_arbitrary_text(text):
    try:
        parse(text)
    except QueryError as err:
        assert 0 <= err.position <= len(text)
        str(err)


@given(QUERYISH)
def test_no_lark_error_escapes_queryish_text(text):
    try:
        parse(text)
    except QueryError as err:
        assert 0 <= err.position <= len(text)
        assert len(caret_lines(err)) == 2


def test_error_without_a_query_has_no_caret_block():
    err = QueryError("no playlist named 'X'", hint="did you mean 'Y'?")
    assert str(err) == "no playlist named 'X' - did you mean 'Y'?"
