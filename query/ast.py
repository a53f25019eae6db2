"""The query language's syntax tree: frozen dataclasses with source spans.

Spans are kept for error messages and explanations but take no part in equality,
so `parse(render(q)) == q` compares meaning, not layout.

A parsed query is a `Query`: a filter expression (`where`), similarity terms
(`likes`) and `Options`. Filter expressions are in normal form: an `And` never
holds an `And`, an `Or` never holds an `Or`, and both hold two or more items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TextMode = Literal["contains", "exact", "regex"]
CompareOp = Literal["<", "<=", ">", ">=", "=", "!="]
LikeKind = Literal["playlist", "track", "artist", "text"]
Space = Literal["attr", "audio", "colisten"]


@dataclass(frozen=True)
class Span:
    """Half-open character range [start, end) in the query text."""

    start: int
    end: int


def _span() -> Span | None:
    return field(default=None, compare=False, repr=False)  # type: ignore[return-value]


@dataclass(frozen=True)
class TextMatch:
    """`artist:green` (contains), `artist:="Al Green"` (exact), `artist:~"^al"` (regex).

    Several values (`genre:(soul,funk)`) match when any of them does.
    Matching is case-insensitive.
    """

    field: str
    values: tuple[str, ...]
    mode: TextMode = "contains"
    span: Span | None = _span()


@dataclass(frozen=True)
class Compare:
    """`energy<0.4`, `year=1975`, `tempo!=120`."""

    field: str
    op: CompareOp
    value: float
    span: Span | None = _span()


@dataclass(frozen=True)
class Range:
    """`energy:0.2..0.5`, inclusive at both ends; either end may be open."""

    field: str
    low: float | None
    high: float | None
    span: Span | None = _span()


@dataclass(frozen=True)
class Not:
    item: Expr
    span: Span | None = _span()


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]
    span: Span | None = _span()


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]
    span: Span | None = _span()


Expr = TextMatch | Compare | Range | Not | And | Or


@dataclass(frozen=True)
class Like:
    """`like:playlist("x")`, `like:track(id)`, `like:artist(name)`, `like:"free text"`.

    `unlike` terms push results away from the target instead of towards it. `at` (track
    targets only: `like:track("x" @ 1:30)`) is a moment inside the track, in seconds: the
    term then ranks tracks by their passage nearest that moment's 3-second segment.
    """

    kind: LikeKind
    target: str
    unlike: bool = False
    span: Span | None = _span()
    at: float | None = None


@dataclass(frozen=True)
class PathTerm:
    """`path:track("A")..track("B")`: tracks stepping from A to B (`limit:` steps)."""

    start: str
    end: str
    span: Span | None = _span()


@dataclass(frozen=True)
class Sort:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class PerLimit:
    """`per:artist=2`: at most `count` results share one value of `field`."""

    field: str
    count: int


@dataclass(frozen=True)
class Weight:
    """`weight:energy=2`: scale one dimension's contribution to distances."""

    field: str
    value: float


@dataclass(frozen=True)
class Options:
    space: Space | None = None
    limit: int | None = None
    sort: Sort | None = None
    per: PerLimit | None = None
    weights: tuple[Weight, ...] = ()
    #: "all" keeps every version of a song; None (or "one") collapses them into one row.
    versions: str | None = None

    @property
    def weight_map(self) -> dict[str, float]:
        return {w.field: w.value for w in self.weights}


@dataclass(frozen=True)
class Query:
    """A whole query. `where` is None when nothing is filtered ("everything").

    `attune.query.render(query)` gives its canonical text."""

    where: Expr | None = None
    likes: tuple[Like, ...] = ()
    options: Options = Options()
    path: PathTerm | None = None
