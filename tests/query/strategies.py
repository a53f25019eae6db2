"""Hypothesis strategies for query trees in the parser's normal form."""

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
)
from attune.query import fields as vocab
from hypothesis import strategies as st

text_values = st.text(max_size=12)
regexes = st.sampled_from([r"^al\s", r"soul|funk", r"\d{4}", r"^the ", r"(?i)björk", r"a\\b", r'say "hi"'])
finite = st.floats(allow_nan=False, allow_infinity=False)
numeric_fields = st.sampled_from(vocab.NUMERIC_FIELDS)


def _text_match():
    plain = st.builds(
        TextMatch,
        st.sampled_from(vocab.TEXT_FIELDS),
        st.lists(text_values, min_size=1, max_size=3).map(tuple),
        st.sampled_from(["contains", "exact"]),
    )
    regex = st.builds(
        TextMatch, st.sampled_from(vocab.TEXT_FIELDS), st.lists(regexes, min_size=1, max_size=2).map(tuple), st.just("regex")
    )
    return plain | regex


def _range():
    def make(field, a, b, shape):
        lo, hi = sorted((a, b))
        return Range(field, None if shape == "high" else lo, None if shape == "low" else hi)

    return st.builds(make, numeric_fields, finite, finite, st.sampled_from(["both", "low", "high"]))


leaves = _text_match() | st.builds(
    Compare, numeric_fields, st.sampled_from(["<", "<=", ">", ">=", "=", "!="]), finite
) | _range()


def _extend(children):
    not_and = children.filter(lambda x: not isinstance(x, And))
    not_or = children.filter(lambda x: not isinstance(x, Or))
    return (
        st.builds(Not, children)
        | st.lists(not_and, min_size=2, max_size=4).map(lambda xs: And(tuple(xs)))
        | st.lists(not_or, min_size=2, max_size=4).map(lambda xs: Or(tuple(xs)))
    )


exprs = st.recursive(leaves, _extend, max_leaves=12)

_targets = text_values.filter(lambda s: s.strip() != "")
#: Moments inside a track as a person writes them (whole seconds and milliseconds).
moments = st.integers(0, 4 * 3600 * 1000).map(lambda ms: ms / 1000)

likes = st.builds(
    Like,
    st.sampled_from(["playlist", "track", "artist", "text"]),
    _targets,
    st.booleans(),
) | st.builds(lambda t, u, at: Like("track", t, u, at=at), _targets, st.booleans(), moments)

paths = st.builds(PathTerm, _targets, _targets)

options = st.builds(
    Options,
    space=st.none() | st.sampled_from(vocab.SPACES),
    limit=st.none() | st.integers(1, 10_000),
    sort=st.none() | st.builds(Sort, st.sampled_from((*vocab.SORT_EXTRA, *vocab.NUMERIC_FIELDS)), st.booleans()),
    per=st.none() | st.builds(PerLimit, st.sampled_from(vocab.PER_FIELDS), st.integers(1, 50)),
    weights=st.lists(
        st.builds(Weight, st.sampled_from((*vocab.WEIGHT_EXTRA, *vocab.NUMERIC_FIELDS)), st.floats(0, 1e6)),
        max_size=3,
        unique_by=lambda w: w.field,
    ).map(tuple),
    versions=st.none() | st.sampled_from(vocab.VERSIONS),
)

queries = st.builds(Query, st.none() | exprs, st.lists(likes, max_size=3).map(tuple), options) | st.builds(
    lambda where, options, path: Query(where, (), Options(options.space, options.limit, None, options.per, options.weights,
                                                          options.versions), path),
    st.none() | exprs, options, paths)
