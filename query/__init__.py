"""attune's query language: grammar, syntax tree, parser, renderer and errors.

    >>> from attune.query import parse, render
    >>> q = parse('genre:soul energy<0.4 like:playlist("Sunday Morning") limit:50')
    >>> render(q)
    'genre:soul energy<0.4 like:playlist("Sunday Morning") limit:50'

This package is pure Python on top of Lark and imports nothing else of attune's.
"""

from .ast import (
    And,
    Compare,
    Expr,
    Like,
    Not,
    Options,
    Or,
    PathTerm,
    PerLimit,
    Query,
    Range,
    Sort,
    Span,
    TextMatch,
    Weight,
)
from .errors import AttuneError, QueryError
from .outline import outline
from .parser import grammar_text, parse
from .render import quote, render, timestamp

__all__ = [
    "And",
    "AttuneError",
    "Compare",
    "Expr",
    "Like",
    "Not",
    "Options",
    "Or",
    "PathTerm",
    "PerLimit",
    "Query",
    "QueryError",
    "Range",
    "Sort",
    "Span",
    "TextMatch",
    "Weight",
    "grammar_text",
    "outline",
    "parse",
    "quote",
    "render",
    "timestamp",
]
