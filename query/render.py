"""AST -> canonical query text.

There is one canonical spelling per tree: filter first, then like/unlike terms,
then options in a fixed order. `parse(render(q)) == q` for every query.
"""

from __future__ import annotations

import re
from functools import singledispatch

from .ast import And, Compare, Like, Not, Options, Or, Query, Range, TextMatch

_BARE_RE = re.compile(r'[^\s()",|]+')


def quote(value: str) -> str:
    r"""Write a value bare when the lexer reads it back unchanged, else quoted.

    Inside quotes `"` is always escaped; a backslash is escaped only where it
    would otherwise be read as an escape, so regular expressions stay readable.
    """
    # A leading '=' or '~' would turn `field:VALUE` into `field:=` or `field:~`.
    if _BARE_RE.fullmatch(value) and value[0] not in "=~":
        return value
    out: list[str] = []
    for i, ch in enumerate(value):
        if ch == '"':
            out.append('\\"')
        elif ch == "\\" and (i + 1 == len(value) or value[i + 1] in '"\\'):
            out.append("\\\\")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def number(value: float) -> str:
    """Shortest text that reads back as the same float."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


@singledispatch
def render(node: object) -> str:
    """Canonical text for a Query, a filter expression, a Like or Options."""
    raise TypeError(f"cannot render {type(node).__name__}")


@render.register
def _(node: Query) -> str:
    tail = [render(like) for like in node.likes] + _options(node.options)
    parts = []
    if node.where is not None:
        # A top-level OR followed by more terms is bracketed for the reader's sake.
        where = render(node.where)
        parts.append(f"({where})" if isinstance(node.where, Or) and tail else where)
    return " ".join(parts + tail)


@render.register
def _(node: TextMatch) -> str:
    op = {"contains": ":", "exact": ":=", "regex": ":~"}[node.mode]
    if len(node.values) == 1:
        return f"{node.field}{op}{quote(node.values[0])}"
    return f"{node.field}{op}(" + ",".join(quote(v) for v in node.values) + ")"


@render.register
def _(node: Compare) -> str:
    return f"{node.field}{node.op}{number(node.value)}"


@render.register
def _(node: Range) -> str:
    low = "" if node.low is None else number(node.low)
    high = "" if node.high is None else number(node.high)
    return f"{node.field}:{low}..{high}"


@render.register
def _(node: Not) -> str:
    inner = render(node.item)
    return f"-({inner})" if isinstance(node.item, (And, Or)) else f"-{inner}"


@render.register
def _(node: And) -> str:
    return " ".join(f"({render(i)})" if isinstance(i, Or) else render(i) for i in node.items)


@render.register
def _(node: Or) -> str:
    return " OR ".join(render(i) for i in node.items)


@render.register
def _(node: Like) -> str:
    keyword = "unlike:" if node.unlike else "like:"
    if node.kind == "text":
        return keyword + quote(node.target)
    return f"{keyword}{node.kind}({quote(node.target)})"


@render.register
def _(node: Options) -> str:
    return " ".join(_options(node))


def _options(opts: Options) -> list[str]:
    out = []
    if opts.space is not None:
        out.append(f"in:{opts.space}")
    if opts.limit is not None:
        out.append(f"limit:{opts.limit}")
    if opts.sort is not None:
        out.append(f"sort:{'-' if opts.sort.descending else ''}{opts.sort.field}")
    if opts.per is not None:
        out.append(f"per:{opts.per.field}={opts.per.count}")
    out.extend(f"weight:{w.field}={number(w.value)}" for w in opts.weights)
    if opts.versions is not None:
        out.append(f"versions:{opts.versions}")
    return out
