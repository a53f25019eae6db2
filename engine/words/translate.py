"""Plain words -> a visible, editable query of the language (without running it).

`Translator(snap).translate("mellow instrumental jazz for a late night")` reads the
text left to right and maps each phrase onto something this library can answer:

- years and tempo written as numbers ("80s", "late 90s", "from 2015",
  "around 120 bpm") by a few patterns;
- the word lists of `lexicon.py` (moods, activities, attribute words);
- the library's genres (and the genre spellings of `genres.py`), its tags
  (file genre tags, the audio models' tags) and its artist, album and title
  names (a dictionary of normalised names, accents and "the" ignored);
- negations ("no rap", "without guitar", "not too fast") and "like X" /
  "similar to X" (similarity to an artist or a track instead of a filter);
- what is left: first by spelling (difflib, for typos), then by meaning with
  the text model (all-MiniLM-L6-v2) against every phrase, genre and tag above.

Words that still map to nothing are reported, never silently dropped. The
produced query is deterministic for the same library and text. `compose` turns the
terms into one query; `relax` drops the least certain terms first when no track meets
them all. Running it is the job of `attune.engine.ask` (plain-words search) and of
`attune.engine.search.targets` (`like:"..."` inside a query).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import polars as pl
from attune.query import parse, render
from attune.query.ast import And, Compare, Expr, Like, Not, Options, Query, Range, TextMatch
from attune.query.walk import conjuncts

from ..storage import Snapshot
from . import genres as genre_names
from . import lexicon, textmodel
from .tags import tag_space
from .vocabulary import Vocabulary, fold

#: Cosine similarity at which a leftover word is taken to mean a listed phrase, genre or tag.
MEANING_THRESHOLD = 0.62
#: difflib ratio at which a leftover word is taken as a misspelling.
SPELLING_CUTOFF = 0.8
#: "like soul" / "similar to soul": the genre plus genres this related (LSI cosine).
WIDEN_SIMILARITY = 0.7

# Drop order when nothing meets every term: lower first.
_RANK = {"meaning": 0, "spelling": 1, "word list": 2, "tag": 3, "genre": 4, "tempo": 5, "year": 6, "name": 7}
_FLIP = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "=": "!=", "!=": "="}
_TOKEN = re.compile(r"[\w][\w&'+.\-/]*[\w&+]|[\w]")


@dataclass(frozen=True)
class Term:
    """One phrase of the text and the query terms it became."""

    phrase: str
    start: int
    nodes: tuple  # filter expressions and Like terms
    how: str
    kind: str  # a key of _RANK

    def text(self) -> str:
        return " ".join(_node_text(n) for n in self.nodes)


def _node_text(node) -> str:
    return render(Query(likes=(node,))) if isinstance(node, Like) else render(node)


@dataclass
class _Token:
    word: str
    start: int
    end: int
    used: bool = False


class Translator:
    def __init__(self, snap: Snapshot, *, model_tags: frozenset[str] = frozenset()) -> None:
        self.snap = snap
        self.vocab = Vocabulary.of(snap, model_tags)
        self.phrases = lexicon.phrases()

    # -- the pass over the text ------------------------------------------------------

    def translate(self, text: str) -> tuple[list[Term], list[str], list[str]]:
        notes: list[str] = []
        tokens = [_Token(m.group().strip(".-/'"), m.start(), m.end()) for m in _TOKEN.finditer(text.lower())]
        tokens = [t for t in tokens if t.word]
        terms = self._patterns(text, tokens)
        negate_next = 0
        i = 0
        while i < len(tokens):
            if tokens[i].used:
                i += 1
                continue
            found = self._longest(tokens, i, notes)
            if found is not None:
                length, term = found
                for t in tokens[i : i + length]:
                    t.used = True
                if negate_next:
                    term = _negate(term)
                    negate_next = 2 if i + length < len(tokens) and tokens[i + length].word in ("or", "nor", "and") else 0
                terms.append(term)
                i += length
                continue
            word = tokens[i].word
            if word in lexicon.NEGATIONS:
                negate_next = 1
                tokens[i].used = True
            elif negate_next and word in lexicon.NEGATION_FILLER:
                tokens[i].used = True
            elif word in lexicon.STOPWORDS or word.isdigit() or word in ("nor",):
                tokens[i].used = True
            i += 1
        leftover = [t for t in tokens if not t.used]
        terms += self._second_chance(leftover, tokens, notes)
        unmapped = [t.word for t in tokens if not t.used]
        terms.sort(key=lambda t: t.start)
        return terms, unmapped, notes

    def _longest(self, tokens: list[_Token], i: int, notes: list[str]) -> tuple[int, Term] | None:
        for length in range(min(6, len(tokens) - i), 0, -1):
            span = tokens[i : i + length]
            if any(t.used for t in span):
                continue
            phrase = " ".join(t.word for t in span)
            term = self._match(phrase, span[0].start, tokens, i, notes)
            if term is not None:
                return length, term
        return None

    def _match(self, phrase: str, start: int, tokens, i: int, notes: list[str]) -> Term | None:
        if phrase in lexicon.NEGATIONS:
            return None
        if phrase in self.phrases:
            return self._words(phrase, start, self.phrases[phrase], "word list", "word list")
        genre = self.vocab.genre_keys.get(genre_names.key(phrase))
        if genre is not None and (phrase not in lexicon.STOPWORDS):
            term = self._genre(phrase, start, genre, notes, widen=self._similar_before(tokens, i))
            if term is not None:
                return term
        if phrase in self.vocab.tags and phrase not in lexicon.STOPWORDS:
            return Term(phrase, start, (TextMatch("tag", (phrase,), "exact"),), f"tag ({self.vocab.tags[phrase]} tracks)", "tag")
        name = self.vocab.names.get(fold(phrase))
        if name is not None and (phrase not in lexicon.STOPWORDS) and len(phrase) > 1:
            return self._name(phrase, start, name, self._similar_before(tokens, i), "name")
        if phrase in self.vocab.model_tags and phrase not in lexicon.STOPWORDS:
            notes.append(f"'{phrase}' is a tag of the audio models, but no indexed track has it among its top tags")
            return Term(phrase, start, (), f"model tag '{phrase}': on no track", "tag")
        return None

    def _words(self, phrase: str, start: int, terms: str, how: str, kind: str) -> Term | None:
        nodes = []
        for node in conjuncts(parse(terms).where):
            if isinstance(node, (Compare, Range)) and node.field not in self.vocab.fields_with_values:
                continue
            nodes.append(node)
        if not nodes:
            return Term(phrase, start, (), f"{how}: {terms}, but no track has {_fields(terms)} values", kind)
        return Term(phrase, start, tuple(nodes), how, kind)

    def _genre(self, phrase: str, start: int, genre: str, notes: list[str], *, widen: bool = False) -> Term | None:
        n = self.vocab.genres.get(genre, 0)
        if n == 0:
            present = [g for g in self.vocab.genres if genre in g]  # "soul" also finds "neo soul"
            if not present:
                notes.append(f"'{phrase}': no track in this library has the genre '{genre}'")
                return Term(phrase, start, (), f"genre '{genre}': not in this library", "genre")
        values = [genre]
        how = f"genre ({n or sum(self.vocab.genres[g] for g in present)} tracks)"
        if n and widen:  # "something like soul": soul and its related genres
            related = [g for g, s in tag_space(self.snap).related(genre, limit=3) if s >= WIDEN_SIMILARITY and g in self.vocab.genres]
            if related:
                values += related
                how += f", widened with related genres {', '.join(related)} (LSI)"
        return Term(phrase, start, (TextMatch("genre", tuple(values)),), how, "genre")

    def _name(self, phrase: str, start: int, name: tuple[str, str, int], similar: bool, kind: str, how: str = "") -> Term:
        field_name, value, n = name
        if similar and field_name == "artist":
            node = Like("artist", value)
        elif similar and field_name == "title" and n == 1:
            row = self.snap.frame.filter(pl.col("title") == value)["track_id"][0]
            node = Like("track", row)
        else:
            node = TextMatch(field_name, (value,), "exact")
        label = "similar to " if isinstance(node, Like) else ""
        return Term(phrase, start, (node,), how or f"{label}{field_name} ({n} tracks)", kind)

    @staticmethod
    def _similar_before(tokens: list[_Token], i: int) -> bool:
        before = " ".join(t.word for t in tokens[max(0, i - 4) : i])
        return any(before == m or before.endswith(" " + m) for m in lexicon.SIMILAR_MARKERS)

    # -- numbers: years and tempo ----------------------------------------------------

    def _patterns(self, text: str, tokens: list[_Token]) -> list[Term]:
        low = text.lower()
        terms: list[Term] = []
        for pattern, handler in self._PATTERNS:
            for m in re.finditer(pattern, low):
                if any(t.used and t.start < m.end() and t.end > m.start() for t in tokens):
                    continue
                node_text = handler(self, m)
                if node_text is None:
                    continue
                kind = "tempo" if "tempo" in node_text else "year"
                nodes = tuple(conjuncts(parse(node_text).where))
                terms.append(Term(m.group().strip(), m.start(), nodes, kind, kind))
                for t in tokens:
                    if t.start < m.end() and t.end > m.start():
                        t.used = True
        return terms

    def _decade(self, m: re.Match) -> str | None:
        base = int(m.group("decade"))
        if base < 100:
            base += 1900 if base >= 30 else 2000
        return None if base % 10 else _decade_range(base, m.group("when"))

    def _decade_word(self, m: re.Match) -> str:
        words = {"fifties": 1950, "sixties": 1960, "seventies": 1970, "eighties": 1980, "nineties": 1990, "noughties": 2000}
        return _decade_range(words[m.group("word")], m.group("when"))

    def _year(self, m: re.Match) -> str:
        prep, year = m.group("prep"), int(m.group("year"))
        if prep in ("since", "after"):
            return f"year>={year}" if prep == "since" else f"year>{year}"
        if prep in ("before", "until", "pre"):
            return f"year<{year}" if prep != "until" else f"year<={year}"
        return f"year={year}"

    def _years(self, m: re.Match) -> str:
        a, b = sorted((int(m.group("a")), int(m.group("b"))))
        return f"year:{a}..{b}"

    def _recent(self, m: re.Match) -> str | None:
        if self.vocab.newest_year is None:
            return None
        if m.group("w") in ("old", "oldies", "vintage", "retro"):
            return "year<1980"
        return f"year>={self.vocab.newest_year - 2}"

    def _bpm(self, m: re.Match) -> str:
        bpm, how = int(m.group("bpm")), m.group("how") or ""
        if how in ("over", "above", "faster than", "more than", "at least"):
            return f"tempo>={bpm}"
        if how in ("under", "below", "slower than", "less than", "at most"):
            return f"tempo<={bpm}"
        return f"tempo:{bpm - 5}..{bpm + 5}"

    _PATTERNS = (
        (r"\b(?:between\s+)?(?P<a>(?:19|20)\d\d)\s*(?:-|to|and|–)\s*(?P<b>(?:19|20)\d\d)\b", _years),
        (r"\b(?:(?P<when>early|mid|late)[\s-]*)?(?:the\s+)?'?(?P<decade>(?:19|20)?\d0)'?s\b", _decade),
        (r"\b(?:(?P<when>early|mid|late)[\s-]*)?(?P<word>fifties|sixties|seventies|eighties|nineties|noughties)\b", _decade_word),
        (r"\b(?:(?P<prep>from|in|since|after|before|until|pre|released in)[\s-]+)?(?P<year>(?:19|20)\d\d)\b(?!\s*bpm)", _year),
        (r"\b(?P<how>around|about|roughly|approximately|near|at|over|above|faster than|more than|at least|under|below|slower than|less than|at most)?\s*~?(?P<bpm>\d{2,3})\s*(?:bpm|beats per minute|beats a minute)\b", _bpm),
        (r"\b(?P<w>recent|latest|newest|brand new|new releases|old|oldies|vintage|retro)\b", _recent),
    )

    # -- what is left: spelling, then meaning ----------------------------------------

    def _second_chance(self, leftover: list[_Token], tokens: list[_Token], notes: list[str]) -> list[Term]:
        terms: list[Term] = []
        vocabulary = self._single_words()
        for tok in leftover:
            if tok.used or tok.word.isdigit():
                continue
            term = self._partial_name(tok, tokens) or self._artist_spelling(tok, tokens, lengths=(3, 2))
            match = None if term is not None or len(tok.word) < 4 else difflib.get_close_matches(tok.word, vocabulary, n=1, cutoff=SPELLING_CUTOFF)
            if match:
                found = self._match(match[0], tok.start, tokens, tokens.index(tok), notes)
                if found is not None:
                    term = Term(tok.word, found.start, found.nodes, f"spelling of '{match[0]}': {found.how}", "spelling")
            if term is None and len(tok.word) >= 4:
                term = self._artist_spelling(tok, tokens, lengths=(1,))
            if term is not None:
                tok.used = True
                terms.append(_negated_if(term, tokens, tok))
        rest = [t for t in leftover if not t.used and not t.word.isdigit() and len(t.word) > 2]
        if rest and textmodel.enabled():
            terms += self._by_meaning(rest, tokens, notes)
        elif rest:
            notes.append("the text model is off (ATTUNE_TEXT_MODEL=off): words outside the word lists are not understood")
        return terms

    def _single_words(self) -> list[str]:
        words = [p for p in self.phrases if " " not in p]
        words += [g for g in self.vocab.genres if " " not in g and len(g) >= 4]
        return sorted(set(words))

    def _partial_name(self, tok: _Token, tokens: list[_Token]) -> Term | None:
        """Part of one artist's name ("kendrick", "sheeran"): the only artist with all these words."""
        i = tokens.index(tok)
        for length in (2, 1):
            span = tokens[i : i + length]
            if len(span) < length or any(t.used for t in span) or len("".join(t.word for t in span)) < 4:
                continue
            sets = [self.vocab.artist_words.get(fold(t.word), frozenset()) for t in span]
            found = frozenset.intersection(*sets) if sets else frozenset()
            if len(found) == 1:
                key = next(iter(found))
                for t in span:
                    t.used = True
                name = self.vocab.names[key]
                return self._name(" ".join(t.word for t in span), tok.start, name, self._similar_before(tokens, i), "name",
                                  how=f"part of the name '{name[1]}': {name[0]} ({name[2]} tracks)")
        return None

    def _artist_spelling(self, tok: _Token, tokens: list[_Token], lengths=(3, 2, 1)) -> Term | None:
        i = tokens.index(tok)
        for length in lengths:
            span = tokens[i : i + length]
            if len(span) < length or any(t.used for t in span) or len("".join(t.word for t in span)) < 5:
                continue
            phrase = fold(" ".join(t.word for t in span))
            pool = self.vocab.artist_keys.get(phrase[:1], [])
            pool = [p for p in pool if abs(len(p) - len(phrase)) <= 2]
            match = difflib.get_close_matches(phrase, pool, n=1, cutoff=0.85)
            if match:
                for t in span:
                    t.used = True
                name = self.vocab.names[match[0]]
                return self._name(phrase, tok.start, name, self._similar_before(tokens, i), "spelling",
                                  how=f"spelling of '{name[1]}': {name[0]} ({name[2]} tracks)")
        return None

    def _by_meaning(self, rest: list[_Token], tokens: list[_Token], notes: list[str]) -> list[Term]:
        candidates = sorted(set(self.phrases) | {g for g, n in self.vocab.genres.items() if n}
                            | {t for t, n in self.vocab.tags.items() if n >= 2 and len(t) < 40})
        try:
            best = textmodel.nearest([t.word for t in rest], candidates)
        except textmodel.TextModelUnavailable as exc:
            notes.append(str(exc))
            return []
        terms = []
        for tok, (target, sim) in zip(rest, best):
            if sim < MEANING_THRESHOLD:
                continue
            term = self._match(target, tok.start, tokens, tokens.index(tok), notes)
            if term is None or not term.nodes:
                continue
            tok.used = True
            term = Term(tok.word, tok.start, term.nodes, f"means '{target}' ({sim:.2f}): {term.how}", "meaning")
            terms.append(_negated_if(term, tokens, tok))
        return terms


def _decade_range(base: int, when: str | None) -> str:
    """A decade, or its early (0-3), mid (3-6) or late (6-9) years."""
    low, high = {"early": (0, 3), "mid": (3, 6), "late": (6, 9)}.get(when or "", (0, 9))
    return f"year:{base + low}..{base + high}"


def _negated_if(term: Term, tokens: list[_Token], tok: _Token) -> Term:
    """Second-chance words honour a negation just before them too."""
    i = tokens.index(tok)
    j = i - 1
    while j >= 0 and tokens[j].word in lexicon.NEGATION_FILLER:
        j -= 1
    return _negate(term) if j >= 0 and tokens[j].word in lexicon.NEGATIONS else term


def _negate(term: Term) -> Term:
    if not term.nodes:
        return term
    nodes: list = []
    filters = [n for n in term.nodes if not isinstance(n, Like)]
    for n in term.nodes:
        if isinstance(n, Like):
            nodes.append(Like(n.kind, n.target, unlike=not n.unlike))
    if len(filters) == 1 and isinstance(filters[0], Compare):
        c = filters[0]
        nodes.append(Compare(c.field, _FLIP[c.op], c.value))  # type: ignore[arg-type]
    elif len(filters) == 1:
        nodes.append(Not(filters[0]))
    elif filters:
        nodes.append(Not(And(tuple(filters))))
    return Term(term.phrase, term.start, tuple(nodes), f"not: {term.how}", term.kind)


def _fields(terms: str) -> str:
    return " and ".join(sorted({n.field for n in conjuncts(parse(terms).where) if hasattr(n, "field")}))


# -- composing the query ------------------------------------------------------------------


def compose(terms: list[Term], *, limit: int | None = None) -> tuple[Query, list[str]]:
    """The terms as one query: genres ORed, artists ORed, numeric bounds intersected."""
    notes: list[str] = []
    filters: list[Expr] = []
    likes: list[Like] = []
    genres: list[str] = []
    artists: list[str] = []
    bounds: dict[str, list] = {}  # field -> [low, low_inclusive, high, high_inclusive, phrase]
    for term in terms:
        for node in term.nodes:
            if isinstance(node, Like):
                if node not in likes:
                    likes.append(node)
            elif isinstance(node, TextMatch) and node.field == "genre" and node.mode == "contains":
                genres += [g for g in node.values if g not in genres]
            elif isinstance(node, TextMatch) and node.field == "artist" and node.mode == "exact":
                artists += [a for a in node.values if a not in artists]
            elif isinstance(node, (Compare, Range)) and not (isinstance(node, Compare) and node.op in ("=", "!=")):
                _bound(bounds, node, term.phrase, notes)
            elif node not in filters:
                filters.append(node)
    head: list[Expr] = []
    if genres:
        head.append(TextMatch("genre", tuple(genres)))
    if artists:
        head.append(TextMatch("artist", tuple(artists), "exact"))
    for field_name, (low, low_inc, high, high_inc, _) in bounds.items():
        head.append(_bound_node(field_name, low, low_inc, high, high_inc))
    items = tuple(head + filters)
    where = None if not items else items[0] if len(items) == 1 else And(items)
    return Query(where=where, likes=tuple(likes), options=Options(limit=limit)), notes


def _bound(bounds: dict, node, phrase: str, notes: list[str]) -> None:
    if isinstance(node, Range):
        low, low_inc, high, high_inc = node.low, True, node.high, True
    else:
        v = node.value
        low, low_inc, high, high_inc = {
            ">": (v, False, None, True), ">=": (v, True, None, True),
            "<": (None, True, v, False), "<=": (None, True, v, True),
        }[node.op]
    if node.field not in bounds:
        bounds[node.field] = [low, low_inc, high, high_inc, phrase]
        return
    b = bounds[node.field]
    new = list(b)
    if low is not None and (new[0] is None or low > new[0] or (low == new[0] and not low_inc)):
        new[0], new[1] = low, low_inc
    if high is not None and (new[2] is None or high < new[2] or (high == new[2] and not high_inc)):
        new[2], new[3] = high, high_inc
    if new[0] is not None and new[2] is not None and (new[0] > new[2] or (new[0] == new[2] and not (new[1] and new[3]))):
        notes.append(f"'{phrase}' contradicts '{b[4]}' on {node.field}; kept '{b[4]}'")
        return
    bounds[node.field] = new


def _bound_node(field_name: str, low, low_inc, high, high_inc) -> Expr:
    if low is not None and high is not None:
        if low_inc and high_inc:
            return Range(field_name, low, high)
        return And((Compare(field_name, ">=" if low_inc else ">", low), Compare(field_name, "<=" if high_inc else "<", high)))
    if low is not None:
        return Compare(field_name, ">=" if low_inc else ">", low)
    return Compare(field_name, "<=" if high_inc else "<", high)




def relax(live: list[Term], attempt):
    """`attempt(terms) -> (outcome, found)` on the terms; while it finds nothing and more
    than one filter term is left, drop the least certain (ties: the latest). Returns the
    last outcome and the dropped terms, in the order they were dropped."""
    live, dropped = list(live), []
    while True:
        outcome, found = attempt(live)
        filters = [t for t in live if any(not isinstance(n, Like) for n in t.nodes)]
        if found or len(filters) <= 1:
            return outcome, dropped
        victim = min(reversed(filters), key=lambda t: _RANK[t.kind])
        dropped.append(victim)
        live.remove(victim)


def named_fields(query: Query) -> frozenset[str] | None:
    """The attribute fields a translated query names ("genre" for any genre; None when it
    names none, e.g. only an artist or a tag): `like:"..."` measures distance on those."""
    named = frozenset(
        "genre" if isinstance(n, TextMatch) else n.field
        for n in conjuncts(query.where)
        for n in ([n.item] if isinstance(n, Not) else [n])
        if isinstance(n, (Compare, Range)) or (isinstance(n, TextMatch) and n.field == "genre")
    )
    return named or None
