"""Plain-words search: `lib.ask("upbeat 80s pop without rap")`.

The words are read into a query of the language by `words.translate` (how each phrase
was read is kept), the query is run, and when no track meets every term the least
certain terms are dropped until one does; the answer says which. The query, the
reading and the results come back together (`Answer`), so a front end shows the query
and lets the person edit it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from attune.query import render

from .search import Results, run
from .storage import Snapshot
from .words.translate import Term, Translator, compose, relax


@dataclass
class Answer:
    text: str
    query: str
    terms: list[Term]
    unmapped: list[str]
    dropped: list[Term] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    results: Results | None = None

    def to_dict(self) -> dict:
        """The reading as plain data, for front ends (results not included)."""
        return {
            "asked": self.text,
            "query": self.query,
            "terms": [{"phrase": t.phrase, "terms": t.text(), "how": t.how, "dropped": t in self.dropped} for t in self.terms],
            "unmapped": list(self.unmapped),
            "notes": list(self.notes),
        }

    def explain(self) -> str:
        width = max([len(t.phrase) for t in self.terms] + [8])
        lines = [f"asked:   {self.text}"]
        for t in self.terms:
            gone = "  (dropped)" if t in self.dropped else ""
            lines.append(f"  {t.phrase:<{width}}  ->  {t.text():<28} {t.how}{gone}")
        if self.unmapped:
            lines.append("not understood: " + ", ".join(f"'{w}'" for w in self.unmapped))
        lines += [f"note:    {n}" for n in self.notes]
        lines.append(f"query:   {self.query or '(everything)'}")
        if self.results is not None:
            lines.append(f"results: {len(self.results)}")
        return "\n".join(lines)


def read(snap: Snapshot, text: str, *, limit: int | None = None, model_tags: frozenset[str] = frozenset()) -> Answer:
    """Translate `text` into a query without running it."""
    terms, unmapped, notes = Translator(snap, model_tags=model_tags).translate(text)
    query, compose_notes = compose([t for t in terms if t.nodes], limit=limit)
    return Answer(text, render(query), terms, unmapped, [], notes + compose_notes)


def ask(snap: Snapshot, text: str, *, limit: int | None = None, model_tags: frozenset[str] = frozenset()) -> Answer:
    """Translate `text` into a query, run it, and relax it when nothing meets every term."""
    answer = read(snap, text, limit=limit, model_tags=model_tags)

    def attempt(live: list[Term]):
        query, _ = compose(live, limit=limit)
        rendered = render(query)
        results = run(snap, query, rendered, model_tags=model_tags)
        return (rendered, results), len(results) > 0

    (answer.query, answer.results), answer.dropped = relax([t for t in answer.terms if t.nodes], attempt)
    if answer.dropped:
        answer.notes.append("no track met every term; dropped " + ", ".join(f"'{t.phrase}' ({t.text()})" for t in answer.dropped))
    return answer
