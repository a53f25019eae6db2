"""Query text -> expected AST, one row per construct of the language."""

import pytest
from attune.query import (
    And,
    Compare,
    Like,
    Not,
    Options,
    Or,
    PathTerm,
    PerLimit,
    Query,
    Range,
    Sort,
    TextMatch,
    Weight,
    parse,
)


def T(field, *values, mode="contains"):
    return TextMatch(field, tuple(values), mode)


def W(where):
    return Query(where=where)


CASES = [
    pytest.param("", Query(), id="empty"),
    pytest.param("   \n\t ", Query(), id="only-whitespace"),
    pytest.param("artist:green", W(T("artist", "green")), id="contains"),
    pytest.param('artist:="Al Green"', W(T("artist", "Al Green", mode="exact")), id="exact"),
    pytest.param(r'artist:~"^al\s"', W(T("artist", r"^al\s", mode="regex")), id="regex-keeps-backslash"),
    pytest.param(r'title:"say \"hi\" \\ bye"', W(T("title", 'say "hi" \\ bye')), id="escapes"),
    pytest.param("artist:björk", W(T("artist", "björk")), id="unicode-bare"),
    pytest.param('album:"Ágætis byrjun"', W(T("album", "Ágætis byrjun")), id="unicode-quoted"),
    pytest.param("genre:r&b", W(T("genre", "r&b")), id="ampersand"),
    pytest.param("artist:OR", W(T("artist", "OR")), id="keyword-as-value"),
    pytest.param("genre:(soul,funk)", W(T("genre", "soul", "funk")), id="value-list"),
    pytest.param('genre:( soul , "hip hop" )', W(T("genre", "soul", "hip hop")), id="value-list-spaced"),
    pytest.param("genre:(soul)", W(T("genre", "soul")), id="one-item-list"),
    pytest.param("tag:chill path:/music/a playlist:gym", W(And((T("tag", "chill"), T("path", "/music/a"), T("playlist", "gym")))), id="other-text-fields"),
    pytest.param("energy<0.4", W(Compare("energy", "<", 0.4)), id="lt"),
    pytest.param("energy <= 0.4", W(Compare("energy", "<=", 0.4)), id="le-spaced"),
    pytest.param("valence>.5", W(Compare("valence", ">", 0.5)), id="gt-leading-dot"),
    pytest.param("tempo>=120", W(Compare("tempo", ">=", 120.0)), id="ge"),
    pytest.param("year=1975", W(Compare("year", "=", 1975.0)), id="eq"),
    pytest.param("year:1975", W(Compare("year", "=", 1975.0)), id="colon-number-is-eq"),
    pytest.param("popularity!=0", W(Compare("popularity", "!=", 0.0)), id="ne"),
    pytest.param("loudness>-6.5", W(Compare("loudness", ">", -6.5)), id="negative"),
    pytest.param("danceability>1e-1", W(Compare("danceability", ">", 0.1)), id="exponent"),
    pytest.param("energy:0.2..0.5", W(Range("energy", 0.2, 0.5)), id="range"),
    pytest.param("year:1970..1979", W(Range("year", 1970.0, 1979.0)), id="year-range"),
    pytest.param("year:..1990", W(Range("year", None, 1990.0)), id="open-low"),
    pytest.param("tempo:120..", W(Range("tempo", 120.0, None)), id="open-high"),
    pytest.param("energy:0.5..0.5", W(Range("energy", 0.5, 0.5)), id="point-range"),
    pytest.param("length<3:30", W(Compare("length", "<", 210.0)), id="length-mss"),
    pytest.param("length:2:30..1:02:03", W(Range("length", 150.0, 3723.0)), id="length-range-hmmss"),
    pytest.param("length>200", W(Compare("length", ">", 200.0)), id="length-seconds"),
    pytest.param("acousticness>0.5 consistency>0.8", W(And((Compare("acousticness", ">", 0.5), Compare("consistency", ">", 0.8)))), id="juxtaposition"),
    pytest.param("genre:soul AND genre:funk", W(And((T("genre", "soul"), T("genre", "funk")))), id="and-keyword"),
    pytest.param("genre:soul OR genre:funk", W(Or((T("genre", "soul"), T("genre", "funk")))), id="or-keyword"),
    pytest.param("genre:soul | genre:funk", W(Or((T("genre", "soul"), T("genre", "funk")))), id="or-bar"),
    pytest.param("-artist:x", W(Not(T("artist", "x"))), id="minus"),
    pytest.param("NOT artist:x", W(Not(T("artist", "x"))), id="not-keyword"),
    pytest.param("--artist:x", W(Not(Not(T("artist", "x")))), id="double-negation"),
    pytest.param(
        "genre:a OR genre:b genre:c",
        W(Or((T("genre", "a"), And((T("genre", "b"), T("genre", "c")))))),
        id="and-binds-tighter-than-or",
    ),
    pytest.param(
        "genre:a genre:b OR genre:c",
        W(Or((And((T("genre", "a"), T("genre", "b"))), T("genre", "c")))),
        id="and-binds-tighter-than-or-left",
    ),
    pytest.param(
        "-genre:a genre:b",
        W(And((Not(T("genre", "a")), T("genre", "b")))),
        id="not-binds-tighter-than-and",
    ),
    pytest.param(
        "NOT genre:a OR genre:b",
        W(Or((Not(T("genre", "a")), T("genre", "b")))),
        id="not-binds-tighter-than-or",
    ),
    pytest.param(
        "(genre:a OR genre:b) genre:c",
        W(And((Or((T("genre", "a"), T("genre", "b"))), T("genre", "c")))),
        id="parentheses",
    ),
    pytest.param("-(genre:a genre:b)", W(Not(And((T("genre", "a"), T("genre", "b"))))), id="negated-group"),
    pytest.param("((genre:a))", W(T("genre", "a")), id="redundant-parens"),
    pytest.param(
        "genre:a (genre:b genre:c)",
        W(And((T("genre", "a"), T("genre", "b"), T("genre", "c")))),
        id="nested-and-flattened",
    ),
    pytest.param(
        "genre:a OR (genre:b OR genre:c)",
        W(Or((T("genre", "a"), T("genre", "b"), T("genre", "c")))),
        id="nested-or-flattened",
    ),
    pytest.param('like:playlist("Sunday Morning")', Query(likes=(Like("playlist", "Sunday Morning"),)), id="like-playlist"),
    pytest.param("like:track(/music/a b.mp3)".replace(" b", "_b"), Query(likes=(Like("track", "/music/a_b.mp3"),)), id="like-track-path"),
    pytest.param('like:artist("Al Green")', Query(likes=(Like("artist", "Al Green"),)), id="like-artist"),
    pytest.param('like:"warm mellow soul for a rainy night"', Query(likes=(Like("text", "warm mellow soul for a rainy night"),)), id="like-text"),
    pytest.param("like:mellow", Query(likes=(Like("text", "mellow"),)), id="like-bare-text"),
    pytest.param("unlike:artist(Drake)", Query(likes=(Like("artist", "Drake", unlike=True),)), id="unlike"),
    pytest.param(
        "like:playlist(a) like:track(t1) unlike:\"loud\"",
        Query(likes=(Like("playlist", "a"), Like("track", "t1"), Like("text", "loud", True))),
        id="several-likes",
    ),
    pytest.param('like:track("x" @ 1:30)', Query(likes=(Like("track", "x", at=90.0),)), id="passage-m-ss"),
    pytest.param("like:track(t1 @ 95.5)", Query(likes=(Like("track", "t1", at=95.5),)), id="passage-seconds"),
    pytest.param('unlike:track("x"@1:02:03)', Query(likes=(Like("track", "x", True, at=3723.0),)), id="passage-hours"),
    pytest.param(
        'path:track("A")..track(B) genre:soul limit:8',
        Query(where=T("genre", "soul"), options=Options(limit=8), path=PathTerm("A", "B")),
        id="path",
    ),
    pytest.param("path:/music/a.mp3", W(T("path", "/music/a.mp3")), id="path-field-is-still-a-field"),
    pytest.param("in:attr", Query(options=Options(space="attr")), id="in-attr"),
    pytest.param("in:audio", Query(options=Options(space="audio")), id="in-audio"),
    pytest.param("in:colisten", Query(options=Options(space="colisten")), id="in-colisten"),
    pytest.param("limit:50", Query(options=Options(limit=50)), id="limit"),
    pytest.param("sort:popularity", Query(options=Options(sort=Sort("popularity"))), id="sort"),
    pytest.param("sort:-energy", Query(options=Options(sort=Sort("energy", True))), id="sort-desc"),
    pytest.param("per:artist=2", Query(options=Options(per=PerLimit("artist", 2))), id="per"),
    pytest.param("weight:energy=2", Query(options=Options(weights=(Weight("energy", 2.0),))), id="weight"),
    pytest.param(
        "weight:energy=2 weight:genre=0.5",
        Query(options=Options(weights=(Weight("energy", 2.0), Weight("genre", 0.5)))),
        id="two-weights",
    ),
    pytest.param(
        'genre:soul energy<0.4 like:playlist("Sunday Morning") -artist:"Al Green" limit:50',
        Query(
            where=And((T("genre", "soul"), Compare("energy", "<", 0.4), Not(T("artist", "Al Green")))),
            likes=(Like("playlist", "Sunday Morning"),),
            options=Options(limit=50),
        ),
        id="the-readme-example",
    ),
    pytest.param(
        "genre:soul OR genre:funk limit:5",
        Query(where=Or((T("genre", "soul"), T("genre", "funk"))), options=Options(limit=5)),
        id="option-after-or-applies-to-whole-query",
    ),
    pytest.param(
        "(genre:soul like:x) OR genre:funk",
        Query(where=Or((T("genre", "soul"), T("genre", "funk"))), likes=(Like("text", "x"),)),
        id="like-lifted-out-of-group",
    ),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_parse(text, expected):
    assert parse(text) == expected


def test_spans_point_into_the_text():
    text = 'genre:soul -artist:"Al Green"'
    q = parse(text)
    genre, negated = q.where.items
    assert text[genre.span.start : genre.span.end] == "genre:soul"
    assert text[negated.span.start : negated.span.end] == '-artist:"Al Green"'
    assert text[negated.item.span.start : negated.item.span.end] == 'artist:"Al Green"'


def test_library_fields_extend_the_vocabulary():
    assert parse("genre_rock>0.5", fields=["genre_rock"]).where == Compare("genre_rock", ">", 0.5)
    assert parse("weight:genre_rock=3", fields=["genre_rock"]).options.weight_map == {"genre_rock": 3.0}


def test_query_exposes_parts_separately():
    q = parse("like:playlist(p) genre:soul in:audio limit:10 per:artist=1")
    assert q.where == T("genre", "soul")
    assert q.likes == (Like("playlist", "p"),)
    assert q.options == Options(space="audio", limit=10, per=PerLimit("artist", 1))


def test_ast_is_frozen():
    q = parse("genre:soul")
    with pytest.raises(AttributeError):
        q.where.field = "artist"  # type: ignore[misc]
