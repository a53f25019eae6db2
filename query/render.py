"""AST -> canonical query text.

There is one canonical spelling per tree: filter first, then like/unlike terms,
then options in a fixed order. `parse(render(q)) == q` for every query.
"""

from __future__ import annotations

import re
from functools import singledispatch

from .ast import And, Compare, Like, Not, Options, Or, PathTerm, Query, Range, TextMatch

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
    tail = ([render(node.path)] if node.path is not None else []) + [render(like) for like in node.likes]
    tail += _options(node.options)
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
    at = f" @ {timestamp(node.at)}" if node.at is not None else ""
    return f"{keyword}{node.kind}({quote(node.target)}{at})"


@render.register
def _(node: PathTerm) -> str:
    return f"path:track({quote(node.start)})..track({quote(node.end)})"


def timestamp(seconds: float) -> str:
    """m:ss (h:mm:ss past an hour; fractions of a second kept): 90 -> 1:30."""
    whole = int(seconds)
    rest = seconds - whole
    h, m, s = whole // 3600, whole // 60 % 60, whole % 60
    sec = f"{s:02d}" + (f"{rest:.3f}".rstrip("0").rstrip(".")[1:] if rest else "")
    return f"{h}:{m:02d}:{sec}" if h else f"{m}:{sec}"


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
