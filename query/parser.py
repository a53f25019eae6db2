"""Text -> `Query`: the Lark LALR parser and the tree builder.

The grammar (`grammar.lark`) gives the structure; this module turns Lark's tree
into the frozen AST, checks names and values against the vocabulary, lifts
options and similarity terms out of the filter expression, and translates every
Lark error into a `QueryError` in the language's own words. No Lark exception
leaves this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import fields as vocab
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
from .errors import QueryError
from .walk import depth

_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DURATION_RE = re.compile(r"(?:(\d+):)?(\d+):(\d{1,2}(?:\.\d*)?)")
_WHOLE_RE = re.compile(r"\d+")


def _clock(text: str) -> tuple[int, int, float] | None:
    """(hours, minutes, seconds) of m:ss or h:mm:ss with seconds below 60, else None."""
    m = _DURATION_RE.fullmatch(text)
    if m is None or float(m.group(3)) >= 60:
        return None
    return int(m.group(1) or 0), int(m.group(2)), float(m.group(3))

# What each terminal means to a user; used to say what was expected.
_TERMINAL_WORDS: dict[str, str] = {
    "NAME": "a field",
    "_NOT": "NOT",
    "_LPAR": "'('",
    "_RPAR": "')'",
    "OPTION": "an option",
    "LIKE": "like:",
    "VALUE": "a value",
    "STRING": "a quoted string",
    "CMP": "a comparison (< <= > >= = !=)",
    "_COLON": "':'",
    "_EXACT": "':='",
    "_REGEX": "':~'",
    "_OR": "OR",
    "_AND": "AND",
    "_COMMA": "','",
    "PLAYLIST_CALL": "playlist(...)",
    "TRACK_CALL": "track(...)",
    "ARTIST_CALL": "artist(...)",
    "PATH": "path:track(...)..track(...)",
    "_AT": "'@' and a time",
    "_DOTS": "'..'",
    "$END": "the end of the query",
}


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = files("attune.query").joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True)


def grammar_text() -> str:
    """The grammar source, for documentation and tests."""
    return files("attune.query").joinpath("grammar.lark").read_text(encoding="utf-8")


#: Bounds that keep every query's work bounded (each is an error, not a silent cut).
MAX_LENGTH = 100_000  # characters of query text
MAX_DEPTH = 200  # levels of nested parentheses, NOT and OR/AND
MAX_VALUES = 10_000  # values in one list, genre:(a,b,...)
MAX_LIMIT = 10_000_000  # limit:N
MAX_WEIGHT = 1_000_000.0  # weight:DIM=X


def python_regex_error(pattern: str) -> str | None:
    """The default regular-expression check (Python's `re`); the engine passes its own."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return exc.msg
    return None


def parse(text: str, *, fields: Iterable[str] = (), regex_error: Callable[[str], str | None] = python_regex_error) -> Query:
    """Parse a query string.

    `fields` names extra numeric attribute columns (a library's own) that are
    accepted besides the built-in ones. `regex_error(pattern)` says what is wrong with a
    regular expression (None: nothing), so that it is checked by the rules of the engine
    that will run it. Raises `QueryError` for any bad input.
    """
    if not isinstance(text, str):
        raise TypeError(f"query must be a str, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise QueryError(f"the query is {len(text):,} characters long; at most {MAX_LENGTH:,} are read", query=text[:200],
                         position=0, hint="split it, or use value lists and playlists instead of long OR chains")
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    except LarkError as exc:  # defensive: any other Lark failure is still a query error
        raise QueryError(f"cannot parse the query ({exc.__class__.__name__})", query=text) from None
    except RecursionError:
        raise QueryError("the query is nested too deeply", query=text) from None
    try:
        query = _Builder(text, fields, regex_error).build(tree)
    except RecursionError:
        raise QueryError(f"the query is nested too deeply (at most {MAX_DEPTH} levels)", query=text) from None
    if depth(query.where) > MAX_DEPTH:
        raise QueryError(f"the query is nested {depth(query.where)} levels deep; at most {MAX_DEPTH} are allowed", query=text,
                         hint="flatten it: a value list genre:(a,b,c) or one OR instead of nested groups")
    return query


# ---------------------------------------------------------------------------
# Tree -> AST


@dataclass(frozen=True)
class _OptionTerm:
    """An option as it stands in the raw tree, before it is lifted out."""

    name: str
    value: str
    span: Span
    value_pos: int


@dataclass(frozen=True)
class _Value:
    text: str
    span: Span
    quoted: bool


def _tok_span(tok: Token) -> Span:
    return Span(tok.start_pos or 0, tok.end_pos or 0)


def _tree_span(tree: Tree) -> Span:
    meta = tree.meta
    return Span(getattr(meta, "start_pos", 0), getattr(meta, "end_pos", 0))


def unescape(body: str) -> str:
    r"""Decode a quoted string's body: `\"` -> `"`, `\\` -> `\`, other backslashes stay."""
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] in '"\\':
            out.append(body[i + 1])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class _Builder:
    """Builds one `Query` from one Lark tree. Dispatches on rule names."""

    def __init__(self, text: str, extra_fields: Iterable[str], regex_error: Callable[[str], str | None] = python_regex_error) -> None:
        self.text = text
        self.regex_error = regex_error
        self.numeric = set(vocab.NUMERIC_FIELDS) | {f for f in extra_fields}
        self.likes: list[Like] = []
        self.path: PathTerm | None = None
        self.options: dict[str, tuple[object, Span]] = {}
        self.weights: dict[str, tuple[Weight, Span]] = {}
        self._rules: dict[str, Callable[[Tree], object]] = {
            "or_": self._or,
            "and_": self._and,
            "not_": self._not,
            "match": self._match,
            "exact": self._exact,
            "regex": self._regex,
            "compare": self._compare,
            "like_term": self._like,
            "path_term": self._path,
            "option": self._option,
        }

    # -- errors -------------------------------------------------------------

    def error(self, message: str, position: int, *, hint: str | None = None, expected=None) -> QueryError:
        return QueryError(message, query=self.text, position=position, hint=hint, expected=expected)

    # -- entry --------------------------------------------------------------

    def build(self, tree: Tree) -> Query:
        raw = self.node(tree.children[0]) if tree.children else None
        where = self.lift(raw, negated=False) if raw is not None else None
        opts = {name: value for name, (value, _) in self.options.items()}
        options = Options(
            space=opts.get("in"),  # type: ignore[arg-type]
            limit=opts.get("limit"),  # type: ignore[arg-type]
            sort=opts.get("sort"),  # type: ignore[arg-type]
            per=opts.get("per"),  # type: ignore[arg-type]
            weights=tuple(w for w, _ in self.weights.values()),
            versions=opts.get("versions"),  # type: ignore[arg-type]
        )
        if self.path is not None:
            at = self.path.span.start if self.path.span else 0
            if self.likes:
                raise self.error("a path and like:/unlike: terms cannot be combined", at,
                                 hint="a path steps from one track to another; filters narrow its steps")
            if options.sort is not None:
                raise self.error("a path keeps its own order; sort: does not apply", at)
        return Query(where=where, likes=tuple(self.likes), options=options, path=self.path)

    def node(self, tree: Tree) -> object:
        return self._rules[tree.data](tree)

    # -- boolean structure (binary as parsed; lift() normalises) -------------

    def _or(self, tree: Tree) -> Or:
        return Or(tuple(self.node(c) for c in _chain(tree)), _tree_span(tree))  # type: ignore[arg-type]

    def _and(self, tree: Tree) -> And:
        return And(tuple(self.node(c) for c in _chain(tree)), _tree_span(tree))  # type: ignore[arg-type]

    def _not(self, tree: Tree) -> Not:
        return Not(self.node(tree.children[0]), _tree_span(tree))  # type: ignore[arg-type]

    # -- lifting options and likes out of the filter ------------------------

    def lift(self, node: object, *, negated: bool) -> Expr | None:
        """Remove options and like-terms from the filter, checking where they stood.

        They do not filter, so lifting them out of an AND is exact. They may not
        stand under a NOT, nor be a whole branch of an OR.
        """
        if isinstance(node, (_OptionTerm, Like, PathTerm)):
            if negated:
                raise self._negated_error(node)
            self._record(node)
            return None
        if isinstance(node, Not):
            inner = self.lift(node.item, negated=True)
            return Not(inner, node.span)  # type: ignore[arg-type]
        if isinstance(node, And):
            items = [self.lift(item, negated=negated) for item in node.items]
            return _join(And, [i for i in items if i is not None], node.span)
        if isinstance(node, Or):
            items = []
            for item in node.items:
                lone = _first_non_filter(item) if not _has_filter(item) else None
                if lone is not None:
                    word = ("options" if isinstance(lone, _OptionTerm) else "a path" if isinstance(lone, PathTerm)
                            else "like: and unlike: terms")
                    raise self.error(
                        f"{word} {'applies' if word == 'a path' else 'apply'} to the whole query and cannot be part of an OR",
                        lone.span.start,  # type: ignore[union-attr]
                        hint="move it outside the OR",
                    )
                items.append(self.lift(item, negated=negated))
            return _join(Or, [i for i in items if i is not None], node.span)
        return node  # type: ignore[return-value]

    def _negated_error(self, node: object) -> QueryError:
        if isinstance(node, Like):
            other = "like:" if node.unlike else "unlike:"
            return self.error(
                f"{'unlike:' if node.unlike else 'like:'} cannot be negated",
                node.span.start,  # type: ignore[union-attr]
                hint=f"use {other} instead",
            )
        if isinstance(node, PathTerm):
            return self.error("path: cannot be negated", node.span.start)  # type: ignore[union-attr]
        assert isinstance(node, _OptionTerm)
        return self.error(f"the option {node.name}: cannot be negated", node.span.start)

    def _record(self, node: _OptionTerm | Like | PathTerm) -> None:
        if isinstance(node, Like):
            self.likes.append(node)
            return
        if isinstance(node, PathTerm):
            if self.path is not None:
                first = self.path.span.start if self.path.span else 0
                raise self.error(f"path: is given twice (first at column {first})", node.span.start)  # type: ignore[union-attr]
            self.path = node
            return
        value = self._option_value(node)
        if isinstance(value, Weight):
            key, store = value.field, self.weights
            what = f"weight:{value.field}="
        else:
            key, store = node.name, self.options  # type: ignore[assignment]
            what = f"{node.name}:"
        if key in store:
            first = store[key][1].start
            raise self.error(f"{what} is given twice (first at column {first})", node.span.start)
        store[key] = (value, node.span)  # type: ignore[assignment]

    # -- values ---------------------------------------------------------------

    def value(self, tree: Tree | Token) -> list[_Value]:
        if isinstance(tree, Token):  # bare VALUE in compare / option
            return [_Value(str(tree), _tok_span(tree), False)]
        if tree.data == "value_list":
            return [v for child in tree.children for v in self.value(child)]
        tok = tree.children[0]
        assert isinstance(tok, Token)
        if tree.data == "quoted":
            return [_Value(unescape(tok[1:-1]), _tok_span(tok), True)]
        return [_Value(str(tok), _tok_span(tok), False)]

    def number(self, field: str, text: str, pos: int) -> float:
        """One number of a numeric field; `length` also takes m:ss and h:mm:ss."""
        if field == "length" and ":" in text:
            clock = _clock(text)
            if clock is not None:
                hours, minutes, seconds = clock
                return hours * 3600 + minutes * 60 + seconds
            raise self.error(f"'{text}' is not a duration", pos, hint="write seconds or m:ss, e.g. length<3:30")
        if not _NUMBER_RE.fullmatch(text):
            raise self.error(
                f"'{text}' is not a number" if text else "expected a number",
                pos,
                expected=["a number"],
                hint=f"{field} takes numbers, e.g. {_example(field)}",
            )
        return float(text)

    # -- field terms ----------------------------------------------------------

    def _field(self, tok: Token) -> tuple[str, str]:
        """(name, kind) where kind is 'text' or 'number'; unknown names are errors."""
        name = str(tok)
        if name in vocab.TEXT_FIELDS:
            return name, "text"
        if name in self.numeric:
            return name, "number"
        if name.lower() in ("or", "and", "not"):
            raise self.error(
                f"'{name}' is not a field",
                tok.start_pos or 0,
                hint=f"write {name.upper()} in capitals to combine terms",
            )
        known = (*vocab.TEXT_FIELDS, *sorted(self.numeric), *vocab.OPTIONS, *vocab.LIKE_KEYWORDS)
        guess = vocab.suggest(name, known)
        hint = f"did you mean '{guess}'?" if guess else "fields are " + ", ".join(vocab.TEXT_FIELDS) + " and the attributes"
        raise self.error(f"unknown field '{name}'", tok.start_pos or 0, hint=hint, expected=["a field"])

    def _text_values(self, tree: Tree, mode: str) -> TextMatch:
        name_tok, value_tree = tree.children
        name, kind = self._field(name_tok)  # type: ignore[arg-type]
        values = self.value(value_tree)  # type: ignore[arg-type]
        if kind != "text":
            op = ":=" if mode == "exact" else ":~"
            raise self.error(
                f"'{op}' works on text fields; {name} is a number",
                (name_tok.end_pos or 0),  # type: ignore[union-attr]
                hint=f"write {_example(name)}",
            )
        if len(values) > MAX_VALUES:
            raise self.error(f"{len(values):,} values in one list; at most {MAX_VALUES:,}", values[MAX_VALUES].span.start,
                             hint="put the tracks in a playlist and use playlist:NAME")
        if mode == "regex":
            for v in values:
                problem = self.regex_error(v.text)
                if problem is not None:
                    raise self.error(f"invalid regular expression: {problem}", v.span.start)
        return TextMatch(name, tuple(v.text for v in values), mode, _tree_span(tree))  # type: ignore[arg-type]

    def _match(self, tree: Tree) -> Expr:
        name_tok, value_tree = tree.children
        name, kind = self._field(name_tok)  # type: ignore[arg-type]
        if kind == "text":
            return self._text_values(tree, "contains")
        values = self.value(value_tree)  # type: ignore[arg-type]
        if len(values) != 1 or (isinstance(value_tree, Tree) and value_tree.data == "value_list"):
            raise self.error(
                f"value lists are for text fields; {name} is a number",
                values[0].span.start - 1,
                hint=f"use a range, e.g. {_example(name)}, or OR",
            )
        v = values[0]
        start = v.span.start + (1 if v.quoted else 0)
        if ".." in v.text:
            return self._range(name, v.text, start, _tree_span(tree))
        return Compare(name, "=", self.number(name, v.text, start), _tree_span(tree))

    def _range(self, name: str, text: str, start: int, span: Span) -> Range:
        low_text, _, high_text = text.partition("..")
        high_pos = start + len(low_text) + 2
        if ".." in high_text:
            raise self.error("a range has one '..'", high_pos + high_text.index(".."))
        if not low_text and not high_text:
            raise self.error("a range needs at least one end", start, hint=f"e.g. {_example(name)}")
        low = self.number(name, low_text, start) if low_text else None
        high = self.number(name, high_text, high_pos) if high_text else None
        if low is not None and high is not None and low > high:
            raise self.error(f"empty range: {low_text} is above {high_text}", start, hint=f"write {name}:{high_text}..{low_text}")
        return Range(name, low, high, span)

    def _exact(self, tree: Tree) -> TextMatch:
        return self._text_values(tree, "exact")

    def _regex(self, tree: Tree) -> TextMatch:
        return self._text_values(tree, "regex")

    def _compare(self, tree: Tree) -> Compare:
        name_tok, op_tok, value_tok = tree.children
        name, kind = self._field(name_tok)  # type: ignore[arg-type]
        if kind == "text":
            raise self.error(
                f"{name} is a text field and cannot be compared with '{op_tok}'",
                op_tok.start_pos or 0,  # type: ignore[union-attr]
                hint=f"write {name}:{value_tok} to match text",
            )
        value = self.number(name, str(value_tok), value_tok.start_pos or 0)  # type: ignore[union-attr]
        return Compare(name, str(op_tok), value, _tree_span(tree))  # type: ignore[arg-type]

    # -- like / unlike --------------------------------------------------------

    def _like(self, tree: Tree) -> Like:
        kw, target = tree.children
        unlike = str(kw).startswith("un")
        kind = {"playlist_ref": "playlist", "track_ref": "track", "artist_ref": "artist"}.get(
            target.data, "text"  # type: ignore[union-attr]
        )
        parts = [c for c in target.children if isinstance(c, Tree)]  # type: ignore[union-attr]
        value = self.value(parts[0])[0]
        if not value.text.strip():
            raise self.error(f"{kw} needs a target", value.span.start, hint='e.g. like:playlist("Sunday Morning")')
        at = self._moment(parts[1].children[0]) if len(parts) > 1 else None
        return Like(kind, value.text, unlike, _tree_span(tree), at)  # type: ignore[arg-type]

    def _moment(self, tok: Token) -> float:
        """A time inside a track: seconds (90, 90.5, 90s), m:ss or h:mm:ss (to the millisecond)."""
        text = str(tok)
        plain = text[:-1] if text.endswith("s") else text
        if _NUMBER_RE.fullmatch(plain) and 0 <= float(plain) < 1e9:
            return round(float(plain), 3)
        clock = _clock(text)
        if clock is not None and (text.count(":") < 2 or clock[1] < 60):  # h:mm:ss needs mm < 60
            hours, minutes, seconds = clock
            return round(hours * 3600 + minutes * 60 + seconds, 3)
        raise self.error(f"'{text}' is not a time in the track", tok.start_pos or 0,
                         hint='write seconds or m:ss, e.g. like:track("x" @ 1:30)')

    def _path(self, tree: Tree) -> PathTerm:
        start, end = (self.value(c)[0] for c in tree.children if isinstance(c, Tree))
        for v in (start, end):
            if not v.text.strip():
                raise self.error("path: needs two tracks", v.span.start, hint='e.g. path:track("A")..track("B")')
        return PathTerm(start.text, end.text, _tree_span(tree))

    # -- options ----------------------------------------------------------------

    def _option(self, tree: Tree) -> _OptionTerm:
        kw, value = tree.children
        return _OptionTerm(str(kw)[:-1], str(value), _tree_span(tree), value.start_pos or 0)  # type: ignore[union-attr]

    def _option_value(self, opt: _OptionTerm) -> object:
        pos, text = opt.value_pos, opt.value
        if opt.name == "in":
            if text in vocab.SPACES:
                return text
            raise self._choice_error("space", text, pos, vocab.SPACES)
        if opt.name == "versions":
            if text in vocab.VERSIONS:
                return text
            raise self._choice_error("versions: value", text, pos, vocab.VERSIONS)
        if opt.name == "limit":
            if _WHOLE_RE.fullmatch(text) and 0 < int(text) <= MAX_LIMIT:
                return int(text)
            raise self.error(f"limit: takes a whole number from 1 to {MAX_LIMIT:,}, not '{text}'", pos,
                             expected=["a positive whole number"])
        if opt.name == "sort":
            descending = text.startswith("-")
            key = text[1:] if descending else text
            keys = (*vocab.SORT_EXTRA, *sorted(self.numeric))
            if key not in keys:
                raise self._choice_error("sort key", key, pos + descending, keys)
            return Sort(key, descending)
        key, eq, amount = text.partition("=")
        if opt.name == "per":
            if key not in vocab.PER_FIELDS:
                raise self._choice_error("per: field", key, pos, vocab.PER_FIELDS)
            if not eq or not _WHOLE_RE.fullmatch(amount) or not 1 <= int(amount) <= MAX_LIMIT:
                raise self.error(f"per:{key}= takes a whole number from 1 to {MAX_LIMIT:,}", pos + len(key) + len(eq),
                                 hint="e.g. per:artist=2")
            return PerLimit(key, int(amount))
        assert opt.name == "weight"
        keys = (*vocab.WEIGHT_EXTRA, *sorted(self.numeric))
        if key not in keys:
            raise self._choice_error("weight: dimension", key, pos, keys)
        at = pos + len(key) + len(eq)
        if not eq or not _NUMBER_RE.fullmatch(amount) or not 0 <= float(amount) <= MAX_WEIGHT:
            raise self.error(f"weight:{key}= takes a number from 0 to {MAX_WEIGHT:,.0f}", at, hint="e.g. weight:energy=2")
        return Weight(key, float(amount))

    def _choice_error(self, what: str, got: str, pos: int, choices: Iterable[str]) -> QueryError:
        choices = tuple(choices)
        guess = vocab.suggest(got, choices) if got else None
        hint = f"did you mean '{guess}'?" if guess else "one of " + ", ".join(choices)
        return self.error(f"unknown {what} '{got}'", pos, hint=hint, expected=list(choices))


def _example(field: str) -> str:
    if field in vocab.TEXT_FIELDS:
        return f'{field}:"Sunday Morning"' if field == "playlist" else f"{field}:green"
    return {
        "year": "year:1970..1979",
        "length": "length:2:30..4:00",
        "tempo": "tempo:100..130",
        "popularity": "popularity>50",
    }.get(field, f"{field}:0.2..0.5")


def _chain(tree: Tree) -> list:
    """The operands of a left-nested chain `a OR b OR c` (parsed as or_(or_(a, b), c)),
    left to right, collected without recursion so a thousand terms parse as easily as two."""
    items = []
    node = tree
    while isinstance(node, Tree) and node.data == tree.data:
        *left, right = node.children
        items.append(right)
        node = left[0]
    items.append(node)
    items.reverse()
    return items


def _join(kind: type, items: list, span: Span | None) -> Expr | None:
    """Build an n-ary And/Or in normal form: flattened, no single-item groups."""
    flat: list = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else [item])
    if not flat:
        return None
    if len(flat) == 1:
        return flat[0]
    return kind(tuple(flat), span)


def _has_filter(node: object) -> bool:
    if isinstance(node, (_OptionTerm, Like, PathTerm)):
        return False
    if isinstance(node, (And, Or)):
        return any(_has_filter(i) for i in node.items)
    return True


def _first_non_filter(node: object) -> object | None:
    if isinstance(node, (_OptionTerm, Like, PathTerm)):
        return node
    if isinstance(node, (And, Or)):
        for item in node.items:
            found = _first_non_filter(item)
            if found is not None:
                return found
    return None


# ---------------------------------------------------------------------------
# Lark errors -> QueryError


def _syntax_error(text: str, exc: UnexpectedInput) -> QueryError:
    if isinstance(exc, UnexpectedCharacters):
        return _bad_character(text, exc)
    if isinstance(exc, UnexpectedToken):
        return _unexpected_token(text, exc.token, set(exc.expected))
    if isinstance(exc, UnexpectedEOF):
        return _unexpected_token(text, Token("$END", "", len(text)), set(exc.expected))
    return QueryError("cannot parse the query", query=text, position=getattr(exc, "pos_in_stream", 0) or 0)


def _bad_character(text: str, exc: UnexpectedCharacters) -> QueryError:
    pos = exc.pos_in_stream
    ch = text[pos] if pos < len(text) else ""
    expected = _words(exc.allowed or ())
    if ch == '"':
        return QueryError("unterminated quoted string", query=text, position=pos, expected=['a closing \'"\''])
    return QueryError(f"unexpected character {ch!r}", query=text, position=pos, expected=expected)


def _words(terminals: Iterable[str]) -> list[str]:
    words = [_TERMINAL_WORDS.get(t, t.strip("_").lower()) for t in terminals]
    return sorted(dict.fromkeys(words))


def _describe(tok: Token) -> str:
    if tok.type == "$END":
        return "end of query"
    return repr(str(tok))


def _previous_word(text: str, pos: int) -> tuple[str, int]:
    """The word before `pos` and where it starts."""
    match = re.search(r"(\S+)\s*$", text[:pos])
    return (match.group(1), match.start(1)) if match else ("", pos)


def _unclosed_paren(text: str) -> int | None:
    """Offset of the last '(' with no ')' outside quoted strings, if any."""
    stack: list[int] = []
    in_string = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "(":
            stack.append(i)
        elif ch == ")" and stack:
            stack.pop()
        i += 1
    return stack[-1] if stack else None


def _unexpected_token(text: str, tok: Token, expected: set[str]) -> QueryError:
    pos = len(text) if tok.type == "$END" else (tok.start_pos or 0)
    words = _words(expected)
    prev, prev_pos = _previous_word(text, pos)

    def err(message: str, hint: str | None = None, at: int = pos) -> QueryError:
        return QueryError(message, query=text, position=at, expected=words, hint=hint)

    term_start = "NAME" in expected and "LIKE" in expected
    if tok.type == "_RPAR" and "_RPAR" not in expected:
        if _unclosed_paren(text[:pos]) is None:
            return err("unmatched ')'")
        return err("expected a term before ')'" if term_start else f"unexpected ')' after {prev!r}")
    if "_RPAR" in expected and tok.type == "$END":
        opened = _unclosed_paren(text)
        hint = f"to close the '(' at column {opened}" if opened is not None else None
        return err("missing ')'", hint)
    if expected <= {"_RPAR", "_COMMA"} and tok.type in ("VALUE", "NAME"):
        return err(f"expected ')' or ',' but found {_describe(tok)}", 'quote values that contain spaces, e.g. playlist("Sunday Morning")')
    if expected <= {"VALUE", "STRING", "_LPAR", "PLAYLIST_CALL", "TRACK_CALL", "ARTIST_CALL"} and "VALUE" in expected:
        after = f" after {prev!r}" if prev else ""
        if prev[-1:] in "<>=":
            return err(f"expected a number{after}", f"e.g. {prev}0.5" if prev else None)
        return err(f"expected a value{after}")
    if term_start and tok.type == "$END":
        return err(f"expected a term after {prev!r}")
    if {"_COLON", "CMP"} <= expected:
        word = prev
        if word in ("OR", "AND", "NOT"):
            return err(f"expected a term but found {word!r}", at=prev_pos)
        if word.lower() in ("or", "and", "not"):
            return err(f"'{word}' is not a field", f"write {word.upper()} in capitals to combine terms", prev_pos)
        if word in vocab.TEXT_FIELDS or word in vocab.NUMERIC_FIELDS:
            return err(f"expected ':' or a comparison after {word!r}", f"e.g. {_example(word)}")
        return err(
            f"'{word}' is not a term: a term is FIELD:VALUE or FIELD<NUMBER",
            f'e.g. genre:{word} or like:"{word}"',
            prev_pos,
        )
    if term_start:
        return err(f"expected a term but found {_describe(tok)}")
    return err(f"unexpected {_describe(tok)}; expected {_or_list(words)}")


def _or_list(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]
