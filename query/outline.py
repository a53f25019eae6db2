"""A plain-words outline of a parsed query, for `attune parse --explain`."""

from __future__ import annotations

from functools import singledispatch

from .ast import And, Compare, Like, Not, Or, Query, Range, TextMatch
from .render import number, quote, render

_MODES = {"contains": "contains", "exact": "is exactly", "regex": "matches the pattern"}
_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "=": "=", "!=": "is not"}


def outline(query: Query) -> str:
    lines = [f"query:    {render(query) or '(everything)'}"]
    if query.where is None:
        lines.append("filter:   none - every track")
    else:
        lines.append("filter:")
        lines.extend(_lines(query.where, 1))
    if query.likes:
        lines.append("ranking:")
        for like in query.likes:
            lines.append(f"  {'away from' if like.unlike else 'towards'} {_target(like)}")
    opts = query.options
    lines.append("options:")
    lines.append(f"  space   {opts.space or 'attr (default)'}")
    lines.append(f"  limit   {opts.limit if opts.limit is not None else 'default'}")
    if opts.sort:
        lines.append(f"  sort    {opts.sort.field} {'descending' if opts.sort.descending else 'ascending'}")
    if opts.per:
        lines.append(f"  per     at most {opts.per.count} per {opts.per.field}")
    for w in opts.weights:
        lines.append(f"  weight  {w.field} x{number(w.value)}")
    if opts.versions:
        lines.append(f"  versions {'every version of a song' if opts.versions == 'all' else 'one row per song'}")
    return "\n".join(lines)


def _target(like: Like) -> str:
    if like.kind == "text":
        return f"the words {quote(like.target)}"
    return f"{like.kind} {quote(like.target)}"


@singledispatch
def _lines(node: object, depth: int) -> list[str]:
    raise TypeError(type(node).__name__)


@_lines.register
def _(node: TextMatch, depth: int) -> list[str]:
    values = " or ".join(quote(v) for v in node.values)
    return ["  " * depth + f"{node.field} {_MODES[node.mode]} {values}"]


@_lines.register
def _(node: Compare, depth: int) -> list[str]:
    return ["  " * depth + f"{node.field} {_OPS[node.op]} {number(node.value)}"]


@_lines.register
def _(node: Range, depth: int) -> list[str]:
    low = "-inf" if node.low is None else number(node.low)
    high = "+inf" if node.high is None else number(node.high)
    return ["  " * depth + f"{node.field} in [{low}, {high}]"]


@_lines.register
def _(node: Not, depth: int) -> list[str]:
    return ["  " * depth + "NOT"] + _lines(node.item, depth + 1)


@_lines.register
def _(node: And, depth: int) -> list[str]:
    return ["  " * depth + "ALL of"] + [line for i in node.items for line in _lines(i, depth + 1)]


@_lines.register
def _(node: Or, depth: int) -> list[str]:
    return ["  " * depth + "ANY of"] + [line for i in node.items for line in _lines(i, depth + 1)]
